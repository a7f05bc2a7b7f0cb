//! The near tier (`near = N`) against real `redis-server`s: near hits send nothing to Redis, and
//! every change of a key in Redis (by hand, or by another cache instance standing in for another
//! process) drops it from the tier; while the tracking connection is down nothing is served near.
//!
//! Each test starts its own server and its own functions. Two functions with the same `name`
//! share their entries, as two processes running one function do.

#[path = "support/redis_server.rs"]
mod redis_server;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cachemacro_runtime::key::{format_key, key_hash};
use cachemacro_runtime::{RedisConfig, memoize};
use redis::Commands;
use redis_server::{RedisServer, eventually, tracking_clients};

const NAMESPACE: &str = "near";
const DEADLINE: Duration = Duration::from_secs(5);

fn config(server: &RedisServer) -> RedisConfig {
    RedisConfig::new().url(server.url()).namespace(NAMESPACE)
}

fn redis_key(name: &str, arg: u64) -> String {
    format!("{NAMESPACE}:{}", format_key(name, 0, key_hash(&arg)))
}

/// How many times the server ran `command` (`INFO commandstats`), asked on `admin`.
fn calls(admin: &mut redis::Connection, command: &str) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(admin)
        .expect("INFO answers");
    let prefix = format!("cmdstat_{command}:calls=");
    info.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |count| count.parse().expect("a count"))
}

fn client_list(admin: &mut redis::Connection) -> String {
    redis::cmd("CLIENT")
        .arg("LIST")
        .query(admin)
        .expect("CLIENT LIST answers")
}

/// The id of the connection tracking keys for the near tier (`CLIENT LIST` flag `t`), if any.
fn tracking_client(admin: &mut redis::Connection) -> Option<u64> {
    tracking_clients(admin).first().copied()
}

// --- a near hit sends no command ---

static QUIET_RUNS: AtomicU64 = AtomicU64::new(0);

#[memoize(ttl = 60, backend = "redis", near = 100, name = "near::quiet")]
fn quiet(id: u64) -> u64 {
    QUIET_RUNS.fetch_add(1, Ordering::SeqCst);
    id * 10
}

#[test]
fn a_near_hit_sends_no_command() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    quiet_cache().configure(config(&server));
    assert_eq!(quiet(4), 40);
    // The entry enters the tier once tracking is up (and once this process' own write has been
    // announced back to it).
    assert!(
        eventually(DEADLINE, || {
            let before = quiet_cache().stats().near_hits;
            quiet(4);
            quiet_cache().stats().near_hits > before
        }),
        "calls become near hits"
    );
    let mut admin = server.client();
    let (gets, stats) = (calls(&mut admin, "get"), quiet_cache().stats());
    for _ in 0..100 {
        assert_eq!(quiet(4), 40);
    }
    let after = quiet_cache().stats();
    assert_eq!(calls(&mut admin, "get"), gets, "no GET for near hits");
    assert_eq!(after.near_hits - stats.near_hits, 100);
    assert_eq!(after.hits - stats.hits, 100, "near hits are hits");
    assert_eq!(QUIET_RUNS.load(Ordering::SeqCst), 1);
}

// --- changes in Redis drop near entries ---

/// The "database" behind `profile`: what a recomputation returns.
static PROFILE_DB: AtomicU64 = AtomicU64::new(1);

#[memoize(ttl = 60, backend = "redis", near = 100, name = "near::profile")]
fn profile(id: u64) -> u64 {
    PROFILE_DB.load(Ordering::SeqCst) * 1000 + id
}

/// The same function in "another process": same name, same entries, no near tier.
#[memoize(ttl = 60, backend = "redis", name = "near::profile")]
fn profile_elsewhere(id: u64) -> u64 {
    PROFILE_DB.load(Ordering::SeqCst) * 1000 + id
}

/// Waits until `profile(id)` is a near hit returning `expected`.
fn near_hit(id: u64, expected: u64) -> bool {
    eventually(DEADLINE, || {
        let before = profile_cache().stats().near_hits;
        profile(id) == expected && profile_cache().stats().near_hits > before
    })
}

#[test]
fn changes_anywhere_drop_near_entries() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    profile_cache().configure(config(&server));
    profile_elsewhere_cache().configure(config(&server));
    let key = redis_key("near::profile", 7);

    assert!(near_hit(7, 1007));
    // Another process stores a new value (`f_refresh`): this one sees it.
    PROFILE_DB.store(2, Ordering::SeqCst);
    assert_eq!(profile_elsewhere_refresh(7), 2007);
    assert!(
        eventually(DEADLINE, || profile(7) == 2007),
        "another process' write seen"
    );
    assert!(near_hit(7, 2007));

    // Another process invalidates: this one recomputes.
    PROFILE_DB.store(3, Ordering::SeqCst);
    assert!(profile_elsewhere_invalidate(7));
    assert!(
        eventually(DEADLINE, || profile(7) == 3007),
        "another process' invalidation seen"
    );
    assert!(near_hit(7, 3007));

    // By hand: DEL.
    PROFILE_DB.store(4, Ordering::SeqCst);
    let _: () = server.client().del(&key).expect("DEL");
    assert!(
        eventually(DEADLINE, || profile(7) == 4007),
        "redis-cli DEL seen"
    );
    assert!(near_hit(7, 4007));

    // By hand: SET of another stored value (copied from another key).
    assert_eq!(profile(8), 4008);
    let other: Vec<u8> = server
        .client()
        .get(redis_key("near::profile", 8))
        .expect("GET");
    let _: () = server.client().set(&key, other).expect("SET");
    assert!(
        eventually(DEADLINE, || profile(7) == 4008),
        "redis-cli SET seen"
    );

    // This process' own invalidation drops its entry before returning.
    assert!(near_hit(7, 4008));
    PROFILE_DB.store(5, Ordering::SeqCst);
    assert!(profile_invalidate(7));
    assert_eq!(profile(7), 5007, "no near entry after f_invalidate returns");

    // And `clear()`.
    assert!(near_hit(7, 5007));
    PROFILE_DB.store(6, Ordering::SeqCst);
    profile_cache().clear();
    assert_eq!(profile(7), 6007, "no near entry after clear returns");
}

// --- the tracking connection down ---

static TRACKED_RUNS: AtomicU64 = AtomicU64::new(0);

#[memoize(ttl = 60, backend = "redis", near = 100, name = "near::tracked")]
fn tracked(id: u64) -> u64 {
    TRACKED_RUNS.fetch_add(1, Ordering::SeqCst);
    id
}

fn is_near_hit(id: u64) -> bool {
    let before = tracked_cache().stats().near_hits;
    tracked(id);
    tracked_cache().stats().near_hits > before
}

#[test]
fn nothing_is_served_near_while_tracking_is_down() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    tracked_cache().configure(config(&server));
    tracked(1);
    assert!(eventually(DEADLINE, || is_near_hit(1)));
    let mut admin = server.client();
    let id = tracking_client(&mut admin).expect("a tracking connection");

    // Keep it from coming back: no connection beyond those open now, less the one killed.
    let connected = client_list(&mut admin).lines().count();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxclients")
        .arg(connected - 1)
        .query(&mut admin)
        .expect("CONFIG SET maxclients");
    let _: () = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(id)
        .query(&mut admin)
        .expect("CLIENT KILL");
    assert!(
        eventually(DEADLINE, || !is_near_hit(1)),
        "the tier stops serving once the connection is gone"
    );
    let gets = calls(&mut admin, "get");
    for _ in 0..20 {
        assert!(!is_near_hit(1), "no near hit while tracking is down");
    }
    assert_eq!(
        calls(&mut admin, "get"),
        gets + 20,
        "every call asked Redis"
    );
    assert_eq!(tracking_client(&mut admin), None, "still down");

    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxclients")
        .arg(10_000)
        .query(&mut admin)
        .expect("CONFIG SET maxclients");
    assert!(
        eventually(DEADLINE, || tracking_client(&mut admin)
            .is_some_and(|new| new != id)),
        "tracking comes back"
    );
    // Back: the tier starts empty, so the first call after it asks Redis.
    assert!(
        eventually(DEADLINE, || is_near_hit(1)),
        "near hits resume after reconnecting"
    );
    assert_eq!(TRACKED_RUNS.load(Ordering::SeqCst), 1);
}

// --- async functions ---

static ASYNC_RUNS: AtomicU64 = AtomicU64::new(0);

#[memoize(ttl = 60, backend = "redis", near = 10, name = "near::fetched")]
async fn fetched(id: u64) -> u64 {
    ASYNC_RUNS.fetch_add(1, Ordering::SeqCst);
    id + 1
}

#[test]
fn async_calls_hit_the_near_tier() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    fetched_cache().configure(config(&server));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    assert!(
        eventually(DEADLINE, || {
            let before = fetched_cache().stats().near_hits;
            runtime.block_on(fetched(2)) == 3 && fetched_cache().stats().near_hits > before
        }),
        "async calls become near hits"
    );
    assert_eq!(ASYNC_RUNS.load(Ordering::SeqCst), 1);
}

// --- a server that refuses tracking is asked again ever more rarely ---

#[memoize(ttl = 60, backend = "redis", near = 10, name = "near::refused")]
fn refused(id: u64) -> u64 {
    id * 10
}

/// Connections the server has accepted so far (`INFO stats`).
fn connections_received(admin: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query(admin)
        .expect("INFO answers");
    info.lines()
        .find_map(|line| line.strip_prefix("total_connections_received:"))
        .map(|count| count.trim().parse().expect("a count"))
        .expect("total_connections_received")
}

#[test]
fn a_refused_client_tracking_is_tried_again_with_growing_pauses() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let mut admin = server.client();
    // A user who may do anything but turn tracking on.
    let _: () = redis::cmd("ACL")
        .arg(&[
            "SETUSER",
            "cache",
            "on",
            ">pw",
            "~*",
            "+@all",
            "-client|tracking",
        ])
        .query(&mut admin)
        .expect("ACL SETUSER");
    let url = format!("redis://cache:pw@127.0.0.1:{}/", server.port());
    refused_cache().configure(RedisConfig::new().url(url).namespace(NAMESPACE));
    assert_eq!(refused(1), 10, "calls are served from Redis all the same");
    let before = connections_received(&mut admin);
    // Watched for 3 s: 100 ms pauses would make about 30 attempts (each a new connection);
    // pauses doubling from 100 ms, 5.
    std::thread::sleep(Duration::from_secs(3));
    let attempts = connections_received(&mut admin) - before;
    assert!(attempts <= 8, "{attempts} tracking connections in 3 s");
    assert_eq!(refused(1), 10);
    assert_eq!(refused_cache().stats().near_hits, 0, "nothing served near");
}
