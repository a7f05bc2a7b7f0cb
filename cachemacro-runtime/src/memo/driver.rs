//! The blocking driver: sync callers run the protocol's slow path, which is written once as
//! async, by polling it on their own thread and parking the thread while it waits.
//!
//! Why not a crate's `block_on`: `futures-executor`'s refuses to run inside another of its own
//! `block_on`s on the same thread, and a memoized body may call another memoized function, whose
//! slow path then runs inside the caller's; `pollster`'s would do, at the price of a dependency for
//! these few lines. Why not tokio's: it panics on a thread that runs a tokio runtime, and sync
//! memoized functions are called from async code too. Nothing here needs a runtime: whatever the
//! future waits for (a Redis reply, a timer of the Redis runtime, another caller's flight) wakes
//! it from another thread, which unparks this one.
//!
//! Each call has its own wake flag, so nested calls on one thread never take each other's wake-ups:
//! a thread can be unparked for another reason (a spurious wake-up, an outer call's waker), and the
//! flag tells a wake-up meant for this future from those. A thread keeps one flag for the calls
//! that do not nest, so the usual call allocates nothing.

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

/// A blocked call's wake-up: set, then the thread unparked.
struct Signal {
    woken: AtomicBool,
    thread: Thread,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

impl Signal {
    fn new() -> Arc<Signal> {
        Arc::new(Signal {
            woken: AtomicBool::new(false),
            thread: thread::current(),
        })
    }
}

thread_local! {
    /// This thread's signal for calls that do not nest, and whether a call is using it.
    static SIGNAL: (Arc<Signal>, Cell<bool>) = (Signal::new(), Cell::new(false));
}

/// Runs `future` to completion on this thread.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let parker = Parker::new();
    let mut context = Context::from_waker(&parker.waker);
    // Unconstrained: on a tokio worker (a sync memoized function called from async code), tokio's
    // per-task budget would count this call's channel and timer operations against the caller's
    // poll; once spent, the next operation returns `Pending` and queues its wake-up on this very
    // worker, which is parked here: a hang, with the operation's own timeout starved too. This
    // thread is blocked anyway, so the budget protects nothing.
    let mut future = pin!(tokio::task::unconstrained(future));
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        parker.park();
    }
}

/// A blocked call's signal and its waker: the part of [`block_on`] that does not depend on the
/// future, out of line so that it is compiled once, here, rather than for each future in a
/// user's debug build (issue 17).
struct Parker {
    signal: Arc<Signal>,
    waker: Waker,
    /// Whether the signal is the thread's own, to give back when the call returns or unwinds.
    borrowed: bool,
}

impl Parker {
    #[inline(never)]
    fn new() -> Parker {
        // The thread's own signal, unless an outer call on this thread uses it (or the thread's
        // locals are being destroyed): then one of this call's own.
        let borrowed = SIGNAL
            .try_with(|(signal, in_use)| (!in_use.replace(true)).then(|| signal.clone()))
            .ok()
            .flatten();
        let is_borrowed = borrowed.is_some();
        let signal = match borrowed {
            Some(signal) => {
                // A wake-up left over from a previous call (its future woke after completing).
                signal.woken.store(false, Ordering::Relaxed);
                signal
            }
            None => Signal::new(),
        };
        Parker {
            waker: Waker::from(signal.clone()),
            signal,
            borrowed: is_borrowed,
        }
    }

    /// Parks the thread until the future's waker is called.
    #[inline(never)]
    fn park(&self) {
        while !self.signal.woken.swap(false, Ordering::Acquire) {
            thread::park();
        }
    }
}

impl Drop for Parker {
    #[inline(never)]
    fn drop(&mut self) {
        if self.borrowed {
            let _ = SIGNAL.try_with(|(_, in_use)| in_use.set(false));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    /// Many calls in one poll of a tokio task: each receives from a tokio channel, which spends the
    /// task's budget. Without `unconstrained` call 129 hangs (its wake-up queued on the parked
    /// worker itself).
    #[test]
    fn calls_inside_one_tokio_poll_do_not_exhaust_its_budget() {
        let (done, finished) = mpsc::channel();
        thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let total: u32 = runtime.block_on(async {
                (0..300)
                    .map(|_| {
                        block_on(async {
                            let (send, receive) = tokio::sync::oneshot::channel::<u32>();
                            let _ = send.send(1);
                            receive.await.unwrap_or(0)
                        })
                    })
                    .sum()
            });
            let _ = done.send(total);
        });
        assert_eq!(finished.recv_timeout(Duration::from_secs(10)), Ok(300));
    }

    /// A future woken from another thread completes; so does one nested inside it, woken while
    /// the outer one waits too.
    #[test]
    fn nested_calls_are_woken_from_other_threads() {
        let (done, finished) = mpsc::channel();
        thread::spawn(move || {
            let outer = block_on(async {
                let (send, receive) = tokio::sync::oneshot::channel::<u32>();
                thread::spawn(move || send.send(1));
                let first = receive.await.unwrap_or(0);
                let inner = block_on(async {
                    let (send, receive) = tokio::sync::oneshot::channel::<u32>();
                    thread::spawn(move || send.send(2));
                    receive.await.unwrap_or(0)
                });
                first + inner
            });
            let _ = done.send(outer);
        });
        assert_eq!(finished.recv_timeout(Duration::from_secs(10)), Ok(3));
    }

    /// A call borrows the thread's signal and gives it back when it returns and when it unwinds,
    /// so the thread's next call borrows it again rather than allocating a signal of its own. A
    /// nested call, finding it in use, leaves it to the outer one.
    #[test]
    fn a_call_gives_the_thread_its_signal_back() {
        let in_use = || SIGNAL.with(|(_, in_use)| in_use.get());
        assert!(!in_use());
        assert!(block_on(async { in_use() }), "borrowed during the call");
        assert!(!in_use(), "given back on return");
        block_on(async {
            block_on(async {});
            assert!(in_use(), "the inner call left it to the outer one");
        });
        assert!(!in_use());
        let unwound = std::panic::catch_unwind(|| block_on(async { panic!("the body failed") }));
        assert!(unwound.is_err());
        assert!(!in_use(), "given back on unwinding");
    }

    /// Inside a tokio runtime's worker (where tokio's own `block_on` panics), it blocks that
    /// thread until the future is done.
    #[test]
    fn runs_on_a_tokio_runtime_thread() {
        let (done, finished) = mpsc::channel();
        thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let (send, receive) = tokio::sync::oneshot::channel::<u32>();
            thread::spawn(move || send.send(7));
            let _ = done.send(runtime.block_on(async { block_on(receive) }));
        });
        assert_eq!(finished.recv_timeout(Duration::from_secs(10)), Ok(Ok(7)));
    }
}
