//! Forked children: which process generation this is, counted by a `pthread_atfork` handler.
//!
//! The child of a `fork()` has one thread, the one that forked. The crate's own threads (the Redis
//! backend's runtime, which drives every socket and timer of its connections, the near tiers'
//! trackers on that runtime, the sync refresh pool) stayed in the parent, and the child's copies
//! of their state still say they run. Used from the child, a Redis operation would wait forever
//! (nothing polls its socket, nor fires its deadline), a near tier would serve entries that no
//! tracker invalidates, and a blocking connection's socket would be read by both processes (a
//! reply could reach the wrong one). So each of these is made per generation: a child makes its
//! own on first use, and leaves the parent's untouched (dropping them would wait for threads
//! that are not there).
//!
//! What a child cannot have back: a lock, a read or a computation that another thread of the
//! parent held at the moment of the fork (the child's callers of that key would wait for it). As
//! with any mutex, fork while no other thread is using the caches, or call `exec`
//! (`std::process::Command` does).

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

/// Starts counting forks, once per process tree; called before the first thread or connection
/// that a child would have to make anew, since forks before it need nothing.
pub(crate) fn watch() {
    static WATCHING: std::sync::Once = std::sync::Once::new();
    WATCHING.call_once(register);
}

#[cfg(target_os = "linux")]
fn register() {
    // SAFETY: `forked` only adds to an atomic, which is async-signal-safe, as a handler that runs
    // in the child of a multi-threaded process must be.
    let status = unsafe { libc::pthread_atfork(None, None, Some(forked)) };
    if status != 0 {
        tracing::warn!(
            status,
            "cachemacro: pthread_atfork failed; a forked child must not use Redis-backed functions"
        );
    }
}

#[cfg(not(target_os = "linux"))]
fn register() {}

/// The child's handler: runs in the child, on the forking thread, before `fork` returns there.
#[cfg(target_os = "linux")]
unsafe extern "C" fn forked() {
    FORKS.fetch_add(1, Ordering::Relaxed);
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

    /// This process' value, made by `make` if there is none yet.
    #[inline]
    pub(crate) fn get(&'static self, make: impl FnOnce() -> T) -> &'static T {
        let forks = generation();
        if forks == 0 {
            self.first.get_or_init(make)
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
