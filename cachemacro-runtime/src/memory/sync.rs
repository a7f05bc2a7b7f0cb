//! The primitives the read-mostly lock ([`crate::memory::read_lock`]), the per-thread slots
//! ([`crate::memory::per_thread`]) and the table ([`crate::memory::store`]) are built from: std's here.
//!
//! Those three files name their atomics, mutex, cell, thread-locals and spin hints through this
//! module only (`super::sync`), so that the model checker (`memory/model.rs`, tests only) can compile
//! the same files a second time beside a `sync` module of shuttle's primitives and explore their
//! interleavings. That keeps the model tests in a plain `cargo test`, with no feature flag and no
//! `cfg` in the code they check. Everything here compiles to what std's own would.

pub(crate) use std::hint::spin_loop;
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering, fence};
pub(crate) use std::sync::{Mutex, PoisonError, TryLockError};
pub(crate) use std::thread::yield_now;
pub(crate) use std::thread_local;

/// Threads with a slot of their own (see [`crate::memory::per_thread`]).
pub(crate) const SLOTS: usize = 64;

/// Hits between a thread's bias checkpoints (see [`crate::memory::read_lock`]): with
/// `membarrier` at ~9.3 us, revoking at most about once per this many hits of a cache, in
/// aggregate, costs under 0.2 ns a hit.
pub(crate) const REBIAS_HITS: u64 = 1 << 16;

pub(crate) use super::membarrier::{available as heavy_fence_available, heavy as heavy_fence};

/// The light side of the asymmetric fence: the compiler keeps the order, the CPU need not (a
/// writer's [`heavy_fence`] makes up for it).
#[inline(always)]
pub(crate) fn light_fence() {
    std::sync::atomic::compiler_fence(Ordering::SeqCst);
}

/// `std::cell::UnsafeCell` behind closures that bound each access, as loom's is: the model's
/// cell checks that no `&mut` access overlaps another access.
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

impl<T> UnsafeCell<T> {
    pub(crate) const fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    /// Runs `f` with a pointer for shared access.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Runs `f` with a pointer for exclusive access.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Marks this thread, until dropped, as running code inside a store's read or write: memoized
/// calls made meanwhile (from a value's `Clone`) run uncached (see [`crate::bypass()`]).
#[inline(always)]
pub(crate) fn store_access() -> crate::bypass::Scope {
    crate::bypass::Scope::enter_store_read()
}

/// True while this thread runs code inside a store's read or write.
#[inline(always)]
pub(crate) fn in_store_access() -> bool {
    crate::bypass::in_store_read()
}

/// A process-wide `static`, initialised at compile time (the model makes it one per execution).
macro_rules! global {
    ($(#[$attr:meta])* static $name:ident: $t:ty = $init:expr;) => {
        $(#[$attr])* static $name: $t = $init;
    };
}
pub(crate) use global;

/// Code compiled in the std build only: the unit tests of the files the model compiles again.
macro_rules! std_only {
    ($($item:item)*) => { $($item)* };
}
pub(crate) use std_only;
