//! Background refresh on the in-process backend: stale hits are served at once, refreshed behind
//! the caller in a bounded pool, and a failed refresh keeps the old value.
//!
//! Time is the controllable clock; refresh bodies block on gates the tests open. The clock and the
//! pool are process-wide, so the tests take one lock.

#[path = "support/gate.rs"]
mod gate;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cachemacro_runtime::refresh::{RefreshConfig, configure};
use cachemacro_runtime::{Stats, clock, memoize};
use gate::Gate;

/// The pool's bounds in this test binary.
const WORKERS: usize = 2;
const QUEUE: usize = 16;

static SERIAL: Mutex<()> = Mutex::new(());

fn setup() -> MutexGuard<'static, ()> {
    let guard = SERIAL.lock().unwrap_or_else(|poison| poison.into_inner());
    let _ = configure(RefreshConfig {
        workers: WORKERS,
        queue: QUEUE,
    });
    clock::pause();
    guard
}

/// Polls `condition` until it holds; fails the test after 10 s. Waiting on an outcome of another
/// thread, not a sleep standing in for one.
fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::yield_now();
    }
}

static SERVERS_GATE: Gate = Gate::new();
static SERVERS_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = "10m", refresh = "background", refresh_after = "30s")]
fn servers(region: &str) -> String {
    let run = SERVERS_RUNS.fetch_add(1, Ordering::SeqCst);
    SERVERS_GATE.pass();
    format!("{region} v{run}")
}

fn stats_of_servers() -> Stats {
    servers_cache().stats()
}

#[test]
fn a_stale_hit_is_served_at_once_and_refreshed_behind_the_caller() {
    let _serial = setup();
    assert_eq!(servers("eu"), "eu v0");
    clock::advance(Duration::from_secs(29));
    assert_eq!(
        servers("eu"),
        "eu v0",
        "younger than refresh_after: a plain hit"
    );
    assert_eq!(stats_of_servers().refreshes_started, 0);

    // Old enough: the refresh starts and blocks at the gate, the caller gets the old value now.
    SERVERS_GATE.set(false);
    clock::advance(Duration::from_secs(1));
    assert_eq!(servers("eu"), "eu v0");
    eventually("the refresh to start", || {
        SERVERS_RUNS.load(Ordering::SeqCst) == 2
    });
    // More stale hits while it runs: served, and no second refresh of the same key.
    for _ in 0..100 {
        assert_eq!(servers("eu"), "eu v0");
    }
    assert_eq!(SERVERS_RUNS.load(Ordering::SeqCst), 2);

    SERVERS_GATE.set(true);
    eventually("the refresh to land", || {
        stats_of_servers().refreshes_updated == 1
    });
    assert_eq!(servers("eu"), "eu v1", "the new value is served");
    let stats = stats_of_servers();
    assert_eq!(stats.refreshes_started, 1);
    assert_eq!(stats.refreshes_failed, 0);
    assert_eq!(stats.misses, 1);

    // The refresh renewed the entry's age: the next refresh is 30 s after it, not before.
    clock::advance(Duration::from_secs(29));
    assert_eq!(servers("eu"), "eu v1");
    assert_eq!(stats_of_servers().refreshes_started, 1);
}

#[test]
fn entries_older_than_ttl_are_computed_inline_not_served_stale() {
    let _serial = setup();
    SERVERS_GATE.set(true);
    let before = SERVERS_RUNS.load(Ordering::SeqCst);
    let first = servers("us");
    clock::advance(Duration::from_secs(600));
    let second = servers("us");
    assert_ne!(first, second, "past ttl: recomputed, not served");
    assert_eq!(SERVERS_RUNS.load(Ordering::SeqCst), before + 2);
}

static FLAKY_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 600, refresh = "background", refresh_after = 60)]
fn flaky(id: u32) -> Result<u32, String> {
    match FLAKY_RUNS.fetch_add(1, Ordering::SeqCst) {
        0 => Ok(id),
        1 => Err("backend down".into()),
        2 => panic!("refresh panics"),
        _ => Ok(id + 100),
    }
}

#[test]
fn a_failed_refresh_keeps_the_old_value() {
    let _serial = setup();
    assert_eq!(flaky(1), Ok(1));
    clock::advance(Duration::from_secs(60));
    assert_eq!(flaky(1), Ok(1), "stale hit; the refresh returns Err");
    eventually("the Err refresh", || {
        flaky_cache().stats().refreshes_failed == 1
    });
    assert_eq!(
        flaky(1),
        Ok(1),
        "old value kept; this hit retries and the refresh panics"
    );
    eventually("the panicking refresh", || {
        flaky_cache().stats().refreshes_failed == 2
    });
    assert_eq!(flaky(1), Ok(1), "old value kept again; this retry succeeds");
    eventually("the good refresh", || {
        flaky_cache().stats().refreshes_updated == 1
    });
    assert_eq!(flaky(1), Ok(101));
}

static WIDE_GATE: Gate = Gate::new();
static WIDE_RUNNING: AtomicUsize = AtomicUsize::new(0);
static WIDE_MAX: AtomicUsize = AtomicUsize::new(0);

#[memoize(
    ttl = 600,
    capacity = 20_000,
    refresh = "background",
    refresh_after = 60
)]
fn wide(key: u32) -> u32 {
    let running = WIDE_RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
    WIDE_MAX.fetch_max(running, Ordering::SeqCst);
    WIDE_GATE.pass();
    WIDE_RUNNING.fetch_sub(1, Ordering::SeqCst);
    key
}

#[test]
fn ten_thousand_stale_keys_never_run_more_than_the_pool_allows() {
    let _serial = setup();
    const KEYS: u32 = 10_000;
    for key in 0..KEYS {
        wide(key);
    }
    WIDE_MAX.store(0, Ordering::SeqCst);
    clock::advance(Duration::from_secs(60));
    WIDE_GATE.set(false);
    std::thread::scope(|scope| {
        for part in 0..4 {
            scope.spawn(move || {
                for key in (0..KEYS).filter(|key| key % 4 == part) {
                    assert_eq!(wide(key), key, "stale hits are served");
                }
            });
        }
    });
    let stats = wide_cache().stats();
    // Every stale hit was either accepted by the pool or dropped; the pool holds at most its
    // workers plus its queue while the gate is shut.
    assert!(
        stats.refreshes_dropped >= u64::from(KEYS) - (WORKERS + QUEUE) as u64,
        "dropped {}",
        stats.refreshes_dropped
    );
    WIDE_GATE.set(true);
    eventually("every accepted refresh to land", || {
        let stats = wide_cache().stats();
        stats.refreshes_updated + stats.refreshes_dropped == u64::from(KEYS)
    });
    let stats = wide_cache().stats();
    assert_eq!(stats.refreshes_started, stats.refreshes_updated);
    assert!(
        WIDE_MAX.load(Ordering::SeqCst) <= WORKERS,
        "max concurrency {}",
        WIDE_MAX.load(Ordering::SeqCst)
    );
    assert!(WIDE_MAX.load(Ordering::SeqCst) >= 1);
}

static QUOTE_RUNS: AtomicUsize = AtomicUsize::new(0);
static QUOTE_GATE: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(0);

#[memoize(ttl = "10m", refresh = "background")]
async fn quote(symbol: String) -> String {
    let run = QUOTE_RUNS.fetch_add(1, Ordering::SeqCst);
    if run > 0 {
        // Refreshes wait here until the test adds a permit.
        QUOTE_GATE.acquire().await.unwrap().forget();
    }
    format!("{symbol} v{run}")
}

#[test]
fn async_functions_refresh_as_tasks_with_the_default_refresh_after() {
    let _serial = setup();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    runtime.block_on(async {
        assert_eq!(quote("ACME".into()).await, "ACME v0");
        // refresh_after defaults to half the ttl: 5 minutes.
        clock::advance(Duration::from_secs(299));
        assert_eq!(quote("ACME".into()).await, "ACME v0");
        assert_eq!(quote_cache().stats().refreshes_started, 0);
        clock::advance(Duration::from_secs(1));
        assert_eq!(
            quote("ACME".into()).await,
            "ACME v0",
            "stale: served at once"
        );
        while QUOTE_RUNS.load(Ordering::SeqCst) < 2 {
            tokio::task::yield_now().await;
        }
        assert_eq!(quote("ACME".into()).await, "ACME v0", "still refreshing");
        QUOTE_GATE.add_permits(1);
        while quote_cache().stats().refreshes_updated < 1 {
            tokio::task::yield_now().await;
        }
        assert_eq!(quote("ACME".into()).await, "ACME v1");
    });
}

static TASK_RUNNING: AtomicUsize = AtomicUsize::new(0);
static TASK_MAX: AtomicUsize = AtomicUsize::new(0);
static TASK_GATE: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(0);
static TASK_READY: AtomicUsize = AtomicUsize::new(0);

#[memoize(
    ttl = 600,
    capacity = 20_000,
    refresh = "background",
    refresh_after = 60
)]
async fn many_tasks(key: u32) -> u32 {
    if TASK_READY.load(Ordering::SeqCst) == 1 {
        let running = TASK_RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
        TASK_MAX.fetch_max(running, Ordering::SeqCst);
        TASK_GATE.acquire().await.unwrap().forget();
        TASK_RUNNING.fetch_sub(1, Ordering::SeqCst);
    }
    key
}

#[test]
fn async_refreshes_are_bounded_too() {
    let _serial = setup();
    const KEYS: u32 = 10_000;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    runtime.block_on(async {
        for key in 0..KEYS {
            many_tasks(key).await;
        }
        TASK_READY.store(1, Ordering::SeqCst);
        clock::advance(Duration::from_secs(60));
        for key in 0..KEYS {
            assert_eq!(many_tasks(key).await, key);
        }
        let stats = many_tasks_cache().stats();
        assert!(stats.refreshes_dropped >= u64::from(KEYS) - (WORKERS + QUEUE) as u64);
        TASK_GATE.add_permits(KEYS as usize);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let stats = many_tasks_cache().stats();
            if stats.refreshes_updated + stats.refreshes_dropped == u64::from(KEYS) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "refreshes never all landed: {stats:?}"
            );
            tokio::task::yield_now().await;
        }
    });
    assert!(TASK_MAX.load(Ordering::SeqCst) <= WORKERS);
    assert!(TASK_MAX.load(Ordering::SeqCst) >= 1);
}

static CANCEL_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(
    ttl = 600,
    capacity = 1_000,
    refresh = "background",
    refresh_after = 60
)]
async fn cancelled(key: u32) -> u32 {
    if CANCEL_RUNS.fetch_add(1, Ordering::SeqCst) >= 50 {
        // Refreshes never finish: the runtime they run on is shut down under them.
        std::future::pending::<()>().await;
    }
    key
}

#[test]
fn cancelled_refresh_tasks_give_back_their_place_and_their_entry() {
    // Regression: a refresh task cancelled by its runtime's shutdown kept its place in the pool
    // for good, and its entry never refreshed again.
    let _serial = setup();
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    };
    runtime().block_on(async {
        for key in 0..50 {
            cancelled(key).await;
        }
    });
    clock::advance(Duration::from_secs(60));
    for round in 1..=3u64 {
        // Stale hits fill the pool with refreshes that never end; the runtime is then dropped,
        // which cancels them.
        let doomed = runtime();
        doomed.block_on(async {
            for key in 0..50 {
                assert_eq!(cancelled(key).await, key);
            }
            // Let the admitted tasks run up to their pending point.
            tokio::task::yield_now().await;
        });
        drop(doomed);
        let stats = cancelled_cache().stats();
        // Each round, `WORKERS` refreshes start: the cancelled ones gave their places back.
        assert_eq!(stats.refreshes_started, WORKERS as u64 * round, "{stats:?}");
        // And every one of the round's 50 is accounted as dropped, refused or cancelled, which
        // released its entry for the next round's stale hit.
        assert_eq!(stats.refreshes_dropped, 50 * round, "{stats:?}");
    }
}

#[memoize(ttl = "10m", refresh = "background")]
async fn greeting(id: u32, name: &str) -> String {
    format!("{name} {id}")
}

#[derive(Clone)]
struct Directory;

impl Directory {
    #[memoize(ttl = "10m", refresh = "background", ignore = [self])]
    async fn entry(&self, id: u32) -> String {
        format!("entry {id}")
    }
}

/// Passes `future` through only if it is `Send`.
fn assert_send<T: Send>(future: T) -> T {
    future
}

/// Async functions with background refresh whose arguments borrow (`&str`, `&self`) still return
/// `Send` futures, which a multi-threaded runtime's tasks need: this test does not compile if
/// they do not.
#[test]
fn refreshing_async_functions_with_borrowed_arguments_return_send_futures() {
    let _serial = setup();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let name = String::from("ada");
    let values = runtime.block_on(async {
        let first = assert_send(greeting(1, &name)).await;
        let second = assert_send(Directory.entry(2)).await;
        let again = assert_send(greeting(1, &name)).await;
        (first, second, again)
    });
    assert_eq!(
        values,
        (
            "ada 1".to_string(),
            "entry 2".to_string(),
            "ada 1".to_string()
        )
    );
    assert_eq!(greeting_cache().stats().hits, 1);
}

static DROPS_GATE: Gate = Gate::new();
static DROPS_RUNS: AtomicUsize = AtomicUsize::new(0);

/// A value whose `Drop` calls a memoized function: the one below, whose capacity gives it one
/// shard, so the call needs the shard the refresh writes to.
#[derive(Clone, Debug, PartialEq)]
struct CallsOnDrop(u32);

impl Drop for CallsOnDrop {
    fn drop(&mut self) {
        if self.0 == 2 {
            let _ = calls_on_drop(99);
        }
    }
}

#[memoize(
    ttl = "10m",
    refresh = "background",
    refresh_after = "30s",
    capacity = 16
)]
fn calls_on_drop(k: u32) -> CallsOnDrop {
    let run = DROPS_RUNS.fetch_add(1, Ordering::SeqCst);
    if k == 1 && run == 1 {
        // The refresh: held until its entry is gone, then a value that calls on drop.
        DROPS_GATE.pass();
        return CallsOnDrop(2);
    }
    CallsOnDrop(k)
}

#[test]
fn a_refresh_whose_entry_is_gone_drops_its_value_outside_the_lock() {
    let _serial = setup();
    assert_eq!(calls_on_drop(1), CallsOnDrop(1));
    DROPS_GATE.set(false);
    clock::advance(Duration::from_secs(30));
    assert_eq!(calls_on_drop(1), CallsOnDrop(1), "stale: served");
    eventually("the refresh to start", || {
        DROPS_RUNS.load(Ordering::SeqCst) == 2
    });
    assert!(calls_on_drop_invalidate(1));
    DROPS_GATE.set(true);
    // The refresh finds its entry gone and drops its value, whose `Drop` calls the function: a
    // miss, which takes the shard's lock. Dropped under the refresh's own write, it waited for
    // that lock forever.
    eventually("the call made by the value's drop to run", || {
        DROPS_RUNS.load(Ordering::SeqCst) == 3
    });
    eventually("its value to be stored", || {
        calls_on_drop_cache().len() == Some(1)
    });
    assert_eq!(calls_on_drop(99), CallsOnDrop(99));
    assert_eq!(DROPS_RUNS.load(Ordering::SeqCst), 3);
}
