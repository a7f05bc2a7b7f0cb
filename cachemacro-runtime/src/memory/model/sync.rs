//! The model's primitives: shuttle's, for the files `model.rs` compiles again (see `sync.rs`).

//!
//! Shuttle runs every atomic access as SeqCst: alone, it could not tell a weakened ordering from
//! the right one. So the atomics here add a store buffer per thread, as x86 (TSO) has: a store
//! weaker than SeqCst waits in its thread's buffer, unseen by other threads (its own thread
//! reads it), until the thread makes a SeqCst store or a read-modify-write (x86's locked
//! instructions, whatever their ordering), takes or releases a mutex, spins, or exits. On x86
//! that is the one reordering there is (a store after a later load), and the one the lock's
//! SeqCst pairing exists to forbid: with the writer's announcement made a Release store, a reader
//! can miss it while the writer misses the reader's mark. Weakenings that only weaker hardware
//! would punish (the reader's locked add, or either side's loads) are beyond this model.
//!
//! The asymmetric fence of biased reads fits the same model: the light side (a compiler fence)
//! does nothing to the buffer, and `membarrier`, which runs a full fence on every CPU of the
//! process, drains every thread's buffer at once. So a biased reader's mark can sit unseen in its
//! buffer until a revoking writer's `membarrier`, and the model catches a writer that skips it.

use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::LockResult;
use std::sync::atomic::{
    AtomicBool as StdBool, AtomicU64 as StdU64, AtomicUsize as StdUsize, Ordering::SeqCst,
};

pub(crate) use shuttle::thread_local;
pub(crate) use std::sync::atomic::Ordering;
pub(crate) use std::sync::{PoisonError, TryLockError};

std::thread_local! {
    /// The stores not yet visible to other threads, oldest first, with the (shuttle) thread that
    /// made each. A std thread-local: shuttle runs an execution's threads on one OS thread, and
    /// the test harness runs each test on its own.
    static BUFFER: RefCell<Vec<(shuttle::thread::ThreadId, *const StdU64, u64)>> =
        const { RefCell::new(Vec::new()) };
}

thread_local! {
    /// Touched by a thread's first buffered store: its buffer drains when the thread exits.
    static DRAIN_ON_EXIT: DrainOnExit = const { DrainOnExit };
}

struct DrainOnExit;

impl Drop for DrainOnExit {
    fn drop(&mut self) {
        drain(Some(shuttle::thread::current().id()));
    }
}

/// Makes the buffered stores of `thread` (of every thread if `None`) visible, oldest first.
fn drain(thread: Option<shuttle::thread::ThreadId>) {
    BUFFER.with(|buffer| {
        buffer.borrow_mut().retain(|&(owner, memory, value)| {
            if thread.is_some_and(|thread| thread != owner) {
                return true;
            }
            // SAFETY: an atomic removes its entries when dropped, so `memory` is alive.
            unsafe { (*memory).store(value, SeqCst) };
            false
        });
    });
}

fn drain_mine() {
    drain(Some(shuttle::thread::current().id()));
}

/// A location of the model's memory: its value as other threads see it, and a shuttle atomic
/// whose every access is a scheduling point.
struct Location {
    memory: StdU64,
    point: shuttle::sync::atomic::AtomicBool,
}

impl Location {
    const fn new(value: u64) -> Self {
        Location {
            memory: StdU64::new(value),
            point: shuttle::sync::atomic::AtomicBool::new(false),
        }
    }

    fn schedule(&self) {
        self.point.load(SeqCst);
    }

    fn load(&self) -> u64 {
        self.schedule();
        let me = shuttle::thread::current().id();
        let mine = BUFFER.with(|buffer| {
            buffer
                .borrow()
                .iter()
                .rev()
                .find(|&&(owner, memory, _)| owner == me && std::ptr::eq(memory, &self.memory))
                .map(|&(_, _, value)| value)
        });
        mine.unwrap_or_else(|| self.memory.load(SeqCst))
    }

    fn store(&self, value: u64, order: Ordering) {
        self.schedule();
        if order == Ordering::SeqCst {
            drain_mine();
            self.memory.store(value, SeqCst);
        } else {
            DRAIN_ON_EXIT.with(|_| ());
            let me = shuttle::thread::current().id();
            BUFFER.with(|buffer| buffer.borrow_mut().push((me, &self.memory, value)));
        }
    }

    fn update(&self, f: impl FnOnce(u64) -> u64) -> u64 {
        self.schedule();
        drain_mine();
        let old = self.memory.load(SeqCst);
        self.memory.store(f(old), SeqCst);
        old
    }
}

impl Drop for Location {
    fn drop(&mut self) {
        let memory: *const StdU64 = &self.memory;
        BUFFER.with(|buffer| {
            buffer
                .borrow_mut()
                .retain(|&(_, pending, _)| !std::ptr::eq(pending, memory))
        });
    }
}

macro_rules! atomic {
    ($name:ident, $t:ty, $from:expr) => {
        /// An atomic of the model's memory (see the module documentation).
        pub(crate) struct $name(Location, PhantomData<$t>);

        impl $name {
            pub(crate) const fn new(value: $t) -> Self {
                $name(Location::new(value as u64), PhantomData)
            }

            pub(crate) fn load(&self, _: Ordering) -> $t {
                $from(self.0.load())
            }

            pub(crate) fn store(&self, value: $t, order: Ordering) {
                self.0.store(value as u64, order)
            }

            pub(crate) fn swap(&self, value: $t, _: Ordering) -> $t {
                $from(self.0.update(|_| value as u64))
            }
        }

        impl Default for $name {
            fn default() -> Self {
                $name::new(Default::default())
            }
        }
    };
}

atomic!(AtomicBool, bool, |value: u64| value != 0);
atomic!(AtomicU8, u8, |value: u64| value as u8);
atomic!(AtomicU64, u64, |value: u64| value);
atomic!(AtomicUsize, usize, |value: u64| value as usize);

impl AtomicU64 {
    pub(crate) fn fetch_add(&self, value: u64, _: Ordering) -> u64 {
        self.0.update(|old| old.wrapping_add(value))
    }
}

impl AtomicUsize {
    pub(crate) fn fetch_add(&self, value: usize, _: Ordering) -> usize {
        self.0.update(|old| old.wrapping_add(value as u64)) as usize
    }
}

/// Shuttle's mutex, draining the thread's buffered stores as it is taken and released.
pub(crate) struct Mutex<T>(shuttle::sync::Mutex<T>);

pub(crate) struct MutexGuard<'a, T>(Option<shuttle::sync::MutexGuard<'a, T>>);

impl<T> Mutex<T> {
    pub(crate) const fn new(value: T) -> Self {
        Mutex(shuttle::sync::Mutex::new(value))
    }

    pub(crate) fn try_lock(&self) -> std::sync::TryLockResult<MutexGuard<'_, T>> {
        drain_mine();
        match self.0.try_lock() {
            Ok(guard) => Ok(MutexGuard(Some(guard))),
            Err(TryLockError::Poisoned(poison)) => Err(TryLockError::Poisoned(PoisonError::new(
                MutexGuard(Some(poison.into_inner())),
            ))),
            Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
        }
    }

    pub(crate) fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        drain_mine();
        match self.0.lock() {
            Ok(guard) => Ok(MutexGuard(Some(guard))),
            Err(poison) => Err(PoisonError::new(MutexGuard(Some(poison.into_inner())))),
        }
    }
}

impl<T> std::ops::Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0.as_ref().expect("held")
    }
}

impl<T> std::ops::DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.0.as_mut().expect("held")
    }
}

impl<T> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        drain_mine();
        self.0.take();
    }
}

/// Few owned slots, so that a model with three threads also has one on the shared slot.
pub(crate) const SLOTS: usize = 2;

/// A checkpoint at every unbiased hit: a shard is biased at a thread's second hit with no write
/// between, so the models' few reads go both ways.
pub(crate) const REBIAS_HITS: u64 = 1;

/// A SeqCst fence: x86's `mfence`, or a locked instruction, drains the thread's buffer.
pub(crate) fn fence(_: Ordering) {
    shuttle::thread::yield_now();
    drain_mine();
}

/// The light side of the asymmetric fence: a compiler fence, nothing on the CPU. A scheduling
/// point, so that a writer's revocation can fall between the mark and the loads after it.
pub(crate) fn light_fence() {
    shuttle::thread::yield_now();
}

pub(crate) fn heavy_fence_available() -> bool {
    true
}

/// `membarrier`: every thread runs a full fence before it returns, which on TSO is: every store
/// buffer drains.
pub(crate) fn heavy_fence() -> bool {
    shuttle::thread::yield_now();
    drain(None);
    shuttle::thread::yield_now();
    true
}

/// A spin is a point where shuttle may run another thread (else a spinning writer never yields),
/// and where every buffer drains (as they do, in time), else a spinning writer could wait forever
/// for a store that sits in a buffer.
pub(crate) fn spin_loop() {
    drain(None);
    shuttle::thread::yield_now();
}

pub(crate) fn yield_now() {
    spin_loop();
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

impl Drop for Scope {
    fn drop(&mut self) {}
}

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
