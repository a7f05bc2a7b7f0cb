//! A deadline for a call that must return: a regression that hangs fails its test instead of
//! hanging the run. Included with `#[path]` by the tests that use it.
#![allow(dead_code)]

use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

/// Runs `call` on a thread of its own and returns its value, or fails the test if it has not
/// returned within `deadline` (the thread is left blocked: the test binary exits all the same).
pub fn within<T: Send + 'static>(
    what: &str,
    deadline: Duration,
    call: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(call());
    });
    match receiver.recv_timeout(deadline) {
        Ok(value) => value,
        Err(RecvTimeoutError::Timeout) => panic!("{what} did not return within {deadline:?}"),
        Err(RecvTimeoutError::Disconnected) => panic!("{what} panicked"),
    }
}

/// Joins `thread`, or fails the test if it has not finished within `deadline`: for a thread the
/// test started and released (a caller held at a gate), whose hang would otherwise hang the run.
pub fn join<T: Send + 'static>(what: &str, thread: JoinHandle<T>, deadline: Duration) -> T {
    // std has no join with a timeout: another thread joins, and [`within`] bounds the wait.
    within(what, deadline, move || thread.join()).unwrap_or_else(|_| panic!("{what} panicked"))
}
