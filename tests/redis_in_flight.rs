//! Writes of a key while it is being computed, on the Redis backend: a value computed before an
//! invalidation (`f_invalidate`, `f_refresh`, `clear()`) is not stored after it, and callers
//! that come after the invalidation compute anew rather than wait for the older computation.
//! (`tests/in_flight.rs` holds the in-process backend to the same.)
//!
//! Each body's first run waits at a gate, so the test holds it in flight without sleeping; later
//! runs pass at once.

#[path = "support/deadline.rs"]
mod deadline;
#[path = "support/gate.rs"]
mod gate;
#[path = "support/redis_server.rs"]
mod redis_server;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cachemacro_runtime::key::{format_key, key_hash};
use cachemacro_runtime::{CacheKey, RedisConfig, memoize};
use gate::Gate;
use redis::Commands;
use redis_server::{RedisServer, eventually};

const NAMESPACE: &str = "in_flight";
const PATIENCE: Duration = Duration::from_secs(10);

fn config(server: &RedisServer) -> RedisConfig {
    RedisConfig::new().url(server.url()).namespace(NAMESPACE)
}

fn redis_key(name: &str, arg: impl CacheKey) -> String {
    format!("{NAMESPACE}:{}", format_key(name, 0, key_hash(&arg)))
}

fn runs(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

/// The body's run number; the first run waits at `gate`.
fn run(counter: &AtomicUsize, gate: &Gate) -> usize {
    let run = counter.fetch_add(1, Ordering::SeqCst);
    if run == 0 {
        gate.pass();
    }
    run
}

/// The value under `key` in Redis, decoded as the backend's `String` values are: the envelope's
/// payload ends with the string's bytes.
fn stored(redis: &mut redis::Connection, key: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = redis.get(key).unwrap();
    bytes.map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

static INVALIDATED_RUNS: AtomicUsize = AtomicUsize::new(0);
static INVALIDATED_GATE: Gate = Gate::new();

#[memoize(ttl = 60, backend = "redis", name = "invalidated", lock_ttl = "30s")]
fn invalidated(n: u64) -> String {
    format!("{n} v{}", run(&INVALIDATED_RUNS, &INVALIDATED_GATE))
}

/// `lock = "redis"` (the default): the computation holds the key's lock. The invalidation
/// deletes the lock too, so a caller that comes after it computes at once, and the older value
/// is not stored.
#[test]
fn an_invalidation_while_a_miss_computes_is_not_undone() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    invalidated_cache().configure(config(&server));
    let mut redis = server.client();
    let key = redis_key("invalidated", 1u64);

    INVALIDATED_GATE.set(false);
    let first = std::thread::spawn(|| invalidated(1));
    assert!(eventually(PATIENCE, || runs(&INVALIDATED_RUNS) == 1));
    assert!(!invalidated_invalidate(1), "nothing stored yet");

    // After the invalidation: neither this process' flight nor the lock holds it back.
    let second = std::thread::spawn(|| invalidated(1));
    assert_eq!(
        deadline::join("the second caller", second, PATIENCE),
        "1 v1"
    );
    assert_eq!(
        stored(&mut redis, &key)
            .as_deref()
            .map(|v| v.ends_with("1 v1")),
        Some(true)
    );

    INVALIDATED_GATE.set(true);
    assert_eq!(deadline::join("the first caller", first, PATIENCE), "1 v0");
    let value = stored(&mut redis, &key).unwrap();
    assert!(
        value.ends_with("1 v1"),
        "the older value is not stored: {value:?}"
    );
    assert_eq!(invalidated(1), "1 v1");
    assert_eq!(runs(&INVALIDATED_RUNS), 2);
    let locked: bool = redis.exists(format!("{key}:lock")).unwrap();
    assert!(!locked, "every lock released");
    let stats = invalidated_cache().stats();
    assert_eq!((stats.errors, stats.lock_takeovers), (0, 0));
}

static PROCESS_RUNS: AtomicUsize = AtomicUsize::new(0);
static PROCESS_GATE: Gate = Gate::new();

#[memoize(ttl = 60, backend = "redis", name = "process_locked", lock = "process")]
fn process_locked(n: u64) -> String {
    format!("{n} v{}", run(&PROCESS_RUNS, &PROCESS_GATE))
}

/// `lock = "process"`: no lock in Redis; the invalidation's mark alone keeps the older value out.
#[test]
fn without_the_redis_lock_an_invalidation_is_not_undone_either() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    process_locked_cache().configure(config(&server));
    let mut redis = server.client();
    let key = redis_key("process_locked", 1u64);

    PROCESS_GATE.set(false);
    let first = std::thread::spawn(|| process_locked(1));
    assert!(eventually(PATIENCE, || runs(&PROCESS_RUNS) == 1));
    assert!(!process_locked_invalidate(1));
    PROCESS_GATE.set(true);
    assert_eq!(deadline::join("the first caller", first, PATIENCE), "1 v0");
    assert_eq!(
        stored(&mut redis, &key),
        None,
        "not stored after the invalidation"
    );

    assert_eq!(process_locked(1), "1 v1", "computed anew");
    assert_eq!(process_locked(1), "1 v1", "and stored");
    assert_eq!(runs(&PROCESS_RUNS), 2);
    let mark: i64 = redis.pttl(format!("{key}:invalidated")).unwrap();
    assert!(
        (1..=10_000).contains(&mark),
        "the mark expires after lock_ttl (10 s by default): {mark}"
    );
}

static REFRESHED_RUNS: AtomicUsize = AtomicUsize::new(0);
static REFRESHED_GATE: Gate = Gate::new();

#[memoize(ttl = 60, backend = "redis", name = "refreshed_meanwhile")]
async fn refreshed_meanwhile(n: u64) -> String {
    format!("{n} v{}", run(&REFRESHED_RUNS, &REFRESHED_GATE))
}

/// An `f_refresh` whose value lands while an older miss computes: that miss does not replace it.
#[test]
fn a_miss_that_began_before_an_f_refresh_does_not_replace_its_value() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    refreshed_meanwhile_cache().configure(config(&server));
    let mut redis = server.client();
    let key = redis_key("refreshed_meanwhile", 1u64);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    REFRESHED_GATE.set(false);
    let first = runtime.spawn(refreshed_meanwhile(1));
    assert!(eventually(PATIENCE, || runs(&REFRESHED_RUNS) == 1));
    assert_eq!(runtime.block_on(refreshed_meanwhile_refresh(1)), "1 v1");
    // A call after `f_refresh` reads its value rather than wait for the older computation.
    let after =
        runtime.block_on(async { tokio::time::timeout(PATIENCE, refreshed_meanwhile(1)).await });
    REFRESHED_GATE.set(true);
    assert_eq!(after.as_deref(), Ok("1 v1"));
    assert_eq!(runtime.block_on(first).unwrap(), "1 v0");

    let value = stored(&mut redis, &key).unwrap();
    assert!(
        value.ends_with("1 v1"),
        "f_refresh's value stays: {value:?}"
    );
    assert_eq!(runtime.block_on(refreshed_meanwhile(1)), "1 v1");
    assert_eq!(runs(&REFRESHED_RUNS), 2);
}

static CLEARED_RUNS: AtomicUsize = AtomicUsize::new(0);
static CLEARED_GATE: Gate = Gate::new();

#[memoize(ttl = 60, backend = "redis", name = "cleared_meanwhile", lock = "none")]
fn cleared_meanwhile(n: u64) -> String {
    format!("{n} v{}", run(&CLEARED_RUNS, &CLEARED_GATE))
}

/// `clear()` while a computation runs: it stores nothing; a computation that begins after
/// `clear()` stores as usual.
#[test]
fn a_miss_that_began_before_clear_stores_nothing() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    cleared_meanwhile_cache().configure(config(&server));
    let mut redis = server.client();

    CLEARED_GATE.set(false);
    let first = std::thread::spawn(|| cleared_meanwhile(1));
    assert!(eventually(PATIENCE, || runs(&CLEARED_RUNS) == 1));
    cleared_meanwhile_cache().clear();
    CLEARED_GATE.set(true);
    assert_eq!(deadline::join("the first caller", first, PATIENCE), "1 v0");
    assert_eq!(cleared_meanwhile_cache().len(), Some(0));

    assert_eq!(cleared_meanwhile(2), "2 v1");
    assert_eq!(
        cleared_meanwhile_cache().len(),
        Some(1),
        "began after clear(): stored"
    );
    let key = redis_key("cleared_meanwhile", 2u64);
    assert!(stored(&mut redis, &key).is_some());
}

static CLEARED_LOCKED_RUNS: AtomicUsize = AtomicUsize::new(0);
static CLEARED_LOCKED_GATE: Gate = Gate::new();

#[memoize(ttl = 60, backend = "redis", name = "cleared_locked", lock_ttl = "30s")]
fn cleared_locked(n: u64) -> String {
    format!("{n} v{}", run(&CLEARED_LOCKED_RUNS, &CLEARED_LOCKED_GATE))
}

/// `clear()` with `lock = "redis"`: it deletes the locks as well as the entries, so a call made
/// after it computes at once rather than wait for a holder whose value will not be stored.
#[test]
fn after_clear_a_call_does_not_wait_for_an_older_lock() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    cleared_locked_cache().configure(config(&server));
    let mut redis = server.client();
    let key = redis_key("cleared_locked", 1u64);

    CLEARED_LOCKED_GATE.set(false);
    let first = std::thread::spawn(|| cleared_locked(1));
    assert!(eventually(PATIENCE, || runs(&CLEARED_LOCKED_RUNS) == 1));
    cleared_locked_cache().clear();
    let second = std::thread::spawn(|| cleared_locked(1));
    let second = deadline::join("the call after clear()", second, PATIENCE);
    CLEARED_LOCKED_GATE.set(true);
    assert_eq!(second, "1 v1");
    assert_eq!(deadline::join("the first caller", first, PATIENCE), "1 v0");
    let value = stored(&mut redis, &key).unwrap();
    assert!(
        value.ends_with("1 v1"),
        "the older value is not stored: {value:?}"
    );
    assert_eq!(cleared_locked_cache().stats().lock_waits, 0);
}

static ORDERED_RUNS: AtomicUsize = AtomicUsize::new(0);
static ORDERED_FIRST: Gate = Gate::new();
static ORDERED_SECOND: Gate = Gate::new();

#[memoize(ttl = 60, backend = "redis", name = "ordered")]
fn ordered(n: u64) -> String {
    let run = ORDERED_RUNS.fetch_add(1, Ordering::SeqCst);
    match run {
        0 => ORDERED_FIRST.pass(),
        1 => ORDERED_SECOND.pass(),
        _ => {}
    }
    format!("{n} v{run}")
}

/// Two `f_refresh` calls (say, each after a write of the row): the one that began last keeps its
/// value, whichever lands first.
#[test]
fn of_two_f_refresh_calls_the_later_one_wins_even_if_it_lands_last() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    ordered_cache().configure(config(&server));
    let mut redis = server.client();
    let key = redis_key("ordered", 1u64);

    ORDERED_FIRST.set(false);
    ORDERED_SECOND.set(false);
    let first = std::thread::spawn(|| ordered_refresh(1));
    assert!(eventually(PATIENCE, || runs(&ORDERED_RUNS) == 1));
    let second = std::thread::spawn(|| ordered_refresh(1));
    assert!(eventually(PATIENCE, || runs(&ORDERED_RUNS) == 2));
    ORDERED_FIRST.set(true);
    assert_eq!(
        deadline::join("the first f_refresh", first, PATIENCE),
        "1 v0"
    );
    ORDERED_SECOND.set(true);
    assert_eq!(
        deadline::join("the second f_refresh", second, PATIENCE),
        "1 v1"
    );
    let value = stored(&mut redis, &key).unwrap();
    assert!(
        value.ends_with("1 v1"),
        "the later f_refresh's value: {value:?}"
    );
}

static DELAYED_RUNS: AtomicUsize = AtomicUsize::new(0);
static DELAYED_GATE: Gate = Gate::new();

#[memoize(ttl = 60, backend = "redis", name = "delayed", lock_ttl = "30s")]
fn delayed(n: u64) -> String {
    format!("{n} v{}", run(&DELAYED_RUNS, &DELAYED_GATE))
}

/// Under the lock, a computation's start is Redis' own time when it took the lock, not an
/// estimate from this process' clock: a write that reaches Redis long after it was sent (the
/// server stalled) still sees an invalidation made after the body began.
#[test]
fn a_delayed_write_still_sees_an_invalidation_made_after_its_body_began() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let slow = config(&server).timeout(Duration::from_secs(10));
    delayed_cache().configure(slow);
    let mut redis = server.client();
    let key = redis_key("delayed", 1u64);

    DELAYED_GATE.set(false);
    let first = std::thread::spawn(|| delayed(1));
    assert!(eventually(PATIENCE, || runs(&DELAYED_RUNS) == 1));
    assert!(!delayed_invalidate(1));
    server.freeze();
    DELAYED_GATE.set(true);
    // Not a synchronisation: the delay under test. The write is sent meanwhile, and waits.
    std::thread::sleep(Duration::from_secs(1));
    server.thaw();
    assert_eq!(deadline::join("the first caller", first, PATIENCE), "1 v0");
    assert_eq!(
        stored(&mut redis, &key),
        None,
        "not stored after the invalidation"
    );
    assert_eq!(delayed_cache().stats().errors, 0);
}

static PUT_RUNS: AtomicUsize = AtomicUsize::new(0);
static PUT_GATE: Gate = Gate::new();

#[memoize(ttl = 60, backend = "redis", name = "put_invalidated")]
fn put_invalidated(n: u64) -> String {
    format!("{n} v{}", run(&PUT_RUNS, &PUT_GATE))
}

/// An `f_refresh` is a computation too: invalidated while its body runs, it stores nothing.
#[test]
fn an_f_refresh_invalidated_while_its_body_runs_stores_nothing() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    put_invalidated_cache().configure(config(&server));
    let mut redis = server.client();
    let key = redis_key("put_invalidated", 1u64);

    PUT_GATE.set(false);
    let refresh = std::thread::spawn(|| put_invalidated_refresh(1));
    assert!(eventually(PATIENCE, || runs(&PUT_RUNS) == 1));
    assert!(!put_invalidated_invalidate(1));
    PUT_GATE.set(true);
    assert_eq!(deadline::join("the f_refresh", refresh, PATIENCE), "1 v0");
    assert_eq!(
        stored(&mut redis, &key),
        None,
        "not stored after the invalidation"
    );
    assert_eq!(put_invalidated(1), "1 v1");
}
