//! A memoized call of the key that the same thread (sync) or the same task (async) is computing
//! runs its body uncached: it returns what the code returns without the cache, instead of waiting
//! for the computation it is part of (issue 11, point 2).
//!
//! Each function re-enters its own key once: `depth` is left out of the key, so `f(k, 1)` called
//! from the body of `f(k, 0)` is the same key. Without the cache that returns `k + 1`. Every call
//! that could hang runs on its own thread, under a deadline, so a regression fails the test
//! instead of hanging it. Each test has its own functions (and, on Redis, its own server), so the
//! tests run in parallel.

#[path = "support/deadline.rs"]
mod deadline;
#[path = "support/gate.rs"]
mod gate;

#[path = "support/redis_server.rs"]
mod redis_server;

use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use cachemacro_runtime::key::{format_key, key_hash};
use cachemacro_runtime::{CacheKey, RedisConfig, memoize};
use gate::Gate;
use redis::Commands;
use redis_server::{RedisServer, eventually};
use tokio::sync::Semaphore;

/// How long a call that must return is given: far more than it needs, far less than a hang.
const DEADLINE: Duration = Duration::from_secs(5);

/// [`deadline::within`] at [`DEADLINE`]: a call that waits for itself fails the test.
fn within<T: Send + 'static>(what: &str, call: impl FnOnce() -> T + Send + 'static) -> T {
    deadline::within(what, DEADLINE, call)
}

/// Runs `future` to completion on a new tokio runtime (`multi_thread` or current-thread), on a
/// thread of its own, under [`DEADLINE`].
fn within_runtime<T: Send + 'static>(
    what: &str,
    multi_thread: bool,
    future: impl Future<Output = T> + Send + 'static,
) -> T {
    within(what, move || {
        let mut builder = if multi_thread {
            tokio::runtime::Builder::new_multi_thread()
        } else {
            tokio::runtime::Builder::new_current_thread()
        };
        builder.enable_all().build().unwrap().block_on(future)
    })
}

fn runs(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

// ---------------------------------------------------------------------------------------------
// In process, sync.

static SYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ignore = [depth])]
fn sync_reenters(k: u64, depth: u32) -> u64 {
    SYNC_RUNS.fetch_add(1, Ordering::SeqCst);
    if depth == 0 {
        sync_reenters(k, 1) + 1
    } else {
        k
    }
}

#[test]
fn a_sync_call_of_its_own_key_runs_uncached() {
    assert_eq!(within("sync_reenters(7)", || sync_reenters(7, 0)), 8);
    assert_eq!(runs(&SYNC_RUNS), 2, "the outer body and the nested one");
    let stats = sync_reenters_cache().stats();
    assert_eq!(
        (stats.hits, stats.misses, stats.entries),
        (0, 1, Some(1)),
        "the nested call neither counted nor stored"
    );
    // The outer call's value is cached, and another thread gets it at once.
    assert_eq!(within("another caller", || sync_reenters(7, 0)), 8);
    assert_eq!(runs(&SYNC_RUNS), 2, "a hit");
    assert_eq!(sync_reenters_cache().stats().hits, 1);
}

// ---------------------------------------------------------------------------------------------
// In process, async: on a current-thread runtime and on a multi-thread one.

static ASYNC_CURRENT_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ignore = [depth])]
async fn async_reenters_current(k: u64, depth: u32) -> u64 {
    ASYNC_CURRENT_RUNS.fetch_add(1, Ordering::SeqCst);
    if depth == 0 {
        Box::pin(async_reenters_current(k, 1)).await + 1
    } else {
        k
    }
}

#[test]
fn an_async_call_of_its_own_key_runs_uncached_on_a_current_thread_runtime() {
    let value = within_runtime("async_reenters_current(7)", false, async {
        async_reenters_current(7, 0).await
    });
    assert_eq!(value, 8);
    assert_eq!(runs(&ASYNC_CURRENT_RUNS), 2);
    let stats = async_reenters_current_cache().stats();
    assert_eq!((stats.hits, stats.misses, stats.entries), (0, 1, Some(1)));
    let again = within_runtime("another caller", false, async {
        async_reenters_current(7, 0).await
    });
    assert_eq!((again, runs(&ASYNC_CURRENT_RUNS)), (8, 2), "a hit");
}

static ASYNC_MULTI_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ignore = [depth])]
async fn async_reenters_multi(k: u64, depth: u32) -> u64 {
    ASYNC_MULTI_RUNS.fetch_add(1, Ordering::SeqCst);
    if depth == 0 {
        // Moved to another worker thread at each await, as a task may be: the nested call is
        // still this task's.
        tokio::task::yield_now().await;
        let nested = Box::pin(async_reenters_multi(k, 1)).await;
        tokio::task::yield_now().await;
        nested + 1
    } else {
        tokio::task::yield_now().await;
        k
    }
}

#[test]
fn an_async_call_of_its_own_key_runs_uncached_on_a_multi_thread_runtime() {
    let value = within_runtime("async_reenters_multi(7)", true, async {
        tokio::spawn(async_reenters_multi(7, 0)).await.unwrap()
    });
    assert_eq!(value, 8);
    assert_eq!(runs(&ASYNC_MULTI_RUNS), 2);
    let again = within_runtime("another caller", true, async {
        tokio::spawn(async_reenters_multi(7, 0)).await.unwrap()
    });
    assert_eq!((again, runs(&ASYNC_MULTI_RUNS)), (8, 2), "a hit");
    let stats = async_reenters_multi_cache().stats();
    assert_eq!((stats.hits, stats.misses), (1, 1));
}

// ---------------------------------------------------------------------------------------------
// In process: `f_warm`, whose body computes under the key's flight like a call's.

static WARM_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ignore = [depth])]
fn warm_reenters(k: u64, depth: u32) -> u64 {
    WARM_RUNS.fetch_add(1, Ordering::SeqCst);
    if depth == 0 {
        warm_reenters(k, 1) + 1
    } else {
        k
    }
}

#[test]
fn a_warmed_body_that_calls_its_own_key_does_not_wait_for_itself() {
    let report = within("warm_reenters_warm", || warm_reenters_warm([(7, 0)]));
    assert_eq!((report.stored, report.failed), (1, 0));
    assert_eq!(runs(&WARM_RUNS), 2);
    assert_eq!(within("a caller", || warm_reenters(7, 0)), 8, "warmed");
    assert_eq!(runs(&WARM_RUNS), 2);
}

static WARM_REFRESHING_RUNS: AtomicUsize = AtomicUsize::new(0);

/// With `refresh_after`, a call's slow path is the lookup under the blocking driver, while warm's
/// is the caller's own: the nested call must see that this thread computes the key.
#[memoize(ttl = "1h", refresh = "background", refresh_after = "30m", ignore = [depth])]
fn warm_reenters_refreshing(k: u64, depth: u32) -> u64 {
    WARM_REFRESHING_RUNS.fetch_add(1, Ordering::SeqCst);
    if depth == 0 {
        warm_reenters_refreshing(k, 1) + 1
    } else {
        k
    }
}

#[test]
fn a_warmed_body_that_calls_its_own_key_through_the_refreshing_path_does_not_wait_for_itself() {
    let report = within("warm_reenters_refreshing_warm", || {
        warm_reenters_refreshing_warm([(7, 0)])
    });
    assert_eq!((report.stored, report.failed), (1, 0));
    assert_eq!(runs(&WARM_REFRESHING_RUNS), 2);
    let call = within("a caller", || warm_reenters_refreshing(7, 0));
    assert_eq!((call, runs(&WARM_REFRESHING_RUNS)), (8, 2), "warmed");
}

// ---------------------------------------------------------------------------------------------
// In process: user code that runs while the computation lands (the value's `Clone`, its
// `CacheSize`) belongs to the computation: a call of its key made there does not wait for it.

static CLONE_RUNS: AtomicUsize = AtomicUsize::new(0);

/// A value whose `Clone` calls the function that computes it, with its own key.
#[derive(Debug, PartialEq)]
struct ClonesByCalling(u64);

impl Clone for ClonesByCalling {
    fn clone(&self) -> Self {
        clones_by_calling(self.0)
    }
}

/// With `refresh_after`, a sync call computes under the blocking driver, in a flight that is no
/// thread's own: only the `reentry` listing tells a nested call that this thread computes it.
#[memoize(ttl = "1h", refresh = "background", refresh_after = "30m")]
fn clones_by_calling(k: u64) -> ClonesByCalling {
    CLONE_RUNS.fetch_add(1, Ordering::SeqCst);
    ClonesByCalling(k)
}

#[test]
fn a_value_whose_clone_calls_its_own_key_does_not_wait_for_its_flight() {
    // Each clone runs the body once more, uncached: the one stored, and the one handed to the
    // flight, which the nested call made on its way to finding that this thread computes it.
    assert_eq!(
        within("clones_by_calling", || clones_by_calling(3)),
        ClonesByCalling(3)
    );
    assert!(runs(&CLONE_RUNS) >= 2);
    assert_eq!(clones_by_calling_cache().len(), Some(1), "stored");
}

static SIZE_RUNS: AtomicUsize = AtomicUsize::new(0);

/// A value whose `CacheSize` calls the function that computes it, with its own key.
#[derive(Clone, Debug, PartialEq)]
struct SizedByCalling(u64);

impl cachemacro_runtime::CacheSize for SizedByCalling {
    fn cache_size(&self) -> usize {
        sized_by_calling(self.0).0 as usize
    }
}

#[memoize(
    ttl = "1h",
    refresh = "background",
    refresh_after = "30m",
    max_bytes = "1MiB"
)]
fn sized_by_calling(k: u64) -> SizedByCalling {
    SIZE_RUNS.fetch_add(1, Ordering::SeqCst);
    SizedByCalling(k)
}

#[test]
fn a_value_whose_size_calls_its_own_key_does_not_wait_for_its_flight() {
    assert_eq!(
        within("sized_by_calling", || sized_by_calling(5)),
        SizedByCalling(5)
    );
    assert_eq!(runs(&SIZE_RUNS), 2);
    assert_eq!(sized_by_calling_cache().len(), Some(1), "stored");
}

// ---------------------------------------------------------------------------------------------
// Different keys of one function calling each other (fib) still compute each key once.

const FIB_N: usize = 30;
const FIB_30: u64 = 832_040;

static FIB_RUNS: [AtomicUsize; FIB_N + 2] = [const { AtomicUsize::new(0) }; FIB_N + 2];

#[memoize]
fn fib(n: u64) -> u64 {
    FIB_RUNS[n as usize].fetch_add(1, Ordering::SeqCst);
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

fn runs_per_key(counters: &[AtomicUsize]) -> Vec<usize> {
    counters.iter().map(runs).collect()
}

#[test]
fn fib_computes_each_key_once() {
    assert_eq!(within("fib(30)", || fib(FIB_N as u64)), FIB_30);
    assert_eq!(
        runs_per_key(&FIB_RUNS[..=FIB_N]),
        vec![1; FIB_N + 1],
        "each key computed once"
    );
    assert_eq!(fib_cache().stats().misses, FIB_N as u64 + 1);
    assert_eq!(fib(FIB_N as u64), FIB_30);
    assert_eq!(runs(&FIB_RUNS[FIB_N]), 1, "a hit");
}

static ASYNC_FIB_RUNS: [AtomicUsize; FIB_N + 2] = [const { AtomicUsize::new(0) }; FIB_N + 2];
/// Holds `async_fib(10)` in flight while another task waits for one of the keys above it.
static ASYNC_FIB_GATE: Semaphore = Semaphore::const_new(0);

#[memoize]
async fn async_fib(n: u64) -> u64 {
    ASYNC_FIB_RUNS[n as usize].fetch_add(1, Ordering::SeqCst);
    if n == 10 {
        drop(ASYNC_FIB_GATE.acquire().await.unwrap());
    }
    if n < 2 {
        n
    } else {
        Box::pin(async_fib(n - 1)).await + Box::pin(async_fib(n - 2)).await
    }
}

/// Two tasks on one thread: the first computes keys 30 down to 10 and is held at 10; the second,
/// computing key 31, must wait for the first's key 30 (another task's), not run it uncached, even
/// though both are polled by the same thread.
#[test]
fn fib_in_two_tasks_on_one_thread_computes_each_key_once() {
    let value = within_runtime("async_fib(31) beside async_fib(30)", false, async {
        let first = tokio::spawn(async_fib(FIB_N as u64));
        let (ready, wait) = tokio::sync::oneshot::channel();
        let second = tokio::spawn(async move {
            // On a current-thread runtime, the test goes on only once this poll has returned:
            // when `async_fib(31)` waits for the first task's key 30.
            ready.send(()).unwrap();
            async_fib(FIB_N as u64 + 1).await
        });
        wait.await.unwrap();
        assert_eq!(
            runs(&ASYNC_FIB_RUNS[FIB_N]),
            1,
            "key 30 is the first task's, and the second waits for it"
        );
        ASYNC_FIB_GATE.add_permits(Semaphore::MAX_PERMITS);
        let first = first.await.unwrap();
        (first, second.await.unwrap())
    });
    assert_eq!(value, (FIB_30, 1_346_269));
    assert_eq!(
        runs_per_key(&ASYNC_FIB_RUNS),
        vec![1; FIB_N + 2],
        "each key computed once"
    );
}

// ---------------------------------------------------------------------------------------------
// Redis.

const NAMESPACE: &str = "reentry";

fn config(server: &RedisServer) -> RedisConfig {
    RedisConfig::new().url(server.url()).namespace(NAMESPACE)
}

fn redis_key(name: &str, arg: impl CacheKey) -> String {
    format!("{NAMESPACE}:{}", format_key(name, 0, key_hash(&arg)))
}

/// `SET` commands the server has run (value writes: locks are taken with `SETNX`).
fn set_calls(redis: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query(redis).unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("cmdstat_set:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.parse().unwrap())
}

/// What a Redis re-entry test checks once the outer call has returned: the outer value alone was
/// written, under the key, and no lock is left behind.
fn assert_stored_once(server: &RedisServer, name: &str, value: u64) {
    let mut redis = server.client();
    let key = redis_key(name, 7u64);
    assert_eq!(set_calls(&mut redis), 1, "the nested call wrote nothing");
    let lock: Option<Vec<u8>> = redis.get(format!("{key}:lock")).unwrap();
    assert_eq!(lock, None, "the lock is released");
    let stored: Option<Vec<u8>> = redis.get(&key).unwrap();
    assert!(stored.is_some(), "{value} is stored under {key}");
}

static REDIS_SYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

// A long `lock_ttl`: a nested call that waited for the lock would outlast the deadline.
#[memoize(
    backend = "redis",
    name = "redis_reenters",
    lock_ttl = "10m",
    ignore = [depth]
)]
fn redis_reenters(k: u64, depth: u32) -> u64 {
    REDIS_SYNC_RUNS.fetch_add(1, Ordering::SeqCst);
    if depth == 0 {
        redis_reenters(k, 1) + 1
    } else {
        k
    }
}

#[test]
fn a_sync_call_of_its_own_key_runs_uncached_on_redis() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    redis_reenters_cache().configure(config(&server));
    assert_eq!(within("redis_reenters(7)", || redis_reenters(7, 0)), 8);
    assert_eq!(runs(&REDIS_SYNC_RUNS), 2);
    assert_stored_once(&server, "redis_reenters", 8);
    assert_eq!(within("another caller", || redis_reenters(7, 0)), 8);
    assert_eq!(runs(&REDIS_SYNC_RUNS), 2, "a hit");
    let stats = redis_reenters_cache().stats();
    assert_eq!((stats.hits, stats.misses, stats.errors), (1, 1, 0));
}

static REDIS_ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(
    backend = "redis",
    name = "redis_reenters_async",
    lock_ttl = "10m",
    ignore = [depth]
)]
async fn redis_reenters_async(k: u64, depth: u32) -> u64 {
    REDIS_ASYNC_RUNS.fetch_add(1, Ordering::SeqCst);
    if depth == 0 {
        Box::pin(redis_reenters_async(k, 1)).await + 1
    } else {
        k
    }
}

#[test]
fn an_async_call_of_its_own_key_runs_uncached_on_redis() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    redis_reenters_async_cache().configure(config(&server));
    let value = within_runtime("redis_reenters_async(7)", true, async {
        tokio::spawn(redis_reenters_async(7, 0)).await.unwrap()
    });
    assert_eq!(value, 8);
    assert_eq!(runs(&REDIS_ASYNC_RUNS), 2);
    assert_stored_once(&server, "redis_reenters_async", 8);
    let again = within_runtime("another caller", false, async {
        redis_reenters_async(7, 0).await
    });
    assert_eq!((again, runs(&REDIS_ASYNC_RUNS)), (8, 2), "a hit");
    let stats = redis_reenters_async_cache().stats();
    assert_eq!((stats.hits, stats.misses, stats.errors), (1, 1, 0));
}

static REDIS_FIB_RUNS: [AtomicUsize; FIB_N + 1] = [const { AtomicUsize::new(0) }; FIB_N + 1];

#[memoize(backend = "redis", name = "redis_fib")]
fn redis_fib(n: u64) -> u64 {
    REDIS_FIB_RUNS[n as usize].fetch_add(1, Ordering::SeqCst);
    if n < 2 {
        n
    } else {
        redis_fib(n - 1) + redis_fib(n - 2)
    }
}

#[test]
fn fib_on_redis_computes_each_key_once() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    redis_fib_cache().configure(config(&server));
    assert_eq!(within("redis_fib(30)", || redis_fib(FIB_N as u64)), FIB_30);
    assert_eq!(
        runs_per_key(&REDIS_FIB_RUNS),
        vec![1; FIB_N + 1],
        "each key computed once"
    );
    assert_eq!(redis_fib_cache().len(), Some(FIB_N as u64 + 1));
    let stats = redis_fib_cache().stats();
    assert_eq!((stats.misses, stats.errors), (FIB_N as u64 + 1, 0));
}

// ---------------------------------------------------------------------------------------------
// Redis, background refresh: the refresh holds the key's lock while its body runs. A body that
// calls its own key after the entry is gone must not wait for that lock (`lock_ttl`).

static REFRESH_RUNS: AtomicUsize = AtomicUsize::new(0);
/// Shut while a test holds the refresh's body before its nested call.
static REFRESH_GATE: Gate = Gate::new();
/// What the refresh's nested call returned (0 until then).
static REFRESH_NESTED: AtomicU64 = AtomicU64::new(0);
/// Set once the entry is stored: from then on the outer body (the refresh's) calls its key.
static REFRESH_NESTS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[memoize(
    ttl = "10m",
    refresh = "background",
    refresh_after = "30s",
    backend = "redis",
    name = "refresh_reenters",
    lock_ttl = "10m",
    ignore = [depth]
)]
fn refresh_reenters(k: u64, depth: u32) -> u64 {
    REFRESH_RUNS.fetch_add(1, Ordering::SeqCst);
    if depth == 0 && REFRESH_NESTS.load(Ordering::SeqCst) {
        REFRESH_GATE.pass();
        let nested = refresh_reenters(k, 1);
        REFRESH_NESTED.store(nested, Ordering::SeqCst);
        nested + 1
    } else {
        k
    }
}

#[test]
fn a_refresh_that_calls_its_own_key_does_not_wait_for_its_own_lock() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    refresh_reenters_cache().configure(config(&server));
    let mut redis = server.client();
    let key = redis_key("refresh_reenters", 7u64);
    assert_eq!(refresh_reenters(7, 0), 7);

    // A stale hit schedules the refresh, which takes the lock and is held at the gate.
    REFRESH_NESTS.store(true, Ordering::SeqCst);
    REFRESH_GATE.set(false);
    let set: bool = redis.pexpire(&key, 600_000 - 31_000).unwrap();
    assert!(set);
    assert_eq!(refresh_reenters(7, 0), 7, "the stale value, served");
    assert!(eventually(DEADLINE, || runs(&REFRESH_RUNS) == 2));
    // The entry goes (an invalidation meanwhile): the nested call misses, and finds the key
    // locked by the refresh it is part of.
    assert!(refresh_reenters_invalidate(7, 0));
    REFRESH_GATE.set(true);
    assert!(
        eventually(DEADLINE, || REFRESH_NESTED.load(Ordering::SeqCst) == 7),
        "the nested call returned the body's value"
    );
    assert!(
        eventually(DEADLINE, || !redis
            .exists::<_, bool>(format!("{key}:lock"))
            .unwrap()),
        "the refresh ended and released its lock"
    );
    assert_eq!(runs(&REFRESH_RUNS), 3);
    let stored: Option<Vec<u8>> = redis.get(&key).unwrap();
    assert_eq!(
        stored, None,
        "nothing written: the nested call stores nothing"
    );

    // The key is free for the next caller.
    REFRESH_NESTS.store(false, Ordering::SeqCst);
    assert_eq!(within("a caller", || refresh_reenters(7, 0)), 7);
    assert_eq!(runs(&REFRESH_RUNS), 4);
    assert_eq!(refresh_reenters_cache().stats().errors, 0);
}

static ASYNC_REFRESH_RUNS: AtomicUsize = AtomicUsize::new(0);
/// No permits while a test holds the refresh's body before its nested call.
static ASYNC_REFRESH_GATE: Semaphore = Semaphore::const_new(0);
static ASYNC_REFRESH_NESTED: AtomicU64 = AtomicU64::new(0);
static ASYNC_REFRESH_NESTS: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

#[memoize(
    ttl = "10m",
    refresh = "background",
    refresh_after = "30s",
    backend = "redis",
    name = "async_refresh_reenters",
    lock_ttl = "10m",
    ignore = [depth]
)]
async fn async_refresh_reenters(k: u64, depth: u32) -> u64 {
    ASYNC_REFRESH_RUNS.fetch_add(1, Ordering::SeqCst);
    if depth == 0 && ASYNC_REFRESH_NESTS.load(Ordering::SeqCst) {
        drop(ASYNC_REFRESH_GATE.acquire().await.unwrap());
        let nested = nested_refresh_call(k).await;
        ASYNC_REFRESH_NESTED.store(nested, Ordering::SeqCst);
        nested + 1
    } else {
        k
    }
}

/// The nested call, as a `Send` future: a refresh job must be `Send`, and the compiler cannot
/// tell through the recursion that it is.
fn nested_refresh_call(k: u64) -> std::pin::Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async_refresh_reenters(k, 1))
}

/// Polls `condition` from a blocking thread, so the runtime's tasks (the refresh) go on.
async fn eventually_async(condition: impl FnMut() -> bool + Send + 'static) -> bool {
    tokio::task::spawn_blocking(move || eventually(DEADLINE, condition))
        .await
        .unwrap()
}

#[test]
fn an_async_refresh_that_calls_its_own_key_does_not_wait_for_its_own_lock() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    async_refresh_reenters_cache().configure(config(&server));
    let key = redis_key("async_refresh_reenters", 7u64);
    let url = server.url();
    // The refresh is a task on this runtime: the whole scenario runs inside it.
    within_runtime("the async refresh scenario", true, async move {
        let client = move || {
            redis::Client::open(url.as_str())
                .unwrap()
                .get_connection()
                .unwrap()
        };
        let mut redis = client();
        assert_eq!(async_refresh_reenters(7, 0).await, 7);

        ASYNC_REFRESH_NESTS.store(true, Ordering::SeqCst);
        let set: bool = redis.pexpire(&key, 600_000 - 31_000).unwrap();
        assert!(set);
        assert_eq!(async_refresh_reenters(7, 0).await, 7, "the stale value");
        assert!(eventually_async(|| runs(&ASYNC_REFRESH_RUNS) == 2).await);
        assert!(async_refresh_reenters_invalidate(7, 0).await);
        ASYNC_REFRESH_GATE.add_permits(Semaphore::MAX_PERMITS);
        assert!(
            eventually_async(|| ASYNC_REFRESH_NESTED.load(Ordering::SeqCst) == 7).await,
            "the nested call returned the body's value"
        );
        let lock = format!("{key}:lock");
        let mut watcher = client();
        assert!(
            eventually_async(move || !watcher.exists::<_, bool>(&lock).unwrap()).await,
            "the refresh ended and released its lock"
        );
        assert_eq!(runs(&ASYNC_REFRESH_RUNS), 3);
        let stored: Option<Vec<u8>> = redis.get(&key).unwrap();
        assert_eq!(stored, None, "nothing written");

        ASYNC_REFRESH_NESTS.store(false, Ordering::SeqCst);
        assert_eq!(async_refresh_reenters(7, 0).await, 7, "the key is free");
        assert_eq!(runs(&ASYNC_REFRESH_RUNS), 4);
        assert_eq!(async_refresh_reenters_cache().stats().errors, 0);
    });
}
