//! Single-flight within one process: one computation per missing key, which other callers of the
//! key wait for on the same [`Flight`], tasks awaiting it and threads blocking in the driver
//! (`memo::driver`), so sync and async callers of one function coalesce with each other.
//!
//! A flight ends once, with a value (its waiters get a clone) or with nothing (its waiters look
//! again, and one of them may lead the next flight). It ends with nothing when its leader
//! panicked, was cancelled, or computed a value that is not cached, and, in the in-process
//! backend, when a write of its key detached it (see `memory/store.rs`, "Flights"); that
//! backend's flights carry the value stored, or one too large for its byte budget.
//!
//! The in-process backend keeps its flights beside its entries, in a small table per shard of
//! its store, and makes a `Flight` only once a second caller comes to wait (a miss nobody waits
//! for allocates nothing); other backends keep theirs in a [`Flights`] registry, whose [`Leader`]
//! guard ends the flight when it is dropped, so a panic or a cancelled future releases the
//! waiters.
// The registry of flights (`Flights`, `Leader`) serves the Redis backend only: the in-process
// store keeps its flights in its own table.
#![cfg_attr(not(feature = "redis"), allow(dead_code))]

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use event_listener::Event;

/// A computation in progress, and then its outcome.
pub(crate) struct Flight<R = ()> {
    /// `None` while the computation runs; then `Some(Some(value))` for waiters to take, or
    /// `Some(None)`: look again. A mutex rather than a `OnceLock`, whose one-time initialisation
    /// cost a miss ~140 instructions (callgrind) where an uncontended lock costs a few dozen.
    outcome: Mutex<Option<Option<R>>>,
    ending: Ending,
}

/// `mutex`'s data, also after a panic elsewhere while it was locked: every update of the data
/// this module locks is one assignment, insert or remove, so it is never left half-done.
fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<R> Flight<R> {
    pub(crate) fn new() -> Self {
        Flight {
            outcome: Mutex::new(None),
            ending: Ending::new(),
        }
    }

    /// Ends the flight with nothing: the waiters look the key up again.
    pub(crate) fn land(&self) {
        self.end(None);
    }

    /// Ends the flight with `value` for the waiters to take: in process, the value stored (or too
    /// large to store); on Redis, one the store did not keep.
    pub(crate) fn land_value(&self, value: R) {
        self.end(Some(value));
    }

    /// Ends the flight with `outcome`, unless it has ended already, and wakes every waiter.
    fn end(&self, outcome: Option<R>) {
        let mut current = locked(&self.outcome);
        if current.is_some() {
            return;
        }
        *current = Some(outcome);
        drop(current);
        self.ending.end();
    }

    fn ended(&self) -> bool {
        self.ending.ended()
    }
}

impl<R: Clone> Flight<R> {
    /// Waits until the flight ends: the leader's value, or `None` to look again. Threads wait
    /// through the blocking driver (`memo::driver`).
    pub(crate) async fn wait_async(&self) -> Option<R> {
        // An ended flight's outcome is read at once, without boxing a wait.
        if !self.ending.ended() {
            self.ending.wait().await;
        }
        // Ended: the outcome was set before the ending was announced.
        locked(&self.outcome).clone().flatten()
    }
}

/// The part of a flight that does not depend on its value: whether it has ended, and the waiters
/// to wake when it does.
///
/// Apart, and out of line, so that its waits and wake-ups are compiled once, in this crate: in
/// a user's debug build every generic item a memoized function reaches is compiled again in the
/// user's crate, and `event_listener`'s list of waiters alone is over a hundred of them (issue 17).
struct Ending {
    /// Set once the outcome is in place.
    ended: AtomicBool,
    event: Event,
}

impl Ending {
    #[inline(never)]
    fn new() -> Self {
        Ending {
            ended: AtomicBool::new(false),
            event: Event::new(),
        }
    }

    fn ended(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    /// Announces the end (once the outcome is in place) and wakes every waiter.
    #[inline(never)]
    fn end(&self) {
        self.ended.store(true, Ordering::Release);
        self.event.notify(usize::MAX);
    }

    /// Resolves once the flight has ended; for a caller that found it running. Boxed, so that
    /// even dropping a wait before the end calls into this crate rather than compiling the
    /// listener's drop where it is awaited.
    #[inline(never)]
    fn wait(&self) -> Pin<Box<dyn Future<Output = ()> + Send + Sync + '_>> {
        Box::pin(async move {
            loop {
                // Listen before looking again, so that an ending in between is not missed.
                let listener = self.event.listen();
                if self.ended() {
                    return;
                }
                listener.await;
            }
        })
    }
}

/// The flights in progress, by key: for backends whose store does not keep them.
pub(crate) struct Flights<R> {
    in_progress: Mutex<HashMap<u128, Arc<Flight<R>>>>,
    /// How many flights have ended: a caller that read a key before joining no flight tells
    /// from it whether a value may have landed since its read (see [`Flights::ended`]).
    ended: AtomicU64,
}

/// What joining a key's flight made of the caller.
pub(crate) enum Role<'a, R> {
    /// Nobody was computing the key: this caller does, and ends with [`Leader::finish`] or by
    /// dropping the guard.
    Leader(Leader<'a, R>),
    /// Someone is: wait on the flight.
    Follower(Arc<Flight<R>>),
}

/// The caller computing a key for its flight's waiters.
pub(crate) struct Leader<'a, R> {
    flights: &'a Flights<R>,
    key: u128,
    flight: Arc<Flight<R>>,
}

impl<R> Flights<R> {
    pub(crate) fn new() -> Self {
        Flights {
            in_progress: Mutex::new(HashMap::new()),
            ended: AtomicU64::new(0),
        }
    }

    /// How many flights have ended so far. A caller that reads a key first and joins its flight
    /// only on a miss compares it before the read and after joining: unchanged, no flight of
    /// these keys ended in between, so none landed a value that the read missed.
    pub(crate) fn ended(&self) -> u64 {
        self.ended.load(Ordering::Acquire)
    }

    fn table(&self) -> MutexGuard<'_, HashMap<u128, Arc<Flight<R>>>> {
        locked(&self.in_progress)
    }

    /// Takes `key`'s flight out of the table: callers from now on lead a new one, while the
    /// flight's leader still hands its value to the waiters that joined it (their calls began
    /// before this). For a write of the key (an invalidation) that the flight's value predates.
    pub(crate) fn detach(&self, key: u128) {
        self.table().remove(&key);
    }

    /// [`detach`](Self::detach) of every key (`clear()`).
    pub(crate) fn detach_all(&self) {
        self.table().clear();
    }

    pub(crate) fn join(&self, key: u128) -> Role<'_, R> {
        let mut in_progress = self.table();
        if let Some(flight) = in_progress.get(&key) {
            return Role::Follower(flight.clone());
        }
        let flight = Arc::new(Flight::new());
        in_progress.insert(key, flight.clone());
        Role::Leader(Leader {
            flights: self,
            key,
            flight,
        })
    }
}

impl<R> Leader<'_, R> {
    /// Hands a clone of `value` to every waiter (none is made if nobody waits).
    pub(crate) fn finish(self, value: &R)
    where
        R: Clone,
    {
        self.end(|| Some(value.clone()));
    }

    fn end(&self, outcome: impl FnOnce() -> Option<R>) {
        if self.flight.ended() {
            return;
        }
        // Leave the table before waking anyone, so that a caller arriving from now on starts
        // afresh rather than joining a flight that has ended.
        let mut in_progress = self.flights.table();
        if in_progress
            .get(&self.key)
            .is_some_and(|flight| Arc::ptr_eq(flight, &self.flight))
        {
            in_progress.remove(&self.key);
        }
        // Counted before the table is unlocked: a caller that joins after this ending sees it.
        self.flights.ended.fetch_add(1, Ordering::AcqRel);
        drop(in_progress);
        // Out of the table, the flight is shared only by the followers that joined it; no one
        // can join now. Without followers the value need not be cloned.
        let outcome = if Arc::strong_count(&self.flight) > 1 {
            outcome()
        } else {
            None
        };
        self.flight.end(outcome);
    }
}

impl<R> Drop for Leader<'_, R> {
    fn drop(&mut self) {
        // A no-op after `finish`; otherwise (a panic, a cancellation, a value not to be shared)
        // it sends the waiters back to look again.
        self.end(|| None);
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;
    use crate::memo::driver::block_on;

    #[test]
    fn followers_get_the_leaders_value() {
        let flights = Flights::<u32>::new();
        let Role::Leader(leader) = flights.join(1) else {
            panic!("the first caller leads")
        };
        let Role::Follower(flight) = flights.join(1) else {
            panic!("the second caller follows")
        };
        std::thread::scope(|scope| {
            let waiter = scope.spawn(|| block_on(flight.wait_async()));
            leader.finish(&7);
            assert_eq!(waiter.join().unwrap(), Some(7));
        });
        assert!(matches!(flights.join(1), Role::Leader(_)));
    }

    /// A wait is `Send` and `Sync`, as the futures of memoized async functions that hold one
    /// must be for callers that need either.
    #[test]
    fn a_wait_is_send_and_sync() {
        fn send_and_sync<T: Send + Sync>(_: &T) {}
        let flight = Flight::<u32>::new();
        send_and_sync(&flight.wait_async());
    }

    #[test]
    fn a_dropped_leader_releases_followers_empty_handed() {
        let flights = Flights::<u32>::new();
        let Role::Leader(leader) = flights.join(1) else {
            panic!("the first caller leads")
        };
        let Role::Follower(flight) = flights.join(1) else {
            panic!("the second caller follows")
        };
        drop(leader);
        assert_eq!(block_on(flight.wait_async()), None);
    }

    /// One flight wakes a blocked thread and a pending task alike, both with the value.
    #[test]
    fn threads_and_tasks_wait_on_one_flight() {
        let flights = Arc::new(Flights::<u32>::new());
        let Role::Leader(leader) = flights.join(1) else {
            panic!("the first caller leads")
        };
        let (Role::Follower(thread_side), Role::Follower(task_side)) =
            (flights.join(1), flights.join(1))
        else {
            panic!("later callers follow")
        };
        let (sender, outcomes) = mpsc::channel();
        let (waiting, waiting_now) = mpsc::channel();
        let thread_sender = sender.clone();
        std::thread::spawn(move || {
            let _ = thread_sender.send(("thread", block_on(thread_side.wait_async())));
        });
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let outcome = runtime.block_on(async {
                let mut wait = std::pin::pin!(task_side.wait_async());
                // Polled once before the flight ends, so the task really waits.
                let pending = std::future::poll_fn(|cx| {
                    std::task::Poll::Ready(wait.as_mut().poll(cx).is_pending())
                })
                .await;
                assert!(pending);
                let _ = waiting.send(());
                wait.await
            });
            let _ = sender.send(("task", outcome));
        });
        waiting_now
            .recv_timeout(Duration::from_secs(10))
            .expect("the task polled its wait");
        leader.finish(&7);
        let mut got: Vec<_> = (0..2)
            .map(|_| {
                outcomes
                    .recv_timeout(Duration::from_secs(10))
                    .expect("every waiter is released")
            })
            .collect();
        got.sort();
        assert_eq!(got, [("task", Some(7)), ("thread", Some(7))]);
    }
}
