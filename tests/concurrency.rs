//! Single-flight: concurrent misses on one key run the body once, for threads and tasks, and a
//! panicking body releases its waiters without caching anything or poisoning a lock.
//!
//! Bodies block until every caller has arrived at the call, so callers are really concurrent; no
//! sleeps are involved.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};

use cachemacro_runtime::memoize;

const CALLERS: usize = 16;

/// Spins until `counter` reaches `target`, yielding the thread.
fn wait_for(counter: &AtomicUsize, target: usize) {
    while counter.load(Ordering::SeqCst) < target {
        std::thread::yield_now();
    }
}

static COLD_ARRIVED: AtomicUsize = AtomicUsize::new(0);
static COLD_RUNS: AtomicUsize = AtomicUsize::new(0);
#[memoize]
fn cold(key: u32) -> String {
    COLD_RUNS.fetch_add(1, Ordering::SeqCst);
    wait_for(&COLD_ARRIVED, CALLERS);
    format!("value {key}")
}

#[test]
fn sixteen_threads_missing_one_key_run_the_body_once() {
    let values: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CALLERS)
            .map(|_| {
                scope.spawn(|| {
                    COLD_ARRIVED.fetch_add(1, Ordering::SeqCst);
                    cold(7)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(values.iter().all(|v| v == "value 7"));
    assert_eq!(COLD_RUNS.load(Ordering::SeqCst), 1);
    let stats = cold_cache().stats();
    assert_eq!((stats.hits, stats.misses), (CALLERS as u64 - 1, 1));
}

static TASK_ARRIVED: AtomicUsize = AtomicUsize::new(0);
static TASK_RUNS: AtomicUsize = AtomicUsize::new(0);
#[memoize(ttl = 60)]
async fn cold_async(key: u32) -> u64 {
    TASK_RUNS.fetch_add(1, Ordering::SeqCst);
    while TASK_ARRIVED.load(Ordering::SeqCst) < CALLERS {
        tokio::task::yield_now().await;
    }
    u64::from(key) * 10
}

#[test]
fn sixteen_tasks_missing_one_key_run_the_body_once() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap();
    let values = runtime.block_on(async {
        let tasks: Vec<_> = (0..CALLERS)
            .map(|_| {
                tokio::spawn(async {
                    TASK_ARRIVED.fetch_add(1, Ordering::SeqCst);
                    cold_async(3).await
                })
            })
            .collect();
        let mut values = Vec::new();
        for task in tasks {
            values.push(task.await.unwrap());
        }
        values
    });
    assert!(values.iter().all(|v| *v == 30));
    assert_eq!(TASK_RUNS.load(Ordering::SeqCst), 1);
}

static PANIC_ARRIVED: AtomicUsize = AtomicUsize::new(0);
static PANIC_RUNS: AtomicUsize = AtomicUsize::new(0);
#[memoize]
fn first_run_panics(key: u32) -> u32 {
    let run = PANIC_RUNS.fetch_add(1, Ordering::SeqCst);
    if run == 0 {
        wait_for(&PANIC_ARRIVED, CALLERS);
        panic!("the first run fails");
    }
    key + 1
}

#[test]
fn a_panicking_body_releases_its_waiters_and_caches_nothing() {
    let outcomes: Vec<Result<u32, ()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CALLERS)
            .map(|_| {
                scope.spawn(|| {
                    PANIC_ARRIVED.fetch_add(1, Ordering::SeqCst);
                    catch_unwind(AssertUnwindSafe(|| first_run_panics(1))).map_err(|_| ())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let panicked = outcomes.iter().filter(|o| o.is_err()).count();
    assert_eq!(
        panicked, 1,
        "the panic reaches the caller that ran the body, only"
    );
    assert!(outcomes.iter().flatten().all(|v| *v == 2));
    // One failed run, then one waiter computed for the rest.
    assert_eq!(PANIC_RUNS.load(Ordering::SeqCst), 2);
    assert_eq!(
        first_run_panics(1),
        2,
        "the cache still works: no poisoned lock"
    );
    assert_eq!(PANIC_RUNS.load(Ordering::SeqCst), 2);
}

static MANY_RUNS: AtomicUsize = AtomicUsize::new(0);
#[memoize(capacity = 100_000)]
fn many(key: u64) -> u64 {
    MANY_RUNS.fetch_add(1, Ordering::SeqCst);
    key * 2
}

#[test]
fn threads_over_many_keys_compute_each_key_once() {
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for key in 0..5_000 {
                    assert_eq!(many(key), key * 2);
                }
            });
        }
    });
    assert_eq!(MANY_RUNS.load(Ordering::SeqCst), 5_000);
    let stats = many_cache().stats();
    assert_eq!(stats.hits + stats.misses, 40_000);
}

#[memoize]
fn counted(key: u64) -> u64 {
    key
}

#[test]
fn stats_stay_exact_with_more_threads_than_counter_slots() {
    counted(1);
    let threads = 100;
    let barrier = std::sync::Barrier::new(threads);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                // All alive at once: more than the 64 threads that get a counter slot of their own.
                barrier.wait();
                for _ in 0..1_000 {
                    assert_eq!(counted(1), 1);
                }
            });
        }
    });
    let stats = counted_cache().stats();
    assert_eq!((stats.hits, stats.misses), (100_000, 1));
}

static CHATTY_RUNS: AtomicUsize = AtomicUsize::new(0);

/// A value whose `Clone` calls the memoized function that caches it.
#[derive(Debug, PartialEq)]
struct Chatty(u32);

impl Clone for Chatty {
    fn clone(&self) -> Self {
        if self.0 < 1_000 {
            // Re-enters the cache from inside a read of it: runs uncached.
            assert_eq!(chatty(self.0 + 1_000), Chatty(self.0 + 1_000));
        }
        Chatty(self.0)
    }
}

#[memoize]
fn chatty(x: u32) -> Chatty {
    CHATTY_RUNS.fetch_add(1, Ordering::SeqCst);
    Chatty(x)
}

#[test]
fn a_values_clone_calling_its_own_cache_neither_deadlocks_nor_races() {
    // Regression: the nested call used to clear the reader's mark (a writer could then free the
    // value being cloned) or wait for it (a deadlock).
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for _ in 0..2_000 {
                assert_eq!(chatty(1), Chatty(1));
            }
        });
        scope.spawn(|| {
            for _ in 0..2_000 {
                chatty_invalidate(1);
                chatty_invalidate(1_001);
            }
        });
    });
    // Only 1 and 1_001 (stored by a miss of 1, whose clone runs outside the store) can be held.
    assert!(chatty_cache().len().is_some_and(|len| len <= 2));
    assert!(CHATTY_RUNS.load(Ordering::SeqCst) >= 2_000);
}

/// A value whose `Clone` writes to the cache it is cloned from: every companion that writes.
#[derive(Debug, PartialEq)]
struct Meddling(u32);

thread_local! {
    /// Set around the calls that must hit: misses clone outside the store, where writes act.
    static MEDDLE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Clone for Meddling {
    fn clone(&self) -> Self {
        if MEDDLE.get() {
            // Each of these would wait for the read this clone is part of.
            assert!(!meddling_invalidate(self.0), "skipped inside a read");
            assert!(!meddling_invalidate(self.0 + 1), "skipped inside a read");
            assert_eq!(meddling_refresh(self.0 + 1_000), Meddling(self.0 + 1_000));
            meddling_cache().clear();
        }
        Meddling(self.0)
    }
}

#[memoize]
fn meddling(x: u32) -> Meddling {
    Meddling(x)
}

#[test]
fn a_values_clone_writing_to_its_cache_is_skipped_and_does_not_hang() {
    // Regression: a write from inside a read waited for that read to end. Run on a thread so a
    // hang fails the test at its deadline instead of stalling the suite.
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for x in 0..64 {
            meddling(x); // a miss: stored without a clone inside the store
            meddling(x + 1); // the neighbour, maybe in the same shard
            MEDDLE.set(true);
            for _ in 0..3 {
                assert_eq!(meddling(x), Meddling(x)); // hits: the clone meddles
            }
            MEDDLE.set(false);
        }
        done.send(()).unwrap();
    });
    finished
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("hits whose clone writes to the cache finish");
    let stats = meddling_cache().stats();
    assert_eq!(
        stats.hits,
        64 * 3 + 63,
        "nothing was invalidated or cleared"
    );
    assert_eq!(
        meddling_cache().len(),
        Some(65),
        "and nothing was stored from inside a read"
    );
}

static UNLOCKED_INSIDE: AtomicUsize = AtomicUsize::new(0);
static UNLOCKED_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Holds every run until four are inside at once: only possible when nobody coalesces.
#[memoize(lock = "none")]
fn unlocked(key: u32) -> u32 {
    UNLOCKED_RUNS.fetch_add(1, Ordering::SeqCst);
    UNLOCKED_INSIDE.fetch_add(1, Ordering::SeqCst);
    wait_for(&UNLOCKED_INSIDE, 4);
    key * 2
}

#[test]
fn without_a_lock_concurrent_misses_each_run_the_body_and_the_value_is_stored() {
    let values: Vec<u32> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4).map(|_| scope.spawn(|| unlocked(5))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(values, [10; 4]);
    assert_eq!(
        UNLOCKED_RUNS.load(Ordering::SeqCst),
        4,
        "each miss ran the body"
    );
    assert_eq!(unlocked(5), 10);
    assert_eq!(
        UNLOCKED_RUNS.load(Ordering::SeqCst),
        4,
        "and the value was stored: a hit"
    );
    let stats = unlocked_cache().stats();
    assert_eq!((stats.hits, stats.misses, stats.entries), (1, 4, Some(1)));
}
