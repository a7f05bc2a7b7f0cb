use std::marker::PhantomData;

use cachemacro_runtime::{CacheKey, memoize};

#[derive(CacheKey)]
enum Never {}

#[derive(CacheKey)]
struct Borrowed<'a, T: ?Sized + 'a>
where
    T: ToString,
{
    name: &'a str,
    value: Box<T>,
}

/// Only the skipped field mentions `M`, so `Marker<u8, NotAKey>` has a key.
#[derive(CacheKey)]
struct Marker<T, M> {
    id: T,
    #[cache_key(skip)]
    _marker: PhantomData<M>,
}

struct NotAKey;

#[derive(CacheKey)]
enum Event<T> {
    Created { id: T },
    Renamed(T, String),
    Deleted,
}

#[derive(CacheKey)]
struct r#Raw {
    r#type: u32,
}

#[derive(Clone, CacheKey)]
struct Tenant(u32);

impl Tenant {
    #[memoize]
    fn quota(&self, event: &Event<u64>, marker: Marker<u8, NotAKey>) -> u32 {
        let _ = (event, marker);
        self.0
    }
}

fn main() {
    let _ = cachemacro_runtime::key::key_hash::<Option<Never>>(&None);
    let _ = cachemacro_runtime::key::key_hash(&Borrowed {
        name: "a",
        value: Box::new(1u32),
    });
    let _ = cachemacro_runtime::key::key_hash(&Raw { r#type: 1 });
    let marker = || Marker { id: 1u8, _marker: PhantomData::<NotAKey> };
    assert_eq!(Tenant(2).quota(&Event::Created { id: 1 }, marker()), 2);
    assert_eq!(Tenant(2).quota(&Event::Renamed(1, "x".into()), marker()), 2);
    assert_eq!(Tenant(2).quota(&Event::Deleted, marker()), 2);
    assert_eq!(Tenant::quota_cache().len(), Some(3));
}
