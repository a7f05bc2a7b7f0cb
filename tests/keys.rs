//! Golden vectors: the key encoding and hash are frozen. Every expected value below is a literal,
//! computed once by an independent XXH3-128 implementation (Python's `xxhash` package) over the
//! encoding as documented in `cachemacro_runtime::key`. If one of these fails, keys changed, and
//! every cache shared between processes or versions would silently stop hitting.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use cachemacro_runtime::CacheKey;
use cachemacro_runtime::key::{KeyHasher, format_key, key_hash};
use cachemacro_runtime::memoize;

#[test]
fn golden_hashes_of_the_documented_encoding() {
    assert_eq!(key_hash(&10u64), 0xe8e83fe1949329e61e347328353bced3);
    assert_eq!(key_hash(&(7u64, "en")), 0x54053832f7d03b09d46d3c91d17c1512);
    assert_eq!(key_hash(&()), 0x99aa06d3014798d86001c324468d497f);
    assert_eq!(key_hash("hello"), 0xe22eb3a21af2e1e3191230403feae166);
    assert_eq!(key_hash(&-1i32), 0xa03472865ceee4a8780952daaa607a20);
    assert_eq!(
        key_hash(&(true, vec![1u32, 2, 3], Some(9u16))),
        0x98ceec54db6ba1f7661feede9ec255cc
    );
    // Longer than the inline buffer: streamed, same hash as one shot.
    assert_eq!(
        key_hash(&"x".repeat(1000)),
        0x9ded8b00f48e420af32d4d8b7c06495d
    );
}

#[test]
fn equal_values_in_other_forms_give_equal_hashes() {
    let expected = 0x54053832f7d03b09d46d3c91d17c1512;
    assert_eq!(key_hash(&(7u64, String::from("en"))), expected);
    assert_eq!(key_hash(&(&7u64, Arc::<str>::from("en"))), expected);
    assert_eq!(
        key_hash(&(7usize, "en")),
        expected,
        "usize is encoded as u64"
    );
    assert_eq!(key_hash(&[1u8, 2][..]), key_hash(&vec![1u8, 2]));
    assert_eq!(key_hash(&[1u8, 2]), key_hash(&vec![1u8, 2]));
    assert_eq!(
        key_hash(&BTreeSet::from([3u8, 1, 2])),
        key_hash(&vec![1u8, 2, 3]),
        "a set is its sorted sequence"
    );
    let map = BTreeMap::from([(2u8, 'b'), (1u8, 'a')]);
    assert_eq!(key_hash(&map), key_hash(&(2u64, 1u8, 'a', 2u8, 'b')));
}

#[test]
fn the_key_format_is_frozen() {
    assert_eq!(
        format_key("app::user_name", 0, 0x54053832f7d03b09d46d3c91d17c1512),
        "app::user_name@v0:54053832f7d03b09d46d3c91d17c1512"
    );
    assert_eq!(
        format_key("renamed", 12, 1),
        "renamed@v12:00000000000000000000000000000001"
    );
}

#[memoize]
fn user_name(id: u64, locale: &str) -> String {
    format!("{id}:{locale}")
}

struct Logger;

#[memoize(ignore = [logger])]
fn with_logger(id: u64, logger: &Logger, locale: String) -> String {
    let _ = logger;
    format!("{id}:{locale}")
}

fn hash_with<T: CacheKey + ?Sized>(mut out: impl KeyHasher, value: &T) -> u128 {
    value.write_key(&mut out);
    out.finish()
}

#[test]
fn a_memoized_call_is_keyed_by_its_arguments_as_a_tuple() {
    // The generated key function is private to this module; it is not an API, but it lets this
    // test pin what the macro computes. In process the hash is the per-process one; the Redis
    // tests pin the stable hash of a Redis-backed function to the golden vectors.
    let hasher = || user_name_cache().key_hasher();
    let expected = hash_with(hasher(), &(7u64, "en"));
    assert_eq!(__cachemacro_user_name_key(&7, &"en", hasher()), expected);
    assert_eq!(
        __cachemacro_with_logger_key(&7, &String::from("en"), hasher()),
        expected,
        "ignored arguments leave no trace in the key"
    );
    assert_ne!(__cachemacro_user_name_key(&7, &"fr", hasher()), expected);
    assert_eq!(user_name(7, "en"), "7:en");
    assert_eq!(with_logger(7, &Logger, "en".into()), "7:en");
}
