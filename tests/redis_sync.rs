//! A sync caller's Redis lookup on its own thread (issue 13): the `GET` goes out on a blocking
//! connection from a small per-URL pool, not through the backend's runtime, and keeps the async
//! path's guarantees: one `GET` per hit, no second `GET` on a miss, the per-operation timeout,
//! fail-open with one attempt per cool-down, and a pool that drops dead connections.
//!
//! Each test starts its own `redis-server` (see `support/redis_server.rs`). Which connection
//! served the calls is read from `CLIENT LIST`, whose `cmd=` is each client's last command: the
//! multiplexed connection's stays the miss' `SET` while the hits' `GET`s go out on another.

#[path = "support/deadline.rs"]
mod deadline;
#[path = "support/redis_server.rs"]
mod redis_server;

use std::sync::Barrier;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cachemacro_runtime::redis::COOL_DOWN;
use cachemacro_runtime::{RedisConfig, memoize};
use redis_server::{RedisServer, command_stats, eventually, reset_stats};

const NAMESPACE: &str = "sync";
const PATIENCE: Duration = Duration::from_secs(15);

fn config(server: &RedisServer) -> RedisConfig {
    RedisConfig::new().url(server.url()).namespace(NAMESPACE)
}

fn runs(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

/// Calls per command since [`reset_stats`] (`get`, `set`, `evalsha`...), without the
/// observer's own `INFO`, `CONFIG` and `CLIENT`.
fn commands(observer: &mut redis::Connection) -> Vec<(String, u64)> {
    command_stats(observer)
        .into_iter()
        .filter(|(name, ..)| !["info", "config|resetstat", "client|list"].contains(&name.as_str()))
        .map(|(name, calls, _)| (name, calls))
        .collect()
}

/// Each other client's last command, from `CLIENT LIST`, sorted.
fn last_commands(observer: &mut redis::Connection) -> Vec<String> {
    let list: String = redis::cmd("CLIENT").arg("LIST").query(observer).unwrap();
    let mut last: Vec<String> = list
        .lines()
        .filter_map(|line| {
            line.split(' ')
                .find_map(|field| field.strip_prefix("cmd="))
                .map(str::to_owned)
        })
        .filter(|command| command != "client|list")
        .collect();
    last.sort();
    last
}

/// The established TCP connections of this machine to `port` on loopback, client side: this
/// process' connections to its test server, which other tests' servers do not share.
fn connections_to(port: u16) -> usize {
    let table = std::fs::read_to_string("/proc/net/tcp").expect("Linux' TCP table");
    let remote = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(2) == Some(&remote.as_str()) && fields.get(3) == Some(&"01")
        })
        .count()
}

static PROCESS_LOCKED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "process_locked", lock = "process")]
fn process_locked(n: u64) -> Vec<u64> {
    PROCESS_LOCKED_RUNS.fetch_add(1, Ordering::SeqCst);
    vec![n; 4]
}

#[test]
fn a_sync_hit_is_one_get_on_a_blocking_connection() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mut observer = server.client();
    process_locked_cache().configure(config(&server));
    assert_eq!(process_locked(7), vec![7; 4]);
    assert_eq!(runs(&PROCESS_LOCKED_RUNS), 1);

    reset_stats(&mut observer);
    for _ in 0..50 {
        assert_eq!(process_locked(7), vec![7; 4]);
    }
    assert_eq!(runs(&PROCESS_LOCKED_RUNS), 1, "every call was a hit");
    let stats = process_locked_cache().stats();
    assert_eq!((stats.hits, stats.misses, stats.errors), (50, 1, 0));
    assert_eq!(
        commands(&mut observer),
        [("get".to_owned(), 50)],
        "one GET per hit, nothing else"
    );
    // The miss wrote its value (a script: see `a_miss_is_one_get_then_the_write`) on the
    // multiplexed connection, which the hits left alone.
    assert_eq!(last_commands(&mut observer), ["evalsha", "get"]);

    // A miss: one `GET`, then the write; no second lookup.
    reset_stats(&mut observer);
    assert_eq!(process_locked(8), vec![8; 4]);
    let mut sent = commands(&mut observer);
    sent.sort();
    // Redis counts the commands a script runs too: the write is one `EVALSHA`, which reads the
    // time and the two invalidation marks (`GET`s) and runs the `SET`. So the lookup's `GET` is
    // the one left.
    let sent: Vec<(&str, u64)> = sent.iter().map(|(name, n)| (name.as_str(), *n)).collect();
    assert_eq!(sent, [("evalsha", 1), ("get", 3), ("set", 1), ("time", 1)]);
}

static IDLE_CLOSED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "idle_closed", lock = "process")]
fn idle_closed(n: u64) -> u64 {
    IDLE_CLOSED_RUNS.fetch_add(1, Ordering::SeqCst);
    n + 1
}

#[test]
fn a_connection_the_server_closed_while_idle_is_replaced_without_a_cool_down() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mut observer = server.client();
    idle_closed_cache().configure(config(&server));
    assert_eq!(idle_closed(1), 2);
    assert_eq!(
        idle_closed(1),
        2,
        "a hit, on a blocking connection now idle in the pool"
    );
    // The server closes its clients' connections, as its `timeout` setting or a proxy would.
    let _: () = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .arg("SKIPME")
        .arg("yes")
        .query(&mut observer)
        .unwrap();
    assert_eq!(idle_closed(1), 2);
    assert_eq!(runs(&IDLE_CLOSED_RUNS), 1, "a hit, on a new connection");
    let stats = idle_closed_cache().stats();
    assert_eq!(
        (stats.hits, stats.errors),
        (2, 0),
        "no failure, so no cool-down"
    );
    assert_eq!(idle_closed(1), 2);
    assert_eq!(runs(&IDLE_CLOSED_RUNS), 1);
}

static REDIS_LOCKED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "redis_locked")]
fn redis_locked(n: u64) -> u64 {
    REDIS_LOCKED_RUNS.fetch_add(1, Ordering::SeqCst);
    n * 5
}

/// [`redis_locked`] as an async function: its lookup never takes the blocking path.
#[memoize(ttl = 60, backend = "redis", name = "redis_locked_async")]
async fn redis_locked_async(n: u64) -> u64 {
    n * 5
}

#[test]
fn a_sync_miss_sends_what_an_async_miss_sends() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mut observer = server.client();
    redis_locked_cache().configure(config(&server));
    redis_locked_async_cache().configure(config(&server));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // The first calls' connections come up (and load the scripts) before counting.
    assert_eq!(redis_locked(0), 0);
    assert_eq!(runtime.block_on(redis_locked_async(0)), 0);

    reset_stats(&mut observer);
    assert_eq!(runtime.block_on(redis_locked_async(1)), 5);
    let mut async_miss = commands(&mut observer);
    reset_stats(&mut observer);
    assert_eq!(redis_locked(1), 5);
    assert_eq!(runs(&REDIS_LOCKED_RUNS), 2);
    let mut sync_miss = commands(&mut observer);
    async_miss.sort();
    sync_miss.sort();
    // A `GET`, the claim script, the write that releases the lock (with the commands the
    // scripts run), and nothing more: no second `GET`.
    assert!(async_miss.iter().any(|(name, _)| name == "evalsha"));
    assert_eq!(sync_miss, async_miss);
    // Released with the write: the next call is a hit.
    assert_eq!(redis_locked(1), 5);
    assert_eq!(runs(&REDIS_LOCKED_RUNS), 2, "then a hit");
}

static FROZEN_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "frozen_sync")]
fn frozen_sync(n: u64) -> u64 {
    FROZEN_RUNS.fetch_add(1, Ordering::SeqCst);
    n + 1000
}

#[test]
fn a_frozen_redis_costs_a_sync_caller_one_timeout_per_cool_down() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let timeout = Duration::from_millis(100);
    frozen_sync_cache().configure(config(&server).timeout(timeout));
    assert_eq!(frozen_sync(1), 1001);
    assert_eq!(frozen_sync(1), 1001);
    assert_eq!(runs(&FROZEN_RUNS), 1);

    server.freeze();
    // The idle blocking connection times out on the GET: the body runs (fail open).
    let value = deadline::within("a call to a frozen Redis", timeout + COOL_DOWN, || {
        frozen_sync(1)
    });
    assert_eq!(value, 1001);
    assert_eq!(runs(&FROZEN_RUNS), 2);
    assert_eq!(frozen_sync_cache().stats().errors, 1);
    // During the cool-down Redis is not tried: any attempt on the frozen server would time out
    // and count an error.
    let values = deadline::within("calls during the cool-down", COOL_DOWN, || {
        (2..7).map(frozen_sync).collect::<Vec<_>>()
    });
    assert_eq!(values, [1002, 1003, 1004, 1005, 1006]);
    assert_eq!(runs(&FROZEN_RUNS), 7);
    assert_eq!(frozen_sync_cache().stats().errors, 1);

    server.thaw();
    let resumed = eventually(PATIENCE, || {
        let hits = frozen_sync_cache().stats().hits;
        assert_eq!(frozen_sync(1), 1001);
        frozen_sync_cache().stats().hits > hits
    });
    assert!(resumed, "caching resumes once Redis answers again");
}

static RESTARTED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "restarted", lock = "process")]
fn restarted(n: u64) -> u64 {
    RESTARTED_RUNS.fetch_add(1, Ordering::SeqCst);
    n * 3
}

/// Callers at once, each on its own key, all waiting for a frozen server: the pool's limit.
const CALLERS: usize = 8;

#[test]
fn a_restarted_redis_costs_one_attempt_however_many_connections_died() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    // Long enough for the callers to wait out the freeze below.
    restarted_cache().configure(config(&server).timeout(PATIENCE));
    for n in 0..CALLERS as u64 {
        assert_eq!(restarted(n), n * 3);
    }
    let before = connections_to(server.port());

    // Every caller takes a blocking connection (the idle one, or a new one) and waits.
    server.freeze();
    let start = Barrier::new(CALLERS);
    std::thread::scope(|scope| {
        let callers: Vec<_> = (0..CALLERS as u64)
            .map(|n| {
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    restarted(n)
                })
            })
            .collect();
        let all_waiting = eventually(PATIENCE, || {
            connections_to(server.port()) == before + CALLERS - 1
        });
        server.thaw();
        assert!(all_waiting, "{CALLERS} blocking connections");
        for (n, caller) in callers.into_iter().enumerate() {
            assert_eq!(caller.join().unwrap(), n as u64 * 3);
        }
    });
    assert_eq!(restarted_cache().stats().hits, CALLERS as u64);
    let connections = connections_to(server.port());
    assert_eq!(connections, before + CALLERS - 1, "all kept idle");

    // Every idle connection dies with the server.
    server.restart();
    let errors = restarted_cache().stats().errors;
    let resumed = eventually(PATIENCE, || {
        let hits = restarted_cache().stats().hits;
        assert_eq!(restarted(100), 300);
        assert_eq!(restarted(100), 300);
        restarted_cache().stats().hits > hits
    });
    assert!(resumed, "caching resumes on the restarted server");
    let more = restarted_cache().stats().errors - errors;
    // The first dead connection's failure empties the pool; the multiplexed connection's first
    // write may fail once too.
    assert!(
        more <= 2,
        "{more} errors: one per dead connection would be {CALLERS}"
    );
    let mut observer = server.client();
    assert_eq!(
        last_commands(&mut observer),
        ["evalsha", "get"],
        "the fast path"
    );
}
