//! A computation in flight on the in-process backend, and what may happen to its key meanwhile:
//! an invalidation, `f_refresh` or `clear` makes it out of date (it must not be stored over them,
//! nor handed to a call made after them), and an eviction must not make a caller who waited for
//! it compute the key a second time.
//!
//! The functions are async, so that a test can poll a caller by hand: a caller whose first poll
//! is pending is waiting for the flight. Leaders hold at a semaphore the test releases. No sleeps.

#[path = "support/deadline.rs"]
mod deadline;
#[path = "support/gate.rs"]
mod gate;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use cachemacro_runtime::memoize;
use gate::Gate;
use tokio::sync::Semaphore;

const DEADLINE: Duration = Duration::from_secs(10);

/// Runs `future` to completion on a current-thread runtime on a thread of its own.
fn spawn_on_runtime<T: Send + 'static>(
    future: impl Future<Output = T> + Send + 'static,
) -> std::thread::JoinHandle<T> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    })
}

/// Runs `future` to completion here, under [`DEADLINE`].
fn run<T: Send + 'static>(what: &str, future: impl Future<Output = T> + Send + 'static) -> T {
    deadline::join(what, spawn_on_runtime(future), DEADLINE)
}

/// Polls `future` once, with a waker that does nothing.
fn poll_once<F: Future + ?Sized>(future: Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

/// A leader's body holds here until the test adds a permit; later runs pass.
struct Hold {
    entered: Gate,
    release: Semaphore,
}

impl Hold {
    const fn new() -> Hold {
        Hold {
            entered: Gate::new(),
            release: Semaphore::const_new(0),
        }
    }

    /// Shut: the next body to come holds.
    fn arm(&self) {
        self.entered.set(false);
    }

    /// Called by a body on its first run: says it has started, then waits for the release.
    async fn hold(&self) {
        self.entered.set(true);
        self.release.acquire().await.unwrap().forget();
    }

    /// Returns once a held body has started.
    fn wait_entered(&self) {
        self.entered.pass();
    }

    fn release(&self) {
        self.release.add_permits(1);
    }
}

// ---------------------------------------------------------------------------------------------
// Out of date: an invalidation, `f_refresh` or `clear` during the computation.

/// What the functions below read: the "database".
static SOURCE: [AtomicU64; 3] = [const { AtomicU64::new(1) }; 3];
static READS_RUNS: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];
static READS_HOLD: [Hold; 3] = [const { Hold::new() }; 3];

/// Reads the source of `which`, holding the first run after the read.
async fn read_source(which: usize) -> u64 {
    let value = SOURCE[which].load(Ordering::SeqCst);
    if READS_RUNS[which].fetch_add(1, Ordering::SeqCst) == 0 {
        READS_HOLD[which].hold().await;
    }
    value
}

#[memoize]
async fn invalidated(_k: u64) -> u64 {
    read_source(0).await
}

#[memoize]
async fn refreshed(_k: u64) -> u64 {
    read_source(1).await
}

#[memoize]
async fn cleared(_k: u64) -> u64 {
    read_source(2).await
}

/// Starts the first call of key 1 of the function `which` (held once it has read the source),
/// changes the source, runs `write` (which must make the computation out of date), then checks
/// that a call made now gets the new value at once (it does not wait for the held computation),
/// and that the held computation, once it ends, does not replace the new value.
fn an_out_of_date_computation_is_not_stored<F, W>(which: usize, call: fn(u64) -> F, write: W)
where
    F: Future<Output = u64> + Send + 'static,
    W: Future<Output = ()> + Send + 'static,
{
    READS_HOLD[which].arm();
    let leader = spawn_on_runtime(call(1));
    READS_HOLD[which].wait_entered();
    SOURCE[which].store(2, Ordering::SeqCst);
    run("the write", write);
    assert_eq!(
        run("a call after the write", call(1)),
        2,
        "a call after the write computes anew, without waiting for the older computation"
    );
    READS_HOLD[which].release();
    assert_eq!(
        deadline::join("the older computation", leader, DEADLINE),
        1,
        "the older computation returns its own value to its caller"
    );
    assert_eq!(
        run("a call after both", call(1)),
        2,
        "the older computation did not replace the newer value"
    );
    assert_eq!(READS_RUNS[which].load(Ordering::SeqCst), 2);
}

#[test]
fn an_invalidation_during_a_computation_is_not_undone_when_it_lands() {
    an_out_of_date_computation_is_not_stored(0, invalidated, async {
        assert!(!invalidated_invalidate(1).await, "nothing stored yet");
    });
    assert_eq!(invalidated_cache().stats().misses, 2);
}

#[test]
fn a_value_stored_by_f_refresh_during_a_computation_is_not_replaced_by_it() {
    // `f_refresh` runs the body (a second run, not held) and stores its value, 2.
    an_out_of_date_computation_is_not_stored(1, refreshed, async {
        assert_eq!(refreshed_refresh(1).await, 2);
    });
}

#[test]
fn clear_during_a_computation_is_not_undone_when_it_lands() {
    an_out_of_date_computation_is_not_stored(2, cleared, async {
        cleared_cache().clear_async().await;
    });
}

// ---------------------------------------------------------------------------------------------
// A caller waiting for a flight gets its value, even if it is evicted before the caller looks.

static ONE_SLOT_RUNS: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];
static ONE_SLOT_HOLD: Hold = Hold::new();

#[memoize(capacity = 1)]
async fn one_slot(k: u64) -> u64 {
    if ONE_SLOT_RUNS[k as usize].fetch_add(1, Ordering::SeqCst) == 0 && k == 1 {
        ONE_SLOT_HOLD.hold().await;
    }
    k * 10
}

#[test]
fn a_waiter_gets_the_leaders_value_though_it_was_evicted_before_the_waiter_looked() {
    ONE_SLOT_HOLD.arm();
    let leader = spawn_on_runtime(one_slot(1));
    ONE_SLOT_HOLD.wait_entered();
    let mut waiter = Box::pin(one_slot(1));
    assert!(
        poll_once(waiter.as_mut()).is_pending(),
        "the second caller waits for the first"
    );
    ONE_SLOT_HOLD.release();
    assert_eq!(deadline::join("the leader", leader, DEADLINE), 10);
    // The cache holds one entry: key 2 evicts key 1 before the waiter is polled again.
    assert_eq!(run("another key", one_slot(2)), 20);
    assert_eq!(one_slot_cache().stats().evictions, 1);
    assert_eq!(poll_once(waiter.as_mut()), Poll::Ready(10));
    assert_eq!(
        ONE_SLOT_RUNS[1].load(Ordering::SeqCst),
        1,
        "the body of key 1 ran once for both callers"
    );
    let stats = one_slot_cache().stats();
    assert_eq!((stats.hits, stats.misses), (1, 2));
}

// ---------------------------------------------------------------------------------------------
// The leader clones the value for its waiters: a panic in that clone is theirs, not its caller's.

/// Panics on its clone number `BRITTLE_PANIC_AT` (counted from 0 in `BRITTLE_CLONES`).
#[derive(Debug, PartialEq)]
struct Brittle(u64);

static BRITTLE_CLONES: AtomicUsize = AtomicUsize::new(0);
static BRITTLE_PANIC_AT: AtomicUsize = AtomicUsize::new(usize::MAX);
static BRITTLE_RUNS: AtomicUsize = AtomicUsize::new(0);
static BRITTLE_HOLD: Hold = Hold::new();

impl Clone for Brittle {
    fn clone(&self) -> Self {
        let n = BRITTLE_CLONES.fetch_add(1, Ordering::SeqCst);
        if n == BRITTLE_PANIC_AT.load(Ordering::SeqCst) {
            panic!("clone {n} panics");
        }
        Brittle(self.0)
    }
}

#[memoize(capacity = 1)]
async fn brittle(k: u64) -> Brittle {
    if k == 1 && BRITTLE_RUNS.fetch_add(1, Ordering::SeqCst) == 0 {
        BRITTLE_HOLD.hold().await;
    }
    Brittle(k)
}

#[test]
fn a_panic_in_the_clone_for_the_waiters_fails_neither_the_leader_nor_them() {
    assert_eq!(run("key 2", brittle(2)), Brittle(2));
    BRITTLE_HOLD.arm();
    let leader = spawn_on_runtime(brittle(1));
    BRITTLE_HOLD.wait_entered();
    let mut waiter = Box::pin(brittle(1));
    assert!(poll_once(waiter.as_mut()).is_pending());
    // From now on, clone 0 is the one stored, clone 1 the one for the waiter.
    BRITTLE_CLONES.store(0, Ordering::SeqCst);
    BRITTLE_PANIC_AT.store(1, Ordering::SeqCst);
    BRITTLE_HOLD.release();
    let led = deadline::within("the leader", DEADLINE, move || leader.join());
    BRITTLE_PANIC_AT.store(usize::MAX, Ordering::SeqCst);
    assert_eq!(led.ok(), Some(Brittle(1)), "the leader returns its value");
    assert_eq!(
        brittle_cache().stats().evictions,
        1,
        "key 2 evicted, and counted"
    );
    // The waiter looks again and finds the value stored.
    assert_eq!(poll_once(waiter.as_mut()), Poll::Ready(Brittle(1)));
    assert_eq!(BRITTLE_RUNS.load(Ordering::SeqCst), 1);
}

// ---------------------------------------------------------------------------------------------
// Without single-flight (`lock = "none"`), an invalidation still makes a computation in progress
// out of date.

static UNLOCKED_SOURCE: AtomicU64 = AtomicU64::new(1);
static UNLOCKED_RUNS: AtomicUsize = AtomicUsize::new(0);
static UNLOCKED_HOLD: Hold = Hold::new();

#[memoize(lock = "none")]
async fn unlocked(_k: u64) -> u64 {
    let value = UNLOCKED_SOURCE.load(Ordering::SeqCst);
    if UNLOCKED_RUNS.fetch_add(1, Ordering::SeqCst) == 0 {
        UNLOCKED_HOLD.hold().await;
    }
    value
}

#[test]
fn without_single_flight_an_invalidation_during_a_computation_is_not_undone() {
    UNLOCKED_HOLD.arm();
    let older = spawn_on_runtime(unlocked(1));
    UNLOCKED_HOLD.wait_entered();
    UNLOCKED_SOURCE.store(2, Ordering::SeqCst);
    run("the invalidation", async {
        assert!(!unlocked_invalidate(1).await, "nothing stored yet");
    });
    UNLOCKED_HOLD.release();
    assert_eq!(deadline::join("the older computation", older, DEADLINE), 1);
    assert_eq!(
        run("a call after both", unlocked(1)),
        2,
        "the older computation stored nothing"
    );
    assert_eq!(run("a hit", unlocked(1)), 2, "the newer one was stored");
    assert_eq!(UNLOCKED_RUNS.load(Ordering::SeqCst), 2);
}

// ---------------------------------------------------------------------------------------------
// An `f_refresh` already running when its key is invalidated stores nothing either.

static LATE_SOURCE: AtomicU64 = AtomicU64::new(1);
static LATE_RUNS: AtomicUsize = AtomicUsize::new(0);
static LATE_HOLD: Hold = Hold::new();

#[memoize]
async fn refreshed_late(_k: u64) -> u64 {
    let value = LATE_SOURCE.load(Ordering::SeqCst);
    if LATE_RUNS.fetch_add(1, Ordering::SeqCst) == 0 {
        LATE_HOLD.hold().await;
    }
    value
}

#[test]
fn an_f_refresh_running_when_its_key_is_invalidated_stores_nothing() {
    LATE_HOLD.arm();
    let refresh = spawn_on_runtime(refreshed_late_refresh(1));
    LATE_HOLD.wait_entered();
    LATE_SOURCE.store(2, Ordering::SeqCst);
    run("the invalidation", async {
        refreshed_late_invalidate(1).await;
    });
    assert_eq!(run("a call after the invalidation", refreshed_late(1)), 2);
    LATE_HOLD.release();
    assert_eq!(
        deadline::join("the older f_refresh", refresh, DEADLINE),
        1,
        "it returns its own value to its caller"
    );
    assert_eq!(
        run("a call after both", refreshed_late(1)),
        2,
        "it did not replace the newer value"
    );
}

// ---------------------------------------------------------------------------------------------
// Only an invalidation of its own key (or `clear`) makes such a computation out of date: others
// of the same shard, such as `f_refresh`es of other keys at once, do not.

static PRIMED_RUNS: [AtomicUsize; 3] = [const { AtomicUsize::new(0) }; 3];
static PRIMED_HOLD: Hold = Hold::new();

/// At this capacity the cache has one shard: every key shares it.
#[memoize(capacity = 16)]
async fn primed(k: u64) -> u64 {
    if PRIMED_RUNS[k as usize].fetch_add(1, Ordering::SeqCst) == 0 && k == 1 {
        PRIMED_HOLD.hold().await;
    }
    k * 10
}

#[test]
fn writes_of_other_keys_of_the_shard_leave_a_computation_in_date() {
    PRIMED_HOLD.arm();
    let first = spawn_on_runtime(primed_refresh(1));
    PRIMED_HOLD.wait_entered();
    assert_eq!(run("another key's refresh", primed_refresh(2)), 20);
    run("another key's invalidation", async {
        assert!(primed_invalidate(2).await);
    });
    PRIMED_HOLD.release();
    assert_eq!(deadline::join("the first refresh", first, DEADLINE), 10);
    assert_eq!(run("a call", primed(1)), 10);
    assert_eq!(
        PRIMED_RUNS[1].load(Ordering::SeqCst),
        1,
        "key 1 was stored: a hit"
    );
}

// ---------------------------------------------------------------------------------------------
// The waiters wake before the user code that follows a store runs: a panicking `Drop` of the
// value evicted does not leave them waiting.

/// Panics when dropped while `EVICTED_PANICS` is set.
#[derive(Clone, Debug, PartialEq)]
struct PanicsOnDrop(u64);

static EVICTED_PANICS: AtomicBool = AtomicBool::new(false);
static EVICTING_RUNS: AtomicUsize = AtomicUsize::new(0);
static EVICTING_HOLD: Hold = Hold::new();

impl Drop for PanicsOnDrop {
    fn drop(&mut self) {
        if self.0 == 2 && EVICTED_PANICS.swap(false, Ordering::SeqCst) {
            panic!("the evicted value's drop panics");
        }
    }
}

#[memoize(capacity = 1)]
async fn evicting(k: u64) -> PanicsOnDrop {
    if k == 1 && EVICTING_RUNS.fetch_add(1, Ordering::SeqCst) == 0 {
        EVICTING_HOLD.hold().await;
    }
    PanicsOnDrop(k)
}

#[test]
fn a_panicking_drop_of_the_evicted_value_does_not_strand_the_waiters() {
    assert_eq!(run("key 2", evicting(2)), PanicsOnDrop(2));
    EVICTING_HOLD.arm();
    let leader = spawn_on_runtime(evicting(1));
    EVICTING_HOLD.wait_entered();
    let mut waiter = Box::pin(evicting(1));
    assert!(poll_once(waiter.as_mut()).is_pending());
    EVICTED_PANICS.store(true, Ordering::SeqCst);
    EVICTING_HOLD.release();
    let led = deadline::within("the leader", DEADLINE, move || leader.join());
    assert!(
        led.is_err(),
        "the leader's call panics, in the evicted value's drop"
    );
    assert_eq!(poll_once(waiter.as_mut()), Poll::Ready(PanicsOnDrop(1)));
}
