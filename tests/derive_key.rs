//! `#[derive(CacheKey)]`: the encoding of derived structs and enums is frozen by golden vectors
//! (literals computed by an independent XXH3-128 implementation, Python's `xxhash`, over the
//! encoding documented in `cachemacro_runtime::key`), and memoized functions take derived types.

use std::sync::atomic::{AtomicUsize, Ordering};

use cachemacro_runtime::key::key_hash;
use cachemacro_runtime::{CacheKey, memoize};

#[derive(Debug, Clone, CacheKey)]
struct Query {
    text: String,
    page: u32,
    /// Changes nothing in the result, so it is not part of the key (and the body never reads it).
    #[allow(dead_code)]
    #[cache_key(skip)]
    trace_id: u64,
}

#[derive(Debug, Clone, PartialEq, CacheKey)]
struct Sku(u32, String);

#[derive(CacheKey)]
struct Everything;

#[derive(CacheKey)]
struct Pair<T> {
    left: T,
    right: T,
}

/// A field of an associated type: the derive bounds `I::Item`, not `I` (an iterator has no key).
#[derive(CacheKey)]
struct Head<I: Iterator> {
    first: Option<I::Item>,
}

/// Not a key: only a skipped field holds one.
struct Span;

/// `M` appears only in a skipped field, so it needs no key.
#[derive(CacheKey)]
struct Traced<T, M> {
    value: T,
    #[cache_key(skip)]
    #[allow(dead_code)]
    meta: M,
}

#[derive(Debug, Clone, Copy, PartialEq, CacheKey)]
enum Shape {
    Empty,
    Circle(u32),
    Rect {
        w: u32,
        h: u32,
    },
    /// Renamed from `Tri`: it keeps its keys.
    #[cache_key(rename = "Tri")]
    Triangle(u32, #[cache_key(skip)] u8, u32),
}

#[derive(Debug, Clone, Copy, PartialEq, CacheKey)]
enum Locale {
    En,
    Fr,
}

#[derive(CacheKey)]
enum Pick {
    A(u32),
    B(u32),
    C { value: u32 },
}

#[test]
fn golden_hashes_of_derived_structs() {
    let query = Query {
        text: "rust".into(),
        page: 2,
        trace_id: 99,
    };
    // str "rust", u32 2: the fields in order, the skipped one left out.
    assert_eq!(key_hash(&query), 0x4848c75461180b9ffc4709cf5900d9c3);
    // u32 7, str "x"
    assert_eq!(
        key_hash(&Sku(7, "x".into())),
        0x16ecc5df082f8699c5d0ece21c39970f
    );
    // nothing: the hash of an empty encoding
    assert_eq!(key_hash(&Everything), 0x99aa06d3014798d86001c324468d497f);
    // u8 1, u8 2
    assert_eq!(
        key_hash(&Pair {
            left: 1u8,
            right: 2
        }),
        0xd2f0f9428898845f08130b77ddef5807
    );
    // str "v"
    assert_eq!(
        key_hash(&Traced {
            value: "v",
            meta: Span
        }),
        0xc929cb38480a0c19149f67bc681bcace
    );
}

#[test]
fn golden_hashes_of_derived_enums() {
    // The variant's name as a str, then its fields.
    assert_eq!(key_hash(&Shape::Empty), 0xe0bce6565f0616011362ad64ef03ef0d);
    assert_eq!(
        key_hash(&Shape::Circle(5)),
        0xf83286e6ca4f350c6b91e3d3eaf43821
    );
    assert_eq!(
        key_hash(&Shape::Rect { w: 2, h: 3 }),
        0x16aa7d036dd0bd94efe48e3166a19ec0
    );
    // Named "Tri", the skipped field left out: str "Tri", u32 1, u32 2.
    assert_eq!(
        key_hash(&Shape::Triangle(1, 9, 2)),
        0x43678e7f5fbeaf5d125f5a77615ea58a
    );
}

#[test]
fn values_differing_only_in_the_variant_never_share_a_key() {
    assert_ne!(key_hash(&Pick::A(1)), key_hash(&Pick::B(1)));
    assert_ne!(key_hash(&Pick::A(1)), key_hash(&Pick::C { value: 1 }));
    assert_ne!(key_hash(&Locale::En), key_hash(&Locale::Fr));
    assert_ne!(
        key_hash(&Shape::Circle(5)),
        key_hash(&Shape::Triangle(5, 0, 0))
    );
    assert_eq!(key_hash(&Pick::A(1)), key_hash(&("A", 1u32)));
}

#[test]
fn skipped_fields_leave_no_trace_and_generic_types_key_by_their_parameters() {
    let query = |trace_id| Query {
        text: "rust".into(),
        page: 2,
        trace_id,
    };
    assert_eq!(key_hash(&query(1)), key_hash(&query(2)));
    assert_eq!(
        key_hash(&Pair {
            left: String::from("a"),
            right: String::from("b")
        }),
        key_hash(&("a", "b"))
    );
    let head = |values: Vec<u32>| Head::<std::vec::IntoIter<u32>> {
        first: values.into_iter().next(),
    };
    assert_eq!(key_hash(&head(vec![7, 8])), key_hash(&Some(7u32)));
    assert_ne!(key_hash(&head(vec![7])), key_hash(&head(vec![])));
    assert_ne!(
        key_hash(&Pair {
            left: 1u8,
            right: 2
        }),
        key_hash(&Pair {
            left: 2u8,
            right: 1
        })
    );
}

static SEARCH_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize]
fn search(query: &Query) -> Vec<String> {
    SEARCH_RUNS.fetch_add(1, Ordering::SeqCst);
    vec![format!("{} p{}", query.text, query.page)]
}

static PRICE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize]
fn price(sku: Sku, locale: Locale, shape: Shape) -> String {
    PRICE_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{sku:?} {locale:?} {shape:?}")
}

#[test]
fn memoized_functions_take_derived_types() {
    let query = |text: &str, page, trace_id| Query {
        text: text.into(),
        page,
        trace_id,
    };
    assert_eq!(search(&query("rust", 1, 10)), ["rust p1"]);
    assert_eq!(search(&query("rust", 1, 11)), ["rust p1"]);
    assert_eq!(SEARCH_RUNS.load(Ordering::SeqCst), 1, "trace_id is skipped");
    search(&query("rust", 2, 10));
    search(&query("go", 1, 10));
    assert_eq!(SEARCH_RUNS.load(Ordering::SeqCst), 3);

    let sku = || Sku(7, "red".into());
    price(sku(), Locale::En, Shape::Circle(1));
    price(sku(), Locale::En, Shape::Circle(1));
    assert_eq!(PRICE_RUNS.load(Ordering::SeqCst), 1);
    price(sku(), Locale::Fr, Shape::Circle(1));
    price(sku(), Locale::En, Shape::Triangle(1, 0, 0));
    price(Sku(8, "red".into()), Locale::En, Shape::Circle(1));
    assert_eq!(PRICE_RUNS.load(Ordering::SeqCst), 4);
    assert_eq!(price_cache().stats().hits, 1);
}
