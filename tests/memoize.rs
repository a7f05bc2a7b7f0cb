//! Hits, misses, keys, methods, result rules and companions of `#[memoize]` on the in-process
//! backend. Every test counts how often a body ran and checks what came back.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use cachemacro_runtime::{CacheKey, KeySink, memoize};

/// A run counter per function, so tests in this binary can run in parallel.
macro_rules! counter {
    ($name:ident) => {
        static $name: AtomicUsize = AtomicUsize::new(0);
    };
}

fn runs(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

counter!(ADD_RUNS);
#[memoize]
fn add(a: u64, b: String) -> u64 {
    ADD_RUNS.fetch_add(1, Ordering::SeqCst);
    a + b.len() as u64
}

#[test]
fn repeated_calls_hit_and_distinct_arguments_miss() {
    assert_eq!(add(1, "ab".into()), 3);
    assert_eq!(add(1, "ab".into()), 3);
    assert_eq!(add(1, "ab".into()), 3);
    assert_eq!(runs(&ADD_RUNS), 1);
    assert_eq!(add(2, "ab".into()), 4);
    assert_eq!(add(1, "abc".into()), 4);
    assert_eq!(runs(&ADD_RUNS), 3);
    let stats = add_cache().stats();
    assert_eq!((stats.hits, stats.misses), (2, 3));
    assert_eq!(stats.entries, Some(3));
    assert_eq!(stats.capacity, Some(10_000));
}

counter!(GREET_RUNS);
#[memoize]
fn greet(name: &str, tags: &[u32]) -> String {
    GREET_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{name}{tags:?}")
}

#[test]
fn borrowed_and_owned_arguments_share_a_key() {
    let owned = String::from("ada");
    let tags = vec![1, 2];
    assert_eq!(greet("ada", &[1, 2]), "ada[1, 2]");
    assert_eq!(greet(&owned, &tags), "ada[1, 2]");
    assert_eq!(greet(owned.as_str(), tags.as_slice()), "ada[1, 2]");
    assert_eq!(runs(&GREET_RUNS), 1);
}

counter!(LOOKUP_RUNS);
struct Logger;
#[memoize(ignore = [logger])]
fn lookup(id: u32, logger: &Logger) -> u32 {
    let _ = logger;
    LOOKUP_RUNS.fetch_add(1, Ordering::SeqCst);
    id * 2
}

#[test]
fn ignored_arguments_are_not_part_of_the_key() {
    // `Logger` implements no key trait: ignoring it is what makes this compile at all.
    assert_eq!(lookup(4, &Logger), 8);
    assert_eq!(lookup(4, &Logger), 8);
    assert_eq!(runs(&LOOKUP_RUNS), 1);
}

counter!(COUNT_RUNS);
counter!(SCALED_RUNS);
struct Repo {
    scale: u64,
}

impl CacheKey for Repo {
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        self.scale.write_key(out);
    }
}

impl Repo {
    #[memoize(ttl = 30, ignore = [self])]
    fn count(&self, table: &str) -> usize {
        COUNT_RUNS.fetch_add(1, Ordering::SeqCst);
        table.len() + self.scale as usize
    }

    #[memoize]
    fn scaled(&self, x: u64) -> u64 {
        SCALED_RUNS.fetch_add(1, Ordering::SeqCst);
        x * self.scale
    }
}

#[test]
fn methods_ignoring_self_share_one_cache_across_instances() {
    let (a, b) = (Repo { scale: 1 }, Repo { scale: 100 });
    assert_eq!(a.count("users"), 6);
    // Same table, other instance: served from the one cache, computed by `a`.
    assert_eq!(b.count("users"), 6);
    assert_eq!(runs(&COUNT_RUNS), 1);
    assert_eq!(b.count_uncached("users"), 105);
    assert!(Repo::count_invalidate(&b, "users"));
    assert_eq!(b.count("users"), 105);
    assert_eq!(runs(&COUNT_RUNS), 3);
}

#[test]
fn methods_keep_self_in_the_key_by_default() {
    let (a, b) = (Repo { scale: 2 }, Repo { scale: 3 });
    assert_eq!(a.scaled(10), 20);
    assert_eq!(b.scaled(10), 30);
    assert_eq!(a.scaled(10), 20);
    assert_eq!(runs(&SCALED_RUNS), 2);
    assert_eq!(Repo::scaled_cache().stats().hits, 1);
}

counter!(PARSE_RUNS);
#[memoize]
fn parse(text: &str) -> Result<u32, String> {
    PARSE_RUNS.fetch_add(1, Ordering::SeqCst);
    text.parse().map_err(|_| format!("not a number: {text}"))
}

counter!(PARSE_ALL_RUNS);
#[memoize(cache_err = true)]
fn parse_all(text: &str) -> Result<u32, String> {
    PARSE_ALL_RUNS.fetch_add(1, Ordering::SeqCst);
    text.parse().map_err(|_| format!("not a number: {text}"))
}

mod db {
    /// An alias like `io::Result`, with a `Clone` error.
    pub type Result<T> = std::result::Result<T, String>;
}

counter!(READ_RUNS);
#[memoize]
fn read_len(path: &str) -> db::Result<usize> {
    READ_RUNS.fetch_add(1, Ordering::SeqCst);
    if path.is_empty() {
        Err("empty path".into())
    } else {
        Ok(path.len())
    }
}

#[test]
fn results_cache_ok_only_unless_cache_err() {
    assert_eq!(parse("x"), Err("not a number: x".into()));
    assert_eq!(parse("x"), Err("not a number: x".into()));
    assert_eq!(runs(&PARSE_RUNS), 2, "an Err is not cached by default");
    assert_eq!(parse("7"), Ok(7));
    assert_eq!(parse("7"), Ok(7));
    assert_eq!(runs(&PARSE_RUNS), 3, "an Ok is cached");

    assert!(parse_all("x").is_err());
    assert!(parse_all("x").is_err());
    assert_eq!(runs(&PARSE_ALL_RUNS), 1, "cache_err = true caches the Err");
}

#[test]
fn results_are_recognised_through_paths() {
    assert!(read_len("").is_err());
    assert!(read_len("").is_err());
    assert_eq!(runs(&READ_RUNS), 2, "db::Result's Err is not cached");
    assert_eq!(read_len("abc").unwrap(), 3);
    assert_eq!(read_len("abc").unwrap(), 3);
    assert_eq!(runs(&READ_RUNS), 3);
}

counter!(FIND_RUNS);
#[memoize]
fn find(id: u32) -> Option<String> {
    FIND_RUNS.fetch_add(1, Ordering::SeqCst);
    id.is_multiple_of(2).then(|| format!("item {id}"))
}

counter!(FIND_SOME_RUNS);
#[memoize(cache_none = false)]
fn find_some(id: u32) -> Option<String> {
    FIND_SOME_RUNS.fetch_add(1, Ordering::SeqCst);
    id.is_multiple_of(2).then(|| format!("item {id}"))
}

#[test]
fn none_is_cached_unless_cache_none_is_false() {
    assert_eq!(find(1), None);
    assert_eq!(find(1), None);
    assert_eq!(runs(&FIND_RUNS), 1, "None is cached by default");

    assert_eq!(find_some(1), None);
    assert_eq!(find_some(1), None);
    assert_eq!(
        runs(&FIND_SOME_RUNS),
        2,
        "cache_none = false does not cache None"
    );
    assert_eq!(find_some(2), Some("item 2".into()));
    assert_eq!(find_some(2), Some("item 2".into()));
    assert_eq!(runs(&FIND_SOME_RUNS), 3);
}

counter!(SQUARE_RUNS);
#[memoize]
fn square(x: u64) -> u64 {
    SQUARE_RUNS.fetch_add(1, Ordering::SeqCst);
    x * x
}

#[test]
fn companions_bypass_refresh_invalidate_and_inspect() {
    assert_eq!(square_uncached(3), 9);
    assert_eq!(
        square_cache().len(),
        Some(0),
        "uncached neither reads nor writes"
    );
    assert_eq!(runs(&SQUARE_RUNS), 1);

    assert_eq!(square_refresh(3), 9);
    assert_eq!(runs(&SQUARE_RUNS), 2);
    assert_eq!(square(3), 9, "refresh primed the entry");
    assert_eq!(runs(&SQUARE_RUNS), 2);
    assert_eq!(square_refresh(3), 9, "refresh always runs the body");
    assert_eq!(runs(&SQUARE_RUNS), 3);

    assert!(square_invalidate(3));
    assert!(!square_invalidate(3), "nothing left to remove");
    assert_eq!(square(3), 9);
    assert_eq!(runs(&SQUARE_RUNS), 4);

    assert_eq!(square(4), 16);
    assert_eq!(square_cache().len(), Some(2));
    square_cache().clear();
    assert_eq!(square_cache().is_empty(), Some(true));
    assert_eq!(square(4), 16);
    assert_eq!(runs(&SQUARE_RUNS), 6);

    let stats = square_cache().stats();
    assert_eq!((stats.hits, stats.misses), (1, 3));
    assert_eq!(stats.errors, 0);
    assert_eq!(square_cache().name(), "memoize::square");
    assert_eq!(square_cache().version(), 0);
}

#[memoize(name = "shared::identity", version = 3)]
fn renamed(x: u8) -> u8 {
    x
}

#[test]
fn name_and_version_set_the_identity() {
    assert_eq!(renamed(1), 1);
    assert_eq!(renamed_cache().name(), "shared::identity");
    assert_eq!(renamed_cache().version(), 3);
}

counter!(FIB_RUNS);
#[memoize]
fn fib(n: u64) -> u64 {
    FIB_RUNS.fetch_add(1, Ordering::SeqCst);
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

#[test]
fn recursive_functions_memoize_each_step() {
    assert_eq!(fib(80), 23_416_728_348_467_685);
    assert_eq!(runs(&FIB_RUNS), 81, "each n computed once");
    assert_eq!(fib(80), 23_416_728_348_467_685);
    assert_eq!(runs(&FIB_RUNS), 81);
}

counter!(TOTAL_RUNS);
#[memoize]
fn total(prices: BTreeMap<String, u32>, extra: Option<u32>) -> Arc<u32> {
    TOTAL_RUNS.fetch_add(1, Ordering::SeqCst);
    Arc::new(prices.values().sum::<u32>() + extra.unwrap_or(0))
}

#[test]
fn maps_options_and_arc_results_work() {
    let prices = BTreeMap::from([("a".to_string(), 1), ("b".to_string(), 2)]);
    let first = total(prices.clone(), Some(3));
    let second = total(prices, Some(3));
    assert_eq!(*first, 6);
    assert!(
        Arc::ptr_eq(&first, &second),
        "a hit clones the Arc, not the value"
    );
    assert_eq!(runs(&TOTAL_RUNS), 1);
    assert_eq!(*total(BTreeMap::new(), None), 0);
    assert_eq!(runs(&TOTAL_RUNS), 2);
}

counter!(MUT_RUNS);
#[memoize]
fn countdown(mut n: u32) -> u32 {
    MUT_RUNS.fetch_add(1, Ordering::SeqCst);
    let mut steps = 0;
    while n > 0 {
        n /= 2;
        steps += 1;
    }
    steps
}

#[test]
fn mutable_bindings_stay_mutable_in_the_body() {
    assert_eq!(countdown(8), 4);
    assert_eq!(countdown(8), 4);
    assert_eq!(runs(&MUT_RUNS), 1);
}

mod visibility {
    use cachemacro_runtime::memoize;

    #[memoize]
    pub fn public(x: u8) -> u8 {
        x + 1
    }
}

#[test]
fn companions_have_the_functions_visibility() {
    assert_eq!(visibility::public(1), 2);
    assert_eq!(visibility::public_uncached(1), 2);
    assert_eq!(visibility::public_refresh(1), 2);
    assert!(visibility::public_invalidate(1));
    assert_eq!(visibility::public_cache().stats().misses, 1);
}
