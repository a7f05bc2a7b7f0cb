//! Replies that retrying will not change (issue 11, point 4): a database that does not exist, a
//! missing or wrong password, a read-only replica. Redis answers every call the same way, so the
//! connection cools down as after a connection failure: calls run the body (misses, not errors)
//! and Redis is tried once per cool-down period, so errors and commands stay few however many
//! calls are made; and caching resumes by itself once the configuration is fixed.
//! And a value nested too deep to decode is a miss, not a stack overflow.
//!
//! Each test starts its own `redis-server`(s) (see `support/redis_server.rs`) and counts what the
//! server received with `CONFIG RESETSTAT` and `INFO commandstats`. The cool-down is on real time
//! ([`COOL_DOWN`], 1 s): each loop calls for about a second, and the tests that wait for the next
//! attempt poll for it with a deadline.

#[path = "support/redis_server.rs"]
mod redis_server;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cachemacro_runtime::key::{format_key, key_hash};
use cachemacro_runtime::redis::COOL_DOWN;
use cachemacro_runtime::{RedisConfig, memoize};
use redis::Commands;
use redis_server::{RedisServer, command_stats, eventually, reset_stats};

const NAMESPACE: &str = "errors";
/// How long each loop calls: about a million calls when they skip Redis, and time enough for
/// whatever one attempt sets off (the release of a refused claim, a reconnection) to land.
const LOOP: Duration = Duration::from_secs(1);
/// The most errors a loop may count: one attempt per cool-down period, each counting at most two
/// (a read and a write, or a claim and a write), and a loop spans at most two periods.
const MAX_ERRORS: u64 = 4;
/// The most commands a server may receive during a loop: a few per attempt (a connection's
/// handshake sends up to four; a replica gets a read, a claim and its release besides), and at
/// most two attempts.
const MAX_COMMANDS: u64 = 30;
/// Callers at once in the multi-threaded loop: each may be in the middle of an attempt when the
/// first of them fails, so the bounds on errors and commands are this many times the single
/// caller's.
const THREADS: usize = 4;
const PATIENCE: Duration = Duration::from_secs(10);

/// Calls `f` on a few keys for [`LOOP`], checking every value.
fn hammer(f: fn(u64) -> u64) {
    let started = Instant::now();
    let mut call = 0;
    while started.elapsed() < LOOP {
        let n = call % 16;
        assert_eq!(f(n), n * 2, "call {call}: the body's value");
        call += 1;
    }
}

/// [`hammer`] from `threads` threads at once.
fn hammer_on(threads: usize, f: fn(u64) -> u64) {
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| hammer(f));
        }
    });
}

/// The commands the server received since [`reset_stats`], executed or rejected (`NOAUTH`),
/// other than the observer's own `INFO` and `CONFIG`.
fn commands_received(observer: &mut redis::Connection) -> u64 {
    command_stats(observer)
        .into_iter()
        .filter(|(name, ..)| name != "info" && !name.starts_with("config|"))
        .map(|(_, calls, rejected)| calls + rejected)
        .sum()
}

fn config(url: &str) -> RedisConfig {
    RedisConfig::new().url(url).namespace(NAMESPACE)
}

static MISSING_DB_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "missing_db")]
fn missing_db(n: u64) -> u64 {
    MISSING_DB_RUNS.fetch_add(1, Ordering::SeqCst);
    n * 2
}

#[test]
fn a_database_that_does_not_exist_is_tried_once_per_cool_down() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mut observer = server.client();
    reset_stats(&mut observer);
    // `databases` is 16 by default: `SELECT 99` fails in every connection's handshake.
    let url = format!("redis://127.0.0.1:{}/99", server.port());
    missing_db_cache().configure(config(&url));

    hammer(missing_db);
    let stats = missing_db_cache().stats();
    assert!(
        (1..=MAX_ERRORS).contains(&stats.errors),
        "one error per attempt, not per call: {stats:?}"
    );
    assert_eq!(stats.hits, 0);
    assert_eq!(stats.misses, MISSING_DB_RUNS.load(Ordering::SeqCst) as u64);
    let received = commands_received(&mut observer);
    assert!(received <= MAX_COMMANDS, "{received} commands");

    // After the cool-down the next call tries Redis again, with a new connection (a handshake),
    // and fails once more.
    let errors = stats.errors;
    let tried_again = eventually(COOL_DOWN * 5, || {
        assert_eq!(missing_db(1), 2);
        missing_db_cache().stats().errors > errors
    });
    assert!(tried_again, "Redis is tried again after the cool-down");
    assert!(
        commands_received(&mut observer) > received,
        "the new attempt reached the server"
    );

    // Deleting and counting are tried even during a cool-down: each call one attempt, a failure
    // counted, and no retry loop.
    let (errors, received) = (
        missing_db_cache().stats().errors,
        commands_received(&mut observer),
    );
    assert!(!missing_db_invalidate(1));
    assert_eq!(missing_db_cache().len(), None);
    missing_db_cache().clear();
    assert_eq!(missing_db_cache().stats().errors, errors + 3);
    let more = commands_received(&mut observer) - received;
    assert!(more <= 3 * 4, "{more} commands for three explicit calls");
    hammer(missing_db);
    assert!(
        missing_db_cache().stats().errors <= errors + 3 + MAX_ERRORS,
        "{:?}",
        missing_db_cache().stats()
    );
}

#[memoize(ttl = 60, backend = "redis", name = "no_password")]
fn no_password(n: u64) -> u64 {
    n * 2
}

#[test]
fn a_server_that_wants_a_password_is_tried_once_per_cool_down() {
    let Some(server) = RedisServer::start_with_password(Some("s3cret")) else {
        return;
    };
    let mut observer = server.client();
    reset_stats(&mut observer);
    // The handshake sends no `AUTH`, so it succeeds; every command is refused with `NOAUTH`.
    no_password_cache().configure(config(&format!("redis://127.0.0.1:{}/", server.port())));
    hammer_on(THREADS, no_password);
    let stats = no_password_cache().stats();
    let max_errors = MAX_ERRORS * THREADS as u64;
    assert!((1..=max_errors).contains(&stats.errors), "{stats:?}");
    let received = commands_received(&mut observer);
    assert!(
        received <= MAX_COMMANDS * THREADS as u64,
        "{received} commands"
    );
}

#[memoize(ttl = 60, backend = "redis", name = "wrong_password")]
fn wrong_password(n: u64) -> u64 {
    n * 2
}

#[test]
fn a_wrong_password_is_tried_once_per_cool_down_until_it_is_right() {
    let Some(server) = RedisServer::start_with_password(Some("right")) else {
        return;
    };
    let mut observer = server.client();
    reset_stats(&mut observer);
    // The handshake's `AUTH` fails with `WRONGPASS`.
    wrong_password_cache().configure(config(&format!(
        "redis://:wrong@127.0.0.1:{}/",
        server.port()
    )));
    hammer(wrong_password);
    let stats = wrong_password_cache().stats();
    assert!((1..=MAX_ERRORS).contains(&stats.errors), "{stats:?}");
    let received = commands_received(&mut observer);
    assert!(received <= MAX_COMMANDS, "{received} commands");

    // The operator makes the function's password the right one: caching resumes by itself, on a
    // new connection.
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "requirepass", "wrong"][..])
        .query(&mut observer)
        .unwrap();
    let resumed = eventually(PATIENCE, || {
        assert_eq!(wrong_password(100), 200);
        wrong_password_cache().stats().hits > 0
    });
    assert!(resumed, "{:?}", wrong_password_cache().stats());
}

#[memoize(ttl = 60, backend = "redis", name = "replica")]
fn on_a_replica(n: u64) -> u64 {
    n * 2
}

#[test]
fn a_read_only_replica_is_tried_once_per_cool_down_until_it_is_promoted() {
    // Without a delay the primary syncs its replica at once, so the test need not wait 5 s for
    // a stable replica.
    let primary_args = ["--repl-diskless-sync-delay", "0"].map(String::from);
    let Some(primary) = RedisServer::start_with(None, &primary_args) else {
        return;
    };
    let replica_args = ["--replicaof", "127.0.0.1", &primary.port().to_string()].map(String::from);
    let replica = RedisServer::start_with(None, &replica_args).expect("a second redis-server");
    let mut observer = replica.client();
    let synced = eventually(PATIENCE, || {
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query(&mut observer)
            .unwrap();
        info.contains("master_link_status:up")
    });
    assert!(synced, "the replica follows its primary");
    reset_stats(&mut observer);
    // Reads succeed (every key is missing); the claim and the write fail with `READONLY`.
    on_a_replica_cache().configure(config(&replica.url()));
    hammer(on_a_replica);
    let stats = on_a_replica_cache().stats();
    assert!((1..=MAX_ERRORS).contains(&stats.errors), "{stats:?}");
    let received = commands_received(&mut observer);
    assert!(received <= MAX_COMMANDS, "{received} commands");

    // Promoted to a primary, it takes writes: caching resumes by itself.
    let _: () = redis::cmd("REPLICAOF")
        .arg(&["NO", "ONE"][..])
        .query(&mut observer)
        .unwrap();
    let resumed = eventually(PATIENCE, || {
        assert_eq!(on_a_replica(100), 200);
        on_a_replica_cache().stats().hits > 0
    });
    assert!(resumed, "{:?}", on_a_replica_cache().stats());
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Node {
    children: Vec<Node>,
}

static TREE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis", name = "tree")]
fn tree(n: u64) -> Node {
    TREE_RUNS.fetch_add(1, Ordering::SeqCst);
    Node {
        children: vec![Node { children: vec![] }; n as usize],
    }
}

/// A value nested a million levels deep, written by anyone who can write to Redis, once
/// overflowed the stack of every reader that decoded it (postcard and serde recurse once per
/// level) and aborted the process: it is an unreadable value now, a miss that runs the body.
#[test]
fn a_value_nested_a_million_levels_deep_is_a_miss_not_a_crash() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    tree_cache().configure(config(&server.url()));
    let mut redis = server.client();
    let key = format!("{NAMESPACE}:{}", format_key("tree", 0, key_hash(&2u64)));
    let expected = tree(2);
    // A real entry's 19-byte header (magic, format, type tag, expiry), then a million nodes,
    // each a `Vec` of one node (`1`), and the last one's empty `Vec` (`0`).
    let mut poisoned: Vec<u8> = redis.get(&key).unwrap();
    assert_eq!(&poisoned[..3], b"cm\x02", "envelope format 2");
    poisoned.truncate(19);
    poisoned.extend(std::iter::repeat_n(1u8, 1_000_000));
    poisoned.push(0);
    let _: () = redis.set(&key, poisoned).unwrap();

    let (runs, errors) = (
        TREE_RUNS.load(Ordering::SeqCst),
        tree_cache().stats().errors,
    );
    // On this test's thread (2 MiB of stack, as a tokio worker's).
    assert_eq!(tree(2), expected);
    assert_eq!(TREE_RUNS.load(Ordering::SeqCst), runs + 1, "a miss");
    assert_eq!(
        tree_cache().stats().errors,
        errors + 1,
        "an unreadable value"
    );
    assert_eq!(tree(2), expected);
    assert_eq!(
        TREE_RUNS.load(Ordering::SeqCst),
        runs + 1,
        "overwritten, then a hit"
    );
}
