//! Single-flight across processes on the Redis backend (`lock = "redis"`, its default), against
//! real `redis-server`s: a missing key is computed by one process while the others wait, a dead
//! holder is taken over by one process, a lock set elsewhere with a longer expiry (by
//! `redis-cli`) is waited for no longer than the waiter's own `lock_ttl`, a stale entry is
//! refreshed by one process, a failing Redis fails open, and `lock = "none"` / `"process"` do
//! what they say.
//!
//! Processes are this test binary run again as children (`CHILD_VAR` names the server), or, where
//! one process is enough to show it, two functions with the same `name`: they share their keys in
//! Redis but nothing in the process, as two processes would. Bodies wait on gates (in-process
//! `Gate`s, or Redis keys across processes) that the tests open once the others are in place; a
//! process shows that it is waiting for a lock by its connection's last command, the claim's
//! `EVALSHA`, in `CLIENT LIST`. Every timeout is an upper bound for a failure.

#[path = "support/deadline.rs"]
mod deadline;
#[path = "support/gate.rs"]
mod gate;

#[path = "support/redis_server.rs"]
mod redis_server;

use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Barrier, OnceLock};
use std::time::{Duration, Instant};

use cachemacro_runtime::key::{format_key, key_hash};
use cachemacro_runtime::{CacheKey, RedisConfig, Stats, memoize};
use gate::Gate;
use redis::Commands;
use redis_server::{RedisServer, eventually};

const NAMESPACE: &str = "lock";
/// The URL of the parent's server, in a child.
const CHILD_VAR: &str = "CACHEMACRO_LOCK_TEST_URL";
const CHILDREN: usize = 4;
const PATIENCE: Duration = Duration::from_secs(10);

/// The server that bodies count and signal on: the one a child is told of, or, in the parent, the
/// server of the one test whose body runs in the parent.
static URL: OnceLock<String> = OnceLock::new();

fn config(url: &str) -> RedisConfig {
    RedisConfig::new().url(url).namespace(NAMESPACE)
}

fn redis_key(name: &str, arg: impl CacheKey) -> String {
    format!("{NAMESPACE}:{}", format_key(name, 0, key_hash(&arg)))
}

fn lock_key(name: &str, arg: impl CacheKey) -> String {
    format!("{}:lock", redis_key(name, arg))
}

/// A plain connection to this process' test server, for bodies and tests to count and signal.
fn client() -> redis::Connection {
    let url = URL.get().expect("the test set its server's URL");
    redis::Client::open(url.as_str())
        .and_then(|client| client.get_connection())
        .expect("the test server accepts connections")
}

/// In a child: the server's URL, recorded for `client()`. `None` in a normal run.
fn child_url() -> Option<String> {
    let url = std::env::var(CHILD_VAR).ok()?;
    URL.set(url.clone()).expect("set once");
    Some(url)
}

/// Runs this binary's test `test` as a child process, on `server`.
fn spawn_child(test: &str, server: &RedisServer) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--test-threads=1"])
        .env(CHILD_VAR, server.url())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Children that are killed if the test fails before they exit.
struct Children(Vec<Child>);

impl Children {
    fn spawn(test: &str, server: &RedisServer) -> Children {
        Children((0..CHILDREN).map(|_| spawn_child(test, server)).collect())
    }

    /// Waits for every child, failing if one fails or any outlives `deadline`.
    fn finish(&mut self, deadline: Instant) {
        for child in std::mem::take(&mut self.0) {
            let output = wait_until(child, deadline);
            assert!(
                output.status.success(),
                "a child failed ({}):\n{}{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn wait_until(mut child: Child, deadline: Instant) -> Output {
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "a child did not finish in time:\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// How many connections last sent `EVALSHA`: with each process' cache on one connection, the
/// processes that have claimed a lock and not yet done anything else.
fn claimants(redis: &mut redis::Connection) -> usize {
    let clients: String = redis::cmd("CLIENT").arg("LIST").query(redis).unwrap();
    clients
        .lines()
        .filter(|line| line.contains(" cmd=evalsha "))
        .count()
}

fn count(redis: &mut redis::Connection, key: &str) -> u64 {
    redis.get::<_, Option<u64>>(key).unwrap().unwrap_or(0)
}

/// Adds a child's counters to the totals under `key`.
fn report(redis: &mut redis::Connection, key: &str, stats: Stats) {
    let fields = [
        ("hits", stats.hits),
        ("misses", stats.misses),
        ("errors", stats.errors),
        ("lock_waits", stats.lock_waits),
        ("lock_takeovers", stats.lock_takeovers),
        ("refreshes_started", stats.refreshes_started),
        ("refreshes_skipped", stats.refreshes_skipped),
        ("refreshes_unchanged", stats.refreshes_unchanged),
    ];
    for (field, value) in fields {
        let _: u64 = redis.hincr(key, field, value).unwrap();
    }
}

/// The children's totals under `key`.
fn totals(redis: &mut redis::Connection, key: &str) -> std::collections::HashMap<String, u64> {
    redis.hgetall(key).unwrap()
}

// ---------------------------------------------------------------------------------------------
// Four processes of 16 threads miss one cold key: the body runs once.

const THREADS: usize = 16;

#[memoize(ttl = 60, backend = "redis", name = "cold")]
fn cold(n: u64) -> u64 {
    let mut redis = client();
    let _: u64 = redis.incr("cold:runs", 1).unwrap();
    // Hold the lock until every process has claimed it, so the others are waiting for it.
    eventually(PATIENCE, || claimants(&mut redis) >= CHILDREN);
    std::thread::sleep(Duration::from_millis(200)); // the body's work
    n * 2
}

#[test]
fn child_calls_cold_from_16_threads() {
    let Some(url) = child_url() else {
        return; // Only meaningful as a child of the test below.
    };
    cold_cache().configure(config(&url));
    let barrier = Barrier::new(THREADS);
    let values: Vec<u64> = std::thread::scope(|scope| {
        let callers: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    barrier.wait();
                    cold(21)
                })
            })
            .collect();
        callers.into_iter().map(|c| c.join().unwrap()).collect()
    });
    assert_eq!(values, vec![42; THREADS], "every caller gets the value");
    report(&mut client(), "cold:stats", cold_cache().stats());
}

#[test]
fn misses_in_four_processes_run_the_body_once() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mut redis = server.client();
    Children::spawn("child_calls_cold_from_16_threads", &server)
        .finish(Instant::now() + Duration::from_secs(30));

    assert_eq!(
        count(&mut redis, "cold:runs"),
        1,
        "the body ran once in all"
    );
    let totals = totals(&mut redis, "cold:stats");
    let all = (CHILDREN * THREADS) as u64;
    assert_eq!((totals["hits"], totals["misses"]), (all - 1, 1));
    assert_eq!(
        (
            totals["lock_waits"],
            totals["lock_takeovers"],
            totals["errors"]
        ),
        (CHILDREN as u64 - 1, 0, 0),
        "the three other processes waited for the first"
    );
    let locked: bool = redis.exists(lock_key("cold", 21u64)).unwrap();
    assert!(!locked, "the lock is released");
}

// ---------------------------------------------------------------------------------------------
// The lock holder is killed mid-body: one of the others takes over once the lock expires.

const DOOMED_LOCK_TTL: Duration = Duration::from_secs(2);
const DOOMED_THREADS: usize = 4;

#[memoize(ttl = 60, backend = "redis", name = "doomed", lock_ttl = "2s")]
fn doomed(n: u64) -> u64 {
    let mut redis = client();
    let run: u64 = redis.incr("doomed:runs", 1).unwrap();
    if run == 1 {
        // The first run tells the test who holds the lock, and is killed here.
        let _: () = redis.set("doomed:holder", std::process::id()).unwrap();
        loop {
            std::thread::park();
        }
    }
    n + 1
}

#[test]
fn child_calls_doomed() {
    let Some(url) = child_url() else {
        return;
    };
    doomed_cache().configure(config(&url));
    let values: Vec<u64> = std::thread::scope(|scope| {
        let callers: Vec<_> = (0..DOOMED_THREADS)
            .map(|_| scope.spawn(|| doomed(1)))
            .collect();
        callers.into_iter().map(|c| c.join().unwrap()).collect()
    });
    assert_eq!(values, vec![2; DOOMED_THREADS]);
    report(&mut client(), "doomed:stats", doomed_cache().stats());
}

#[test]
fn a_killed_lock_holder_is_taken_over_by_one_process() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mut redis = server.client();
    let mut children = Children::spawn("child_calls_doomed", &server);
    let holder = || -> Option<u32> { server.client().get("doomed:holder").unwrap() };
    assert!(
        eventually(PATIENCE, || holder().is_some()),
        "a child runs the body"
    );
    let holder = holder().unwrap();
    assert!(
        eventually(PATIENCE, || claimants(&mut redis) >= CHILDREN),
        "every child claims the lock"
    );
    let position = children.0.iter().position(|child| child.id() == holder);
    let mut killed = children.0.remove(position.expect("the holder is a child"));
    killed.kill().unwrap();
    let _ = killed.wait();
    let kill_time = Instant::now();

    children.finish(kill_time + DOOMED_LOCK_TTL + Duration::from_secs(3));
    assert_eq!(
        count(&mut redis, "doomed:runs"),
        2,
        "the body ran once more"
    );
    let totals = totals(&mut redis, "doomed:stats");
    let survivors = (CHILDREN - 1) as u64;
    assert_eq!(
        (totals["lock_waits"], totals["lock_takeovers"]),
        (survivors, 1),
        "the survivors waited; one took over"
    );
    assert_eq!(
        (totals["hits"], totals["misses"]),
        (survivors * DOOMED_THREADS as u64 - 1, 1)
    );
}

// ---------------------------------------------------------------------------------------------
// A stale entry hit in four processes is refreshed by one of them.

const TTL_MS: i64 = 600_000;
const REFRESH_AFTER_MS: i64 = 30_000;

#[memoize(
    ttl = "10m",
    refresh = "background",
    refresh_after = "30s",
    backend = "redis",
    name = "stale"
)]
fn stale(n: u64) -> u64 {
    let mut redis = client();
    let run: u64 = redis.incr("stale:runs", 1).unwrap();
    if run > 1 {
        // A refresh: it lands only once every child has had its stale hit.
        eventually(PATIENCE, || {
            count(&mut redis, "stale:callers") >= CHILDREN as u64
        });
    }
    n * 3
}

#[test]
fn child_hits_stale() {
    let Some(url) = child_url() else {
        return;
    };
    stale_cache().configure(config(&url));
    assert_eq!(stale(5), 15, "a stale hit is served");
    let _: u64 = client().incr("stale:callers", 1).unwrap();
    let stats = || stale_cache().stats();
    assert!(
        eventually(PATIENCE, || {
            let s = stats();
            s.refreshes_skipped == 1 || s.refreshes_unchanged == 1
        }),
        "this process' refresh ran or was skipped: {:?}",
        stats()
    );
    report(&mut client(), "stale:stats", stats());
}

#[test]
fn a_stale_entry_hit_in_four_processes_is_refreshed_once() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    // The only parent test whose body runs here (the others run theirs in children).
    URL.set(server.url()).expect("set once");
    let mut redis = server.client();
    stale_cache().configure(config(&server.url()));
    assert_eq!(stale(5), 15);
    let key = redis_key("stale", 5u64);
    let made_stale: bool = redis
        .pexpire(&key, TTL_MS - REFRESH_AFTER_MS - 1_000)
        .unwrap();
    assert!(made_stale);

    Children::spawn("child_hits_stale", &server).finish(Instant::now() + Duration::from_secs(30));
    assert_eq!(
        count(&mut redis, "stale:runs"),
        2,
        "the miss here, and one refresh"
    );
    let totals = totals(&mut redis, "stale:stats");
    assert_eq!(
        (
            totals["refreshes_started"],
            totals["refreshes_unchanged"],
            totals["refreshes_skipped"]
        ),
        (1, 1, CHILDREN as u64 - 1)
    );
    let pttl: i64 = redis.pttl(&key).unwrap();
    assert!(
        pttl > TTL_MS - REFRESH_AFTER_MS,
        "the refresh renewed the age"
    );
}

// ---------------------------------------------------------------------------------------------
// Within one process: two functions with one `name` stand for two processes.

static LAYOUT_GATE: Gate = Gate::new();

#[memoize(ttl = 60, backend = "redis", name = "layout", lock_ttl = "5s")]
fn layout(n: u64) -> u64 {
    LAYOUT_GATE.pass();
    n
}

#[test]
fn the_lock_is_the_entry_key_with_a_lock_suffix_and_not_an_entry() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    layout_cache().configure(config(&server.url()));
    let mut redis = server.client();
    assert_eq!(layout(1), 1);
    let lock = lock_key("layout", 2u64);

    LAYOUT_GATE.set(false);
    let caller = std::thread::spawn(|| layout(2));
    assert!(eventually(PATIENCE, || redis.exists(&lock).unwrap()));
    let token: String = redis.get(&lock).unwrap();
    assert_eq!(token.len(), 32, "a random token: {token}");
    let pttl: i64 = redis.pttl(&lock).unwrap();
    assert!(
        (1..=5_000).contains(&pttl),
        "expires after lock_ttl: {pttl}"
    );
    assert_eq!(layout_cache().len(), Some(1), "a lock is not an entry");
    layout_cache().clear();
    let locked: bool = redis.exists(&lock).unwrap();
    assert!(
        !locked,
        "clear() deletes the locks: their holders will store nothing"
    );

    LAYOUT_GATE.set(true);
    assert_eq!(deadline::join("the caller", caller, PATIENCE), 2);
    // Released in the script of the write before the call returned: a process that exits right
    // after its call leaves no lock behind. The value itself is not stored: `clear()` ran while
    // it was computed, so it may predate what the clearing was for.
    assert_eq!(layout_cache().len(), Some(0));
    let locked: bool = redis.exists(&lock).unwrap();
    assert!(!locked, "released with the write, before the call returned");
    assert_eq!(layout(2), 2);
    assert_eq!(layout_cache().len(), Some(1), "stored by the next call");
}

#[memoize(ttl = 60, backend = "redis", name = "released", lock_ttl = "5s")]
async fn released(n: u64) -> u64 {
    n + 1
}

#[test]
fn an_async_holder_releases_with_its_write_before_returning() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    released_cache().configure(config(&server.url()));
    let mut redis = server.client();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for n in 0..20u64 {
        assert_eq!(runtime.block_on(released(n)), n + 1);
        let locked: bool = redis.exists(lock_key("released", n)).unwrap();
        assert!(!locked, "no lock left after call {n}");
        let stored: bool = redis.exists(redis_key("released", n)).unwrap();
        assert!(stored, "and the value is there");
    }
    assert_eq!(released_cache().stats().misses, 20);
}

static AWAITED_GATE: Gate = Gate::new();
static AWAITED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "awaited", lock_ttl = "5s")]
fn awaited_holder(n: u64) -> u64 {
    AWAITED_RUNS.fetch_add(1, Ordering::SeqCst);
    AWAITED_GATE.pass();
    n * 7
}

#[memoize(ttl = 60, backend = "redis", name = "awaited", lock_ttl = "5s")]
async fn awaited_waiter(n: u64) -> u64 {
    AWAITED_RUNS.fetch_add(1, Ordering::SeqCst);
    n * 7
}

#[test]
fn an_async_caller_awaits_another_process_lock_without_blocking_its_thread() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    awaited_holder_cache().configure(config(&server.url()));
    awaited_waiter_cache().configure(config(&server.url()));
    let mut redis = server.client();
    AWAITED_GATE.set(false);
    let holder = std::thread::spawn(|| awaited_holder(3));
    assert!(eventually(PATIENCE, || redis
        .exists(lock_key("awaited", 3u64))
        .unwrap()));

    // One thread, no timers: the gate opens only if the waiting task lets the other one run.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (value, ()) = runtime.block_on(async {
        let opener = async {
            let deadline = Instant::now() + PATIENCE;
            while awaited_waiter_cache().stats().lock_waits == 0 && Instant::now() < deadline {
                tokio::task::yield_now().await;
            }
            AWAITED_GATE.set(true);
        };
        tokio::join!(awaited_waiter(3), opener)
    });
    assert_eq!(value, 21);
    assert_eq!(deadline::join("the holder", holder, PATIENCE), 21);
    assert_eq!(AWAITED_RUNS.load(Ordering::SeqCst), 1, "the holder's value");
    let stats = awaited_waiter_cache().stats();
    assert_eq!(
        (
            stats.hits,
            stats.misses,
            stats.lock_waits,
            stats.lock_takeovers
        ),
        (1, 0, 1, 0)
    );
}

static FAILING_GATE: Gate = Gate::new();
static FAILING_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "failing", lock_ttl = "30s")]
fn failing_holder(n: u64) -> Result<u64, String> {
    FAILING_RUNS.fetch_add(1, Ordering::SeqCst);
    FAILING_GATE.pass();
    Err(format!("{n} is down"))
}

#[memoize(ttl = 60, backend = "redis", name = "failing", lock_ttl = "30s")]
fn failing_waiter(n: u64) -> Result<u64, String> {
    FAILING_RUNS.fetch_add(1, Ordering::SeqCst);
    Ok(n)
}

#[test]
fn an_uncached_err_releases_the_lock_to_a_waiter() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    failing_holder_cache().configure(config(&server.url()));
    failing_waiter_cache().configure(config(&server.url()));
    let mut redis = server.client();
    FAILING_GATE.set(false);
    let holder = std::thread::spawn(|| failing_holder(4));
    assert!(eventually(PATIENCE, || redis
        .exists(lock_key("failing", 4u64))
        .unwrap()));
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || sender.send(failing_waiter(4)).unwrap());
    assert!(eventually(PATIENCE, || {
        failing_waiter_cache().stats().lock_waits == 1
    }));

    FAILING_GATE.set(true);
    assert_eq!(
        deadline::join("the holder", holder, PATIENCE),
        Err("4 is down".into())
    );
    // Well before the 30 s lock would expire: the holder released it.
    assert_eq!(receiver.recv_timeout(PATIENCE), Ok(Ok(4)));
    assert_eq!(FAILING_RUNS.load(Ordering::SeqCst), 2);
    let stats = failing_waiter_cache().stats();
    assert_eq!(
        (stats.misses, stats.lock_waits, stats.lock_takeovers),
        (1, 1, 1)
    );
}

#[memoize(ttl = 60, backend = "redis", name = "refused", lock_ttl = "30s")]
fn refused(n: u64) -> Result<u64, String> {
    Err(format!("{n} refused"))
}

#[memoize(ttl = 60, backend = "redis", name = "refused_async", lock_ttl = "30s")]
async fn refused_async(n: u64) -> Result<u64, String> {
    Err(format!("{n} refused"))
}

#[test]
fn a_holder_with_nothing_to_store_releases_before_its_call_returns() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    refused_cache().configure(config(&server.url()));
    refused_async_cache().configure(config(&server.url()));
    let mut redis = server.client();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for n in 0..20u64 {
        assert!(refused(n).is_err());
        assert!(runtime.block_on(refused_async(n)).is_err());
        for name in ["refused", "refused_async"] {
            let locked: bool = redis.exists(lock_key(name, n)).unwrap();
            assert!(!locked, "{name}: no lock left after call {n}");
        }
    }
    assert_eq!(refused_cache().stats().misses, 20);
}

static OUTAGE_GATE: Gate = Gate::new();
static OUTAGE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "outage", lock_ttl = "30s")]
fn outage_holder(n: u64) -> u64 {
    OUTAGE_RUNS.fetch_add(1, Ordering::SeqCst);
    OUTAGE_GATE.pass();
    n + 1
}

#[memoize(ttl = 60, backend = "redis", name = "outage", lock_ttl = "30s")]
fn outage_waiter(n: u64) -> u64 {
    OUTAGE_RUNS.fetch_add(1, Ordering::SeqCst);
    n + 1
}

#[test]
fn redis_dying_during_a_lock_fails_open() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    let url = server.url();
    outage_holder_cache().configure(config(&url).timeout(Duration::from_millis(100)));
    outage_waiter_cache().configure(config(&url).timeout(Duration::from_millis(100)));
    let mut redis = server.client();
    OUTAGE_GATE.set(false);
    let holder = std::thread::spawn(|| outage_holder(1));
    assert!(eventually(PATIENCE, || redis
        .exists(lock_key("outage", 1u64))
        .unwrap()));
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || sender.send(outage_waiter(1)).unwrap());
    assert!(eventually(PATIENCE, || {
        outage_waiter_cache().stats().lock_waits == 1
    }));

    server.kill();
    // Well before the 30 s lock would expire: the waiter gives up on Redis and computes.
    assert_eq!(receiver.recv_timeout(PATIENCE), Ok(2));
    OUTAGE_GATE.set(true);
    // Its write and release are skipped: the connection (one per URL, so shared by the two
    // functions) cools down after the waiter's failure.
    assert_eq!(
        deadline::join("the holder", holder, PATIENCE),
        2,
        "the holder's value stands"
    );
    assert_eq!(OUTAGE_RUNS.load(Ordering::SeqCst), 2);
    let waiter = outage_waiter_cache().stats();
    assert_eq!((waiter.misses, waiter.lock_takeovers), (1, 0));
    assert!(waiter.errors >= 1, "{waiter:?}");
}

static UNREACHABLE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "unreachable")]
fn unreachable(n: u64) -> u64 {
    UNREACHABLE_RUNS.fetch_add(1, Ordering::SeqCst);
    n * 5
}

#[test]
fn an_unreachable_redis_fails_open_without_waiting() {
    // Nothing listens on a port just found free.
    let url = format!("redis://127.0.0.1:{}/", RedisServer::free_port());
    unreachable_cache().configure(config(&url).timeout(Duration::from_millis(100)));
    assert_eq!(unreachable(2), 10);
    assert_eq!(unreachable(2), 10);
    assert_eq!(UNREACHABLE_RUNS.load(Ordering::SeqCst), 2);
    let stats = unreachable_cache().stats();
    assert_eq!((stats.misses, stats.lock_waits), (2, 0));
    assert!(stats.errors >= 1);
}

const SAME_PROCESS_CALLERS: usize = 4;
static UNLOCKED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "unlocked", lock = "none")]
fn unlocked(n: u64) -> u64 {
    UNLOCKED_RUNS.fetch_add(1, Ordering::SeqCst);
    // Held until every caller is in the body: with any lock this waits in vain.
    eventually(PATIENCE, || {
        UNLOCKED_RUNS.load(Ordering::SeqCst) == SAME_PROCESS_CALLERS
    });
    n
}

#[test]
fn without_a_lock_concurrent_misses_each_run_the_body() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    unlocked_cache().configure(config(&server.url()));
    let values: Vec<u64> = std::thread::scope(|scope| {
        let callers: Vec<_> = (0..SAME_PROCESS_CALLERS)
            .map(|_| scope.spawn(|| unlocked(8)))
            .collect();
        callers.into_iter().map(|c| c.join().unwrap()).collect()
    });
    assert_eq!(values, vec![8; SAME_PROCESS_CALLERS]);
    assert_eq!(
        UNLOCKED_RUNS.load(Ordering::SeqCst),
        SAME_PROCESS_CALLERS,
        "every caller ran the body"
    );
    let stats = unlocked_cache().stats();
    assert_eq!(
        (stats.misses, stats.lock_waits),
        (SAME_PROCESS_CALLERS as u64, 0)
    );
}

static LOCAL_GATE: Gate = Gate::new();
static LOCAL_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "local", lock = "process")]
fn local_a(n: u64) -> u64 {
    LOCAL_RUNS.fetch_add(1, Ordering::SeqCst);
    LOCAL_GATE.pass();
    n
}

#[memoize(ttl = 60, backend = "redis", name = "local", lock = "process")]
fn local_b(n: u64) -> u64 {
    LOCAL_RUNS.fetch_add(1, Ordering::SeqCst);
    LOCAL_GATE.pass();
    n
}

#[test]
fn a_process_lock_runs_the_body_once_per_process() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    local_a_cache().configure(config(&server.url()));
    local_b_cache().configure(config(&server.url()));
    let mut redis = server.client();
    LOCAL_GATE.set(false);
    std::thread::scope(|scope| {
        let callers: Vec<_> = (0..SAME_PROCESS_CALLERS)
            .flat_map(|_| [scope.spawn(|| local_a(6)), scope.spawn(|| local_b(6))])
            .collect();
        // Both "processes" are in the body at once: neither waits for the other.
        assert!(eventually(PATIENCE, || LOCAL_RUNS.load(Ordering::SeqCst) == 2));
        let locked: bool = redis.exists(lock_key("local", 6u64)).unwrap();
        assert!(!locked, "no lock in Redis");
        LOCAL_GATE.set(true);
        for caller in callers {
            assert_eq!(caller.join().unwrap(), 6);
        }
    });
    assert_eq!(LOCAL_RUNS.load(Ordering::SeqCst), 2, "once per process");
    for stats in [local_a_cache().stats(), local_b_cache().stats()] {
        assert_eq!(
            (stats.hits, stats.misses, stats.lock_waits),
            (SAME_PROCESS_CALLERS as u64 - 1, 1, 0)
        );
    }
}

static DROPPED_RUNS: AtomicUsize = AtomicUsize::new(0);
static DROPPED_URL: OnceLock<String> = OnceLock::new();

/// Drops its own process' connection while it holds the lock: its write fails, and the
/// connection then cools down.
#[memoize(ttl = 60, backend = "redis", name = "dropped", lock_ttl = "30s")]
fn dropped(n: u64) -> u64 {
    DROPPED_RUNS.fetch_add(1, Ordering::SeqCst);
    let url = DROPPED_URL.get().expect("the test set it");
    let mut redis = redis::Client::open(url.as_str())
        .and_then(|client| client.get_connection())
        .unwrap();
    let killed: u64 = redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "normal", "SKIPME", "yes"][..])
        .query(&mut redis)
        .unwrap();
    assert!(killed >= 1, "the cache's connection was dropped");
    n
}

#[test]
fn a_holder_releases_its_lock_even_while_its_connection_cools_down() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    DROPPED_URL.set(server.url()).unwrap();
    dropped_cache().configure(config(&server.url()));
    assert_eq!(
        dropped(1),
        1,
        "the body's value, though nothing could be stored"
    );
    assert!(
        dropped_cache().stats().errors >= 1,
        "the failed write is counted"
    );
    let mut redis = server.client();
    // Without the release, the other processes would wait out the 30 s lock.
    assert!(
        eventually(PATIENCE, || !redis
            .exists::<_, bool>(lock_key("dropped", 1u64))
            .unwrap()),
        "the lock was released"
    );
    assert_eq!(DROPPED_RUNS.load(Ordering::SeqCst), 1);
}

#[memoize(ttl = 60, backend = "redis", name = "paused", lock_ttl = "30s")]
fn paused(n: u64) -> u64 {
    n
}

/// `paused` in another process.
#[memoize(ttl = 60, backend = "redis", name = "paused", lock_ttl = "30s")]
fn paused_elsewhere(n: u64) -> u64 {
    n
}

#[test]
fn a_claim_whose_reply_is_lost_releases_the_lock_it_may_have_taken() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    paused_cache().configure(config(&server.url()).timeout(Duration::from_millis(100)));
    paused_elsewhere_cache().configure(config(&server.url()));
    // A first miss loads the claim script, so the next claim is one `EVALSHA`.
    assert_eq!(paused(0), 0);
    let mut redis = server.client();
    // Reads go on; the claim (a script that writes) waits out the pause, long after its caller
    // gave up on the reply and ran the body.
    let _: () = redis::cmd("CLIENT")
        .arg(&["PAUSE", "500", "WRITE"][..])
        .query(&mut redis)
        .unwrap();
    assert_eq!(paused(1), 1);
    assert!(
        paused_cache().stats().errors >= 1,
        "the lost reply is counted"
    );
    // A write of our own returns once the pause is over and the claim has run.
    let _: () = redis.set("after-the-pause", 1).unwrap();
    // Another process missing the key must not wait out a lock that nobody holds (30 s).
    let started = Instant::now();
    assert_eq!(paused_elsewhere(1), 1);
    assert!(
        started.elapsed() < PATIENCE,
        "waited {:?} for an orphaned lock",
        started.elapsed()
    );
    assert!(
        eventually(PATIENCE, || !redis
            .exists::<_, bool>(lock_key("paused", 1u64))
            .unwrap()),
        "no lock is left behind"
    );
}

// ---------------------------------------------------------------------------------------------
// A lock another deployment (or an operator) left with a longer expiry than ours: a waiter waits
// its own `lock_ttl`, not the lock's, then takes it over.

/// What `redis-cli` stores as another deployment's lock: an expiry far beyond our `lock_ttl`.
const FOREIGN_PTTL_MS: &str = "30000";

/// Sets `key` to `value` through `redis-cli`, with `PX ttl_ms` if given, as an operator would.
fn redis_cli_set(server: &RedisServer, key: &str, value: &str, ttl_ms: Option<&str>) {
    let port = server.port().to_string();
    let mut args = vec!["-p", &port, "SET", key, value];
    args.extend(ttl_ms.map(|ttl| ["PX", ttl]).into_iter().flatten());
    let output = Command::new("redis-cli").args(&args).output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "OK",
        "redis-cli {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Runs `call` on a thread, and its value, or `None` if it is not back within `PATIENCE`.
fn within_patience<T: Send + 'static>(call: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(call());
    });
    receiver.recv_timeout(PATIENCE).ok()
}

static FOREIGN_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "foreign", lock_ttl = "1s")]
fn foreign(n: u64) -> u64 {
    FOREIGN_RUNS.fetch_add(1, Ordering::SeqCst);
    n * 11
}

#[test]
fn a_waiter_waits_its_own_lock_ttl_not_a_foreign_locks() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    foreign_cache().configure(config(&server.url()));
    let lock = lock_key("foreign", 3u64);
    redis_cli_set(&server, &lock, "another-deployment", Some(FOREIGN_PTTL_MS));

    // Waiting out the foreign lock would take 30 s.
    assert_eq!(within_patience(|| foreign(3)), Some(33));
    assert_eq!(FOREIGN_RUNS.load(Ordering::SeqCst), 1);
    let stats = foreign_cache().stats();
    assert_eq!(
        (
            stats.misses,
            stats.lock_waits,
            stats.lock_takeovers,
            stats.errors
        ),
        (1, 1, 1, 0)
    );
    let mut redis = server.client();
    let locked: bool = redis.exists(&lock).unwrap();
    assert!(!locked, "the lock taken over was released with the value");
    assert_eq!(foreign(3), 33);
    assert_eq!(FOREIGN_RUNS.load(Ordering::SeqCst), 1, "a hit");
}

/// Threads calling in each "process".
const CONTESTED_THREADS: usize = 3;
static CONTESTED_RUNS: AtomicUsize = AtomicUsize::new(0);

/// Three functions with one name stand for three processes.
#[memoize(ttl = 60, backend = "redis", name = "contested", lock_ttl = "1s")]
fn contested_a(n: u64) -> u64 {
    CONTESTED_RUNS.fetch_add(1, Ordering::SeqCst);
    n + 1
}

#[memoize(ttl = 60, backend = "redis", name = "contested", lock_ttl = "1s")]
fn contested_b(n: u64) -> u64 {
    CONTESTED_RUNS.fetch_add(1, Ordering::SeqCst);
    n + 1
}

#[memoize(ttl = 60, backend = "redis", name = "contested", lock_ttl = "1s")]
fn contested_c(n: u64) -> u64 {
    CONTESTED_RUNS.fetch_add(1, Ordering::SeqCst);
    n + 1
}

#[test]
fn waiters_of_a_foreign_lock_take_it_over_once() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let functions: [fn(u64) -> u64; 3] = [contested_a, contested_b, contested_c];
    contested_a_cache().configure(config(&server.url()));
    contested_b_cache().configure(config(&server.url()));
    contested_c_cache().configure(config(&server.url()));
    let lock = lock_key("contested", 5u64);
    redis_cli_set(&server, &lock, "another-deployment", Some(FOREIGN_PTTL_MS));

    let values = within_patience(move || {
        let barrier = Barrier::new(CONTESTED_THREADS * functions.len());
        std::thread::scope(|scope| {
            let callers: Vec<_> = functions
                .iter()
                .flat_map(|&f| std::iter::repeat_n(f, CONTESTED_THREADS))
                .map(|f| {
                    let barrier = &barrier;
                    scope.spawn(move || {
                        barrier.wait();
                        f(5)
                    })
                })
                .collect();
            callers
                .into_iter()
                .map(|c| c.join().unwrap())
                .collect::<Vec<_>>()
        })
    });
    assert_eq!(
        values,
        Some(vec![6; CONTESTED_THREADS * functions.len()]),
        "every caller gets the value, well before the foreign lock expires"
    );
    assert_eq!(CONTESTED_RUNS.load(Ordering::SeqCst), 1, "one takeover");
    let stats = [
        contested_a_cache().stats(),
        contested_b_cache().stats(),
        contested_c_cache().stats(),
    ];
    let total = |field: fn(&Stats) -> u64| stats.iter().map(field).sum::<u64>();
    assert_eq!(
        (
            total(|s| s.lock_waits),
            total(|s| s.lock_takeovers),
            total(|s| s.misses),
            total(|s| s.errors)
        ),
        (3, 1, 1, 0),
        "each \"process\" waited, one took over: {stats:?}"
    );
}

static UNENDING_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "unending", lock_ttl = "1s")]
async fn unending(n: u64) -> u64 {
    UNENDING_RUNS.fetch_add(1, Ordering::SeqCst);
    n * 2
}

#[test]
fn an_async_waiter_takes_over_a_foreign_lock_without_expiry() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    unending_cache().configure(config(&server.url()));
    let lock = lock_key("unending", 8u64);
    redis_cli_set(&server, &lock, "left-by-hand", None);
    let value = within_patience(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(unending(8))
    });
    assert_eq!(value, Some(16));
    assert_eq!(UNENDING_RUNS.load(Ordering::SeqCst), 1);
    let stats = unending_cache().stats();
    assert_eq!(
        (stats.lock_waits, stats.lock_takeovers, stats.errors),
        (1, 1, 0)
    );
    let locked: bool = server.client().exists(&lock).unwrap();
    assert!(!locked, "released with the value");
}

static EMPTY_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "empty_token", lock_ttl = "1s")]
fn empty_token(n: u64) -> u64 {
    EMPTY_RUNS.fetch_add(1, Ordering::SeqCst);
    n + 3
}

#[test]
fn a_foreign_lock_holding_the_empty_string_is_taken_over_too() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    empty_token_cache().configure(config(&server.url()));
    let lock = lock_key("empty_token", 1u64);
    redis_cli_set(&server, &lock, "", Some(FOREIGN_PTTL_MS));
    assert_eq!(within_patience(|| empty_token(1)), Some(4));
    assert_eq!(EMPTY_RUNS.load(Ordering::SeqCst), 1);
    let stats = empty_token_cache().stats();
    assert_eq!((stats.lock_waits, stats.lock_takeovers), (1, 1));
}

// ---------------------------------------------------------------------------------------------
// Scripts forgotten by Redis (a restart, `SCRIPT FLUSH`) are loaded again.

static FLUSHED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "flushed")]
fn flushed(n: u64) -> u64 {
    FLUSHED_RUNS.fetch_add(1, Ordering::SeqCst);
    n * 2
}

#[test]
fn scripts_flushed_from_redis_are_loaded_again() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    flushed_cache().configure(config(&server.url()));
    // Loads the claim and store-and-release scripts.
    assert_eq!(flushed(1), 2);
    let mut redis = server.client();
    let _: () = redis::cmd("SCRIPT").arg("FLUSH").query(&mut redis).unwrap();
    // The next miss claims and stores with scripts Redis no longer knows.
    assert_eq!(flushed(2), 4);
    assert_eq!(
        flushed_cache().stats().errors,
        0,
        "NOSCRIPT is not an error"
    );
    assert!(
        redis.exists::<_, bool>(redis_key("flushed", 2u64)).unwrap(),
        "the value was stored by the reloaded script"
    );
    assert!(
        !redis.exists::<_, bool>(lock_key("flushed", 2u64)).unwrap(),
        "and the lock released"
    );
    assert_eq!(flushed(2), 4);
    assert_eq!(
        FLUSHED_RUNS.load(Ordering::SeqCst),
        2,
        "the last call was a hit"
    );
}
