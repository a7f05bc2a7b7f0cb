//! Single-flight within one process: while one caller looks a key up in Redis (and runs the body
//! on a miss), other callers of the same key wait for its value instead of doing the same work.
//!
//! Waiting works for threads (a condition variable) and tasks (a [`Notify`]) alike, so sync and
//! async callers of one function coalesce with each other. The leader holds a [`Leader`] guard;
//! dropping it without a value (the body panicked, the future was cancelled, or the value is not
//! cacheable) releases the waiters to try again, one of them becoming the next leader.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Condvar, Mutex};
use tokio::sync::Notify;

/// The computations in progress, by key.
pub(crate) struct Flights<R> {
    in_progress: Mutex<HashMap<u128, Arc<Flight<R>>>>,
}

pub(crate) struct Flight<R> {
    outcome: Mutex<Outcome<R>>,
    threads: Condvar,
    tasks: Notify,
}

enum Outcome<R> {
    Pending,
    Value(R),
    /// The leader gave up: the waiters must look again.
    Abandoned,
}

/// What joining a key's flight made of the caller.
pub(crate) enum Role<'a, R> {
    /// Nobody was working on the key: this caller does, and must end with [`Leader::finish`] or
    /// by dropping the guard.
    Leader(Leader<'a, R>),
    /// Someone is: wait on the flight.
    Follower(Arc<Flight<R>>),
}

pub(crate) struct Leader<'a, R> {
    flights: &'a Flights<R>,
    key: u128,
    flight: Arc<Flight<R>>,
}

impl<R> Flights<R> {
    pub(crate) fn new() -> Self {
        Flights {
            in_progress: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn join(&self, key: u128) -> Role<'_, R> {
        let mut in_progress = self.in_progress.lock();
        if let Some(flight) = in_progress.get(&key) {
            return Role::Follower(flight.clone());
        }
        let flight = Arc::new(Flight {
            outcome: Mutex::new(Outcome::Pending),
            threads: Condvar::new(),
            tasks: Notify::new(),
        });
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
        self.settle(|| Outcome::Value(value.clone()));
    }

    fn settle(&self, outcome: impl FnOnce() -> Outcome<R>) {
        let mut current = self.flight.outcome.lock();
        if !matches!(*current, Outcome::Pending) {
            return;
        }
        // Leave the table before waking anyone, so that a caller arriving from now on starts
        // afresh rather than joining a flight that has landed.
        let mut in_progress = self.flights.in_progress.lock();
        if in_progress
            .get(&self.key)
            .is_some_and(|flight| Arc::ptr_eq(flight, &self.flight))
        {
            in_progress.remove(&self.key);
        }
        drop(in_progress);
        // Out of the table, the flight is shared only by the followers that joined it; no one
        // can join now. Without followers the value need not be cloned.
        *current = if Arc::strong_count(&self.flight) > 1 {
            outcome()
        } else {
            Outcome::Abandoned
        };
        drop(current);
        self.flight.threads.notify_all();
        self.flight.tasks.notify_waiters();
    }
}

impl<R> Drop for Leader<'_, R> {
    fn drop(&mut self) {
        // A no-op after `finish`; otherwise (a panic, a cancellation, a value not to be shared)
        // it sends the waiters back to look again.
        self.settle(|| Outcome::Abandoned);
    }
}

impl<R: Clone> Flight<R> {
    fn outcome(&self) -> Option<Option<R>> {
        match &*self.outcome.lock() {
            Outcome::Pending => None,
            Outcome::Value(value) => Some(Some(value.clone())),
            Outcome::Abandoned => Some(None),
        }
    }

    /// Blocks the thread until the leader is done: its value, or `None` if it gave up.
    pub(crate) fn wait(&self) -> Option<R> {
        let mut outcome = self.outcome.lock();
        while matches!(*outcome, Outcome::Pending) {
            self.threads.wait(&mut outcome);
        }
        match &*outcome {
            Outcome::Value(value) => Some(value.clone()),
            Outcome::Pending | Outcome::Abandoned => None,
        }
    }

    /// [`wait`](Self::wait) for tasks.
    pub(crate) async fn wait_async(&self) -> Option<R> {
        loop {
            let notified = self.tasks.notified();
            let mut notified = std::pin::pin!(notified);
            // Registered before the check, so a notification between the two is not lost.
            notified.as_mut().enable();
            if let Some(outcome) = self.outcome() {
                return outcome;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let waiter = scope.spawn(|| flight.wait());
            leader.finish(&7);
            assert_eq!(waiter.join().unwrap(), Some(7));
        });
        assert!(matches!(flights.join(1), Role::Leader(_)));
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
        assert_eq!(flight.wait(), None);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(runtime.block_on(flight.wait_async()), None);
    }
}
