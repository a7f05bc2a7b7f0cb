//! `max_bytes`: the in-process cache's byte budget. Each entry is charged its value's `CacheSize`
//! plus `ENTRY_OVERHEAD`, and the charges held never exceed the budget.
//!
//! Every budget here is under 2 MiB, so each cache is one shard and the whole budget is one
//! shard's: the exact figures below hold on any machine.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cachemacro_runtime::memory::ENTRY_OVERHEAD;
use cachemacro_runtime::{CacheSize, memoize};

#[path = "support/deadline.rs"]
mod deadline;

/// A `Vec<u8>` of `len` bytes (`vec!` allocates exactly `len`) is charged this much.
fn charge(len: usize) -> u64 {
    (ENTRY_OVERHEAD + size_of::<Vec<u8>>() + len) as u64
}

/// The length of the next value each function's body returns, and how often it ran: the value's
/// size is not part of the key, so `f_refresh` can store a larger value under the same key.
struct Body {
    len: AtomicUsize,
    runs: AtomicUsize,
}

impl Body {
    const fn new(len: usize) -> Body {
        Body {
            len: AtomicUsize::new(len),
            runs: AtomicUsize::new(0),
        }
    }

    fn run(&self, id: u32) -> Vec<u8> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        vec![id as u8; self.len.load(Ordering::SeqCst)]
    }

    fn runs(&self) -> usize {
        self.runs.load(Ordering::SeqCst)
    }

    fn set_len(&self, len: usize) {
        self.len.store(len, Ordering::SeqCst);
    }
}

static EXACT: Body = Body::new(100);
#[memoize(max_bytes = 10_000)]
fn exact(id: u32) -> Vec<u8> {
    EXACT.run(id)
}

#[test]
fn each_entry_is_charged_its_size_and_the_overhead_and_given_back_when_it_goes() {
    let cache = exact_cache();
    assert_eq!((cache.max_bytes(), cache.bytes()), (Some(10_000), Some(0)));
    assert_eq!(
        cache.capacity(),
        Some(10_000),
        "the default capacity holds too"
    );
    exact(1);
    assert_eq!(cache.bytes(), Some(charge(100)));
    EXACT.set_len(1000);
    exact(2);
    assert_eq!(cache.bytes(), Some(charge(100) + charge(1000)));
    assert_eq!(exact(1), vec![1; 100], "a hit");
    assert_eq!(EXACT.runs(), 2);
    assert!(exact_invalidate(1));
    assert_eq!(cache.bytes(), Some(charge(1000)));
    // Replaced in place by a smaller value: the difference is given back.
    EXACT.set_len(10);
    exact_refresh(2);
    assert_eq!(cache.bytes(), Some(charge(10)));
    cache.clear();
    assert_eq!(cache.bytes(), Some(0));
}

static CHURN: Body = Body::new(0);
#[memoize(max_bytes = "16KiB")]
fn churn(id: u32) -> Vec<u8> {
    CHURN.run(id)
}

#[test]
fn the_bytes_held_never_exceed_the_budget() {
    let cache = churn_cache();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..3_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let id = (state % 200) as u32;
        // Each key's size is fixed (the key's `id` says it), from 0 to 4 KiB.
        let len = (id as usize * 37) % 4096;
        CHURN.set_len(len);
        assert_eq!(churn(id), vec![id as u8; len]);
        let held = cache.bytes().unwrap();
        assert!(held <= 16 * 1024, "{held} bytes held");
    }
    let stats = cache.stats();
    assert!(stats.evictions > 0, "the budget was reached");
    assert!(stats.hits > 0, "and the cache still served hits");
    assert_eq!(stats.oversized, 0);
}

static LARGE: Body = Body::new(100);
#[memoize(max_bytes = "1KiB")]
fn large(id: u32) -> Vec<u8> {
    LARGE.run(id)
}

#[test]
fn a_value_larger_than_the_budget_is_returned_but_not_cached() {
    let cache = large_cache();
    assert_eq!(large(1), vec![1; 100]);
    assert_eq!(large(1), vec![1; 100]);
    assert_eq!(LARGE.runs(), 1, "a small value is cached");
    LARGE.set_len(2_000);
    assert_eq!(large(2), vec![2; 2_000]);
    assert_eq!(large(2), vec![2; 2_000]);
    assert_eq!(LARGE.runs(), 3, "the large value ran its body each time");
    assert_eq!(cache.stats().oversized, 2);
    assert_eq!(cache.bytes(), Some(charge(100)), "the small entry stays");
    assert_eq!(cache.len(), Some(1));
    // An entry whose new value cannot be stored is removed, not left to serve the old value.
    assert_eq!(large_refresh(1), vec![1; 2_000]);
    assert_eq!(cache.len(), Some(0));
    assert_eq!(cache.bytes(), Some(0));
    LARGE.set_len(5);
    assert_eq!(large(1), vec![1; 5]);
}

static BOTH: Body = Body::new(0);
#[memoize(capacity = 4, max_bytes = 1_000)]
fn both(id: u32) -> Vec<u8> {
    BOTH.run(id)
}

#[test]
fn capacity_and_max_bytes_both_hold() {
    let cache = both_cache();
    // Small values: the capacity binds (4 x 88 bytes fit the budget many times).
    for id in 0..10 {
        both(id);
        assert!(cache.len().unwrap() <= 4);
    }
    assert_eq!(cache.len(), Some(4));
    assert_eq!(cache.bytes(), Some(4 * charge(0)));
    // Large values: the budget binds (2 x 388 bytes fit, 3 do not).
    BOTH.set_len(300);
    for id in 10..20 {
        both(id);
        assert!(cache.bytes().unwrap() <= 1_000);
        assert!(cache.len().unwrap() <= 4);
    }
    assert_eq!(cache.len(), Some(2));
}

static GROWN: Body = Body::new(100);
#[memoize(max_bytes = 1_000)]
fn grown(id: u32) -> Vec<u8> {
    GROWN.run(id)
}

#[test]
fn a_refresh_with_a_bigger_value_evicts_as_needed() {
    let cache = grown_cache();
    for id in 1..=3 {
        grown(id);
    }
    assert_eq!(cache.bytes(), Some(3 * charge(100)));
    GROWN.set_len(500);
    // Fits in place: 2 x 188 + 588 = 964.
    grown_refresh(1);
    assert_eq!(cache.bytes(), Some(2 * charge(100) + charge(500)));
    assert_eq!(cache.stats().evictions, 0);
    // Does not: 588 + 188 + 588 > 1000, so an entry goes.
    grown_refresh(2);
    let held = cache.bytes().unwrap();
    assert!(held <= 1_000, "{held}");
    assert_eq!(cache.stats().evictions, 1);
    assert_eq!(cache.len(), Some(2));
    let runs = GROWN.runs();
    assert_eq!(grown(2), vec![2; 500], "the refreshed value is served");
    assert_eq!(GROWN.runs(), runs);
}

/// Callers that found a body running when its value is too large to store get the value too.
static SHARED_ARRIVED: AtomicUsize = AtomicUsize::new(0);
static SHARED_RUNS: AtomicUsize = AtomicUsize::new(0);
#[memoize(max_bytes = 1_000)]
fn shared(id: u32) -> Vec<u8> {
    SHARED_RUNS.fetch_add(1, Ordering::SeqCst);
    while SHARED_ARRIVED.load(Ordering::SeqCst) < 8 {
        std::thread::yield_now();
    }
    vec![id as u8; 2_000]
}

#[test]
fn waiters_get_a_value_too_large_to_store() {
    let values = deadline::within("eight callers", Duration::from_secs(60), || {
        std::thread::scope(|scope| {
            let callers: Vec<_> = (0..8)
                .map(|_| {
                    scope.spawn(|| {
                        SHARED_ARRIVED.fetch_add(1, Ordering::SeqCst);
                        shared(9)
                    })
                })
                .collect();
            callers
                .into_iter()
                .map(|caller| caller.join().unwrap())
                .collect::<Vec<_>>()
        })
    });
    assert!(values.iter().all(|value| *value == vec![9; 2_000]));
    let stats = shared_cache().stats();
    let runs = SHARED_RUNS.load(Ordering::SeqCst) as u64;
    // Every call ran the body or got its value: none is lost, none waits for a stored value.
    assert_eq!(stats.hits + stats.misses, 8);
    assert_eq!(stats.misses, runs);
    assert_eq!(stats.oversized, runs);
    assert_eq!(shared_cache().len(), Some(0));
}

static ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);
#[memoize(max_bytes = "1KiB")]
async fn fetched(len: usize) -> String {
    ASYNC_RUNS.fetch_add(1, Ordering::SeqCst);
    "x".repeat(len)
}

#[tokio::test]
async fn async_functions_are_bounded_too() {
    let cache = fetched_cache();
    assert_eq!(fetched(10).await.len(), 10);
    assert_eq!(fetched(10).await.len(), 10);
    assert_eq!(ASYNC_RUNS.load(Ordering::SeqCst), 1);
    let text = "x".repeat(10);
    assert_eq!(
        cache.bytes(),
        Some((ENTRY_OVERHEAD + text.cache_size()) as u64)
    );
    assert_eq!(fetched(5_000).await.len(), 5_000);
    assert_eq!(fetched(5_000).await.len(), 5_000);
    assert_eq!(
        ASYNC_RUNS.load(Ordering::SeqCst),
        3,
        "too large: not cached"
    );
    assert!(cache.bytes().unwrap() <= 1024);
}

/// An `io::Result` keeps its `Ok` value alone: only that needs `CacheSize`.
#[derive(Debug)]
struct NoSize;

static OK_RUNS: AtomicUsize = AtomicUsize::new(0);
#[memoize(max_bytes = "1KiB")]
fn ok_only(fail: bool) -> Result<String, NoSize> {
    OK_RUNS.fetch_add(1, Ordering::SeqCst);
    if fail {
        Err(NoSize)
    } else {
        Ok("ok".to_string())
    }
}

#[test]
fn a_result_is_charged_for_its_ok_value() {
    assert!(ok_only(true).is_err());
    assert_eq!(ok_only(false).unwrap(), "ok");
    assert_eq!(ok_only(false).unwrap(), "ok");
    assert_eq!(OK_RUNS.load(Ordering::SeqCst), 2);
    assert_eq!(
        ok_only_cache().bytes(),
        Some((ENTRY_OVERHEAD + "ok".to_string().cache_size()) as u64)
    );
}

/// Derived sizes: `size_of::<Self>()` once, plus what each field owns.
#[derive(CacheSize, Clone)]
struct Profile {
    id: u64,
    name: String,
    tags: Vec<String>,
    scores: BTreeMap<u32, u32>,
}

#[derive(CacheSize, Clone)]
struct Pair<T>(T, Option<Box<T>>);

#[derive(CacheSize, Clone)]
enum Shape {
    Empty,
    Named { label: String },
    Points(Vec<(f64, f64)>, Arc<str>),
}

/// No field owns anything: a `Vec` of it is charged its buffer alone.
#[derive(CacheSize, Clone, Copy)]
struct Point {
    x: f32,
    y: f32,
}

#[test]
fn derived_sizes_count_the_shallow_size_once_and_every_fields_heap() {
    let profile = Profile {
        id: 1,
        name: String::with_capacity(20),
        tags: vec![String::with_capacity(3), String::with_capacity(4)],
        scores: BTreeMap::new(),
    };
    let tags = profile.tags.capacity() * size_of::<String>() + 3 + 4;
    assert_eq!(profile.cache_size(), size_of::<Profile>() + 20 + tags);

    let pair = Pair(
        String::with_capacity(5),
        Some(Box::new(String::with_capacity(6))),
    );
    // The box: its pointee's own bytes and its buffer.
    assert_eq!(
        pair.cache_size(),
        size_of::<Pair<String>>() + 5 + size_of::<String>() + 6
    );
    assert_eq!(Pair(7u32, None).cache_size(), size_of::<Pair<u32>>());

    assert_eq!(Shape::Empty.cache_size(), size_of::<Shape>());
    let named = Shape::Named {
        label: String::with_capacity(11),
    };
    assert_eq!(named.cache_size(), size_of::<Shape>() + 11);
    let points = Shape::Points(Vec::with_capacity(4), Arc::from("abc"));
    assert_eq!(
        points.cache_size(),
        size_of::<Shape>() + 4 * 16 + 2 * size_of::<usize>() + 3
    );

    let path = vec![Point { x: 0.0, y: 0.0 }; 10];
    assert_eq!(path.cache_size(), size_of::<Vec<Point>>() + 10 * 8);
}

static PROFILE_RUNS: AtomicUsize = AtomicUsize::new(0);
#[memoize(max_bytes = "1MiB")]
fn profile(id: u64) -> Profile {
    PROFILE_RUNS.fetch_add(1, Ordering::SeqCst);
    Profile {
        id,
        name: format!("user {id}"),
        tags: Vec::new(),
        scores: BTreeMap::new(),
    }
}

#[test]
fn a_derived_type_is_charged_its_derived_size() {
    let value = profile(3);
    // The cache keeps a clone of the result: `format!`'s spare capacity is not cloned.
    assert_eq!(
        profile_cache().bytes(),
        Some((ENTRY_OVERHEAD + value.clone().cache_size()) as u64)
    );
    assert_eq!(profile(3).name, "user 3");
    assert_eq!(PROFILE_RUNS.load(Ordering::SeqCst), 1);
}

/// Many threads storing large values at once: the bound holds at every moment a writer leaves a
/// shard, which each thread checks after each of its calls.
#[memoize(max_bytes = "64KiB")]
fn contended(id: u32) -> Vec<u8> {
    vec![id as u8; 1 + (id as usize * 97) % 6000]
}

#[test]
fn the_budget_holds_under_concurrent_writers() {
    let worst = Mutex::new(0u64);
    deadline::within("four writers", Duration::from_secs(120), move || {
        std::thread::scope(|scope| {
            for thread in 0..4u32 {
                let worst = &worst;
                scope.spawn(move || {
                    for round in 0..2_000u32 {
                        let id = (round * 7 + thread * 13) % 300;
                        assert_eq!(contended(id).len(), 1 + (id as usize * 97) % 6000);
                        let held = contended_cache().bytes().unwrap();
                        let mut worst = worst.lock().unwrap();
                        *worst = (*worst).max(held);
                    }
                });
            }
        });
        let worst = *worst.lock().unwrap();
        assert!(worst <= 64 * 1024, "{worst} bytes held at once");
    });
}

static WARMED_RUNS: AtomicUsize = AtomicUsize::new(0);
#[memoize(max_bytes = "1KiB")]
fn warmed(len: usize) -> Vec<u8> {
    WARMED_RUNS.fetch_add(1, Ordering::SeqCst);
    vec![0; len]
}

#[test]
fn warming_reports_a_value_too_large_as_not_stored() {
    let report = warmed_warm([10, 5_000]);
    assert_eq!((report.stored, report.failed), (1, 1));
    warmed(10);
    assert_eq!(WARMED_RUNS.load(Ordering::SeqCst), 2);
}

static REFRESHED: Body = Body::new(100);
#[memoize(
    ttl = "10m",
    refresh = "background",
    refresh_after = "30s",
    max_bytes = 1_000
)]
fn refreshed(id: u32) -> Vec<u8> {
    REFRESHED.run(id)
}

/// Polls `condition` until it holds; fails the test after 10 s (waiting on the refresh pool's
/// outcome, not a sleep standing in for one).
fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        std::thread::yield_now();
    }
}

/// Held by the tests that move the paused clock, which every cache of this binary shares.
static CLOCK: Mutex<()> = Mutex::new(());

#[test]
fn a_background_refresh_is_charged_its_new_size() {
    let _clock = CLOCK.lock().unwrap_or_else(|poison| poison.into_inner());
    cachemacro_runtime::clock::pause();
    let cache = refreshed_cache();
    for id in 1..=3 {
        refreshed(id);
    }
    assert_eq!(cache.bytes(), Some(3 * charge(100)));
    // Grown past the room left (2 x 188 + 788 > 1000): stored anew, an older entry evicted.
    REFRESHED.set_len(700);
    cachemacro_runtime::clock::advance(Duration::from_secs(30));
    assert_eq!(refreshed(2), vec![2; 100], "stale, served at once");
    eventually("the refresh to land", || {
        cache.stats().refreshes_updated == 1
    });
    assert!(cache.bytes().unwrap() <= 1_000);
    assert_eq!(cache.stats().evictions, 1);
    let runs = REFRESHED.runs();
    assert_eq!(refreshed(2), vec![2; 700], "the refreshed value");
    assert_eq!(REFRESHED.runs(), runs);
    // Too large to store: the stale entry goes, and the next call computes.
    REFRESHED.set_len(5_000);
    cachemacro_runtime::clock::advance(Duration::from_secs(30));
    assert_eq!(refreshed(2), vec![2; 700]);
    eventually("the refresh to run", || cache.stats().oversized == 1);
    // Counted after the entry went: the other 100-byte entry alone is left.
    assert_eq!((cache.len(), cache.bytes()), (Some(1), Some(charge(100))));
    assert_eq!(cache.stats().refreshes_updated, 1);
    REFRESHED.set_len(10);
    assert_eq!(refreshed(2), vec![2; 10], "computed again");
}

static EXPIRING: Body = Body::new(10);
#[memoize(ttl = "1s", max_bytes = 1_000)]
fn expiring(id: u32) -> Vec<u8> {
    EXPIRING.run(id)
}

/// A value too large to store, computed for a key whose entry had expired, takes that entry out:
/// an expiration, as when a value replaces an expired entry.
#[test]
fn an_expired_entry_that_a_value_too_large_replaces_counts_as_an_expiration() {
    let _clock = CLOCK.lock().unwrap_or_else(|poison| poison.into_inner());
    cachemacro_runtime::clock::pause();
    let cache = expiring_cache();
    assert_eq!(expiring(1), vec![1; 10]);
    cachemacro_runtime::clock::advance(Duration::from_secs(2));
    EXPIRING.set_len(5_000);
    assert_eq!(expiring(1), vec![1; 5_000]);
    let stats = cache.stats();
    assert_eq!((stats.oversized, stats.expirations), (1, 1));
    assert_eq!((cache.len(), cache.bytes()), (Some(0), Some(0)));
    assert_eq!(EXPIRING.runs(), 2);
}

/// Panics in `cache_size` when told to: user code that runs as a computed value lands.
#[derive(Clone)]
struct Fragile(u32);

static FRAGILE_PANICS: AtomicBool = AtomicBool::new(false);

impl CacheSize for Fragile {
    fn cache_size(&self) -> usize {
        if FRAGILE_PANICS.swap(false, Ordering::SeqCst) {
            panic!("cache_size failed");
        }
        size_of::<Fragile>()
    }
}

#[memoize(max_bytes = 10_000)]
fn fragile(id: u32) -> Fragile {
    Fragile(id)
}

/// A leader whose value's `cache_size` panics still ends its flight: the next call of the key
/// computes it rather than waiting forever for a value that will never land.
#[test]
fn a_panicking_cache_size_does_not_leave_the_key_waiting() {
    FRAGILE_PANICS.store(true, Ordering::SeqCst);
    assert!(std::panic::catch_unwind(|| fragile(1)).is_err());
    let value = deadline::within("the next call of the key", Duration::from_secs(10), || {
        fragile(1).0
    });
    assert_eq!(value, 1);
    assert_eq!(fragile_cache().len(), Some(1));
}
