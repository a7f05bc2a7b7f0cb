//! [`CacheSize`]: how many bytes a cached value costs, for `#[memoize(max_bytes = ...)]`.
//!
//! A value's size is the memory it keeps alive: its own bytes (`size_of_val`) and everything it
//! owns on the heap, counted from what was *allocated* (a `Vec`'s or `String`'s capacity, not its
//! length), so that a value built by pushing is charged for its spare room too. The size is
//! computed once, when a value is stored, never on a hit.
//!
//! What is exact and what is estimated:
//!
//! - **Exact** (the allocation's size as requested from the allocator): primitives, `String`,
//!   `Vec`, `VecDeque`, `BinaryHeap`, `Box`, `Box<str>`, `Box<[T]>`, `PathBuf`, `OsString`,
//!   arrays, tuples, `Option`, `Result`, `Cow`.
//! - **`Arc` and `Rc`**: the pointer, the two reference counts and the whole pointee, even when
//!   other owners share it: the cache keeps it alive, and an entry cannot know whether it is the
//!   last owner. A value shared by many entries is charged once per entry.
//! - **`HashMap` and `HashSet`** (any hasher): std's table layout, one slot per bucket plus one
//!   control byte per bucket and a group of 16: exact for the current std, an estimate if std's
//!   layout changes.
//! - **`BTreeMap` and `BTreeSet`**: an estimate, one node of 11 slots per 8 entries (nodes are
//!   between half and full), plus 16 bytes of node header. A map of few entries is charged a
//!   whole node, as it allocates one.
//! - `&'static T`: the reference alone; the referent lives anyway.
//!
//! The allocator's own rounding and bookkeeping are not counted: the bound is on what values
//! ask for, which is what the program controls.
//!
//! `#[derive(CacheSize)]` sums its fields: `size_of::<Self>()` once (which holds every field's
//! own bytes, and an enum's largest variant) plus each field's heap. Each type parameter gets a
//! `CacheSize` bound; a union is rejected (which field is live is unknown). A derived type leaves
//! [`HEAP_FREE`](CacheSize::HEAP_FREE) `false`.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet, VecDeque};
use std::ffi::OsString;
use std::mem::{size_of, size_of_val};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

/// The bytes a value keeps alive: its own (`size_of_val`) and those it owns on the heap.
///
/// Needed by the return type of a function with `#[memoize(max_bytes = ...)]` (of a `Result`
/// whose errors are not cached, by the `Ok` type only). Implemented for the standard types (see
/// the [module](crate::size) for how each is counted); `#[derive(CacheSize)]` implements it for
/// your structs and enums, and you can implement it by hand:
///
/// ```
/// use cachemacro_runtime::CacheSize;
///
/// struct Blob {
///     id: u64,
///     bytes: Vec<u8>,
/// }
///
/// impl CacheSize for Blob {
///     fn cache_size(&self) -> usize {
///         // Its own bytes once, then what its fields own beyond their own bytes.
///         std::mem::size_of::<Self>() + self.bytes.heap_size()
///     }
/// }
///
/// let blob = Blob { id: 1, bytes: Vec::with_capacity(1000) };
/// assert_eq!(blob.cache_size(), std::mem::size_of::<Blob>() + 1000);
/// ```
///
/// It runs once per stored value, so it should be cheap: count from capacities and lengths, and
/// visit elements only when they own heap memory themselves (see [`HEAP_FREE`](Self::HEAP_FREE)).
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not implement `CacheSize`: its size in bytes is unknown",
    label = "`CacheSize` is not implemented for `{Self}`",
    note = "derive it with `#[derive(cachemacro_runtime::CacheSize)]`, or implement `CacheSize` by hand"
)]
pub trait CacheSize {
    /// True when no value of this type owns heap memory (its size is `size_of::<Self>()`), so a
    /// collection of them multiplies instead of visiting every element. `false` unless set.
    const HEAP_FREE: bool = false;

    /// The bytes this value keeps alive: `size_of_val(self)` plus what it owns on the heap.
    fn cache_size(&self) -> usize;

    /// What this value owns beyond its own bytes: [`cache_size`](Self::cache_size) less
    /// `size_of_val(self)`. A container or a derived impl adds its elements' and fields'
    /// `heap_size`, as their own bytes are part of its allocation or of its own size already.
    #[inline]
    fn heap_size(&self) -> usize {
        if Self::HEAP_FREE {
            return 0;
        }
        self.cache_size().saturating_sub(size_of_val(self))
    }
}

/// Types whose values own no heap memory.
macro_rules! heap_free {
    ($($ty:ty),* $(,)?) => {$(
        impl CacheSize for $ty {
            const HEAP_FREE: bool = true;
            #[inline]
            fn cache_size(&self) -> usize {
                size_of::<Self>()
            }
        }
    )*};
}

heap_free!(
    (),
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    std::time::Duration,
    std::time::Instant,
    std::time::SystemTime,
    std::net::IpAddr,
    std::net::Ipv4Addr,
    std::net::Ipv6Addr,
    std::net::SocketAddr,
    std::cmp::Ordering,
);

impl<T: ?Sized> CacheSize for std::marker::PhantomData<T> {
    const HEAP_FREE: bool = true;
    #[inline]
    fn cache_size(&self) -> usize {
        0
    }
}

/// A `'static` reference keeps nothing alive: its referent lives anyway.
impl<T: ?Sized> CacheSize for &'static T {
    const HEAP_FREE: bool = true;
    #[inline]
    fn cache_size(&self) -> usize {
        size_of::<Self>()
    }
}

/// The elements of a slice, each with what it owns.
fn elements<'a, T: CacheSize + 'a>(items: impl IntoIterator<Item = &'a T>) -> usize {
    if T::HEAP_FREE {
        return 0;
    }
    items.into_iter().map(CacheSize::heap_size).sum()
}

impl CacheSize for str {
    #[inline]
    fn cache_size(&self) -> usize {
        self.len()
    }
}

impl<T: CacheSize> CacheSize for [T] {
    #[inline]
    fn cache_size(&self) -> usize {
        size_of_val(self) + elements(self)
    }
}

impl<T: CacheSize, const N: usize> CacheSize for [T; N] {
    const HEAP_FREE: bool = T::HEAP_FREE;
    #[inline]
    fn cache_size(&self) -> usize {
        size_of::<Self>() + elements(self)
    }
}

/// Growable buffers of bytes: their allocated capacity.
macro_rules! byte_buffers {
    ($($ty:ty),*) => {$(
        impl CacheSize for $ty {
            #[inline]
            fn cache_size(&self) -> usize {
                size_of::<Self>() + self.capacity()
            }
        }
    )*};
}

byte_buffers!(String, OsString, PathBuf);

/// Growable sequences: their allocated capacity, and what each element owns.
macro_rules! sequences {
    ($($ty:ident),*) => {$(
        impl<T: CacheSize> CacheSize for $ty<T> {
            #[inline]
            fn cache_size(&self) -> usize {
                size_of::<Self>() + self.capacity() * size_of::<T>() + elements(self)
            }
        }
    )*};
}

sequences!(Vec, VecDeque, BinaryHeap);

/// A box's pointee is its own: its whole size (for `Box<str>` and `Box<[T]>`, the length).
impl<T: CacheSize + ?Sized> CacheSize for Box<T> {
    #[inline]
    fn cache_size(&self) -> usize {
        size_of::<Self>() + (**self).cache_size()
    }
}

/// The strong and weak counts in front of an `Arc`'s or `Rc`'s pointee.
const COUNTS: usize = 2 * size_of::<usize>();

/// Shared pointers: the pointer, the counts and the whole pointee, shared or not (see the
/// [module](crate::size)).
macro_rules! shared {
    ($($ty:ident),*) => {$(
        impl<T: CacheSize + ?Sized> CacheSize for $ty<T> {
            #[inline]
            fn cache_size(&self) -> usize {
                size_of::<Self>() + COUNTS + (**self).cache_size()
            }
        }
    )*};
}

shared!(Arc, Rc);

impl<T: CacheSize> CacheSize for Option<T> {
    const HEAP_FREE: bool = T::HEAP_FREE;
    #[inline]
    fn cache_size(&self) -> usize {
        size_of::<Self>() + self.as_ref().map_or(0, CacheSize::heap_size)
    }
}

impl<T: CacheSize, E: CacheSize> CacheSize for Result<T, E> {
    const HEAP_FREE: bool = T::HEAP_FREE && E::HEAP_FREE;
    #[inline]
    fn cache_size(&self) -> usize {
        size_of::<Self>()
            + match self {
                Ok(value) => value.heap_size(),
                Err(error) => error.heap_size(),
            }
    }
}

/// Borrowed: the `Cow` alone (the referent outlives the entry); owned: with what it owns.
impl<B> CacheSize for Cow<'_, B>
where
    B: ToOwned + ?Sized,
    B::Owned: CacheSize,
{
    #[inline]
    fn cache_size(&self) -> usize {
        size_of::<Self>()
            + match self {
                Cow::Borrowed(_) => 0,
                Cow::Owned(owned) => owned.heap_size(),
            }
    }
}

macro_rules! tuples {
    ($(($($name:ident),+))*) => {$(
        impl<$($name: CacheSize),+> CacheSize for ($($name,)+) {
            const HEAP_FREE: bool = true $(&& $name::HEAP_FREE)+;
            #[inline]
            #[allow(non_snake_case)]
            fn cache_size(&self) -> usize {
                let ($($name,)+) = self;
                size_of::<Self>() $(+ $name.heap_size())+
            }
        }
    )*};
}

tuples! {
    (A)
    (A, B)
    (A, B, C)
    (A, B, C, D)
    (A, B, C, D, E)
    (A, B, C, D, E, F)
    (A, B, C, D, E, F, G)
    (A, B, C, D, E, F, G, H)
}

/// Buckets of std's `HashMap` (hashbrown) for a table of `capacity` usable slots: a power of two,
/// at least 4, loaded to 7/8 from 8 buckets on (3 of 4, 7 of 8 below).
fn hash_buckets(capacity: usize) -> usize {
    match capacity {
        0 => 0,
        1..=3 => 4,
        4..=7 => 8,
        _ => (capacity.saturating_mul(8) / 7).next_power_of_two(),
    }
}

/// A hash table's allocation: a slot of `slot` bytes and a control byte per bucket, and one
/// group (16) of control bytes more.
fn hash_table(capacity: usize, slot: usize) -> usize {
    match hash_buckets(capacity) {
        0 => 0,
        buckets => buckets * (slot + 1) + 16,
    }
}

impl<K: CacheSize, V: CacheSize, S> CacheSize for HashMap<K, V, S> {
    fn cache_size(&self) -> usize {
        let table = hash_table(self.capacity(), size_of::<(K, V)>());
        let owned = if K::HEAP_FREE && V::HEAP_FREE {
            0
        } else {
            self.iter()
                .map(|(k, v)| k.heap_size() + v.heap_size())
                .sum()
        };
        size_of::<Self>() + table + owned
    }
}

impl<T: CacheSize, S> CacheSize for HashSet<T, S> {
    fn cache_size(&self) -> usize {
        size_of::<Self>() + hash_table(self.capacity(), size_of::<T>()) + elements(self)
    }
}

/// The estimated nodes of a B-tree of `len` entries of `entry` bytes (see the module's docs).
fn btree_nodes(len: usize, entry: usize) -> usize {
    const SLOTS: usize = 11;
    const HEADER: usize = 16;
    len.div_ceil(8) * (SLOTS * entry + HEADER)
}

impl<K: CacheSize, V: CacheSize> CacheSize for BTreeMap<K, V> {
    fn cache_size(&self) -> usize {
        let owned = if K::HEAP_FREE && V::HEAP_FREE {
            0
        } else {
            self.iter()
                .map(|(k, v)| k.heap_size() + v.heap_size())
                .sum()
        };
        size_of::<Self>() + btree_nodes(self.len(), size_of::<K>() + size_of::<V>()) + owned
    }
}

impl<T: CacheSize> CacheSize for BTreeSet<T> {
    fn cache_size(&self) -> usize {
        size_of::<Self>() + btree_nodes(self.len(), size_of::<T>()) + elements(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORD: usize = size_of::<usize>();

    #[test]
    fn primitives_are_their_own_size() {
        assert_eq!(7u64.cache_size(), 8);
        assert_eq!(().cache_size(), 0);
        assert_eq!('x'.cache_size(), 4);
        assert_eq!(true.heap_size(), 0);
        assert_eq!(
            CacheSize::cache_size(&"static"),
            2 * WORD,
            "a `&'static str` is a reference"
        );
    }

    #[test]
    fn owned_buffers_count_their_capacity() {
        let mut text = String::with_capacity(100);
        text.push_str("abc");
        assert_eq!(text.cache_size(), 3 * WORD + 100);
        assert_eq!(text.heap_size(), 100);
        let boxed: Box<str> = "abcd".into();
        assert_eq!(boxed.cache_size(), 2 * WORD + 4);
        let shared: Arc<str> = "abcd".into();
        assert_eq!(shared.cache_size(), 2 * WORD + COUNTS + 4);
        let numbers: Vec<u32> = Vec::with_capacity(10);
        assert_eq!(numbers.cache_size(), 3 * WORD + 40);
    }

    #[test]
    fn nested_values_count_what_their_elements_own() {
        let words = vec![String::with_capacity(10), String::with_capacity(20)];
        // The Vec, its two `String`s in its buffer, and their buffers.
        assert_eq!(
            words.cache_size(),
            3 * WORD + words.capacity() * 3 * WORD + 30
        );
        let pair = (String::with_capacity(5), 1u8);
        assert_eq!(pair.cache_size(), size_of::<(String, u8)>() + 5);
        let some = Some(vec![0u8; 16]);
        assert_eq!(some.cache_size(), 3 * WORD + 16);
        let none: Option<Vec<u8>> = None;
        assert_eq!(none.cache_size(), 3 * WORD);
        let boxed = Box::new(String::with_capacity(8));
        assert_eq!(boxed.cache_size(), WORD + 3 * WORD + 8);
        let arc = Arc::new(vec![0u64; 4]);
        assert_eq!(arc.cache_size(), WORD + COUNTS + 3 * WORD + 32);
        let owned: Cow<'static, str> = Cow::Owned(String::with_capacity(9));
        assert_eq!(owned.cache_size(), size_of::<Cow<str>>() + 9);
        let borrowed: Cow<'static, str> = Cow::Borrowed("abc");
        assert_eq!(borrowed.cache_size(), size_of::<Cow<str>>());
        let array = [String::with_capacity(2), String::with_capacity(3)];
        assert_eq!(array.cache_size(), 6 * WORD + 5);
        let ok: Result<String, u8> = Ok(String::with_capacity(4));
        assert_eq!(ok.cache_size(), size_of::<Result<String, u8>>() + 4);
    }

    #[test]
    fn hash_maps_count_their_table() {
        let mut map: HashMap<u64, u64> = HashMap::new();
        assert_eq!(map.cache_size(), size_of::<HashMap<u64, u64>>());
        map.insert(1, 1);
        // 3 usable slots in 4 buckets: 4 x 16 bytes of slots, 4 + 16 control bytes.
        assert_eq!(map.capacity(), 3);
        assert_eq!(map.cache_size(), size_of::<HashMap<u64, u64>>() + 64 + 20);
        let mut big: HashMap<u32, String> = HashMap::with_capacity(100);
        big.insert(1, String::with_capacity(50));
        let buckets = hash_buckets(big.capacity());
        assert_eq!(buckets, 128);
        assert_eq!(
            big.cache_size(),
            size_of::<HashMap<u32, String>>()
                + buckets * (size_of::<(u32, String)>() + 1)
                + 16
                + 50
        );
        let set: HashSet<u8> = (0..10).collect();
        assert_eq!(
            set.cache_size(),
            size_of::<HashSet<u8>>() + hash_buckets(set.capacity()) * 2 + 16
        );
    }

    #[test]
    fn b_trees_are_charged_by_the_node() {
        let map: BTreeMap<u64, u64> = (0..8).map(|k| (k, k)).collect();
        assert_eq!(
            map.cache_size(),
            size_of::<BTreeMap<u64, u64>>() + 11 * 16 + 16
        );
        let map: BTreeMap<u64, u64> = (0..9).map(|k| (k, k)).collect();
        assert_eq!(
            map.cache_size(),
            size_of::<BTreeMap<u64, u64>>() + 2 * (11 * 16 + 16)
        );
        let set: BTreeSet<String> = [String::with_capacity(7)].into();
        assert_eq!(
            set.cache_size(),
            size_of::<BTreeSet<String>>() + 11 * 3 * WORD + 16 + 7
        );
    }
}
