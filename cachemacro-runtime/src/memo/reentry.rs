//! Re-entrant calls: a memoized call of a key that this thread (sync) or this task (async) is
//! computing right now runs its body uncached, instead of waiting for the computation it is part
//! of, which would wait for it in turn, forever.
//!
//! An in-process sync caller that computes a key on its own stack marks the key's flight with its
//! thread instead (`memory/store.rs`): a call of that key made inside the computation finds the
//! mark under the shard's mutex, and no list is written on such a miss. Whoever else computes a
//! key that others may wait for (an in-process leader in a task or the blocking driver, a Redis
//! flight leader or lock holder, a Redis refresh holding the lock) lists the (cache, key) pair in a
//! thread-local while its body runs: the protocol runs the body through [`run_async`] (a sync
//! caller's too, polled by the blocking driver), which lists the pair during each of the body's
//! polls, so a nested call in the same task or thread, polled inside, sees it, while another
//! task that the same thread polls between two of those polls does not. A caller about to wait for a key asks
//! [`computing`] first; only the way to a wait asks, never a hit.
//!
//! Work the body hands to another thread or task and then waits for is not the body's own: a
//! call of the same key there waits for the body, which waits for it.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;

thread_local! {
    /// The (cache, key) pairs whose bodies this thread is running, innermost last.
    static COMPUTING: RefCell<Vec<(usize, u128)>> = const { RefCell::new(Vec::new()) };
    /// How many computations of flights this thread owns (unlisted, see above) it is running.
    static OWNED: Cell<usize> = const { Cell::new(0) };
}

/// True while this thread runs the body of any computation that other callers may wait for:
/// work it hands to other threads and then waits for must not call those keys (`f_warm` then
/// warms on this thread instead).
pub(crate) fn computing_any() -> bool {
    OWNED.with(Cell::get) > 0
        || COMPUTING
            .try_with(|pairs| !pairs.borrow().is_empty())
            .unwrap_or(false)
}

/// Runs `body`, a sync caller's computation that is not listed: under a flight this thread owns
/// (its owner tells a nested call of its key), or without a flight (`lock = "none"`, the Redis
/// backend's unlocked calls). Counted for [`computing_any`].
#[inline(always)]
pub(crate) fn run_owned<T>(body: impl FnOnce() -> T) -> T {
    /// Counts down again when the body returns or unwinds.
    struct Owned;
    impl Drop for Owned {
        #[inline(always)]
        fn drop(&mut self) {
            // A `Cell` without a destructor: its thread-local is always accessible.
            OWNED.with(|owned| owned.set(owned.get().wrapping_sub(1)));
        }
    }
    OWNED.with(|owned| owned.set(owned.get() + 1));
    let _owned = Owned;
    body()
}

/// A cache's identity: its address (caches live in statics, and are never moved). Also what
/// warm-up observes a cache by (`warm.rs`).
pub(crate) fn identity<C: ?Sized>(cache: &C) -> usize {
    std::ptr::from_ref(cache).cast::<()>() as usize
}

/// True when this thread (or, inside a future's poll, this task) is running the body that
/// computes `key` of `cache`: a call of that key must not wait for it.
pub(crate) fn computing<C: ?Sized>(cache: &C, key: u128) -> bool {
    let pair = (identity(cache), key);
    // During thread-local destruction nothing is listed (see `Listed::enter_identity`).
    COMPUTING
        .try_with(|pairs| pairs.borrow().contains(&pair))
        .unwrap_or(false)
}

/// A listed pair, unlisted when dropped (also when the body panics). The list is popped to the
/// length it had before, so a scope always removes exactly what it added. Dropped on the thread
/// that made it, after every pair listed since (scopes nest).
struct Listed(Option<usize>);

impl Listed {
    fn enter_identity(cache: usize, key: u128) -> Listed {
        // Fails only while this thread's locals are being destroyed: the body runs unlisted.
        Listed(
            COMPUTING
                .try_with(|pairs| {
                    let mut pairs = pairs.borrow_mut();
                    pairs.push((cache, key));
                    pairs.len() - 1
                })
                .ok(),
        )
    }
}

impl Drop for Listed {
    fn drop(&mut self) {
        if let Some(len) = self.0 {
            let _ = COMPUTING.try_with(|pairs| pairs.borrow_mut().truncate(len));
        }
    }
}

/// Lists the pair until the guard is dropped: user code that belongs to the computation of `key`
/// of `cache` (its value's `Clone` as it lands) and runs outside [`run`].
pub(crate) fn list<C: ?Sized>(cache: &C, key: u128) -> impl Drop {
    Listed::enter_identity(identity(cache), key)
}

/// Runs `body`, the computation of `key` of `cache`, with the pair listed: a sync caller's body
/// that the protocol runs on the caller's own thread.
pub(crate) fn run<C: ?Sized, T>(cache: &C, key: u128, body: impl FnOnce() -> T) -> T {
    let _listed = Listed::enter_identity(identity(cache), key);
    body()
}

/// [`run`] for a future: the pair is listed during each poll of `body`.
pub(crate) async fn run_async<C: ?Sized, F: Future>(cache: &C, key: u128, body: F) -> F::Output {
    let cache = identity(cache);
    let mut body = pin!(body);
    std::future::poll_fn(|cx| {
        let _listed = Listed::enter_identity(cache, key);
        body.as_mut().poll(cx)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    static CACHE: u8 = 1;
    static OTHER: u8 = 2;

    #[test]
    fn a_pair_is_listed_while_its_body_runs() {
        let (cache, other) = (&CACHE, &OTHER);
        assert!(!computing(cache, 5));
        run(cache, 5, || {
            assert!(computing(cache, 5));
            assert!(!computing(cache, 6), "another key");
            assert!(!computing(other, 5), "another cache");
            run(cache, 6, || {
                assert!(computing(cache, 5) && computing(cache, 6))
            });
            assert!(!computing(cache, 6));
        });
        assert!(!computing(cache, 5));
    }

    #[test]
    fn a_panicking_body_unlists_its_pair() {
        let cache = &CACHE;
        let caught = std::panic::catch_unwind(|| run(cache, 5, || panic!("body")));
        assert!(caught.is_err());
        assert!(!computing(cache, 5));
    }

    #[test]
    fn a_future_is_listed_only_while_it_is_polled() {
        let cache = &CACHE;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(async {
            let (resume, resumed) = tokio::sync::oneshot::channel::<()>();
            let body = tokio::spawn(run_async(cache, 5, async move {
                assert!(computing(cache, 5), "in the body's poll");
                resumed.await.unwrap();
                assert!(computing(cache, 5), "in a later poll");
            }));
            tokio::task::yield_now().await;
            assert!(!computing(cache, 5), "between its polls, in another task");
            resume.send(()).unwrap();
            body.await.unwrap();
        });
    }
}
