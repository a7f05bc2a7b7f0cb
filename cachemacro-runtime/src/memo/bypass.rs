//! Fresh data on one path without turning caching off for the whole program.
//!
//! Inside [`bypass`] (sync code) or [`bypass_async`] (a future), every memoized function runs its
//! body and neither reads nor writes any cache, on that thread or in that future only: other
//! threads and tasks keep caching. It covers the calls made inside, however deep, but not work
//! handed to other threads or spawned as other tasks. The mark is the thread's while the closure
//! (or a poll of the future) runs, so an executor driven from inside, such as a current-thread
//! runtime's `block_on` or a `LocalSet`, bypasses every task it polls meanwhile.
//!
//! ```
//! use cachemacro_runtime::{bypass, memoize};
//!
//! #[memoize(ttl = 60)]
//! fn balance(account: u64) -> i64 {
//!     account as i64 * 100 // imagine a database query
//! }
//!
//! balance(7); // cached
//! // A payment must see the balance as it is now, not as it was up to a minute ago:
//! let fresh = bypass(|| balance(7)); // runs the body; the cached entry is neither read nor replaced
//! assert_eq!(fresh, 700);
//! assert_eq!(balance_cache().stats().hits, 0);
//! ```
//!
//! The companions that say what they do still do it inside a bypass: `f_refresh` stores, and
//! `f_invalidate` removes, so a fresh path can write back what it learnt. (Not so inside a cached
//! value's `Clone` while an in-process cache reads it: there they are skipped.) `f_warm`, which fills
//! the cache on behalf of calls of `f`, does nothing inside a bypass (every item counts as
//! failed).

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;

thread_local! {
    /// Non-zero while this thread is inside a bypass, or inside user code that an in-process
    /// store runs during one of its reads (a value's `Clone`): in both cases a memoized call
    /// must not touch a cache. One counter for both keeps the hit path at one thread-local read;
    /// a store's read counts in units of [`IN_READ`], so that it can be told apart.
    static DEPTH: Cell<u32> = const { Cell::new(0) };
}

/// What a store's read adds to [`DEPTH`]; bypasses add one each.
const IN_READ: u32 = 1 << 16;

/// True while memoized calls on this thread must run uncached.
#[inline]
pub(crate) fn active() -> bool {
    DEPTH.with(|depth| depth.get() != 0)
}

/// True while this thread runs user code in the middle of an in-process store's read (a value's
/// `Clone`): it must not write to any in-process store, since a writer waits for readers, this
/// one included.
#[inline]
pub(crate) fn in_store_read() -> bool {
    DEPTH.with(|depth| depth.get() >= IN_READ)
}

/// Marks this thread as bypassing caches until dropped (also when unwinding).
pub(crate) struct Scope(u32);

impl Scope {
    /// A bypass.
    #[inline]
    pub(crate) fn enter() -> Scope {
        Scope::add(1)
    }

    /// A store's read running user code.
    #[inline]
    pub(crate) fn enter_store_read() -> Scope {
        Scope::add(IN_READ)
    }

    #[inline]
    fn add(amount: u32) -> Scope {
        DEPTH.with(|depth| depth.set(depth.get() + amount));
        Scope(amount)
    }
}

impl Drop for Scope {
    #[inline]
    fn drop(&mut self) {
        DEPTH.with(|depth| depth.set(depth.get() - self.0));
    }
}

/// Runs `f` with every memoized function running its body and touching no cache, on this thread
/// only. Bypasses nest; a panic in `f` ends the bypass as it unwinds.
pub fn bypass<T>(f: impl FnOnce() -> T) -> T {
    let _scope = Scope::enter();
    f()
}

/// The async form of [`bypass`]: while `future` runs, the memoized functions it calls or awaits
/// run their bodies and touch no cache. Scoped to this future, not to the thread that polls it:
/// other tasks on the same worker thread keep caching, and tasks it spawns are not bypassed.
///
/// ```
/// use cachemacro_runtime::{bypass_async, memoize};
///
/// #[memoize(ttl = 60)]
/// async fn stock(item: u64) -> u32 {
///     item as u32 // imagine an inventory service
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// stock(3).await;
/// let fresh = bypass_async(async { stock(3).await }).await; // runs the body
/// assert_eq!((fresh, stock_cache().stats().hits), (3, 0));
/// # });
/// ```
pub async fn bypass_async<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    // The thread is marked only while this future is being polled: between polls other tasks run
    // on it, and they are not bypassed.
    std::future::poll_fn(|cx| {
        let _scope = Scope::enter();
        future.as_mut().poll(cx)
    })
    .await
}
