//! A process forked after it used in-process caches with a `ttl`: the child's clock keeps time
//! (the parent's ticking thread is not in the child; the child starts its own), so its entries
//! age and expire. A child that hangs is killed after [`CHILD_LIMIT`] seconds, which fails the
//! test. Its own binary: the clock is process-wide, and no other test's threads may run when it
//! forks.
#![cfg(target_os = "linux")]

#[path = "support/fork.rs"]
mod fork;
// For its `eventually`; no server is started.
#[path = "support/redis_server.rs"]
mod redis_server;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cachemacro_runtime::{clock, memoize};
use redis_server::eventually;

const CHILD_LIMIT: u32 = 20;
const DEADLINE: Duration = Duration::from_secs(5);

static RUNS: AtomicU64 = AtomicU64::new(0);

#[memoize(ttl = "200ms")]
fn stamped(id: u64) -> u64 {
    RUNS.fetch_add(1, Ordering::SeqCst);
    id
}

/// Whether the coarse clock moves by `by` milliseconds within `DEADLINE`.
fn clock_moves(by: u64) -> bool {
    let from = clock::now_ms();
    eventually(DEADLINE, || clock::now_ms() >= from + by)
}

/// Whether this process has a thread whose name starts with `name` (`/proc/self/task/*/comm`,
/// which keeps 15 bytes of a name).
fn has_thread(name: &str) -> bool {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
        .any(|comm| !comm.trim_end().is_empty() && name.starts_with(comm.trim_end()))
}

/// Whether `stamped(1)` is computed again once its entry has expired.
fn entry_expires() -> bool {
    let before = RUNS.load(Ordering::SeqCst);
    eventually(DEADLINE, || {
        stamped(1);
        RUNS.load(Ordering::SeqCst) > before
    })
}

#[test]
fn a_child_forked_while_the_clock_ticks_keeps_time() {
    assert_eq!(stamped(1), 1);
    assert!(clock_moves(50), "the clock ticks in the parent");
    assert!(has_thread("cachemacro-clock"));
    assert!(entry_expires(), "an entry expires in the parent");
    fork::in_forked_child(CHILD_LIMIT, || {
        if !clock_moves(50) {
            return Err("the clock stands still in the child".into());
        }
        if !entry_expires() {
            return Err("an entry never expires in the child".into());
        }
        // Not only right but cheap again: a ticking thread of the child's own, rather than
        // every read asking the OS.
        if !has_thread("cachemacro-clock") {
            return Err("no clock thread in the child".into());
        }
        Ok(())
    })
    .unwrap_or_else(|why| panic!("in the child: {why}"));
    assert!(clock_moves(50), "the clock still ticks in the parent");
}
