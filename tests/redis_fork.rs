//! A process forked after it used Redis-backed functions, against a real `redis-server`: the
//! child's calls complete (on a runtime, connections and a near tier's tracker of its own, not
//! the parent's, whose threads it does not have), they store and read entries that the parent
//! then finds, and the child's near tier serves nothing that its own tracker does not watch. The
//! background refresh pool is the child's own too.
//!
//! A child that hangs is killed by `SIGALRM` after [`CHILD_LIMIT`], which fails the test. Its own
//! binary, so that no other test's threads are running when it forks.
#![cfg(target_os = "linux")]

#[path = "support/fork.rs"]
mod fork;
#[path = "support/redis_server.rs"]
mod redis_server;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cachemacro_runtime::key::{format_key, key_hash};
use cachemacro_runtime::refresh::{RefreshConfig, configure};
use cachemacro_runtime::{RedisConfig, clock, memoize};
use redis_server::{RedisServer, eventually, tracking_clients};

const NAMESPACE: &str = "fork";
const DEADLINE: Duration = Duration::from_secs(10);
/// Seconds after which a child still running is killed (`alarm`).
const CHILD_LIMIT: u32 = 60;

static SYNC_RUNS: AtomicU64 = AtomicU64::new(0);
static ASYNC_RUNS: AtomicU64 = AtomicU64::new(0);
static NEAR_RUNS: AtomicU64 = AtomicU64::new(0);

#[memoize(ttl = 60, backend = "redis", name = "fork::sync")]
fn sync_value(id: u64) -> u64 {
    SYNC_RUNS.fetch_add(1, Ordering::SeqCst);
    id * 10
}

static REDIS_REFRESH_RUNS: AtomicU64 = AtomicU64::new(0);

/// Refreshed in the background under the lock in Redis, which the refresh releases from a task
/// spawned on the backend's runtime. Stale after 200 ms of real time (Redis' `PTTL`).
#[memoize(
    ttl = 60,
    backend = "redis",
    name = "fork::refreshed",
    refresh = "background",
    refresh_after = "200ms",
    lock_ttl = 60
)]
fn redis_refreshed(id: u64) -> u64 {
    REDIS_REFRESH_RUNS.fetch_add(1, Ordering::SeqCst);
    id
}

#[memoize(ttl = 60, backend = "redis", name = "fork::async")]
async fn async_value(id: u64) -> u64 {
    ASYNC_RUNS.fetch_add(1, Ordering::SeqCst);
    id * 100
}

/// Its `ttl` outlasts the test's clock advances (the refresh checks move the paused clock).
#[memoize(ttl = 3600, backend = "redis", near = 100, name = "fork::near")]
fn near_value(id: u64) -> u64 {
    NEAR_RUNS.fetch_add(1, Ordering::SeqCst);
    id + 1000
}

static REFRESH_RUNS: AtomicU64 = AtomicU64::new(0);

/// In process, refreshed in the background by the sync pool (one worker: see the test).
#[memoize(ttl = "10m", refresh = "background", refresh_after = "30s")]
fn refreshed(id: u64) -> u64 {
    REFRESH_RUNS.fetch_add(1, Ordering::SeqCst);
    id
}

/// Serves `refreshed(1)` stale and waits for its refresh to run.
fn refresh_runs() -> bool {
    let before = REFRESH_RUNS.load(Ordering::SeqCst);
    clock::advance(Duration::from_secs(31));
    refreshed(1);
    eventually(DEADLINE, || REFRESH_RUNS.load(Ordering::SeqCst) > before)
}

static ASYNC_REFRESH_RUNS: AtomicU64 = AtomicU64::new(0);

/// In process, refreshed in the background by the async pool (one task at a time: see the
/// test). Its second run, the parent's refresh, never ends, so that the parent's one permit is
/// still held when it forks.
#[memoize(ttl = "10m", refresh = "background", refresh_after = "30s")]
async fn refreshed_async(id: u64) -> u64 {
    if ASYNC_REFRESH_RUNS.fetch_add(1, Ordering::SeqCst) == 1 {
        std::future::pending::<()>().await;
    }
    id
}

/// Drives `runtime` until `refreshed_async` has run `runs` times in all, for at most `DEADLINE`.
fn async_refresh_reaches(runtime: &tokio::runtime::Runtime, runs: u64) -> bool {
    runtime.block_on(async {
        let reached = async {
            while ASYNC_REFRESH_RUNS.load(Ordering::SeqCst) < runs {
                tokio::task::yield_now().await;
            }
        };
        tokio::time::timeout(DEADLINE, reached).await.is_ok()
    })
}

fn is_near_hit(id: u64) -> bool {
    let before = near_value_cache().stats().near_hits;
    near_value(id);
    near_value_cache().stats().near_hits > before
}

/// Deletes `near_value(id)`'s entry in Redis on `admin`, as another process would change it.
fn delete_near_entry(admin: &mut redis::Connection, id: u64) {
    let key = format!("{NAMESPACE}:{}", format_key("fork::near", 0, key_hash(&id)));
    let deleted: u64 = redis::cmd("DEL").arg(&key).query(admin).expect("DEL works");
    assert_eq!(deleted, 1, "{key} was stored");
}

/// Sends `signal` to the server (`SIGSTOP` freezes it, `SIGCONT` thaws it).
fn signal_server(server_pid: u32, signal: libc::c_int) {
    // SAFETY: `kill` takes integers.
    let sent = unsafe { libc::kill(server_pid as libc::pid_t, signal) };
    assert_eq!(sent, 0, "kill({server_pid}, {signal})");
}

/// `body`'s run count after `call`, less before it.
fn runs_of(counter: &AtomicU64, call: impl FnOnce()) -> u64 {
    let before = counter.load(Ordering::SeqCst);
    call();
    counter.load(Ordering::SeqCst) - before
}

/// Fails with `why` unless `holds`.
fn check(holds: bool, why: &str) -> Result<(), String> {
    if holds { Ok(()) } else { Err(why.to_owned()) }
}

/// In the child, for one of the functions (`kind`, whose body counts its runs in `counter` and
/// returns `id * scale`): a key the parent never asked for is computed once (a miss, with its
/// lock and write), then read back; the parent's key is a hit.
fn misses_then_hits(
    kind: &str,
    counter: &AtomicU64,
    scale: u64,
    value: impl Fn(u64) -> u64,
) -> Result<(), String> {
    let runs = |id: u64| runs_of(counter, || assert_eq!(value(id), id * scale));
    check(
        runs(2) == 1,
        &format!("a {kind} miss in the child runs the body once"),
    )?;
    check(runs(2) == 0, &format!("the child's {kind} entry is a hit"))?;
    check(
        runs(1) == 0,
        &format!("the parent's {kind} entry is a hit in the child"),
    )
}

/// What the child checks, on the one thread it has.
fn child(url: &str, server_pid: u32, parent_near_hits: u64) -> Result<(), String> {
    misses_then_hits("sync", &SYNC_RUNS, 10, sync_value)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())?;
    misses_then_hits("async", &ASYNC_RUNS, 100, |id| {
        runtime.block_on(async_value(id))
    })?;

    // The parent's near tier held `near_value(1)` and `near_value(2)`. Changed in Redis now,
    // they must not be served from the copy of that tier: no tracker of this process saw the
    // change. While the server is frozen, this process' tracker cannot go live, so neither
    // before it is started (1) nor after (2) may anything be served near (the reads time out,
    // and the bodies run).
    let mut admin = redis::Client::open(url)
        .and_then(|client| client.get_connection())
        .map_err(|error| error.to_string())?;
    delete_near_entry(&mut admin, 1);
    delete_near_entry(&mut admin, 2);
    signal_server(server_pid, libc::SIGSTOP);
    let near_runs = runs_of(&NEAR_RUNS, || assert_eq!(near_value(1), 1001));
    let near_runs_after_start = runs_of(&NEAR_RUNS, || assert_eq!(near_value(2), 1002));
    signal_server(server_pid, libc::SIGCONT);
    check(
        near_runs == 1,
        "an entry changed in Redis after the fork is not served from the parent's near tier",
    )?;
    check(
        near_runs_after_start == 1,
        "nor once the child's tracker has started",
    )?;
    // The child's own tracker: its near tier serves, and a change in Redis ends that.
    check(
        eventually(DEADLINE, || is_near_hit(1)),
        "the child's near tier serves once its tracker is live",
    )?;
    check(
        near_value_cache().stats().near_hits > parent_near_hits,
        "the near hits counted go on from the parent's",
    )?;
    delete_near_entry(&mut admin, 1);
    check(
        eventually(DEADLINE, || {
            runs_of(&NEAR_RUNS, || {
                near_value(1);
            }) == 1
        }),
        "a change in Redis reaches the child's near tier",
    )?;
    // And it reconnects: the tracking connection that connected last is the child's.
    let tracker = tracking_clients(&mut admin)
        .into_iter()
        .max()
        .ok_or("no tracking connection")?;
    let _: () = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(tracker)
        .query(&mut admin)
        .map_err(|error| error.to_string())?;
    check(
        eventually(DEADLINE, || !is_near_hit(1)),
        "the child's near tier stops serving when its tracker's connection drops",
    )?;
    check(
        eventually(DEADLINE, || is_near_hit(1)),
        "the child's tracker reconnects",
    )?;
    // A Redis function's background refresh, in the child: its lock is released by a task the
    // child spawns on its own runtime (the lock would stay for its `lock_ttl`, 60 s, otherwise).
    check(redis_refreshed(3) == 3, "a Redis miss with refresh")?;
    let runs = REDIS_REFRESH_RUNS.load(Ordering::SeqCst);
    check(
        eventually(DEADLINE, || {
            redis_refreshed(3);
            REDIS_REFRESH_RUNS.load(Ordering::SeqCst) > runs
        }),
        "a Redis function's background refresh runs in the child",
    )?;
    let lock = format!(
        "{NAMESPACE}:{}:lock",
        format_key("fork::refreshed", 0, key_hash(&3u64))
    );
    check(
        eventually(DEADLINE, || {
            redis::cmd("EXISTS")
                .arg(&lock)
                .query::<u64>(&mut admin)
                .is_ok_and(|exists| exists == 0)
        }),
        "the child's refresh releases its lock",
    )?;
    // The parent's one refresh worker is not here: this process starts its own.
    check(refresh_runs(), "a background refresh runs in the child")?;
    // Nor is the task that holds the parent's one async refresh permit.
    assert_eq!(runtime.block_on(refreshed_async(2)), 2);
    clock::advance(Duration::from_secs(31));
    assert_eq!(runtime.block_on(refreshed_async(2)), 2);
    check(
        async_refresh_reaches(&runtime, 4),
        "an async background refresh runs in the child",
    )
}

#[test]
fn a_child_forked_after_redis_was_used_has_connections_of_its_own() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    // One worker, which the parent starts: a child that counted it as its own would start none.
    configure(RefreshConfig {
        workers: 1,
        queue: 16,
    })
    .expect("the first configuration");
    clock::pause();
    let url = server.url();
    let config = RedisConfig::new()
        .url(&url)
        .namespace(NAMESPACE)
        .timeout(Duration::from_secs(1));
    sync_value_cache().configure(config.clone());
    redis_refreshed_cache().configure(config.clone());
    async_value_cache().configure(config.clone());
    near_value_cache().configure(config);

    // The parent uses each function first: its runtime, connections and tracker start.
    assert_eq!(sync_value(1), 10);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    assert_eq!(runtime.block_on(async_value(1)), 100);
    for id in [1, 2] {
        assert_eq!(near_value(id), 1000 + id);
        assert!(
            eventually(DEADLINE, || is_near_hit(id)),
            "a near hit in the parent"
        );
    }
    assert_eq!(refreshed(1), 1);
    assert!(refresh_runs(), "a background refresh in the parent");
    assert_eq!(runtime.block_on(refreshed_async(1)), 1);
    clock::advance(Duration::from_secs(31));
    assert_eq!(runtime.block_on(refreshed_async(1)), 1);
    assert!(
        async_refresh_reaches(&runtime, 2),
        "the parent's async refresh started (and holds the permit)"
    );

    let (child_url, server_pid) = (url.clone(), server.pid());
    let near_hits = near_value_cache().stats().near_hits;
    fork::in_forked_child(CHILD_LIMIT, move || {
        child(&child_url, server_pid, near_hits)
    })
    .unwrap_or_else(|why| panic!("in the child: {why}"));

    // What the child stored, the parent finds; its own connections still work.
    assert_eq!(runs_of(&SYNC_RUNS, || assert_eq!(sync_value(2), 20)), 0);
    assert_eq!(
        runs_of(&ASYNC_RUNS, || assert_eq!(
            runtime.block_on(async_value(2)),
            200
        )),
        0
    );
    assert_eq!(runs_of(&NEAR_RUNS, || assert_eq!(near_value(1), 1001)), 0);
    for cache_errors in [
        sync_value_cache().stats().errors,
        async_value_cache().stats().errors,
        near_value_cache().stats().errors,
    ] {
        assert_eq!(cache_errors, 0);
    }
}
