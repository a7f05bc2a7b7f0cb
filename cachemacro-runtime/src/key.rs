//! Stable argument keys: the specified encoding of arguments and the 128-bit hash over it.
//!
//! A key must come out the same in every process, on every machine and under every compiler
//! version, because a shared cache (Redis) is read by many processes: a key that drifts is a silent
//! 0% hit rate. So nothing here uses `std::hash::Hash` (its `str` and `usize` encodings differ by
//! platform and are not specified) or `DefaultHasher`/`RandomState` (explicitly unstable).
//!
//! # The encoding
//!
//! Each argument that is part of the key is encoded in order, and the encodings are concatenated.
//! Every encoding is self-delimiting, so the concatenation is unambiguous for a given signature.
//!
//! | type | encoding |
//! |---|---|
//! | `u8`..`u128`, `i8`..`i128` | the value, little-endian, at its width |
//! | `usize`, `isize` | as `u64` / `i64` (8 bytes) on every platform |
//! | `bool` | one byte, `0` or `1` |
//! | `char` | its scalar value as `u32` |
//! | `f32`, `f64` | the IEEE bits (`to_bits`) little-endian; `-0.0` is written as `0.0` and every NaN as the canonical quiet NaN |
//! | `str`, `String` | length in bytes as `u64`, then the UTF-8 bytes |
//! | `[T]`, `[T; N]`, `Vec<T>`, `VecDeque<T>` | length as `u64`, then each element |
//! | `Option<T>` | `0` for `None`; `1` then the value for `Some` |
//! | `BTreeSet<T>` | as a sequence, in the set's (sorted) order |
//! | `BTreeMap<K, V>` | length as `u64`, then each key then its value, in sorted order |
//! | tuples, `()` | the elements in order; `()` is empty |
//! | `Duration` | seconds as `u64`, then nanoseconds as `u32` |
//! | `&T`, `Box<T>`, `Rc<T>`, `Arc<T>`, `Cow<T>` | as `T` |
//! | `Ipv4Addr`, `Ipv6Addr`, `IpAddr` | a tag byte, `4` or `6`, then the octets (4 or 16 bytes); a bare `Ipv4Addr` as `IpAddr::V4` |
//! | `SocketAddrV4`, `SocketAddrV6`, `SocketAddr` | the IP address, then the port as `u16`; for IPv6 then the flow info and the scope id as `u32` (its equality compares them) |
//! | `OsStr`, `OsString` | length in bytes as `u64`, then the bytes: on Unix the OS's bytes, on Windows WTF-8 (UTF-8 for valid Unicode); see below |
//! | `Path`, `PathBuf` | the number of components as `u64`, then each component as an `OsStr` (`a//b` equals `a/b`, so they share a key), a Windows prefix by its parsed form (`u64::MAX`, a tag byte for its kind, then its parts), so `c:` and `C:` share a key |
//! | a struct with `#[derive(CacheKey)]` (named, tuple or unit) | its fields in declaration order, without those marked `#[cache_key(skip)]`; a unit struct is empty |
//! | an enum with `#[derive(CacheKey)]` | the variant's name as a `str` (or its `#[cache_key(rename = "...")]`), then the variant's fields as a struct's |
//!
//! So `&str` and `String`, `&[T]` and `Vec<T>`, `&T` and `T` give the same key.
//! `HashMap` and `HashSet` have no encoding: their iteration order is random, so they are rejected
//! at compile time (use `BTreeMap`/`BTreeSet`, or leave the argument out with `ignore = [...]`).
//!
//! ## Paths on every platform
//!
//! An `OsStr` is its bytes on Unix (`OsStrExt::as_bytes`) and, on Windows, its UTF-16 converted
//! to WTF-8, which is UTF-8 for every valid Unicode string: a Unicode name writes the same bytes
//! on both. `OsStr::as_encoded_bytes` is not used, since std leaves its encoding unspecified;
//! only on targets that are neither Unix nor Windows does a string that is not valid Unicode
//! write those bytes. A `Path` is keyed by its components, as it compares: the same text may give
//! other keys on Unix and on Windows, which do not split paths alike (`\` separates on Windows
//! only, and there `C:` is a prefix component).
//!
//! ## Types of other crates (cargo features)
//!
//! Each is behind a feature of `cachemacro-runtime` named after the crate, off by default, with
//! the crate as a plain optional dependency (default features off):
//!
//! | feature | types | encoding |
//! |---|---|---|
//! | `uuid` | `Uuid` | its 16 bytes (`as_bytes`, the byte order of its text form) |
//! | `chrono` | `NaiveDate` | the days from the Common Era as `i32` (`num_days_from_ce`: 1 for 0001-01-01) |
//! | `chrono` | `NaiveTime` | the seconds from midnight as `u32`, then the nanoseconds as `u32` (from 1,000,000,000 up in a leap second) |
//! | `chrono` | `NaiveDateTime` | the date, then the time |
//! | `chrono` | `DateTime<Tz>` | the UTC instant: the Unix timestamp in seconds as `i64`, then the nanoseconds as `u32`; equal instants in any zones share a key |
//! | `time` | `Date`, `Time`, `PrimitiveDateTime` | as chrono's `NaiveDate`, `NaiveTime`, `NaiveDateTime` |
//! | `time` | `OffsetDateTime`, `UtcDateTime` | the UTC instant, as chrono's `DateTime<Tz>` |
//! | `url` | `Url` | its serialization (`as_str`) as a `str` |
//! | `serde_json` | `Value` | a tag byte, then the value: `0` null; `1` and a `bool`; `2` and a number; `3` and a `str`; `4` and a sequence of values; `5` and an object: its length as `u64`, then each key (`str`) and value **sorted by key** |
//! | `serde_json` | `Number` | `0` and the `u64` if it has one, else `1` and the `i64`, else `2` and the `f64`, else (only with serde_json's `arbitrary_precision`) `3` and its text as a `str`; so `1` and `1.0`, which compare unequal, have different keys |
//!
//! A date, a date-time or an instant keys alike in chrono and in time. `tests/ecosystem_keys.rs`
//! freezes each encoding with golden vectors.
//!
//! # Derived keys
//!
//! `#[derive(CacheKey)]` gives a struct or an enum the encoding above; a generic type gets a
//! `T: CacheKey` bound for each type parameter that a keyed field mentions. Options, in
//! `#[cache_key(...)]`:
//!
//! - `skip` on a field: the field is not part of the key (a trace id, a cached handle). Values
//!   that differ only in skipped fields share a key.
//! - `rename = "Old"` on a variant: the variant is keyed by that name instead of its own, so a
//!   renamed variant keeps its keys. Two variants keyed by one name are a compile error.
//! - `crate = "path"` on the type: the runtime's path, as `#[memoize(crate = ...)]`.
//!
//! ```
//! use cachemacro_runtime::CacheKey;
//! use cachemacro_runtime::key::key_hash;
//!
//! #[derive(CacheKey)]
//! struct Query {
//!     text: String,
//!     page: u32,
//!     #[cache_key(skip)]
//!     trace_id: u64,
//! }
//!
//! #[derive(CacheKey)]
//! enum Sort {
//!     Relevance,
//!     Newest { since: u32 },
//! }
//!
//! let query = Query { text: "rust".into(), page: 2, trace_id: 7 };
//! assert_eq!(key_hash(&query), key_hash(&("rust", 2u32)));
//! assert_eq!(key_hash(&Sort::Newest { since: 5 }), key_hash(&("Newest", 5u32)));
//! ```
//!
//! An enum is keyed by its variants' names, not their positions, so that a key can never change
//! meaning from one build to the next: with positions, inserting or reordering variants would
//! let a process running the new code read entries that an old one wrote for another variant
//! (both share a Redis backend during a deploy). With names, adding or reordering variants keeps
//! every key; renaming one changes its keys (a miss, never a wrong hit) unless it keeps its old
//! name with `rename`. The price is a few bytes more to hash per call.
//!
//! A struct is keyed by its fields' values in declaration order, not their names: adding or
//! removing a keyed field, or changing its type's encoding, changes every key (a miss). Swapping
//! two fields of the same type keeps the bytes and changes their meaning: bump the function's
//! `version` after such a change, as after any change of what a key means.
//!
//! # The hash
//!
//! The stable key hash is **XXH3-128** (xxHash 0.8, seed 0) of the encoding, computed by
//! [`StableHasher`]: a frozen, specified hash. [`format_key`] renders a function's key as
//! `{name}@v{version}:{hash as 32 lowercase hex digits}`, for example
//! `app::user_name@v0:54053832f7d03b09d46d3c91d17c1512`. Shared backends (Redis) prefix it with
//! their namespace. No argument value ever appears in a key, only its hash.
//!
//! The integration test `tests/keys.rs` freezes all of this with golden vectors.
//!
//! # In-process keys
//!
//! The in-process backend never shares a key with another process, so it does not pay for the
//! stable hash: [`LocalHasher`] hashes the same sequence of writes with two lanes of folded
//! multiplies (foldhash's steps, and one more to finish, so that every window of the hash is
//! evenly spread), seeded at random per cache (128 bits, and collisions cannot be crafted from
//! outside). Buffering an encoding and then hashing it costs more than a whole
//! in-process hit.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use xxhash_rust::xxh3::{Xxh3, xxh3_128};

pub(crate) mod generated;
mod local;
mod net;
mod path;
#[cfg(feature = "chrono")]
mod with_chrono;
#[cfg(feature = "serde_json")]
mod with_serde_json;
#[cfg(feature = "time")]
mod with_time;
#[cfg(feature = "url")]
mod with_url;
#[cfg(feature = "uuid")]
mod with_uuid;

pub use local::{LocalHasher, LocalSeeds};

/// A type whose values can be part of a cache key.
///
/// Implementations must write a deterministic, self-delimiting encoding: equal values write equal
/// bytes in every process, and two different values of one type never write the same bytes. The
/// module documentation specifies the encoding of the standard types.
///
/// Derive it for your own structs and enums with `#[derive(CacheKey)]` (see
/// [derived keys](self#derived-keys)), or implement it by writing the fields in a fixed order:
///
/// ```
/// use cachemacro_runtime::{CacheKey, KeySink};
///
/// struct Point { x: i32, y: i32 }
///
/// impl CacheKey for Point {
///     fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
///         self.x.write_key(out);
///         self.y.write_key(out);
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be part of a cache key",
    label = "this argument's type does not implement `CacheKey`",
    note = "derive it with `#[derive(cachemacro_runtime::CacheKey)]` or implement `cachemacro_runtime::CacheKey` for it, or leave the argument out of the key with `ignore = [...]`",
    note = "`HashMap`/`HashSet` iterate in random order and have no stable key: use `BTreeMap`/`BTreeSet`"
)]
pub trait CacheKey {
    /// Writes this value's encoding.
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S);
}

/// Where a key's encoding goes: a hasher. Integers have their own methods so that a hasher that
/// does not need bytes (the in-process one) can take them in registers; every method's meaning is
/// the bytes its default writes. The in-process hash also depends on how the bytes are split into
/// calls, so an implementation must split equal values alike (as one that writes its fields in a
/// fixed order does).
pub trait KeySink {
    /// Appends raw bytes to the encoding.
    fn write_bytes(&mut self, bytes: &[u8]);

    /// Appends a `u64`, little-endian.
    #[inline]
    fn write_u64(&mut self, value: u64) {
        self.write_bytes(&value.to_le_bytes());
    }

    /// Appends a length prefix: the length as a `u64`, little-endian.
    #[inline]
    fn write_len(&mut self, len: usize) {
        self.write_u64(len as u64);
    }
}

/// Bytes kept on the stack before the writer switches to streaming hashing. Typical keys (a few
/// integers and a short string) fit, so a hit neither allocates nor streams.
const INLINE: usize = 128;

/// The stable hash: XXH3-128 of the encoding, the same in every process.
///
/// Short encodings are buffered on the stack and hashed in one shot; longer ones stream through the
/// XXH3 state (which gives the same hash as one shot over the same bytes), so no size allocates.
pub struct StableHasher {
    len: usize,
    inline: [u8; INLINE],
    stream: Option<Xxh3>,
}

impl StableHasher {
    /// An empty hasher.
    #[inline]
    pub fn new() -> Self {
        StableHasher {
            len: 0,
            inline: [0; INLINE],
            stream: None,
        }
    }

    #[inline]
    fn append(&mut self, bytes: &[u8]) {
        if let Some(stream) = &mut self.stream {
            stream.update(bytes);
            return;
        }
        let end = self.len + bytes.len();
        if end <= INLINE {
            self.inline[self.len..end].copy_from_slice(bytes);
            self.len = end;
        } else {
            self.spill(bytes);
        }
    }

    #[cold]
    fn spill(&mut self, bytes: &[u8]) {
        let mut stream = Xxh3::new();
        stream.update(&self.inline[..self.len]);
        stream.update(bytes);
        self.len = 0;
        self.stream = Some(stream);
    }

    /// The XXH3-128 hash of everything written.
    #[inline]
    pub fn finish(&self) -> u128 {
        match &self.stream {
            Some(stream) => stream.digest128(),
            None => xxh3_128(&self.inline[..self.len]),
        }
    }
}

impl Default for StableHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl KeySink for StableHasher {
    #[inline]
    fn write_bytes(&mut self, bytes: &[u8]) {
        self.append(bytes);
    }
}

/// A hasher that turns a key's encoding into its 128-bit hash. Each backend hands out its own
/// (`key_hasher()`): the stable one for shared backends, a seeded local one in process.
pub trait KeyHasher: KeySink {
    /// The 128-bit hash of everything written.
    fn finish(&self) -> u128;
}

impl KeyHasher for StableHasher {
    #[inline]
    fn finish(&self) -> u128 {
        StableHasher::finish(self)
    }
}

/// The stable key hash of one value, as the macro computes it for a one-argument function.
pub fn key_hash<T: CacheKey + ?Sized>(value: &T) -> u128 {
    let mut out = StableHasher::new();
    value.write_key(&mut out);
    out.finish()
}

/// Renders a function's key: `{name}@v{version}:{hash as 32 lowercase hex digits}`.
pub fn format_key(name: &str, version: u32, hash: u128) -> String {
    format!("{name}@v{version}:{hash:032x}")
}

macro_rules! int_keys {
    ($($t:ty),*) => {$(
        impl CacheKey for $t {
            #[inline]
            fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
                out.write_bytes(&self.to_le_bytes());
            }
        }
    )*};
}
int_keys!(u8, u16, u32, u128, i8, i16, i32, i128);

impl CacheKey for u64 {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        out.write_u64(*self);
    }
}

impl CacheKey for i64 {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        out.write_u64(*self as u64);
    }
}

impl CacheKey for usize {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        (*self as u64).write_key(out);
    }
}

impl CacheKey for isize {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        (*self as i64).write_key(out);
    }
}

impl CacheKey for bool {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        out.write_bytes(&[*self as u8]);
    }
}

impl CacheKey for char {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        (*self as u32).write_key(out);
    }
}

impl CacheKey for f32 {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        // Equal values must give equal keys: -0.0 == 0.0, and NaN payloads carry no meaning.
        let bits = if *self == 0.0 {
            0
        } else if self.is_nan() {
            f32::NAN.to_bits()
        } else {
            self.to_bits()
        };
        bits.write_key(out);
    }
}

impl CacheKey for f64 {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        let bits = if *self == 0.0 {
            0
        } else if self.is_nan() {
            f64::NAN.to_bits()
        } else {
            self.to_bits()
        };
        bits.write_key(out);
    }
}

impl CacheKey for str {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        out.write_len(self.len());
        out.write_bytes(self.as_bytes());
    }
}

impl CacheKey for String {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        self.as_str().write_key(out);
    }
}

impl<T: CacheKey> CacheKey for [T] {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        out.write_len(self.len());
        for item in self {
            item.write_key(out);
        }
    }
}

impl<T: CacheKey, const N: usize> CacheKey for [T; N] {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        self.as_slice().write_key(out);
    }
}

impl<T: CacheKey> CacheKey for Vec<T> {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        self.as_slice().write_key(out);
    }
}

impl<T: CacheKey> CacheKey for VecDeque<T> {
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        out.write_len(self.len());
        for item in self {
            item.write_key(out);
        }
    }
}

impl<T: CacheKey> CacheKey for BTreeSet<T> {
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        out.write_len(self.len());
        for item in self {
            item.write_key(out);
        }
    }
}

impl<K: CacheKey, V: CacheKey> CacheKey for BTreeMap<K, V> {
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        out.write_len(self.len());
        for (key, value) in self {
            key.write_key(out);
            value.write_key(out);
        }
    }
}

impl<T: CacheKey> CacheKey for Option<T> {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        match self {
            None => out.write_bytes(&[0]),
            Some(value) => {
                out.write_bytes(&[1]);
                value.write_key(out);
            }
        }
    }
}

impl CacheKey for Duration {
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        self.as_secs().write_key(out);
        self.subsec_nanos().write_key(out);
    }
}

macro_rules! transparent_keys {
    ($($(#[$meta:meta])* [$($gen:tt)*] $t:ty),* $(,)?) => {$(
        impl<$($gen)*> CacheKey for $t {
            #[inline]
            fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
                (**self).write_key(out);
            }
        }
    )*};
}
transparent_keys!(
    [T: CacheKey + ?Sized] &T,
    [T: CacheKey + ?Sized] Box<T>,
    [T: CacheKey + ?Sized] Rc<T>,
    [T: CacheKey + ?Sized] Arc<T>,
    ['a, T: CacheKey + ToOwned + ?Sized] Cow<'a, T>,
);

macro_rules! tuple_keys {
    ($(($($name:ident),*)),* $(,)?) => {$(
        impl<$($name: CacheKey),*> CacheKey for ($($name,)*) {
            #[inline]
            #[allow(non_snake_case, unused_variables)]
            fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
                let ($($name,)*) = self;
                $($name.write_key(out);)*
            }
        }
    )*};
}
tuple_keys!(
    (),
    (A),
    (A, B),
    (A, B, C),
    (A, B, C, D),
    (A, B, C, D, E),
    (A, B, C, D, E, F),
    (A, B, C, D, E, F, G),
    (A, B, C, D, E, F, G, H),
    (A, B, C, D, E, F, G, H, I),
    (A, B, C, D, E, F, G, H, I, J),
    (A, B, C, D, E, F, G, H, I, J, K),
    (A, B, C, D, E, F, G, H, I, J, K, L),
);

#[cfg(test)]
mod tests {
    use super::*;

    fn encode<T: CacheKey + ?Sized>(value: &T) -> Vec<u8> {
        // Force the streaming path off by staying small, and read the inline buffer back.
        let mut out = StableHasher::new();
        value.write_key(&mut out);
        assert!(out.stream.is_none());
        out.inline[..out.len].to_vec()
    }

    #[test]
    fn borrowed_and_owned_forms_encode_alike() {
        assert_eq!(encode("ab"), encode(&String::from("ab")));
        assert_eq!(encode(&[1u8, 2][..]), encode(&vec![1u8, 2]));
        assert_eq!(encode(&[1u8, 2]), encode(&vec![1u8, 2]));
        assert_eq!(encode(&&7u32), encode(&7u32));
        assert_eq!(encode(&Arc::new(7u32)), encode(&7u32));
    }

    #[test]
    fn encoding_is_the_documented_one() {
        assert_eq!(encode("ab"), [2, 0, 0, 0, 0, 0, 0, 0, b'a', b'b']);
        assert_eq!(encode(&1usize), 1u64.to_le_bytes());
        assert_eq!(encode(&Some(1u8)), [1, 1]);
        assert_eq!(encode(&None::<u8>), [0]);
        assert_eq!(encode(&-0.0f64), encode(&0.0f64));
        assert_eq!(encode(&f64::NAN), encode(&-f64::NAN));
    }

    fn local<T: CacheKey + ?Sized>(value: &T) -> u128 {
        static SEEDS: std::sync::LazyLock<LocalSeeds> =
            std::sync::LazyLock::new(LocalSeeds::random);
        let mut out = LocalHasher::new(&SEEDS);
        value.write_key(&mut out);
        out.finish()
    }

    #[test]
    fn local_hashes_agree_on_equal_values_and_differ_on_others() {
        assert_eq!(local(&(7u64, "en")), local(&(7u64, String::from("en"))));
        assert_eq!(local(&(7usize, vec![1u8])), local(&(7u64, [1u8])));
        assert_ne!(local(&("ab", "c")), local(&("a", "bc")));
        assert_ne!(local(&1u64), local(&2u64));
    }

    #[test]
    fn long_encodings_stream_to_the_same_hash_as_one_shot() {
        let long = "x".repeat(1000);
        let mut bytes = (long.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(long.as_bytes());
        let mut out = StableHasher::new();
        7u8.write_key(&mut out);
        long.write_key(&mut out);
        assert!(out.stream.is_some());
        let mut expected = vec![7u8];
        expected.extend_from_slice(&bytes);
        assert_eq!(out.finish(), xxh3_128(&expected));
    }
}
