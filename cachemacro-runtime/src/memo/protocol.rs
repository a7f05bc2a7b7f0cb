//! The memoization protocol, written once for every backend and for sync and async callers.
//!
//! A call looks its key up: a hit (maybe stale, with the claim on its refresh), or this caller's
//! turn to compute the value, or, inside a bypass or the key's own computation, a body to run
//! uncached. Waiting for another caller's flight (and for another process' lock on Redis)
//! happens inside the backend's lookup. A computed value lands through the backend: stored,
//! handed to the waiters, the lock released. A stale hit schedules its refresh on the pool, which
//! the backend runs and lands. Warm-up is a lookup whose stale claims are given back.
//!
//! The protocol is async; sync entry points run it through the blocking driver
//! ([`block_on`]), except the in-process hit ([`Protocol::hit`]), which stays inline and
//! lock-free in the memoized function, and a sync lookup that waits for no other caller
//! ([`Protocol::find_now`]: the in-process miss, Redis' read on a blocking connection), whose
//! body runs and lands on the caller's thread.
//!
//! The entry points are small generic shims over code that is generic over the cache, the value
//! type and (for sync callers) the arguments' tuple alone: the body is a function pointer or
//! behind `dyn`, so a crate of many memoized functions compiles the protocol once per signature,
//! not once per function.

use std::future::Future;
use std::pin::{Pin, pin};
use std::task::{Context, Poll};

use crate::cache::{Backend, Cache};
use crate::layout::{Keep, Layout, kept};
use crate::memo::driver::block_on;
use crate::memo::warm::{self, Warmed};
use crate::{FnConfig, reentry, refresh};

/// What a hit checks of an entry's age. The macro knows it for each function, and the sync
/// entry points pass it as constants into their inlined hit, where the checks a function does
/// not need (the clock read, the refresh's age) fold away: 173 to 159 instructions for a hit of
/// a function without a `ttl` (callgrind, `BENCHMARKS.md`, issue 13).
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct Aging {
    /// Entries expire (a `ttl`): a hit reads the clock.
    pub expires: bool,
    /// A hit may claim a background refresh (`refresh = "background"`).
    pub refreshes: bool,
}

impl Aging {
    /// What `config` asks for: the slow path's looks, where the checks cost nothing worth
    /// folding.
    pub(crate) fn of(config: &FnConfig) -> Aging {
        Aging {
            expires: config.ttl_ms > 0,
            refreshes: config.refresh_after_ms > 0,
        }
    }
}

/// What a backend's lookup of a key came to.
pub enum Found<R, Lead, Stale> {
    /// A value; with the claim on its refresh when it is stale and this caller schedules one.
    Value(R, Option<Stale>),
    /// This caller computes the value, and `lead` lands it. `listed`: others wait for this
    /// computation (a flight, a lock), so its body runs as the key's computation (see `reentry`);
    /// false too when the backend tells a re-entrant call itself (the in-process backend, for a
    /// flight that the caller's thread leads on its own stack: a sync caller's).
    Compute {
        /// What lands the value.
        lead: Lead,
        /// Whether others wait for it.
        listed: bool,
    },
    /// Run the body and return its value, touching nothing: inside a bypass, or a call made
    /// inside the computation of its own key.
    Return,
}

/// What a lookup ended with.
enum Looked<Ret, Stale> {
    /// A value from the cache, or from another caller's computation; with the claim on its
    /// refresh when it is stale.
    Found(Ret, Option<Stale>),
    /// The body's value, and whether it was stored.
    Computed(Ret, bool),
}

impl<Ret, Stale> Looked<Ret, Stale> {
    fn value(self) -> Ret {
        match self {
            Looked::Found(value, _) | Looked::Computed(value, _) => value,
        }
    }

    fn warmed(self) -> Warmed {
        match self {
            Looked::Found(..) => Warmed::Present,
            Looked::Computed(_, stored) => Warmed::computed(stored),
        }
    }
}

/// A scheduled refresh's job, boxed for the pool (which boxes it anyway).
type BlockingJob<Ret> = Box<dyn FnOnce() -> Ret + Send>;

/// [`BlockingJob`] for async functions.
type TaskJob<Ret> = Pin<Box<dyn Future<Output = Ret> + Send>>;

/// The body of a sync function with background refresh: its arguments, held until the lookup
/// says whether the body runs (it takes them) or a stale hit schedules a refresh (it borrows
/// them). Ready when first polled.
struct Deferred<A, B> {
    args: Option<A>,
    body: Option<B>,
}

// Never pinned structurally: the arguments and the body are moved out.
impl<A, B> Unpin for Deferred<A, B> {}

impl<A, B, Ret> Future for Deferred<A, B>
where
    B: FnOnce(A) -> Ret,
{
    type Output = Ret;

    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Ret> {
        let this = self.get_mut();
        match (this.args.take(), this.body.take()) {
            (Some(args), Some(body)) => Poll::Ready(body(args)),
            // Polled after it completed: a contract violation that never happens here.
            _ => Poll::Pending,
        }
    }
}

pin_project_lite::pin_project! {
    /// [`Deferred`] for async functions: the body's future, once started, is polled in place.
    struct DeferredAsync<A, B, F> {
        args: Option<A>,
        body: Option<B>,
        #[pin]
        started: Option<F>,
    }
}

impl<A, B, F> Future for DeferredAsync<A, B, F>
where
    B: FnOnce(A) -> F,
    F: Future,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        if let (Some(args), Some(body)) = (this.args.take(), this.body.take()) {
            this.started.set(Some(body(args)));
        }
        match this.started.as_pin_mut() {
            Some(started) => started.poll(cx),
            // Polled after it completed: a contract violation that never happens here.
            None => Poll::Pending,
        }
    }
}

/// A sync body as a future: ready when first polled. One type per value type, where an async
/// block around each function's body would be one per function.
struct CallOnce<'a, Ret>(&'a mut dyn FnMut() -> Option<Ret>);

impl<Ret> Future for CallOnce<'_, Ret> {
    type Output = Ret;

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Ret> {
        match (self.0)() {
            Some(value) => Poll::Ready(value),
            // Polled after it completed: a contract violation that never happens here.
            None => Poll::Pending,
        }
    }
}

/// `build`, callable once through `&mut dyn FnMut`.
fn once<T>(build: impl FnOnce() -> T) -> impl FnMut() -> Option<T> {
    let mut build = Some(build);
    move || build.take().map(|build| build())
}

/// The steps of the protocol that a backend implements. Not a public API.
#[doc(hidden)]
pub trait Protocol<R, L>: Backend<R> + Sized {
    /// The caller computing a key: what lands its value.
    type Lead<'a>
    where
        Self: 'a,
        R: 'a,
        L: 'a;
    /// A stale entry's refresh, claimed by the hit that found it.
    type Stale;
    /// The claim, held by the scheduled refresh until it lands (dropped, it gives the refresh
    /// back).
    type Claim: Send + 'static;

    /// What [`before_put`](Protocol::before_put) takes.
    type Before: Send;

    /// The hit path, inline and lock-free: a live value (and its refresh's claim), or `None` for
    /// the slow path. Only the in-process backend has one. `aging`: what the function's entries
    /// need checked: constants on the sync entry points, the config's on the slow path (Redis'
    /// near tier keeps its own ages and ignores it).
    fn hit(cache: &Cache<R, L, Self>, key: u128, aging: Aging) -> Option<(R, Option<Self::Stale>)>;

    /// The lookup; `after_hit`: [`hit`](Self::hit) has just found nothing.
    fn find(
        cache: &Cache<R, L, Self>,
        key: u128,
        after_hit: bool,
    ) -> impl Future<Output = Found<R, Self::Lead<'_>, Self::Stale>>;

    /// The lookup of a sync caller, on its thread: `None` when it would wait for another caller
    /// here and the backend does not (or the backend has no such lookup), and the caller then
    /// runs [`find`](Self::find) under the blocking driver. What it returns lands with
    /// [`land_now`](Self::land_now). The in-process backend's misses take this path (no state
    /// machine, no driver; a wait for another caller's flight keeps that flight), and Redis'
    /// lookups, whose read blocks the caller's thread on a connection of its own.
    fn find_now(
        cache: &Cache<R, L, Self>,
        key: u128,
        after_hit: bool,
    ) -> Option<Found<R, Self::Lead<'_>, Self::Stale>> {
        let _ = (cache, key, after_hit);
        None
    }

    /// Lands a lead that [`find_now`](Self::find_now) gave, on the caller's thread.
    fn land_now<'a>(cache: &'a Cache<R, L, Self>, lead: Self::Lead<'a>, kept: Option<&R>) -> bool {
        block_on(Self::land(cache, lead, kept))
    }

    /// Lands a computed value: stores `kept` (if there is one to keep), hands it to the waiters,
    /// releases what the lead holds. True if stored.
    fn land<'a>(
        cache: &'a Cache<R, L, Self>,
        lead: Self::Lead<'a>,
        kept: Option<&R>,
    ) -> impl Future<Output = bool>;

    /// What [`put`](Protocol::put) is given back: taken before `f_refresh` runs its body, so that
    /// a write of the key meanwhile (an invalidation) can tell that the value predates it. The
    /// in-process backend's count of its shard's invalidations; on Redis, its time (`marks.rs`).
    fn before_put(cache: &Cache<R, L, Self>, key: u128) -> impl Future<Output = Self::Before>;

    /// Stores `kept` under `key`, replacing any entry (`f_refresh`), unless `before` (from
    /// [`before_put`](Protocol::before_put)) shows the key's entry was written since the body
    /// began. True if stored.
    fn put(
        cache: &Cache<R, L, Self>,
        key: u128,
        kept: &R,
        before: Self::Before,
    ) -> impl Future<Output = bool>;

    /// Removes the entry under `key`; true if there was a live one (`f_invalidate`).
    fn remove(cache: &Cache<R, L, Self>, key: u128) -> impl Future<Output = bool>;

    /// Turns a stale hit's claim into the scheduled refresh's.
    fn claim(cache: &'static Cache<R, L, Self>, key: u128, stale: Self::Stale) -> Self::Claim;

    /// Gives a stale hit's claim back, for a later call to schedule (warm-up does not refresh).
    fn decline(cache: &Cache<R, L, Self>, key: u128, stale: Self::Stale);

    /// Runs a scheduled refresh (on the pool): `job`'s value replaces the stale entry.
    fn refresh<Ret>(
        cache: &'static Cache<R, L, Self>,
        key: u128,
        claim: Self::Claim,
        cacheable: impl Fn(&Ret) -> bool + Send,
        job: impl Future<Output = Ret> + Send,
    ) -> impl Future<Output = ()> + Send
    where
        L: Keep<Ret, Kept = R>;

    /// Counts a refresh the pool refused (its claim has been dropped).
    fn refused(cache: &Cache<R, L, Self>);
}

/// The entry points the generated code calls, the same for every backend.
///
/// Each is a small generic shim: the hit inline, then the slow path through code that is generic
/// over the cache and the value type alone for sync callers (the body behind `dyn`, `cacheable` a
/// function pointer), so that a crate of many memoized functions of one return type compiles the protocol
/// once.
impl<R, L, B> Cache<R, L, B>
where
    R: Clone + Send + Sync + 'static,
    L: Layout,
    B: Protocol<R, L> + Send + Sync + 'static,
{
    /// The protocol: looks `key` up and, when this caller is to compute it, runs `body` and lands
    /// its value. A stale hit's claim is returned with its value.
    async fn look_up<Ret, F>(
        &self,
        key: u128,
        after_hit: bool,
        cacheable: fn(&Ret) -> bool,
        body: Pin<&mut F>,
    ) -> Looked<Ret, B::Stale>
    where
        L: Keep<Ret, Kept = R>,
        F: Future<Output = Ret> + ?Sized,
    {
        match B::find(self, key, after_hit).await {
            Found::Value(value, stale) => Looked::Found(L::restore(value), stale),
            Found::Return => Looked::Computed(body.await, false),
            Found::Compute { lead, listed } => {
                // A panic or a cancellation here drops `lead`, which releases the waiters (and
                // the lock) without storing.
                let value = if listed {
                    reentry::run_async(self, key, body).await
                } else {
                    body.await
                };
                let stored = B::land(self, lead, kept::<Ret, L>(&cacheable, &value)).await;
                Looked::Computed(value, stored)
            }
        }
    }

    /// [`look_up`](Self::look_up) for a caller that schedules no refresh (a function without
    /// `refresh_after`, or warm-up): a stale hit's claim is given back, for a later call to
    /// schedule, rather than dropped, which would keep the entry from ever refreshing.
    async fn look_up_declining<Ret, F>(
        &self,
        key: u128,
        after_hit: bool,
        cacheable: fn(&Ret) -> bool,
        body: Pin<&mut F>,
    ) -> Looked<Ret, B::Stale>
    where
        L: Keep<Ret, Kept = R>,
        F: Future<Output = Ret> + ?Sized,
    {
        let mut looked = self.look_up(key, after_hit, cacheable, body).await;
        if let Looked::Found(_, stale) = &mut looked
            && let Some(stale) = stale.take()
        {
            B::decline(self, key, stale);
        }
        looked
    }

    /// The cached value for `key`, or the body's value, computed once however many callers miss
    /// the same key at once (in this process, or in all of them with `lock = "redis"`).
    ///
    /// The body is a function pointer applied to the call's arguments (a tuple), not a closure
    /// that captures them: so the code behind it is compiled once per signature, not once per
    /// memoized function.
    ///
    /// `expires`: the function has a `ttl` (`config.ttl_ms > 0`), a constant the macro writes
    /// (see [`Aging`]). It must agree with the config: `false` for a function with a `ttl` would
    /// serve expired entries.
    #[doc(hidden)]
    // The hit, inlined into each memoized function in optimized builds (see `Memory::hit`).
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    pub fn get_or_compute<Ret, A>(
        &self,
        key: u128,
        expires: bool,
        cacheable: fn(&Ret) -> bool,
        args: A,
        body: fn(A) -> Ret,
    ) -> Ret
    where
        L: Keep<Ret, Kept = R>,
    {
        debug_assert_eq!(expires, self.config.ttl_ms > 0, "the macro's `ttl`");
        debug_assert_eq!(
            self.config.refresh_after_ms, 0,
            "a function with a `refresh_after` sent to `get_or_compute`"
        );
        let aging = Aging {
            expires,
            // Without a `refresh_after` (the macro sends functions with one to the refreshing
            // entry points), no hit claims a refresh.
            refreshes: false,
        };
        if let Some((value, _)) = B::hit(self, key, aging) {
            return L::restore(value);
        }
        self.get_or_compute_slow(key, cacheable, args, body)
    }

    /// [`get_or_compute`](Self::get_or_compute) after the hit path: out of line, so that the hit
    /// path stays small.
    #[cold]
    #[inline(never)]
    fn get_or_compute_slow<Ret, A>(
        &self,
        key: u128,
        cacheable: fn(&Ret) -> bool,
        args: A,
        body: fn(A) -> Ret,
    ) -> Ret
    where
        L: Keep<Ret, Kept = R>,
    {
        match self.compute_sync(key, true, cacheable, args, body) {
            Looked::Computed(value, stored) => {
                // An `f_warm` that calls the function itself learns here what its item did.
                warm::observe_computed(reentry::identity(self), stored);
                value
            }
            found => found.value(),
        }
    }

    /// The slow path of a sync caller that schedules no refresh: on this thread when the lookup
    /// needs no wait ([`Protocol::find_now`]: the body runs and lands here), else under the
    /// blocking driver.
    fn compute_sync<Ret, A>(
        &self,
        key: u128,
        after_hit: bool,
        cacheable: fn(&Ret) -> bool,
        args: A,
        body: fn(A) -> Ret,
    ) -> Looked<Ret, B::Stale>
    where
        L: Keep<Ret, Kept = R>,
    {
        let Some(found) = B::find_now(self, key, after_hit) else {
            return self.compute_blocking(key, after_hit, cacheable, &mut once(move || body(args)));
        };
        match found {
            Found::Value(value, stale) => {
                // No refresh is scheduled from here (see `look_up_declining`).
                if let Some(stale) = stale {
                    B::decline(self, key, stale);
                }
                Looked::Found(L::restore(value), None)
            }
            Found::Return => Looked::Computed(body(args), false),
            Found::Compute { lead, listed } => {
                // A panic in the body drops `lead`, which releases the waiters without storing.
                let value = if listed {
                    reentry::run(self, key, move || body(args))
                } else {
                    reentry::run_owned(move || body(args))
                };
                let stored = B::land_now(self, lead, kept::<Ret, L>(&cacheable, &value));
                Looked::Computed(value, stored)
            }
        }
    }

    /// The slow path of a sync caller, run by the blocking driver.
    fn compute_blocking<Ret>(
        &self,
        key: u128,
        after_hit: bool,
        cacheable: fn(&Ret) -> bool,
        body: &mut dyn FnMut() -> Option<Ret>,
    ) -> Looked<Ret, B::Stale>
    where
        L: Keep<Ret, Kept = R>,
    {
        let body = pin!(CallOnce(body));
        block_on(self.look_up_declining(key, after_hit, cacheable, body))
    }

    /// The async form of [`get_or_compute`](Self::get_or_compute): waiters await, and a cancelled
    /// computation releases them like a panicking one.
    #[doc(hidden)]
    pub async fn get_or_compute_async<Ret>(
        &self,
        key: u128,
        cacheable: fn(&Ret) -> bool,
        body: impl Future<Output = Ret>,
    ) -> Ret
    where
        L: Keep<Ret, Kept = R>,
    {
        self.look_up_declining(key, false, cacheable, pin!(body))
            .await
            .value()
    }

    /// [`get_or_compute`](Self::get_or_compute) with background refresh: a hit on an entry older
    /// than `refresh_after` is served, and `refresh()` builds the recomputation the pool runs.
    #[doc(hidden)]
    // The hit, inlined into each memoized function in optimized builds (see `Memory::hit`).
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    pub fn get_or_compute_refreshing<Ret, A, J>(
        &'static self,
        key: u128,
        cacheable: fn(&Ret) -> bool,
        args: A,
        body: impl FnOnce(A) -> Ret,
        refresh: impl FnOnce(&A) -> J,
    ) -> Ret
    where
        L: Keep<Ret, Kept = R>,
        Ret: 'static,
        J: FnOnce() -> Ret + Send + 'static,
    {
        // A refresh needs a `ttl` (the macro's rule).
        debug_assert!(self.config.ttl_ms > 0 && self.config.refresh_after_ms > 0);
        let aging = Aging {
            expires: true,
            refreshes: true,
        };
        if let Some((value, stale)) = B::hit(self, key, aging) {
            if let Some(stale) = stale {
                let mut build = once(|| Box::new(refresh(&args)) as BlockingJob<Ret>);
                self.schedule_blocking(key, stale, cacheable, &mut build);
            }
            return L::restore(value);
        }
        self.get_or_compute_refreshing_slow(key, cacheable, args, body, refresh)
    }

    /// [`get_or_compute_refreshing`](Self::get_or_compute_refreshing) after the hit path.
    #[cold]
    #[inline(never)]
    fn get_or_compute_refreshing_slow<Ret, A, J>(
        &'static self,
        key: u128,
        cacheable: fn(&Ret) -> bool,
        args: A,
        body: impl FnOnce(A) -> Ret,
        refresh: impl FnOnce(&A) -> J,
    ) -> Ret
    where
        L: Keep<Ret, Kept = R>,
        Ret: 'static,
        J: FnOnce() -> Ret + Send + 'static,
    {
        let mut body = Deferred {
            args: Some(args),
            body: Some(body),
        };
        // Behind `dyn`, so that the protocol is compiled once per value type.
        let pinned = Pin::new(&mut body);
        let pinned: Pin<&mut dyn Future<Output = Ret>> = pinned;
        match block_on(self.look_up(key, true, cacheable, pinned)) {
            Looked::Found(value, Some(stale)) => {
                if let Some(args) = &body.args {
                    let mut build = once(|| Box::new(refresh(args)) as BlockingJob<Ret>);
                    self.schedule_blocking(key, stale, cacheable, &mut build);
                }
                value
            }
            looked => looked.value(),
        }
    }

    /// The async form of [`get_or_compute_refreshing`](Self::get_or_compute_refreshing):
    /// refreshes run as tasks on the caller's tokio runtime.
    ///
    /// `body` is a function pointer: a closure kept beside the future it started would make the
    /// lookup's future not `Send` when an argument borrows (rustc's higher-ranked closure
    /// signature meets the auto trait check).
    #[doc(hidden)]
    pub async fn get_or_compute_refreshing_async<Ret, A, F, J>(
        &'static self,
        key: u128,
        cacheable: fn(&Ret) -> bool,
        args: A,
        body: fn(A) -> F,
        refresh: impl FnOnce(&A) -> J,
    ) -> Ret
    where
        L: Keep<Ret, Kept = R>,
        Ret: 'static,
        F: Future<Output = Ret>,
        J: Future<Output = Ret> + Send + 'static,
    {
        // Generic over the body, as every async entry point: behind `dyn`, the lookup's future
        // would not be `Send` when the body's is.
        let mut body = pin!(DeferredAsync {
            args: Some(args),
            body: Some(body),
            started: None,
        });
        match self.look_up(key, false, cacheable, body.as_mut()).await {
            Looked::Found(value, Some(stale)) => {
                if let Some(args) = body.project().args.as_ref() {
                    let mut build = once(|| Box::pin(refresh(args)) as TaskJob<Ret>);
                    self.schedule_task(key, stale, cacheable, &mut build);
                }
                value
            }
            looked => looked.value(),
        }
    }

    /// Schedules the refresh a stale hit claimed: the claim first, then `build` makes the job
    /// and `spawn` hands it to the pool. If building the job panics, or the pool refuses it, the
    /// claim is dropped and gives the refresh back.
    fn schedule<Job>(
        &'static self,
        key: u128,
        stale: B::Stale,
        build: &mut dyn FnMut() -> Option<Job>,
        spawn: impl FnOnce(B::Claim, Job) -> Result<(), refresh::Dropped>,
    ) {
        let claim = B::claim(self, key, stale);
        let Some(job) = build() else { return };
        if spawn(claim, job).is_err() {
            B::refused(self);
        }
    }

    /// [`schedule`](Self::schedule) on the thread pool, for sync functions.
    fn schedule_blocking<Ret: 'static>(
        &'static self,
        key: u128,
        stale: B::Stale,
        cacheable: fn(&Ret) -> bool,
        build: &mut dyn FnMut() -> Option<BlockingJob<Ret>>,
    ) where
        L: Keep<Ret, Kept = R>,
    {
        self.schedule(key, stale, build, |claim, job| {
            refresh::spawn_blocking(move || {
                block_on(B::refresh(
                    self,
                    key,
                    claim,
                    cacheable,
                    async move { job() },
                ));
            })
        });
    }

    /// [`schedule`](Self::schedule) as a task on the caller's runtime, for async functions. A
    /// cancelled task drops the claim too.
    fn schedule_task<Ret: 'static>(
        &'static self,
        key: u128,
        stale: B::Stale,
        cacheable: fn(&Ret) -> bool,
        build: &mut dyn FnMut() -> Option<TaskJob<Ret>>,
    ) where
        L: Keep<Ret, Kept = R>,
    {
        self.schedule(key, stale, build, |claim, job| {
            refresh::spawn_task(async move {
                B::refresh(self, key, claim, cacheable, job).await;
            })
        });
    }

    /// Warms one item (`f_warm`): looks `key` up as a call would, and computes and stores it if
    /// it is missing. A stale entry is present: its refresh is left to the calls.
    #[doc(hidden)]
    pub fn warm<Ret, A>(
        &self,
        key: u128,
        cacheable: fn(&Ret) -> bool,
        args: A,
        body: fn(A) -> Ret,
    ) -> Warmed
    where
        L: Keep<Ret, Kept = R>,
    {
        self.compute_sync(key, false, cacheable, args, body)
            .warmed()
    }

    /// [`warm`](Self::warm) for async functions.
    #[doc(hidden)]
    pub async fn warm_async<Ret>(
        &self,
        key: u128,
        cacheable: fn(&Ret) -> bool,
        body: impl Future<Output = Ret>,
    ) -> Warmed
    where
        L: Keep<Ret, Kept = R>,
    {
        self.look_up_declining(key, false, cacheable, pin!(body))
            .await
            .warmed()
    }

    /// Runs `body`, stores its value under `key` if it is cacheable, replacing any entry, and
    /// returns it (`f_refresh`). In process, a value whose key was invalidated (or cleared, or
    /// refreshed again) while `body` ran is not stored: it may predate that write.
    #[doc(hidden)]
    pub fn store<Ret>(
        &self,
        key: u128,
        cacheable: fn(&Ret) -> bool,
        body: impl FnOnce() -> Ret,
    ) -> Ret
    where
        L: Keep<Ret, Kept = R>,
    {
        let before = block_on(B::before_put(self, key));
        let value = body();
        block_on(self.put_kept(key, cacheable, &value, before));
        value
    }

    /// [`store`](Self::store) for async functions.
    #[doc(hidden)]
    pub async fn store_async<Ret>(
        &self,
        key: u128,
        cacheable: fn(&Ret) -> bool,
        body: impl Future<Output = Ret>,
    ) -> Ret
    where
        L: Keep<Ret, Kept = R>,
    {
        let before = B::before_put(self, key).await;
        let value = body.await;
        self.put_kept(key, cacheable, &value, before).await;
        value
    }

    /// Stores what is kept of `value` if it is cacheable; true if stored.
    async fn put_kept<Ret>(
        &self,
        key: u128,
        cacheable: fn(&Ret) -> bool,
        value: &Ret,
        before: B::Before,
    ) -> bool
    where
        L: Keep<Ret, Kept = R>,
    {
        match kept::<Ret, L>(&cacheable, value) {
            Some(kept) => B::put(self, key, kept, before).await,
            None => false,
        }
    }

    /// Removes the entry under `key`; true if a live one was there (`f_invalidate`).
    #[doc(hidden)]
    pub fn invalidate(&self, key: u128) -> bool {
        block_on(B::remove(self, key))
    }

    /// [`invalidate`](Self::invalidate) for async functions.
    #[doc(hidden)]
    pub async fn invalidate_async(&self, key: u128) -> bool {
        B::remove(self, key).await
    }
}
