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
//! lock-free in the memoized function.

use std::future::Future;

use crate::cache::{Backend, Cache};
use crate::layout::{Keep, Layout, kept};
use crate::memo::driver::block_on;
use crate::memo::warm::Warmed;
use crate::{reentry, refresh};

/// What a backend's lookup of a key came to.
pub enum Found<R, Lead, Stale> {
    /// A value; with the claim on its refresh when it is stale and this caller schedules one.
    Value(R, Option<Stale>),
    /// This caller computes the value, and `lead` lands it. `listed`: others wait for this
    /// computation (a flight, a lock), so its body runs as the key's computation (see `reentry`).
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
enum Looked<Ret> {
    /// A value from the cache, or from another caller's computation.
    Found(Ret),
    /// The body's value, and whether it was stored.
    Computed(Ret, bool),
}

impl<Ret> Looked<Ret> {
    fn value(self) -> Ret {
        match self {
            Looked::Found(value) | Looked::Computed(value, _) => value,
        }
    }

    fn warmed(self) -> Warmed {
        match self {
            Looked::Found(_) => Warmed::Present,
            Looked::Computed(_, stored) => Warmed::computed(stored),
        }
    }
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

    /// The hit path, inline and lock-free: a live value (and its refresh's claim), or `None` for
    /// the slow path. Only the in-process backend has one.
    fn hit(cache: &Cache<R, L, Self>, key: u128) -> Option<(R, Option<Self::Stale>)>;

    /// The lookup; `after_hit`: [`hit`](Self::hit) has just found nothing.
    fn find(
        cache: &Cache<R, L, Self>,
        key: u128,
        after_hit: bool,
    ) -> impl Future<Output = Found<R, Self::Lead<'_>, Self::Stale>>;

    /// Lands a computed value: stores `kept` (if there is one to keep), hands it to the waiters,
    /// releases what the lead holds. True if stored.
    fn land<'a>(
        cache: &'a Cache<R, L, Self>,
        lead: Self::Lead<'a>,
        kept: Option<&R>,
    ) -> impl Future<Output = bool>;

    /// Stores `kept` under `key`, replacing any entry (`f_refresh`). True if stored.
    fn put(cache: &Cache<R, L, Self>, key: u128, kept: &R) -> impl Future<Output = bool>;

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
impl<R, L, B> Cache<R, L, B>
where
    R: Clone + Send + Sync + 'static,
    L: Layout,
    B: Protocol<R, L> + Send + Sync + 'static,
{
    /// [`look_up`](Self::look_up) for a caller that schedules no refresh (a function without
    /// `refresh_after`, or warm-up): a stale hit's claim is given back, for a later call to
    /// schedule, rather than dropped, which would keep the entry from ever refreshing.
    async fn look_up_declining<Ret>(
        &self,
        key: u128,
        after_hit: bool,
        cacheable: impl Fn(&Ret) -> bool,
        body: impl Future<Output = Ret>,
    ) -> Looked<Ret>
    where
        L: Keep<Ret, Kept = R>,
    {
        let decline = |_: &(), stale| B::decline(self, key, stale);
        self.look_up(key, after_hit, cacheable, (), |()| body, decline)
            .await
    }

    /// The protocol: looks `key` up and, when this caller is to compute it, runs `body(args)`
    /// and lands its value. `on_stale` schedules (or declines) a stale hit's refresh.
    async fn look_up<Ret, A, F>(
        &self,
        key: u128,
        after_hit: bool,
        cacheable: impl Fn(&Ret) -> bool,
        args: A,
        body: impl FnOnce(A) -> F,
        on_stale: impl FnOnce(&A, B::Stale),
    ) -> Looked<Ret>
    where
        L: Keep<Ret, Kept = R>,
        F: Future<Output = Ret>,
    {
        match B::find(self, key, after_hit).await {
            Found::Value(value, stale) => {
                if let Some(stale) = stale {
                    on_stale(&args, stale);
                }
                Looked::Found(L::restore(value))
            }
            Found::Return => Looked::Computed(body(args).await, false),
            Found::Compute { lead, listed } => {
                // A panic or a cancellation here drops `lead`, which releases the waiters (and
                // the lock) without storing.
                let value = if listed {
                    reentry::run_async(self, key, body(args)).await
                } else {
                    body(args).await
                };
                let stored = B::land(self, lead, kept::<Ret, L>(&cacheable, &value)).await;
                Looked::Computed(value, stored)
            }
        }
    }

    /// The cached value for `key`, or the body's value, computed once however many callers miss
    /// the same key at once (in this process, or in all of them with `lock = "redis"`).
    #[doc(hidden)]
    #[inline]
    pub fn get_or_compute<Ret>(
        &self,
        key: u128,
        cacheable: impl Fn(&Ret) -> bool,
        body: impl FnOnce() -> Ret,
    ) -> Ret
    where
        L: Keep<Ret, Kept = R>,
    {
        // Without a `refresh_after` (the macro sends functions with one to the refreshing entry
        // points), no hit claims a refresh.
        if let Some((value, stale)) = B::hit(self, key) {
            debug_assert!(
                stale.is_none(),
                "a refresh claimed by a function without one"
            );
            return L::restore(value);
        }
        self.get_or_compute_slow(key, cacheable, body)
    }

    /// [`get_or_compute`](Self::get_or_compute) after the hit path: out of line, so that the hit
    /// path stays small.
    #[cold]
    #[inline(never)]
    fn get_or_compute_slow<Ret>(
        &self,
        key: u128,
        cacheable: impl Fn(&Ret) -> bool,
        body: impl FnOnce() -> Ret,
    ) -> Ret
    where
        L: Keep<Ret, Kept = R>,
    {
        block_on(self.look_up_declining(key, true, cacheable, async move { body() })).value()
    }

    /// The async form of [`get_or_compute`](Self::get_or_compute): waiters await, and a cancelled
    /// computation releases them like a panicking one.
    #[doc(hidden)]
    pub async fn get_or_compute_async<Ret>(
        &self,
        key: u128,
        cacheable: impl Fn(&Ret) -> bool,
        body: impl Future<Output = Ret>,
    ) -> Ret
    where
        L: Keep<Ret, Kept = R>,
    {
        self.look_up_declining(key, false, cacheable, body)
            .await
            .value()
    }

    /// [`get_or_compute`](Self::get_or_compute) with background refresh: a hit on an entry older
    /// than `refresh_after` is served, and `refresh()` builds the recomputation the pool runs.
    #[doc(hidden)]
    #[inline]
    pub fn get_or_compute_refreshing<Ret, A, C, J>(
        &'static self,
        key: u128,
        cacheable: C,
        args: A,
        body: impl FnOnce(A) -> Ret,
        refresh: impl FnOnce(&A) -> J,
    ) -> Ret
    where
        L: Keep<Ret, Kept = R>,
        C: Fn(&Ret) -> bool + Copy + Send + 'static,
        J: FnOnce() -> Ret + Send + 'static,
    {
        let schedule = |args: &A, stale| {
            self.schedule(key, stale, |claim| {
                let job = refresh(args);
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
        };
        if let Some((value, stale)) = B::hit(self, key) {
            if let Some(stale) = stale {
                schedule(&args, stale);
            }
            return L::restore(value);
        }
        let body = |args| async move { body(args) };
        block_on(self.look_up(key, true, cacheable, args, body, schedule)).value()
    }

    /// The async form of [`get_or_compute_refreshing`](Self::get_or_compute_refreshing):
    /// refreshes run as tasks on the caller's tokio runtime.
    #[doc(hidden)]
    pub async fn get_or_compute_refreshing_async<Ret, A, C, F, J>(
        &'static self,
        key: u128,
        cacheable: C,
        args: A,
        body: impl FnOnce(A) -> F,
        refresh: impl FnOnce(&A) -> J,
    ) -> Ret
    where
        L: Keep<Ret, Kept = R>,
        C: Fn(&Ret) -> bool + Copy + Send + 'static,
        F: Future<Output = Ret>,
        J: Future<Output = Ret> + Send + 'static,
    {
        let schedule = |args: &A, stale| {
            // A cancelled task drops the claim too.
            self.schedule(key, stale, |claim| {
                let job = refresh(args);
                refresh::spawn_task(async move {
                    B::refresh(self, key, claim, cacheable, job).await;
                })
            });
        };
        self.look_up(key, false, cacheable, args, body, schedule)
            .await
            .value()
    }

    /// Schedules the refresh a stale hit claimed: the claim first, then `spawn` builds the job
    /// and hands it to the pool. If building the job panics, or the pool refuses it, the claim
    /// is dropped and gives the refresh back.
    fn schedule(
        &'static self,
        key: u128,
        stale: B::Stale,
        spawn: impl FnOnce(B::Claim) -> Result<(), refresh::Dropped>,
    ) {
        if spawn(B::claim(self, key, stale)).is_err() {
            B::refused(self);
        }
    }

    /// Warms one item (`f_warm`): looks `key` up as a call would, and computes and stores it if
    /// it is missing. A stale entry is present: its refresh is left to the calls.
    #[doc(hidden)]
    pub fn warm<Ret>(
        &self,
        key: u128,
        cacheable: impl Fn(&Ret) -> bool,
        body: impl FnOnce() -> Ret,
    ) -> Warmed
    where
        L: Keep<Ret, Kept = R>,
    {
        block_on(self.look_up_declining(key, false, cacheable, async move { body() })).warmed()
    }

    /// [`warm`](Self::warm) for async functions.
    #[doc(hidden)]
    pub async fn warm_async<Ret>(
        &self,
        key: u128,
        cacheable: impl Fn(&Ret) -> bool,
        body: impl Future<Output = Ret>,
    ) -> Warmed
    where
        L: Keep<Ret, Kept = R>,
    {
        self.look_up_declining(key, false, cacheable, body)
            .await
            .warmed()
    }

    /// Stores `value` under `key` if it is cacheable, replacing any entry (`f_refresh`); true if
    /// it was stored.
    #[doc(hidden)]
    pub fn store<Ret>(&self, key: u128, cacheable: impl Fn(&Ret) -> bool, value: &Ret) -> bool
    where
        L: Keep<Ret, Kept = R>,
    {
        block_on(self.store_async(key, cacheable, value))
    }

    /// [`store`](Self::store) for async functions.
    #[doc(hidden)]
    pub async fn store_async<Ret>(
        &self,
        key: u128,
        cacheable: impl Fn(&Ret) -> bool,
        value: &Ret,
    ) -> bool
    where
        L: Keep<Ret, Kept = R>,
    {
        match kept::<Ret, L>(&cacheable, value) {
            Some(kept) => B::put(self, key, kept).await,
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
