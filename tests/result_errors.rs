//! Functions returning a `Result` whose error type is not `Clone` (nor serde): `io::Result<T>`,
//! `Result<T, Box<dyn Error + Send + Sync>>`. Without `cache_err` only the `Ok` value is kept, so
//! the error type needs nothing, on every backend, sync and async, and on every path that stores
//! (a miss, `f_refresh`, `f_warm`, a background refresh, a Redis lock holder).

#[path = "support/deadline.rs"]
mod deadline;
#[path = "support/redis_server.rs"]
mod redis_server;

use std::error::Error;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cachemacro_runtime::layout::OkOnly;
use cachemacro_runtime::{MemoryCache, RedisCache, RedisConfig, memoize};
use redis_server::{RedisServer, eventually};

type BoxError = Box<dyn Error + Send + Sync>;

const CALLERS: usize = 8;

fn runs(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

/// Spins until `counter` reaches `target`, yielding the thread: a body waits until every caller
/// has arrived at the call, so that the callers are really concurrent.
fn wait_for(counter: &AtomicUsize, target: usize) {
    while counter.load(Ordering::SeqCst) < target {
        std::thread::yield_now();
    }
}

/// `Ok` for names that do not start with `!`; the error type is `io::Error`, which is not `Clone`.
fn read(name: &str) -> io::Result<String> {
    match name.strip_prefix('!') {
        Some(missing) => Err(io::Error::new(io::ErrorKind::NotFound, missing.to_owned())),
        None => Ok(format!("contents of {name}")),
    }
}

static CONF_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize]
fn read_conf(name: &str) -> io::Result<String> {
    CONF_RUNS.fetch_add(1, Ordering::SeqCst);
    read(name)
}

#[test]
fn io_result_keeps_ok_values_in_process_and_never_errors() {
    let cache: &'static MemoryCache<String, OkOnly> = read_conf_cache();
    assert_eq!(read_conf("a").unwrap(), "contents of a");
    assert_eq!(read_conf("a").unwrap(), "contents of a");
    assert_eq!(runs(&CONF_RUNS), 1, "the second call is a hit");

    let error = read_conf("!b").unwrap_err();
    assert_eq!(
        (error.kind(), error.to_string()),
        (io::ErrorKind::NotFound, "b".into())
    );
    assert!(read_conf("!b").is_err());
    assert_eq!(runs(&CONF_RUNS), 3, "an error is not cached");
    assert_eq!(cache.len(), Some(1));

    // f_refresh stores an `Ok`, and stores nothing of an `Err`.
    assert_eq!(read_conf_refresh("c").unwrap(), "contents of c");
    assert_eq!(read_conf("c").unwrap(), "contents of c");
    assert!(read_conf_refresh("!d").is_err());
    assert_eq!(runs(&CONF_RUNS), 5);
    assert_eq!(cache.len(), Some(2));

    // f_warm: stored, present, failed.
    let report = read_conf_warm(["e", "a", "!f"]);
    assert_eq!((report.stored, report.present, report.failed), (1, 1, 1));
    assert!(read_conf_invalidate("e"));
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.entries), (3, Some(2)));
}

static SHARED_ARRIVED: AtomicUsize = AtomicUsize::new(0);
static SHARED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize]
fn slow_read(name: &str) -> io::Result<String> {
    SHARED_RUNS.fetch_add(1, Ordering::SeqCst);
    wait_for(&SHARED_ARRIVED, CALLERS);
    read(name)
}

#[test]
fn concurrent_misses_of_an_io_result_run_the_body_once() {
    // The leader's `Ok` value is what the waiters receive: the kept `String`, made `Ok` again.
    let values: Vec<String> = deadline::within("the callers", Duration::from_secs(30), || {
        std::thread::scope(|scope| {
            let callers: Vec<_> = (0..CALLERS)
                .map(|_| {
                    scope.spawn(|| {
                        SHARED_ARRIVED.fetch_add(1, Ordering::SeqCst);
                        slow_read("g").unwrap()
                    })
                })
                .collect();
            callers.into_iter().map(|c| c.join().unwrap()).collect()
        })
    });
    assert!(values.iter().all(|value| value == "contents of g"));
    assert_eq!(runs(&SHARED_RUNS), 1);
}

static ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize]
async fn fetch(id: u64) -> Result<u64, BoxError> {
    ASYNC_RUNS.fetch_add(1, Ordering::SeqCst);
    tokio::task::yield_now().await;
    if id == 0 {
        Err("no id 0".into())
    } else {
        Ok(id * 10)
    }
}

#[tokio::test]
async fn boxed_error_result_keeps_ok_values_in_async_fns() {
    tokio::time::timeout(Duration::from_secs(30), boxed_error_result_in_async_fns())
        .await
        .expect("did not finish within 30 s");
}

async fn boxed_error_result_in_async_fns() {
    let _: &'static MemoryCache<u64, OkOnly> = fetch_cache();
    assert_eq!(fetch(4).await.unwrap(), 40);
    assert_eq!(fetch(4).await.unwrap(), 40);
    assert_eq!(runs(&ASYNC_RUNS), 1);
    assert_eq!(fetch(0).await.unwrap_err().to_string(), "no id 0");
    assert!(fetch(0).await.is_err());
    assert_eq!(runs(&ASYNC_RUNS), 3);
    assert_eq!(fetch_refresh(5).await.unwrap(), 50);
    let report = fetch_warm([5, 6, 0]).await;
    assert_eq!((report.stored, report.present, report.failed), (1, 1, 1));
    assert_eq!(fetch_cache().len(), Some(3));
}

static REFRESHED_RUNS: AtomicUsize = AtomicUsize::new(0);
static REFRESHED_FAIL: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = "1h", refresh = "background")]
fn refreshed(id: u64) -> io::Result<u64> {
    let run = REFRESHED_RUNS.fetch_add(1, Ordering::SeqCst) as u64;
    if REFRESHED_FAIL.load(Ordering::SeqCst) == 1 {
        return Err(io::Error::other("refresh failed"));
    }
    Ok(id * 100 + run)
}

#[test]
fn background_refresh_of_an_io_result_keeps_the_old_value_on_error() {
    // The clock is process-wide; this is the only test of this binary that moves it, and it gives
    // it back to real time however it ends.
    struct Resume;
    impl Drop for Resume {
        fn drop(&mut self) {
            cachemacro_runtime::clock::resume();
        }
    }
    let _resume = Resume;
    cachemacro_runtime::clock::pause();
    assert_eq!(refreshed(1).unwrap(), 100);
    cachemacro_runtime::clock::advance(Duration::from_secs(31 * 60));
    // Stale: served at once, refreshed behind the caller.
    assert_eq!(refreshed(1).unwrap(), 100);
    let stats = || refreshed_cache().stats();
    assert!(eventually(Duration::from_secs(10), || stats()
        .refreshes_updated
        == 1));
    assert_eq!(refreshed(1).unwrap(), 101);

    REFRESHED_FAIL.store(1, Ordering::SeqCst);
    cachemacro_runtime::clock::advance(Duration::from_secs(31 * 60));
    assert_eq!(refreshed(1).unwrap(), 101);
    assert!(eventually(Duration::from_secs(10), || stats()
        .refreshes_failed
        == 1));
    assert_eq!(
        refreshed(1).unwrap(),
        101,
        "a failed refresh keeps the value"
    );
}

// Redis: only the `Ok` type needs serde; `io::Error` has none.

const NAMESPACE: &str = "result_errors";

fn config(server: &RedisServer) -> RedisConfig {
    RedisConfig::new().url(server.url()).namespace(NAMESPACE)
}

static REDIS_ARRIVED: AtomicUsize = AtomicUsize::new(0);
static REDIS_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis")]
fn redis_read(name: &str) -> io::Result<String> {
    REDIS_RUNS.fetch_add(1, Ordering::SeqCst);
    wait_for(&REDIS_ARRIVED, CALLERS);
    read(name)
}

#[test]
fn io_result_on_redis_shares_ok_values_under_the_lock() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let cache: &'static RedisCache<String, OkOnly> = redis_read_cache();
    cache.configure(config(&server));

    // Concurrent misses: one body under the Redis lock, the others get its `Ok` value.
    let values: Vec<String> = deadline::within("the callers", Duration::from_secs(30), || {
        std::thread::scope(|scope| {
            let callers: Vec<_> = (0..CALLERS)
                .map(|_| {
                    scope.spawn(|| {
                        REDIS_ARRIVED.fetch_add(1, Ordering::SeqCst);
                        redis_read("h").unwrap()
                    })
                })
                .collect();
            callers.into_iter().map(|c| c.join().unwrap()).collect()
        })
    });
    assert!(values.iter().all(|value| value == "contents of h"));
    assert_eq!(runs(&REDIS_RUNS), 1);

    // Errors are not stored: the body runs each time, and the lock is left free.
    assert!(redis_read("!i").is_err());
    assert!(redis_read("!i").is_err());
    assert_eq!(runs(&REDIS_RUNS), 3);
    assert_eq!(cache.len(), Some(1));

    assert_eq!(redis_read_refresh("j").unwrap(), "contents of j");
    assert_eq!(redis_read("j").unwrap(), "contents of j");
    assert_eq!(runs(&REDIS_RUNS), 4);
    assert_eq!(cache.stats().errors, 0);
}

static REDIS_ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis")]
async fn redis_fetch(id: u64) -> Result<Vec<u64>, BoxError> {
    REDIS_ASYNC_RUNS.fetch_add(1, Ordering::SeqCst);
    if id == 0 {
        Err("no id 0".into())
    } else {
        Ok(vec![id; 3])
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn boxed_error_result_on_redis_in_async_fns() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    redis_fetch_cache().configure(config(&server));
    tokio::time::timeout(Duration::from_secs(30), boxed_error_result_on_redis())
        .await
        .expect("did not finish within 30 s");
}

async fn boxed_error_result_on_redis() {
    assert_eq!(redis_fetch(2).await.unwrap(), vec![2, 2, 2]);
    assert_eq!(redis_fetch(2).await.unwrap(), vec![2, 2, 2]);
    assert_eq!(runs(&REDIS_ASYNC_RUNS), 1);
    assert!(redis_fetch(0).await.is_err());
    assert!(redis_fetch(0).await.is_err());
    assert_eq!(runs(&REDIS_ASYNC_RUNS), 3);
    let report = redis_fetch_warm([2, 3, 0]).await;
    assert_eq!((report.stored, report.present, report.failed), (1, 1, 1));
    assert_eq!(redis_fetch_cache().len(), Some(2));
    assert_eq!(redis_fetch_cache().stats().errors, 0);
}
