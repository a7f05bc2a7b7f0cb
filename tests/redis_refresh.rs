//! Background refresh on the Redis backend against real `redis-server`s: stale hits are served at
//! once, an unchanged value renews the entry's age with `PEXPIRE` and no `SET`, a changed one is
//! written with a full `ttl`, a failed refresh keeps the old value, an invalidated entry stays
//! gone, and a refresh that cannot be scheduled is counted as dropped.
//!
//! An entry's age is Redis' own (`ttl - PTTL`), so the tests make an entry old with `PEXPIRE` on
//! their own server instead of waiting. Refresh bodies block on gates the tests open; every wait
//! polls an outcome with a deadline. Each test has its own server and functions, so they run in
//! parallel.

#[path = "support/gate.rs"]
mod gate;

#[path = "support/redis_server.rs"]
mod redis_server;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use cachemacro_runtime::key::{format_key, key_hash};
use cachemacro_runtime::{CacheKey, RedisConfig, Stats, memoize};
use gate::Gate;
use redis::Commands;
use redis_server::{RedisServer, eventually};

const NAMESPACE: &str = "refresh";
/// The `ttl` of the functions under test, in ms.
const TTL_MS: i64 = 600_000;
/// Their `refresh_after`, in ms.
const REFRESH_AFTER_MS: i64 = 30_000;
/// A remaining TTL that makes an entry older than `refresh_after`.
const STALE_PTTL_MS: i64 = TTL_MS - REFRESH_AFTER_MS - 1_000;
const PATIENCE: Duration = Duration::from_secs(10);

fn config(server: &RedisServer) -> RedisConfig {
    RedisConfig::new().url(server.url()).namespace(NAMESPACE)
}

fn redis_key(name: &str, arg: impl CacheKey) -> String {
    format!("{NAMESPACE}:{}", format_key(name, 0, key_hash(&arg)))
}

/// Makes the entry under `key` older than `refresh_after`, as Redis sees it.
fn make_stale(redis: &mut redis::Connection, key: &str) {
    let set: bool = redis.pexpire(key, STALE_PTTL_MS).unwrap();
    assert!(set, "{key} is stored");
}

fn pttl(redis: &mut redis::Connection, key: &str) -> i64 {
    redis.pttl(key).unwrap()
}

/// `SET` commands the server has run, from `INFO commandstats` (`cmdstat_set:calls=N,...`).
fn set_calls(redis: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query(redis).unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("cmdstat_set:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.parse().unwrap())
}

fn wait_for(what: &str, stats: impl Fn() -> Stats, condition: impl Fn(&Stats) -> bool) {
    assert!(
        eventually(PATIENCE, || condition(&stats())),
        "timed out waiting for {what}: {:?}",
        stats()
    );
}

static SERVERS_GATE: Gate = Gate::new();
static SERVERS_RUNS: AtomicUsize = AtomicUsize::new(0);
/// What the body returns: the test changes it to make a refresh find a new value.
static SERVERS_GENERATION: AtomicUsize = AtomicUsize::new(0);

#[memoize(
    ttl = "10m",
    refresh = "background",
    refresh_after = "30s",
    backend = "redis",
    name = "servers"
)]
fn servers(region: &str) -> String {
    SERVERS_RUNS.fetch_add(1, Ordering::SeqCst);
    SERVERS_GATE.pass();
    format!("{region} v{}", SERVERS_GENERATION.load(Ordering::SeqCst))
}

#[test]
fn a_stale_hit_is_served_at_once_and_the_new_value_is_written_with_a_full_ttl() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    servers_cache().configure(config(&server));
    let mut redis = server.client();
    let key = redis_key("servers", "eu");

    assert_eq!(servers("eu"), "eu v0");
    assert_eq!(servers("eu"), "eu v0", "young: a plain hit");
    assert_eq!(servers_cache().stats().refreshes_started, 0);

    // Old enough: the refresh starts and blocks at the gate; the caller has the old value now.
    SERVERS_GATE.set(false);
    SERVERS_GENERATION.store(1, Ordering::SeqCst);
    make_stale(&mut redis, &key);
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || sender.send(servers("eu")).unwrap());
    assert_eq!(
        receiver.recv_timeout(PATIENCE).as_deref(),
        Ok("eu v0"),
        "a stale hit does not wait for the refresh"
    );
    assert!(eventually(PATIENCE, || SERVERS_RUNS.load(Ordering::SeqCst) == 2));
    // More stale hits while it runs: served, and no second refresh of the same key.
    for _ in 0..20 {
        assert_eq!(servers("eu"), "eu v0");
    }
    assert_eq!(SERVERS_RUNS.load(Ordering::SeqCst), 2);

    SERVERS_GATE.set(true);
    wait_for(
        "the refresh to land",
        || servers_cache().stats(),
        |stats| stats.refreshes_updated == 1,
    );
    assert_eq!(servers("eu"), "eu v1", "the new value is served");
    assert!(
        pttl(&mut redis, &key) > TTL_MS - REFRESH_AFTER_MS,
        "written with a full ttl"
    );
    let stats = servers_cache().stats();
    assert_eq!(
        (
            stats.refreshes_started,
            stats.refreshes_failed,
            stats.misses,
            stats.errors
        ),
        (1, 0, 1, 0)
    );
}

static REGIONS_GATE: Gate = Gate::new();
static REGIONS_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(
    ttl = "10m",
    refresh = "background",
    refresh_after = "30s",
    backend = "redis",
    name = "regions"
)]
fn regions(zone: u32) -> String {
    let run = REGIONS_RUNS.fetch_add(1, Ordering::SeqCst);
    REGIONS_GATE.pass();
    format!("{zone} v{run}")
}

#[test]
fn a_refresh_does_not_bring_back_an_entry_invalidated_while_it_ran() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    regions_cache().configure(config(&server));
    let mut redis = server.client();
    let key = redis_key("regions", 3u32);

    assert_eq!(regions(3), "3 v0");
    let sets = set_calls(&mut redis);
    REGIONS_GATE.set(false);
    make_stale(&mut redis, &key);
    assert_eq!(regions(3), "3 v0");
    assert!(eventually(PATIENCE, || REGIONS_RUNS.load(Ordering::SeqCst) == 2));
    assert!(regions_invalidate(3));
    let scripts = script_calls(&mut redis);
    REGIONS_GATE.set(true);
    // The refresh's write is the first script after the gate opens (its lock's release follows).
    assert!(eventually(PATIENCE, || script_calls(&mut redis) > scripts));
    let exists: bool = redis.exists(&key).unwrap();
    assert!(!exists, "the invalidated entry stays gone");
    assert_eq!(
        set_calls(&mut redis),
        sets,
        "invalidated since it began: not even tried"
    );
    let stats = regions_cache().stats();
    assert_eq!((stats.refreshes_updated, stats.errors), (0, 0));
}

static SAME_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(
    ttl = "10m",
    refresh = "background",
    refresh_after = "30s",
    backend = "redis",
    name = "same"
)]
fn same(id: u32) -> Vec<u32> {
    SAME_RUNS.fetch_add(1, Ordering::SeqCst);
    vec![id; 3]
}

/// The expiry an entry's envelope carries (bytes 11 to 19, little-endian; `envelope.rs`).
fn envelope_expiry(redis: &mut redis::Connection, key: &str) -> u64 {
    let bytes: Vec<u8> = redis.get(key).expect("the entry");
    u64::from_le_bytes(bytes[11..19].try_into().expect("a header"))
}

#[test]
fn an_unchanged_value_renews_the_age_with_pexpire_and_no_set() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    same_cache().configure(config(&server));
    let mut redis = server.client();
    let key = redis_key("same", 4u32);

    assert_eq!(same(4), [4, 4, 4]);
    let sets = set_calls(&mut redis);
    assert_eq!(sets, 1, "the miss wrote the value");
    let expiry_before = envelope_expiry(&mut redis, &key);
    make_stale(&mut redis, &key);
    assert!(pttl(&mut redis, &key) <= STALE_PTTL_MS);

    assert_eq!(same(4), [4, 4, 4]);
    wait_for(
        "the refresh",
        || same_cache().stats(),
        |stats| stats.refreshes_unchanged == 1,
    );
    assert_eq!(set_calls(&mut redis), sets, "no value was written");
    assert!(
        pttl(&mut redis, &key) > TTL_MS - REFRESH_AFTER_MS,
        "PEXPIRE renewed the age"
    );
    assert!(
        envelope_expiry(&mut redis, &key) > expiry_before,
        "and the expiry the envelope carries, which near tiers read"
    );
    assert_eq!(SAME_RUNS.load(Ordering::SeqCst), 2);

    // Young again: the next hits schedule nothing.
    assert_eq!(same(4), [4, 4, 4]);
    let stats = same_cache().stats();
    assert_eq!(
        (stats.refreshes_started, stats.refreshes_updated, stats.hits),
        (1, 0, 2)
    );
}

static FLAKY_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(
    ttl = "10m",
    refresh = "background",
    refresh_after = "30s",
    backend = "redis",
    name = "flaky"
)]
fn flaky(id: u32) -> Result<u32, String> {
    match FLAKY_RUNS.fetch_add(1, Ordering::SeqCst) {
        0 => Ok(id),
        1 => Err("backend down".into()),
        2 => panic!("refresh panics"),
        _ => Ok(id + 100),
    }
}

#[test]
fn a_failed_refresh_keeps_the_old_value_and_its_age() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    flaky_cache().configure(config(&server));
    let mut redis = server.client();
    let key = redis_key("flaky", 1u32);

    assert_eq!(flaky(1), Ok(1));
    make_stale(&mut redis, &key);
    assert_eq!(flaky(1), Ok(1), "stale hit; the refresh returns Err");
    wait_for(
        "the Err refresh",
        || flaky_cache().stats(),
        |stats| stats.refreshes_failed == 1,
    );
    assert!(
        pttl(&mut redis, &key) <= STALE_PTTL_MS,
        "a failed refresh renews nothing"
    );
    assert_eq!(flaky(1), Ok(1), "old value kept; the retry panics");
    wait_for(
        "the panicking refresh",
        || flaky_cache().stats(),
        |stats| stats.refreshes_failed == 2,
    );
    assert_eq!(flaky(1), Ok(1), "old value kept again; this retry succeeds");
    wait_for(
        "the good refresh",
        || flaky_cache().stats(),
        |stats| stats.refreshes_updated == 1,
    );
    assert_eq!(flaky(1), Ok(101));
    let stats = flaky_cache().stats();
    assert_eq!((stats.refreshes_started, stats.errors), (3, 0));
}

static QUOTE_RUNS: AtomicUsize = AtomicUsize::new(0);
static QUOTE_GENERATION: AtomicUsize = AtomicUsize::new(0);
/// Refreshes wait here until the test adds a permit.
static QUOTE_GATE: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(0);

#[memoize(
    ttl = "10m",
    refresh = "background",
    refresh_after = "30s",
    backend = "redis",
    name = "quote"
)]
async fn quote(symbol: String) -> Result<String, String> {
    if QUOTE_RUNS.fetch_add(1, Ordering::SeqCst) > 0 {
        QUOTE_GATE.acquire().await.unwrap().forget();
    }
    match QUOTE_GENERATION.load(Ordering::SeqCst) {
        0 | 1 => Ok(format!("{symbol} v0")),
        2 => Err("feed down".into()),
        _ => Ok(format!("{symbol} v3")),
    }
}

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
});

fn quote_now(symbol: &str) -> Result<String, String> {
    RUNTIME.block_on(quote(symbol.to_owned()))
}

#[test]
fn async_refreshes_run_as_tasks_with_the_same_outcomes() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    quote_cache().configure(config(&server));
    let mut redis = server.client();
    let key = redis_key("quote", "ACME".to_owned());
    let stats = || quote_cache().stats();

    assert_eq!(quote_now("ACME").as_deref(), Ok("ACME v0"));
    let sets = set_calls(&mut redis);

    // Unchanged: the stale hit is served while the refresh waits at the gate; then PEXPIRE only.
    QUOTE_GENERATION.store(1, Ordering::SeqCst);
    make_stale(&mut redis, &key);
    assert_eq!(quote_now("ACME").as_deref(), Ok("ACME v0"));
    assert!(eventually(PATIENCE, || QUOTE_RUNS.load(Ordering::SeqCst) == 2));
    assert_eq!(
        quote_now("ACME").as_deref(),
        Ok("ACME v0"),
        "still refreshing"
    );
    assert_eq!(
        stats().refreshes_started,
        1,
        "one refresh per key in flight"
    );
    QUOTE_GATE.add_permits(1);
    wait_for("the unchanged refresh", stats, |s| {
        s.refreshes_unchanged == 1
    });
    assert_eq!(set_calls(&mut redis), sets, "no value was written");
    assert!(pttl(&mut redis, &key) > TTL_MS - REFRESH_AFTER_MS);

    // Failed: the old value and its age stay.
    QUOTE_GENERATION.store(2, Ordering::SeqCst);
    make_stale(&mut redis, &key);
    assert_eq!(quote_now("ACME").as_deref(), Ok("ACME v0"));
    QUOTE_GATE.add_permits(1);
    wait_for("the failed refresh", stats, |s| s.refreshes_failed == 1);
    assert!(pttl(&mut redis, &key) <= STALE_PTTL_MS);

    // Changed: written, and served.
    QUOTE_GENERATION.store(3, Ordering::SeqCst);
    assert_eq!(quote_now("ACME").as_deref(), Ok("ACME v0"));
    QUOTE_GATE.add_permits(1);
    wait_for("the changed refresh", stats, |s| s.refreshes_updated == 1);
    assert_eq!(quote_now("ACME").as_deref(), Ok("ACME v3"));
    assert_eq!(set_calls(&mut redis), sets + 1);
    assert!(pttl(&mut redis, &key) > TTL_MS - REFRESH_AFTER_MS);
    let stats = stats();
    assert_eq!(
        (stats.refreshes_started, stats.misses, stats.errors),
        (3, 1, 0)
    );
}

/// Polls `future` on this thread, outside any tokio runtime.
fn block_on_plain<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}

static PLAIN_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(
    ttl = "10m",
    refresh = "background",
    refresh_after = "30s",
    backend = "redis",
    name = "plain"
)]
async fn plain(n: u32) -> u32 {
    PLAIN_RUNS.fetch_add(1, Ordering::SeqCst);
    n
}

#[test]
fn an_async_refresh_without_a_tokio_runtime_is_dropped_and_counted() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    plain_cache().configure(config(&server));
    let mut redis = server.client();
    let key = redis_key("plain", 9u32);

    assert_eq!(block_on_plain(plain(9)), 9);
    make_stale(&mut redis, &key);
    assert_eq!(block_on_plain(plain(9)), 9, "served");
    // The dropped refresh leaves the key free: the next stale hit tries again.
    assert_eq!(block_on_plain(plain(9)), 9);
    let stats = plain_cache().stats();
    assert_eq!((stats.refreshes_dropped, stats.refreshes_started), (2, 0));
    assert_eq!(PLAIN_RUNS.load(Ordering::SeqCst), 1);
    assert!(pttl(&mut redis, &key) <= STALE_PTTL_MS, "nothing renewed");
}

static FOREIGN_GATE: Gate = Gate::new();
static FOREIGN_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(
    ttl = "10m",
    refresh = "background",
    refresh_after = "30s",
    backend = "redis",
    name = "foreign"
)]
fn foreign(id: u32) -> Vec<u32> {
    if FOREIGN_RUNS.fetch_add(1, Ordering::SeqCst) > 0 {
        FOREIGN_GATE.pass();
    }
    vec![id; 3]
}

/// Scripts the server has run with `EVALSHA` (`INFO commandstats`).
fn script_calls(redis: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO").arg("commandstats").query(redis).unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("cmdstat_evalsha:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |calls| calls.parse().unwrap())
}

#[test]
fn an_unchanged_refresh_leaves_an_entry_rewritten_in_another_format_as_it_is() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    foreign_cache().configure(config(&server));
    let mut redis = server.client();
    let key = redis_key("foreign", 4u32);

    assert_eq!(foreign(4), [4, 4, 4]);
    FOREIGN_GATE.set(false);
    make_stale(&mut redis, &key);
    assert_eq!(foreign(4), [4, 4, 4], "a stale hit; the refresh starts");
    assert!(eventually(PATIENCE, || FOREIGN_RUNS.load(Ordering::SeqCst) == 2));
    // Meanwhile a process of another version rewrites the entry in another envelope format.
    let mut rewritten: Vec<u8> = redis.get(&key).unwrap();
    rewritten[2] = 1;
    let _: () = redis::cmd("SET")
        .arg(&key)
        .arg(&rewritten)
        .arg("PX")
        .arg(STALE_PTTL_MS)
        .query(&mut redis)
        .unwrap();
    let scripts = script_calls(&mut redis);
    FOREIGN_GATE.set(true);
    assert!(eventually(PATIENCE, || script_calls(&mut redis) > scripts));
    let bytes: Vec<u8> = redis.get(&key).unwrap();
    assert_eq!(bytes, rewritten, "the renewal wrote nothing into it");
    assert_eq!(foreign_cache().stats().refreshes_unchanged, 0);
}
