//! Forked children: which process generation this is, counted by a `pthread_atfork` handler.
//!
//! The child of a `fork()` has one thread, the one that forked. The crate's own threads (the Redis
//! backend's runtime, which drives every socket and timer of its connections, and the near
//! tiers' trackers on it; the clock's ticking thread; the refresh pools) stayed in the parent,
//! and the child's copies of their state still say they run. Used from the child, a Redis
//! operation would wait forever (nothing polls its socket, nor fires its deadline), the clock
//! would stand still (entries would never expire), a near tier would serve entries that no
//! tracker invalidates, and a blocking connection's socket would be read by both processes (a
//! reply could reach the wrong one). So each of these is made per generation: a child makes its
//! own on first use, and leaves the parent's alone. It never drops them either: dropping a
//! socket registered with the parent's runtime would take it out of the epoll instance that the
//! two processes share, and dropping the runtime would wait for a thread that is not there.
//!
//! What a child cannot have back: a lock, a read or a computation that another thread of the
//! parent held at the moment of the fork (the child's callers of that key would wait for it).
//! That includes the crate's own threads: a refresh landing, or an invalidation being applied to a
//! near tier's copy in the parent (the child's tier is its own). As with any mutex, fork while no
//! other thread is using the caches, or call `exec` (`std::process::Command` does). Forks that
//! skip `pthread_atfork` handlers (`_Fork`, a raw `clone`) are not counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

/// How many forks lie between this process and the first one that started counting.
static FORKS: AtomicU64 = AtomicU64::new(0);

/// This process' generation: 0 in the process that started counting, one more in each child
/// forked since. What the crate makes per process records the generation it was made in.
#[inline(always)]
pub(crate) fn generation() -> u64 {
    FORKS.load(Ordering::Relaxed)
}

/// Starts counting forks, once per process tree: on the first [`PerProcess`] value made, since
/// forks before it leave a child nothing to make anew.
fn watch() {
    static WATCHING: std::sync::Once = std::sync::Once::new();
    WATCHING.call_once(atfork::register);
}

/// Every Unix target whose `libc` has `pthread_atfork`.
#[cfg(all(
    unix,
    not(any(target_os = "emscripten", target_os = "nuttx", target_os = "l4re"))
))]
mod atfork {
    use super::{FORKS, Ordering};

    pub(super) fn register() {
        // SAFETY: `forked` only changes two atomics (an add, an `or`), which is
        // async-signal-safe, as a handler that runs in the child of a multi-threaded process
        // must be.
        let status = unsafe { libc::pthread_atfork(None, None, Some(forked)) };
        if status != 0 {
            tracing::warn!(
                status,
                "cachemacro: pthread_atfork failed; a forked child must not use the caches"
            );
        }
    }

    /// The child's handler: runs in the child, on the forking thread, before `fork` returns
    /// there.
    unsafe extern "C" fn forked() {
        FORKS.fetch_add(1, Ordering::Relaxed);
        crate::clock::forked();
    }
}

/// Elsewhere there is no `fork` to count.
#[cfg(not(all(
    unix,
    not(any(target_os = "emscripten", target_os = "nuttx", target_os = "l4re"))
)))]
mod atfork {
    pub(super) fn register() {}
}

/// A value made once per process generation, on first use, and never dropped: the one of the
/// process that started counting lives in a `OnceLock` (one load more per use than a plain
/// `OnceLock`), a forked child's behind a mutex, leaked.
pub(crate) struct PerProcess<T: 'static> {
    first: OnceLock<T>,
    forked: Mutex<Option<(u64, &'static T)>>,
}

impl<T: Send + Sync + 'static> PerProcess<T> {
    pub(crate) const fn new() -> Self {
        PerProcess {
            first: OnceLock::new(),
            forked: Mutex::new(None),
        }
    }

    /// The first process' value, if it was made (whichever process asks).
    pub(crate) fn first(&self) -> Option<&T> {
        self.first.get()
    }

    /// This process' value, made by `make` if there is none yet (counting forks from then on).
    #[inline]
    pub(crate) fn get(&'static self, make: impl FnOnce() -> T) -> &'static T {
        let forks = generation();
        if forks == 0 {
            self.first.get_or_init(|| {
                watch();
                make()
            })
        } else {
            self.in_child(forks, make)
        }
    }

    #[cold]
    fn in_child(&'static self, forks: u64, make: impl FnOnce() -> T) -> &'static T {
        let mut forked = self.forked.lock().unwrap_or_else(PoisonError::into_inner);
        match *forked {
            Some((generation, made)) if generation == forks => made,
            _ => {
                let made: &'static T = Box::leak(Box::new(make()));
                *forked = Some((forks, made));
                made
            }
        }
    }
}
