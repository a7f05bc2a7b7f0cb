use cachemacro_runtime::memoize;

#[derive(Clone, Copy)]
struct Tenant(u32);

impl cachemacro_runtime::CacheKey for Tenant {
    fn write_key<S: cachemacro_runtime::KeySink + ?Sized>(&self, out: &mut S) {
        self.0.write_key(out);
    }
}

impl Tenant {
    #[memoize]
    fn quota(&self, plan: &str) -> u32 {
        self.0 * plan.len() as u32
    }
}

fn main() {
    assert_eq!(Tenant(2).quota("pro"), 6);
    assert_eq!(Tenant(3).quota("pro"), 9);
    assert_eq!(Tenant::quota_cache().len(), Some(2));
}
