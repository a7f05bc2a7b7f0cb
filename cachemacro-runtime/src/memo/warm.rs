//! Warm-up: filling a cache before traffic arrives, with `f_warm(items)`.
//!
//! For a memoized `f(a: A, b: &B) -> R`, the macro generates `f_warm(items)`, where `items` is any
//! `IntoIterator` of the function's arguments as it takes them, `(A, &B)`: a tuple of them for
//! several, the argument itself for one, `()` for none. Every argument is given, including those
//! in `ignore` (the body needs them). Each item is looked up as a call of `f` would be: an entry
//! already cached (by this process, or by another one on Redis) is left as it is and counted as
//! [`present`](WarmReport::present); a missing one is computed and stored (on Redis, under the
//! function's `lock`, so processes warming at once compute each item once). A failure (a panic,
//! an uncached `Err` or `None`, a value the backend could not store) is counted and does not stop
//! the rest.
//!
//! At most [`RefreshConfig::workers`](crate::refresh::RefreshConfig::workers) items (default 4)
//! are computed at once: on as many scoped threads for a sync function, so its items, and `self`
//! for a method, must be `Send` and `Sync` respectively (a function whose arguments are not still
//! compiles; only its `f_warm` cannot be called); as many futures polled together in the
//! caller's task for an `async fn` (nothing needs to be `Send`). Called from inside the body of
//! a memoized call on this thread (one that others may wait for, or any sync one), a sync
//! `f_warm` computes its items one at a time on the calling thread instead: a worker calling the
//! key that body computes would wait for it, while it waits for the workers (on this thread such
//! a call runs uncached, as any call made inside its own computation does). `f_warm` returns
//! when every item is done, with a [`WarmReport`]. Warming counts in the cache's statistics as
//! calls do: a present item is a hit, a computed one a miss.
//!
//! ```
//! use cachemacro_runtime::memoize;
//!
//! #[memoize(ttl = "10m")]
//! fn greeting(id: u64, locale: &str) -> String {
//!     format!("hello #{id} ({locale})") // imagine a slow query
//! }
//!
//! let report = greeting_warm((1..=100).map(|id| (id, "en")));
//! assert_eq!((report.stored, report.present, report.failed), (100, 0, 0));
//! assert_eq!(greeting_warm([(1, "en"), (101, "en")]).present, 1);
//! assert_eq!(greeting_cache().len(), Some(101));
//!
//! #[memoize]
//! fn square(n: u64) -> u64 {
//!     n * n
//! }
//!
//! assert_eq!(square_warm(0..10).stored, 10); // one argument: the values themselves
//! ```
//!
//! Inside a [`bypass`](crate::bypass()), `f_warm` runs no body and stores nothing: every item
//! counts as failed.
//!
//! `f_warm` is generated for functions of at most 12 arguments.

use std::cell::Cell;
use std::future::Future;
use std::sync::Mutex;
use std::sync::mpsc::sync_channel;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;

use crate::{bypass, reentry, refresh};

/// What `f_warm` did with its items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WarmReport {
    /// Items computed and stored.
    pub stored: usize,
    /// Items already cached, left as they were.
    pub present: usize,
    /// Items that ended with nothing stored: the body panicked, returned a value that is not
    /// cached (an `Err` without `cache_err`, a `None` with `cache_none = false`), or the backend
    /// could not store it (Redis unreachable: see the cache's `errors`), or the call ran inside
    /// a [`bypass`](crate::bypass()).
    pub failed: usize,
}

impl WarmReport {
    /// How many items were given.
    pub fn total(&self) -> usize {
        self.stored + self.present + self.failed
    }

    fn add(&mut self, outcome: Option<Warmed>) {
        match outcome {
            Some(Warmed::Stored) => self.stored += 1,
            Some(Warmed::Present) => self.present += 1,
            Some(Warmed::Failed) | None => self.failed += 1,
        }
    }

    fn merge(&mut self, other: WarmReport) {
        self.stored += other.stored;
        self.present += other.present;
        self.failed += other.failed;
    }
}

/// What warming one item did.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Warmed {
    Stored,
    Present,
    Failed,
}

impl Warmed {
    /// An item computed here: stored, or not.
    pub(crate) fn computed(stored: bool) -> Warmed {
        if stored {
            Warmed::Stored
        } else {
            Warmed::Failed
        }
    }
}

/// Calls a sync function's warm-up step with one item: `f(context, item)` for a one-argument
/// function, `f(context, a, b, ...)` for a tuple. `N` is the number of arguments.
///
/// The generated `f_warm` names its items only through this bound on a function pointer type,
/// `fn(C, A, B) -> Warmed: WarmCall<C, I::Item, [(); 2]>`, because a pointer type may elide
/// lifetimes (`&str`, `Cow<str>`) where a generic parameter's bound may not.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`f_warm` takes the function's arguments: one item per call, as the function takes them",
    label = "these items are not this function's arguments",
    note = "an item is the argument itself for a one-argument function, and a tuple of them for several (every argument, including those in `ignore`)"
)]
pub trait WarmCall<C, Item, const N: usize> {
    fn call(&self, context: C, item: Item) -> Warmed;
}

impl<F: Fn(C) -> Warmed, C> WarmCall<C, (), 0> for F {
    #[inline]
    fn call(&self, context: C, (): ()) -> Warmed {
        self(context)
    }
}

impl<F: Fn(C, A) -> Warmed, C, A> WarmCall<C, A, 1> for F {
    #[inline]
    fn call(&self, context: C, a: A) -> Warmed {
        self(context, a)
    }
}

/// What a sync `f_warm` asks of its items, in one bound: items it can send to the workers with
/// its `context`, and that its step (the function pointer type `P`, which may elide lifetimes)
/// takes. One bound rather than three, since every token of the generated `f_warm` is compiled at
/// each build of the user's crate.
#[doc(hidden)]
pub trait WarmItems<P, C, const N: usize>: IntoIterator {
    /// Warms these items with `step`: see [`warm`].
    fn warm_with(self, context: C, step: P) -> WarmReport;
}

impl<I, P, C, const N: usize> WarmItems<P, C, N> for I
where
    I: IntoIterator,
    (I::Item, C): Send,
    P: WarmCall<C, I::Item, N> + Sync,
    C: Copy,
{
    fn warm_with(self, context: C, step: P) -> WarmReport {
        warm_on_threads(context, self, |context, item| step.call(context, item))
    }
}

/// Warms `items` with `step` (what the generated sync `f_warm` calls): see [`WarmItems`].
#[doc(hidden)]
pub fn warm<C, I, P, const N: usize>(context: C, items: I, step: P) -> WarmReport
where
    I: WarmItems<P, C, N>,
{
    items.warm_with(context, step)
}

/// What a sync free function's `f_warm` asks of its items, in one bound: items it can send to
/// the workers, each the arguments of `P`, the memoized function itself as a function pointer.
/// Each item is warmed by calling the function, and its outcome observed (see [`observe`]): so
/// `f_warm` adds no step of its own to compile.
#[doc(hidden)]
pub trait WarmArgs<P, const N: usize>: IntoIterator {
    /// Warms these items by calling `f`, whose cache is at `cache`: see [`warm_fn`].
    fn warm_with(self, f: P, cache: usize) -> WarmReport;
}

impl<I, P, const N: usize> WarmArgs<P, N> for I
where
    I: IntoIterator,
    I::Item: Send,
    P: WarmFn<I::Item, N> + Sync,
{
    fn warm_with(self, f: P, cache: usize) -> WarmReport {
        warm_on_threads((), self, |(), item| f.warm_one(cache, item))
    }
}

/// Warms `items` by calling the memoized function `f` with each (what the generated `f_warm` of
/// a sync free function without background refresh calls): see [`WarmArgs`].
#[doc(hidden)]
pub fn warm_fn<I, P, C, const N: usize>(items: I, f: P, cache: &'static C) -> WarmReport
where
    I: WarmArgs<P, N>,
{
    items.warm_with(f, reentry::identity(cache))
}

/// Calls a memoized function with one item and observes what the call did: `f(item)` for a
/// one-argument function, `f(a, b, ...)` for a tuple. `N` is the number of arguments.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`f_warm` takes the function's arguments: one item per call, as the function takes them",
    label = "these items are not this function's arguments",
    note = "an item is the argument itself for a one-argument function, and a tuple of them for several (every argument, including those in `ignore`)"
)]
pub trait WarmFn<Item, const N: usize> {
    fn warm_one(&self, cache: usize, item: Item) -> Warmed;
}

impl<F: Fn() -> R, R> WarmFn<(), 0> for F {
    fn warm_one(&self, cache: usize, (): ()) -> Warmed {
        observe(cache, || drop(self()))
    }
}

impl<F: Fn(A) -> R, A, R> WarmFn<A, 1> for F {
    fn warm_one(&self, cache: usize, a: A) -> Warmed {
        observe(cache, || drop(self(a)))
    }
}

/// [`WarmCall`] and [`WarmFn`] for the tuples of 2 to 12 arguments.
macro_rules! warm_tuples {
    ($($n:literal: ($($arg:ident),+);)+) => {$(
        impl<F: Fn(C, $($arg),+) -> Warmed, C, $($arg),+> WarmCall<C, ($($arg,)+), $n> for F {
            #[inline]
            #[allow(non_snake_case)]
            fn call(&self, context: C, ($($arg,)+): ($($arg,)+)) -> Warmed {
                self(context, $($arg),+)
            }
        }

        impl<F: Fn($($arg),+) -> R, R, $($arg),+> WarmFn<($($arg,)+), $n> for F {
            #[allow(non_snake_case)]
            fn warm_one(&self, cache: usize, ($($arg,)+): ($($arg,)+)) -> Warmed {
                observe(cache, || drop(self($($arg),+)))
            }
        }
    )+};
}

warm_tuples! {
    2: (A, B);
    3: (A, B, D);
    4: (A, B, D, E);
    5: (A, B, D, E, G);
    6: (A, B, D, E, G, H);
    7: (A, B, D, E, G, H, J);
    8: (A, B, D, E, G, H, J, K);
    9: (A, B, D, E, G, H, J, K, L);
    10: (A, B, D, E, G, H, J, K, L, M);
    11: (A, B, D, E, G, H, J, K, L, M, O);
    12: (A, B, D, E, G, H, J, K, L, M, O, P);
}

thread_local! {
    /// While [`observe`] calls a memoized function on this thread: the function's cache, and
    /// what its miss did if it missed (`None`: no miss yet, so a hit).
    static OBSERVED: Cell<Option<(usize, Option<bool>)>> = const { Cell::new(None) };
}

/// Runs `call` (one call of the memoized function whose cache is `cache`) and says what it did:
/// no miss of that cache is a present item; a miss says whether it stored its value. Other
/// caches' misses (a memoized function called by the key, the body or a value's `Clone`) do not
/// count; a miss of the same cache inside the body (recursion) comes before the call's own,
/// which comes last, so the last one counts.
fn observe(cache: usize, call: impl FnOnce()) -> Warmed {
    /// Restores the outer observation, also when `call` panics (the panic counts as failed).
    struct Restore(Option<(usize, Option<bool>)>);
    impl Drop for Restore {
        fn drop(&mut self) {
            OBSERVED.set(self.0);
        }
    }
    let _restore = Restore(OBSERVED.replace(Some((cache, None))));
    call();
    match OBSERVED.get() {
        Some((_, Some(true))) => Warmed::Stored,
        Some((_, Some(false))) => Warmed::Failed,
        _ => Warmed::Present,
    }
}

/// A sync call's miss in `cache` computed its value (and `stored` it, or not): recorded for
/// [`observe`] when it watches that cache on this thread.
pub(crate) fn observe_computed(cache: usize, stored: bool) {
    // `try_with`: a call made while the thread's locals are being destroyed is not warming.
    let _ = OBSERVED.try_with(|observed| {
        if let Some((watched, _)) = observed.get()
            && watched == cache
        {
            observed.set(Some((cache, Some(stored))));
        }
    });
}

/// Warms `items` on up to `workers` scoped threads, each calling `one` with `context` and an item.
///
/// `context` is `&self` for a method (`()` otherwise) and travels with each item, so the one bound
/// `(Item, C): Send` covers both. The generated `f_warm` states that bound on its own generic
/// parameter, so a function whose arguments are not `Send` still compiles: only calling its
/// `f_warm` is an error.
fn warm_on_threads<C, I, F>(context: C, items: I, one: F) -> WarmReport
where
    C: Copy,
    I: IntoIterator,
    (I::Item, C): Send,
    F: Fn(C, I::Item) -> Warmed + Sync,
{
    if bypass::active() {
        // The workers would not be bypassed: nothing is warmed.
        return bypassed(items);
    }
    if reentry::computing_any() {
        // Called from a body that others may wait for: a worker calling that body's key would
        // wait for it while it waits for the workers. On this thread, such a call finds that it
        // computes the key, and runs uncached.
        return warm_here(context, items, &one);
    }
    let workers = refresh::workers();
    let (sender, receiver) = sync_channel::<(I::Item, C)>(workers);
    // Workers take turns at the one receiver; the lock is held for a `recv` only.
    let receiver = Mutex::new(receiver);
    let work = || {
        let mut report = WarmReport::default();
        loop {
            let next = match receiver.lock() {
                Ok(receiver) => receiver.recv(),
                Err(poisoned) => poisoned.into_inner().recv(),
            };
            let Ok((item, context)) = next else {
                return report;
            };
            report.add(refresh::run_caught(|| one(context, item)));
        }
    };
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map_while(|_| std::thread::Builder::new().spawn_scoped(scope, work).ok())
            .collect();
        let mut report = WarmReport::default();
        if handles.is_empty() {
            // No thread could be started: warm here, one item at a time.
            return warm_here(context, items, &one);
        }
        for item in items {
            if sender.send((item, context)).is_err() {
                break; // Unreachable while a worker lives: workers only stop once it is closed.
            }
        }
        drop(sender);
        for handle in handles {
            // `work` catches the panics of `one`, so a worker does not panic.
            if let Ok(part) = handle.join() {
                report.merge(part);
            }
        }
        report
    })
}

/// Warms `items` on this thread, one at a time.
fn warm_here<C: Copy, I: IntoIterator>(
    context: C,
    items: I,
    one: &impl Fn(C, I::Item) -> Warmed,
) -> WarmReport {
    let mut report = WarmReport::default();
    for item in items {
        report.add(refresh::run_caught(|| one(context, item)));
    }
    report
}

/// Warms `items` with up to `workers` futures polled at once in the caller's task.
#[doc(hidden)]
pub async fn warm_async<I, F, Fut>(items: I, mut one: F) -> WarmReport
where
    I: IntoIterator,
    F: FnMut(I::Item) -> Fut,
    Fut: Future<Output = Warmed>,
{
    // Checked at the first poll, inside the caller's `bypass_async` if there is one.
    if bypass::active() {
        return bypassed(items);
    }
    // A loop rather than `stream::iter(..).map(..).buffer_unordered(..)`: with the closures of
    // that chain, the future would not be `Send`, and could not be spawned.
    let workers = refresh::workers();
    let mut items = items.into_iter();
    let mut running = FuturesUnordered::new();
    let mut report = WarmReport::default();
    loop {
        while running.len() < workers {
            let Some(item) = items.next() else { break };
            running.push(refresh::await_caught(one(item)));
        }
        match running.next().await {
            Some(outcome) => report.add(outcome),
            None => return report,
        }
    }
}

/// Inside a bypass: every item counts as failed, and no body runs.
fn bypassed(items: impl IntoIterator) -> WarmReport {
    WarmReport {
        failed: items.into_iter().count(),
        ..WarmReport::default()
    }
}
