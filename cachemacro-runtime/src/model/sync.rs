//! The model's primitives: shuttle's, for the files `model.rs` compiles again (see `sync.rs`).

pub(crate) use shuttle::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
pub(crate) use shuttle::sync::{Mutex, PoisonError};
pub(crate) use shuttle::thread_local;

use std::sync::atomic::{AtomicBool as StdBool, AtomicUsize as StdUsize, Ordering::SeqCst};

/// Few owned slots, so that a model with three threads also has one on the shared slot.
pub(crate) const SLOTS: usize = 2;

/// A spin is a point where shuttle may run another thread (else a spinning writer never yields).
pub(crate) fn spin_loop() {
    shuttle::thread::yield_now();
}

pub(crate) fn yield_now() {
    shuttle::thread::yield_now();
}

/// An `UnsafeCell` that checks the lock's promise: a `&mut` access overlaps no other access.
/// Each access is a scheduling point at its start and at its end, so shuttle tries running the
/// other threads in the middle of it.
pub(crate) struct UnsafeCell<T> {
    value: std::cell::UnsafeCell<T>,
    readers: StdUsize,
    writer: StdBool,
}

impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        UnsafeCell {
            value: std::cell::UnsafeCell::new(value),
            readers: StdUsize::new(0),
            writer: StdBool::new(false),
        }
    }

    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        assert!(!self.writer.load(SeqCst), "a read began during a write");
        self.readers.fetch_add(1, SeqCst);
        shuttle::thread::yield_now();
        let out = f(self.value.get());
        shuttle::thread::yield_now();
        assert!(!self.writer.load(SeqCst), "a write began during a read");
        self.readers.fetch_sub(1, SeqCst);
        out
    }

    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        assert_eq!(self.readers.load(SeqCst), 0, "a write began during a read");
        assert!(!self.writer.swap(true, SeqCst), "two writes at once");
        shuttle::thread::yield_now();
        let out = f(self.value.get());
        shuttle::thread::yield_now();
        assert_eq!(self.readers.load(SeqCst), 0, "a read began during a write");
        self.writer.store(false, SeqCst);
        out
    }
}

/// The store-access scope of `sync.rs` guards user code, which the model does not run.
pub(crate) struct Scope;

pub(crate) fn store_access() -> Scope {
    Scope
}

pub(crate) fn in_store_access() -> bool {
    false
}

/// A process-wide static made one per execution, so that executions start alike.
macro_rules! global {
    ($(#[$attr:meta])* static $name:ident: $t:ty = $init:expr;) => {
        shuttle::lazy_static::lazy_static! {
            $(#[$attr])* static ref $name: $t = $init;
        }
    };
}
pub(crate) use global;

/// The unit tests of the std build are not compiled again here.
macro_rules! std_only {
    ($($item:item)*) => {};
}
pub(crate) use std_only;
