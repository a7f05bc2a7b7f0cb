//! The Redis backend against real `redis-server`s.
//!
//! Every test starts its own server (see `support/redis_server.rs`) and points its own memoized
//! functions at it with `f_cache().configure(..)`, so the tests of this binary run in parallel
//! and a test that kills or freezes its server disturbs no other. The process-wide configuration
//! (`CACHEMACRO_REDIS_URL`) is exercised by the child process of
//! `another_process_shares_the_cache`.

#[path = "support/redis_server.rs"]
mod redis_server;

use std::sync::Barrier;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cachemacro_runtime::key::format_key;
use cachemacro_runtime::key::key_hash;
use cachemacro_runtime::{CacheKey, RedisConfig, memoize};
use redis::Commands;
use redis_server::{RedisServer, eventually};
use serde::{Deserialize, Serialize};

const NAMESPACE: &str = "test";

fn config(server: &RedisServer) -> RedisConfig {
    RedisConfig::new().url(server.url()).namespace(NAMESPACE)
}

/// The key the backend must use for a one-argument function, computed from the documented layout.
fn redis_key(name: &str, version: u32, arg: impl CacheKey) -> String {
    format!("{NAMESPACE}:{}", format_key(name, version, key_hash(&arg)))
}

fn runs(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
    tags: Vec<String>,
}

static USER_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "user")]
fn user(id: u64) -> User {
    USER_RUNS.fetch_add(1, Ordering::SeqCst);
    User {
        id,
        name: format!("user {id}"),
        tags: vec!["a".into(), "b".into()],
    }
}

#[test]
fn second_call_is_a_hit() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    user_cache().configure(config(&server));
    assert_eq!(user(7).name, "user 7");
    assert_eq!(user(7), user_uncached(7));
    assert_eq!(
        runs(&USER_RUNS),
        2,
        "the body ran for the miss and for _uncached only"
    );
    assert_eq!(user(8).id, 8);
    let stats = user_cache().stats();
    assert_eq!((stats.hits, stats.misses, stats.errors), (1, 2, 0));
    assert_eq!((stats.entries, stats.capacity), (None, None));
    assert_eq!(user_cache().len(), Some(2));
}

static TTL_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = "90s", backend = "redis", name = "ttl_fn", version = 4)]
fn with_ttl(word: &str) -> String {
    TTL_RUNS.fetch_add(1, Ordering::SeqCst);
    word.to_uppercase()
}

#[memoize(backend = "redis", name = "forever")]
fn without_ttl(n: u32) -> u32 {
    n + 1
}

#[test]
fn entries_are_written_under_the_documented_key_with_the_ttl() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    with_ttl_cache().configure(config(&server));
    without_ttl_cache().configure(config(&server));
    assert_eq!(with_ttl("secret-word"), "SECRET-WORD");
    assert_eq!(without_ttl(1), 2);

    let mut redis = server.client();
    let key = redis_key("ttl_fn", 4, "secret-word");
    let pttl: i64 = redis.pttl(&key).unwrap();
    assert!(
        (1..=90_000).contains(&pttl),
        "PTTL {pttl} is within the ttl"
    );
    let forever: i64 = redis.pttl(redis_key("forever", 0, 1u32)).unwrap();
    assert_eq!(forever, -1, "no ttl, no expiry");
    let keys: Vec<String> = redis.keys("*").unwrap();
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter().all(|key| !key.contains("secret")),
        "no argument value in {keys:?}"
    );
}

static ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "async_user")]
async fn async_user(id: u64) -> Result<User, String> {
    ASYNC_RUNS.fetch_add(1, Ordering::SeqCst);
    if id == 0 {
        return Err("no user 0".into());
    }
    Ok(User {
        id,
        name: format!("async {id}"),
        tags: vec![],
    })
}

#[test]
fn async_functions_hit_and_miss_on_a_runtime_without_timers() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    async_user_cache().configure(config(&server));
    // No `enable_time()`: the backend must not arm timers on the caller's runtime.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert_eq!(async_user(3).await.unwrap().name, "async 3");
        assert_eq!(async_user(3).await.unwrap().name, "async 3");
        assert!(async_user(0).await.is_err());
        assert!(async_user(0).await.is_err());
    });
    assert_eq!(runs(&ASYNC_RUNS), 3, "errors are not cached");
    let stats = async_user_cache().stats();
    assert_eq!((stats.hits, stats.misses, stats.errors), (1, 3, 0));
}

static INSIDE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "inside")]
fn called_inside_a_runtime(n: u64) -> u64 {
    INSIDE_RUNS.fetch_add(1, Ordering::SeqCst);
    n * 3
}

#[tokio::test]
async fn sync_functions_work_inside_a_tokio_runtime() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    called_inside_a_runtime_cache().configure(config(&server));
    assert_eq!(called_inside_a_runtime(5), 15);
    assert_eq!(called_inside_a_runtime(5), 15);
    assert_eq!(runs(&INSIDE_RUNS), 1);
    assert_eq!(called_inside_a_runtime_cache().stats().errors, 0);
}

static WORKER_RUNS: AtomicUsize = AtomicUsize::new(0);
static WORKER_CALLERS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "on_workers")]
fn on_workers(n: u64) -> u64 {
    WORKER_RUNS.fetch_add(1, Ordering::SeqCst);
    // Stay in the body until both workers have called, so one of them waits for it.
    eventually(Duration::from_secs(2), || runs(&WORKER_CALLERS) == 2);
    // A memoized call inside the body: the driver runs inside the caller's.
    nested_on_workers(n) + 1
}

#[memoize(ttl = 60, backend = "redis", name = "nested_on_workers")]
fn nested_on_workers(n: u64) -> u64 {
    n * 10
}

/// Sync memoized calls on a multi-thread runtime's workers: one computes (with a nested memoized
/// call), the other waits for it, and neither panics for blocking inside a runtime.
#[test]
fn sync_functions_wait_and_nest_on_runtime_workers() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    on_workers_cache().configure(config(&server));
    nested_on_workers_cache().configure(config(&server));
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let values = runtime.block_on(async {
            let callers: Vec<_> = (0..2)
                .map(|_| {
                    tokio::spawn(async {
                        WORKER_CALLERS.fetch_add(1, Ordering::SeqCst);
                        on_workers(7)
                    })
                })
                .collect();
            let mut values = Vec::new();
            for caller in callers {
                values.push(caller.await.expect("no caller panics"));
            }
            values
        });
        let _ = done.send(values);
    });
    let values = finished
        .recv_timeout(Duration::from_secs(30))
        .expect("both calls return");
    assert_eq!(values, [71, 71]);
    assert_eq!(runs(&WORKER_RUNS), 1);
    assert_eq!(on_workers_cache().stats().errors, 0);
    assert_eq!(nested_on_workers_cache().stats().misses, 1);
}

static IN_ONE_POLL_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "in_one_poll")]
fn in_one_poll(n: u64) -> u64 {
    IN_ONE_POLL_RUNS.fetch_add(1, Ordering::SeqCst);
    n + 1
}

/// Hundreds of sync Redis calls inside one poll of a tokio task (a loop in `#[tokio::main]` or
/// in a handler): each reply spends tokio's per-task budget, and once it is spent a call that
/// polled the reply inside that budget would wait for a wake-up queued on its own parked worker,
/// forever. All of them return, every one after the first a hit, with no error.
#[test]
fn many_sync_calls_in_one_tokio_poll_all_return() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    in_one_poll_cache().configure(config(&server));
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let total: u64 = runtime.block_on(async { (0..300).map(|_| in_one_poll(1)).sum() });
        let _ = done.send(total);
    });
    let total = finished
        .recv_timeout(Duration::from_secs(60))
        .expect("every call returns");
    assert_eq!(total, 600);
    assert_eq!(runs(&IN_ONE_POLL_RUNS), 1);
    let stats = in_one_poll_cache().stats();
    assert_eq!((stats.hits, stats.misses, stats.errors), (299, 1, 0));
}

static REFRESH_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "refreshed")]
fn refreshed(n: u64) -> usize {
    REFRESH_RUNS.fetch_add(1, Ordering::SeqCst) + n as usize
}

#[test]
fn invalidate_deletes_the_key_and_refresh_replaces_it() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    refreshed_cache().configure(config(&server));
    let first = refreshed(100);
    assert_eq!(refreshed(100), first);
    let mut redis = server.client();
    let key = redis_key("refreshed", 0, 100u64);
    assert!(refreshed_invalidate(100));
    assert!(!redis.exists::<_, bool>(&key).unwrap());
    assert!(!refreshed_invalidate(100), "nothing left to delete");
    let second = refreshed(100);
    assert_ne!(second, first, "recomputed after invalidate");
    let third = refreshed_refresh(100);
    assert_ne!(third, second);
    assert_eq!(refreshed(100), third, "refresh stored its value");
}

#[memoize(backend = "redis", name = "glob*fn[1]?")]
fn globbed(n: u64) -> u64 {
    n
}

#[memoize(backend = "redis", name = "glob_and_more_fn1_")]
fn similar(n: u64) -> u64 {
    n
}

#[test]
fn clear_deletes_only_this_functions_keys() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    globbed_cache().configure(config(&server));
    similar_cache().configure(config(&server));
    for n in 0..2500 {
        globbed(n);
    }
    similar(1);
    similar(2);
    assert_eq!(globbed_cache().len(), Some(2500));
    // Unescaped, `glob*fn[1]?` would also match `glob_and_more_fn1_`.
    globbed_cache().clear();
    assert_eq!(globbed_cache().is_empty(), Some(true));
    assert_eq!(similar_cache().len(), Some(2));
    assert_eq!(globbed_cache().stats().errors, 0);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(similar_cache().clear_async());
    assert_eq!(similar_cache().len(), Some(0));
}

static DECODE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "decoded")]
fn decoded(n: u64) -> Vec<String> {
    DECODE_RUNS.fetch_add(1, Ordering::SeqCst);
    vec![n.to_string(); 3]
}

#[memoize(ttl = 60, backend = "redis", name = "decoded")]
fn same_name_other_type(n: u64) -> u64 {
    n
}

#[test]
fn unreadable_values_are_misses_that_get_overwritten() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    decoded_cache().configure(config(&server));
    same_name_other_type_cache().configure(config(&server));
    let mut redis = server.client();
    let key = redis_key("decoded", 0, 1u64);
    let expected = vec!["1".to_owned(); 3];
    let mut errors = 0;
    let mut check = |what: &str, redis: &mut redis::Connection| {
        let before = runs(&DECODE_RUNS);
        assert_eq!(decoded(1), expected, "{what}: right value");
        assert_eq!(runs(&DECODE_RUNS), before + 1, "{what}: a miss");
        errors += 1;
        assert_eq!(decoded_cache().stats().errors, errors, "{what}: counted");
        assert_eq!(decoded(1), expected, "{what}: overwritten, then a hit");
        assert_eq!(runs(&DECODE_RUNS), before + 1, "{what}: a hit");
        let _: () = redis.del(&key).unwrap();
    };

    let _: () = redis.set(&key, "not an envelope at all").unwrap();
    check("foreign bytes", &mut redis);

    decoded(1);
    let mut stored: Vec<u8> = redis.get(&key).unwrap();
    let last = stored.len() - 1;
    stored.truncate(last);
    let _: () = redis.set(&key, stored).unwrap();
    check("truncated envelope", &mut redis);

    let _: () = redis.hset(&key, "field", "value").unwrap();
    check("a hash under the key (WRONGTYPE)", &mut redis);

    assert_eq!(same_name_other_type(1), 1);
    check("a value of another return type", &mut redis);
}

static BIG_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(backend = "redis", name = "big")]
fn big(len: usize) -> String {
    BIG_RUNS.fetch_add(1, Ordering::SeqCst);
    "x".repeat(len)
}

#[test]
fn values_over_the_size_limit_are_neither_written_nor_decoded() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    big_cache().configure(config(&server).max_value_bytes(100));
    let mut redis = server.client();

    assert_eq!(big(500).len(), 500);
    assert_eq!(big(500).len(), 500);
    assert_eq!(runs(&BIG_RUNS), 2, "never stored");
    assert!(
        !redis
            .exists::<_, bool>(redis_key("big", 0, 500usize))
            .unwrap()
    );
    assert_eq!(big_cache().stats().errors, 2);

    // Written by a process with a higher limit: read as a miss, then overwritten by a small value.
    let key = redis_key("big", 0, 10usize);
    big(10);
    let stored: Vec<u8> = redis.get(&key).unwrap();
    let mut oversized = stored.clone();
    oversized.resize(1000, b'x');
    let _: () = redis.set(&key, oversized).unwrap();
    let before = runs(&BIG_RUNS);
    assert_eq!(big(10), "x".repeat(10));
    assert_eq!(runs(&BIG_RUNS), before + 1);
    assert_eq!(big_cache().stats().errors, 3);
    assert_eq!(redis.get::<_, Vec<u8>>(&key).unwrap(), stored);
}

static SHARED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "shared_square")]
fn shared_square(n: u64) -> u64 {
    SHARED_RUNS.fetch_add(1, Ordering::SeqCst);
    n * n
}

const CHILD_VAR: &str = "CACHEMACRO_TEST_CHILD";

/// The child half of `another_process_shares_the_cache`; does nothing in a normal run.
#[test]
fn child_process_computes() {
    if std::env::var_os(CHILD_VAR).is_none() {
        return;
    }
    // Configured by CACHEMACRO_REDIS_URL and CACHEMACRO_REDIS_NAMESPACE only.
    assert_eq!(shared_square(12), 144);
    assert_eq!(runs(&SHARED_RUNS), 1, "the child ran the body");
    assert_eq!(shared_square_cache().stats().errors, 0);
}

#[test]
fn another_process_shares_the_cache() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["child_process_computes", "--exact", "--test-threads=1"])
        .env(CHILD_VAR, "1")
        .env("CACHEMACRO_REDIS_URL", server.url())
        .env("CACHEMACRO_REDIS_NAMESPACE", NAMESPACE)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "the child process failed");

    shared_square_cache().configure(config(&server));
    assert_eq!(shared_square(12), 144);
    assert_eq!(runs(&SHARED_RUNS), 0, "the child's value was a hit here");
    assert_eq!(shared_square_cache().stats().hits, 1);
}

static OUTAGE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "outage")]
fn outage_double(n: u64) -> u64 {
    OUTAGE_RUNS.fetch_add(1, Ordering::SeqCst);
    n * 2
}

#[test]
fn calls_survive_redis_being_killed_and_caching_resumes_after_restart() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    outage_double_cache().configure(config(&server).timeout(Duration::from_millis(100)));
    for n in 0..20 {
        assert_eq!(outage_double(n), n * 2);
    }
    assert_eq!(outage_double(3), 6);
    assert_eq!(outage_double_cache().stats().hits, 1);

    server.kill();
    let started = Instant::now();
    for n in 0..40 {
        assert_eq!(outage_double(n), n * 2);
    }
    assert!(outage_double_cache().stats().errors >= 1);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "fail-open calls are quick: {:?}",
        started.elapsed()
    );

    server.restart();
    let resumed = eventually(Duration::from_secs(15), || {
        let hits = outage_double_cache().stats().hits;
        assert_eq!(outage_double(5), 10);
        assert_eq!(outage_double(5), 10);
        outage_double_cache().stats().hits > hits
    });
    assert!(resumed, "caching resumes once Redis is back");
}

static FROZEN_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "frozen")]
fn frozen_triple(n: u64) -> u64 {
    FROZEN_RUNS.fetch_add(1, Ordering::SeqCst);
    n * 3
}

#[test]
fn a_frozen_redis_costs_at_most_the_timeout() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let timeout = Duration::from_millis(100);
    frozen_triple_cache().configure(config(&server).timeout(timeout));
    assert_eq!(frozen_triple(1), 3);
    assert_eq!(frozen_triple(1), 3);
    assert_eq!(runs(&FROZEN_RUNS), 1);

    server.freeze();
    for n in 0..10 {
        let started = Instant::now();
        assert_eq!(frozen_triple(n), n * 3);
        let took = started.elapsed();
        assert!(took < Duration::from_secs(1), "call {n} took {took:?}");
    }
    assert!(frozen_triple_cache().stats().errors >= 1);

    server.thaw();
    let resumed = eventually(Duration::from_secs(15), || {
        let hits = frozen_triple_cache().stats().hits;
        assert_eq!(frozen_triple(1), 3);
        frozen_triple_cache().stats().hits > hits
    });
    assert!(resumed, "caching resumes once Redis answers again");
}

const CALLERS: usize = 8;
static SLOW_RUNS: AtomicUsize = AtomicUsize::new(0);
static SLOW_CALLERS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "slow")]
fn slow(n: u64) -> u64 {
    SLOW_RUNS.fetch_add(1, Ordering::SeqCst);
    // Stay in the body until every caller has called (or give up after a while).
    eventually(Duration::from_secs(2), || runs(&SLOW_CALLERS) == CALLERS);
    n + 1
}

#[test]
fn concurrent_misses_run_body_once() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    slow_cache().configure(config(&server));
    let barrier = Barrier::new(CALLERS);
    let values: Vec<u64> = std::thread::scope(|scope| {
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    SLOW_CALLERS.fetch_add(1, Ordering::SeqCst);
                    slow(41)
                })
            })
            .collect();
        callers.into_iter().map(|c| c.join().unwrap()).collect()
    });
    assert_eq!(values, vec![42; CALLERS]);
    assert_eq!(runs(&SLOW_RUNS), 1);
    let stats = slow_cache().stats();
    assert_eq!((stats.hits, stats.misses), (CALLERS as u64 - 1, 1));
}

static SLOW_ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);
static SLOW_ASYNC_CALLERS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "slow_async")]
async fn slow_async(n: u64) -> u64 {
    SLOW_ASYNC_RUNS.fetch_add(1, Ordering::SeqCst);
    let deadline = Instant::now() + Duration::from_secs(2);
    while runs(&SLOW_ASYNC_CALLERS) < CALLERS && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    n + 1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_async_misses_run_body_once() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    slow_async_cache().configure(config(&server));
    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            tokio::spawn(async {
                SLOW_ASYNC_CALLERS.fetch_add(1, Ordering::SeqCst);
                slow_async(9).await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 10);
    }
    assert_eq!(runs(&SLOW_ASYNC_RUNS), 1);
}

static PANIC_RUNS: AtomicUsize = AtomicUsize::new(0);
static PANIC_CALLERS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "panics_first")]
fn panics_first(n: u64) -> u64 {
    if PANIC_RUNS.fetch_add(1, Ordering::SeqCst) == 0 {
        eventually(Duration::from_secs(2), || runs(&PANIC_CALLERS) == CALLERS);
        panic!("the first run panics");
    }
    n * 10
}

#[test]
fn a_panicking_body_releases_waiters() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    panics_first_cache().configure(config(&server));
    let barrier = Barrier::new(CALLERS);
    let outcomes: Vec<std::thread::Result<u64>> = std::thread::scope(|scope| {
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    PANIC_CALLERS.fetch_add(1, Ordering::SeqCst);
                    panics_first(2)
                })
            })
            .collect();
        callers.into_iter().map(|c| c.join()).collect()
    });
    assert_eq!(outcomes.iter().filter(|o| o.is_err()).count(), 1);
    assert!(outcomes.iter().flatten().all(|&value| value == 20));
    assert_eq!(
        runs(&PANIC_RUNS),
        2,
        "one panicking run, then one for everyone else"
    );
}

static AUTH_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "authenticated")]
fn authenticated(n: u64) -> u64 {
    AUTH_RUNS.fetch_add(1, Ordering::SeqCst);
    n + 100
}

#[test]
fn user_password_and_database_come_from_the_url() {
    let Some(server) = RedisServer::start_with_password(Some("s3cret")) else {
        return;
    };
    let port = server.port();
    authenticated_cache().configure(
        RedisConfig::new()
            .url(format!("redis://127.0.0.1:{port}/"))
            .namespace(NAMESPACE),
    );
    assert_eq!(authenticated(1), 101, "no password: fail-open");
    assert!(authenticated_cache().stats().errors >= 1);

    let url = format!("redis://default:s3cret@127.0.0.1:{port}/3");
    authenticated_cache().configure(RedisConfig::new().url(&url).namespace(NAMESPACE));
    let before = runs(&AUTH_RUNS);
    assert_eq!(authenticated(2), 102);
    assert_eq!(authenticated(2), 102);
    assert_eq!(runs(&AUTH_RUNS), before + 1, "a hit with the password");
    let mut in_db_3 = redis::Client::open(url).unwrap().get_connection().unwrap();
    assert!(
        in_db_3
            .exists::<_, bool>(redis_key("authenticated", 0, 2u64))
            .unwrap()
    );
    let debug = format!("{:?}", authenticated_cache().config());
    assert!(
        !debug.contains("s3cret"),
        "the password is redacted: {debug}"
    );
}

static PROCESS_RUNS: AtomicUsize = AtomicUsize::new(0);

/// The one function of this binary without its own configuration.
#[memoize(ttl = 60, backend = "redis", name = "process_configured")]
fn process_configured(n: u64) -> u64 {
    PROCESS_RUNS.fetch_add(1, Ordering::SeqCst);
    n * 7
}

#[test]
fn the_process_wide_configuration_applies_to_unconfigured_functions() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let namespace = "process_wide";
    cachemacro_runtime::redis::configure(RedisConfig::new().url(server.url()).namespace(namespace))
        .expect("nothing in this binary fixes the process-wide configuration before");
    assert_eq!(
        cachemacro_runtime::redis::configure(RedisConfig::new()),
        Err(cachemacro_runtime::redis::AlreadyConfigured)
    );
    assert_eq!(process_configured(6), 42);
    assert_eq!(process_configured(6), 42);
    assert_eq!(runs(&PROCESS_RUNS), 1);
    let key = format!(
        "{namespace}:{}",
        format_key("process_configured", 0, key_hash(&6u64))
    );
    assert!(server.client().exists::<_, bool>(key).unwrap());
}

/// An error type without serde: with `cache_err = false` (the default) it is never stored.
#[derive(Debug, Clone, PartialEq)]
struct NotFound(u64);

static OK_ONLY_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "ok_only")]
fn ok_only(id: u64) -> Result<User, NotFound> {
    OK_ONLY_RUNS.fetch_add(1, Ordering::SeqCst);
    if id == 0 {
        return Err(NotFound(id));
    }
    Ok(User {
        id,
        name: format!("ok {id}"),
        tags: vec![],
    })
}

#[test]
fn without_cache_err_only_the_ok_value_is_stored_and_only_it_needs_serde() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    ok_only_cache().configure(config(&server));
    assert_eq!(ok_only(5).unwrap().name, "ok 5");
    assert_eq!(ok_only(5).unwrap().name, "ok 5");
    assert_eq!(ok_only(0), Err(NotFound(0)));
    assert_eq!(ok_only(0), Err(NotFound(0)));
    assert_eq!(
        runs(&OK_ONLY_RUNS),
        3,
        "the Ok value is a hit, errors run again"
    );
    let stats = ok_only_cache().stats();
    assert_eq!((stats.hits, stats.misses, stats.errors), (1, 3, 0));
    assert_eq!(ok_only_cache().len(), Some(1));
}

static FLIP_RUNS: AtomicUsize = AtomicUsize::new(0);

/// One function before and after its `cache_err` is flipped: same name, same return type.
#[memoize(backend = "redis", name = "flip")]
fn flip_ok_only(id: u64) -> Result<Vec<u8>, String> {
    FLIP_RUNS.fetch_add(1, Ordering::SeqCst);
    Ok(vec![id as u8 - 7])
}

#[memoize(backend = "redis", name = "flip", cache_err = true)]
fn flip_whole(id: u64) -> Result<Vec<u8>, String> {
    FLIP_RUNS.fetch_add(1, Ordering::SeqCst);
    Ok(vec![id as u8, 2])
}

#[test]
fn flipping_cache_err_makes_stored_values_misses_not_misreadings() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    flip_ok_only_cache().configure(config(&server));
    flip_whole_cache().configure(config(&server));
    // The `Ok` value `[0]` is stored as the bytes `[1, 0]`, which postcard would read as the
    // `Result` `Err("")`: only the layouts' type tags tell them apart. Each layout's entry is a
    // miss for the other (counted as an unreadable value) that the new value overwrites.
    assert_eq!(flip_ok_only(7), Ok(vec![0]));
    assert_eq!(flip_whole(7), Ok(vec![7, 2]));
    assert_eq!(flip_whole_cache().stats().errors, 1);
    assert_eq!(flip_ok_only(7), Ok(vec![0]));
    assert_eq!(flip_ok_only_cache().stats().errors, 1);
    assert_eq!(runs(&FLIP_RUNS), 3);
    assert_eq!(flip_ok_only(7), Ok(vec![0]), "read back in its own layout");
    assert_eq!(runs(&FLIP_RUNS), 3);
}

#[memoize(name = "same_methods_memory")]
fn same_methods_memory(n: u64) -> u64 {
    n
}

#[memoize(ttl = 60, backend = "redis", name = "same_methods_redis")]
fn same_methods_redis(n: u64) -> u64 {
    n
}

/// What every cache answers, by the same names and types on every backend.
macro_rules! summary {
    ($cache:expr) => {{
        let summary: (Option<u64>, Option<bool>, Option<u64>, &str, u32) = (
            $cache.len(),
            $cache.is_empty(),
            $cache.capacity(),
            $cache.name(),
            $cache.version(),
        );
        summary
    }};
}

/// One handle type: the in-process and the Redis cache answer the same methods, `Option` where
/// a backend cannot know (Redis has no capacity of its own).
#[tokio::test]
async fn every_backend_has_the_same_cache_methods() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    same_methods_redis_cache().configure(config(&server));
    assert_eq!(same_methods_memory(1), 1);
    assert_eq!(same_methods_redis(1), 1);
    assert_eq!(
        summary!(same_methods_memory_cache()),
        (Some(1), Some(false), Some(10_000), "same_methods_memory", 0)
    );
    assert_eq!(
        summary!(same_methods_redis_cache()),
        (Some(1), Some(false), None, "same_methods_redis", 0)
    );
    same_methods_memory_cache().clear_async().await;
    same_methods_redis_cache().clear_async().await;
    assert_eq!(same_methods_memory_cache().len(), Some(0));
    assert_eq!(same_methods_redis_cache().len(), Some(0));
    let (memory, redis) = (
        same_methods_memory_cache().stats(),
        same_methods_redis_cache().stats(),
    );
    assert_eq!((memory.misses, memory.entries), (1, Some(0)));
    assert_eq!((redis.misses, redis.entries), (1, None));
    assert!(format!("{:?}", same_methods_memory_cache()).starts_with("MemoryCache"));
    assert!(format!("{:?}", same_methods_redis_cache()).starts_with("RedisCache"));
}
