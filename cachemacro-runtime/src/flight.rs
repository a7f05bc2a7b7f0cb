//! Single-flight: one computation per missing key, which other callers wait for (threads block,
//! tasks await), and which releases them when it lands, panics or is cancelled.

use std::sync::atomic::{AtomicBool, Ordering};

use event_listener::{Event, Listener};

/// A computation in progress.
pub(crate) struct Flight {
    landed: AtomicBool,
    event: Event,
}

impl Flight {
    pub(crate) fn new() -> Self {
        Flight {
            landed: AtomicBool::new(false),
            event: Event::new(),
        }
    }

    /// Marks the computation over and wakes every waiter; they look the key up again.
    pub(crate) fn land(&self) {
        self.landed.store(true, Ordering::Release);
        self.event.notify(usize::MAX);
    }

    /// Blocks the thread until the computation is over.
    pub(crate) fn wait(&self) {
        // Listen before checking, so that a landing in between is not missed.
        let listener = self.event.listen();
        if !self.landed.load(Ordering::Acquire) {
            listener.wait();
        }
    }

    /// Waits, as a task, until the computation is over.
    pub(crate) async fn wait_async(&self) {
        let listener = self.event.listen();
        if !self.landed.load(Ordering::Acquire) {
            listener.await;
        }
    }
}
