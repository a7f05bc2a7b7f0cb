//! Background refresh in process: a stale hit claims its entry's refresh (the store's per-entry
//! flag, set by the reader without a lock), the pool recomputes it, and the new value replaces
//! the entry if it is still the generation that was found stale.

use std::future::Future;

use super::{Found, MemoryCache};
use crate::clock;
use crate::layout::{Keep, Layout, kept};
use crate::refresh;
use crate::stats::Counters;

/// A scheduled refresh's claim on its entry. Dropped before it [`lands`](Refreshing::land) (the
/// job was dropped, its task cancelled, building it panicked), it releases the entry, so a later
/// hit schedules again, and counts the refresh as dropped.
struct Refreshing<R: Clone + Send + Sync + 'static, L: Layout> {
    cache: &'static MemoryCache<R, L>,
    key: u128,
    generation: u64,
    landed: bool,
}

impl<R: Clone + Send + Sync + 'static, L: Layout> Refreshing<R, L> {
    fn land<Ret>(mut self, cacheable: impl Fn(&Ret) -> bool, outcome: Option<Ret>)
    where
        L: Keep<Ret, Kept = R>,
    {
        // Marked landed only afterwards: a panic in between (in `cacheable`, or in the old
        // value's `Drop`) still releases the entry through `drop`.
        self.cache
            .refresh_done(self.key, self.generation, cacheable, outcome);
        self.landed = true;
    }
}

impl<R: Clone + Send + Sync + 'static, L: Layout> Drop for Refreshing<R, L> {
    fn drop(&mut self) {
        if !self.landed {
            self.cache.refresh_dropped(self.key, self.generation);
        }
    }
}

impl<R: Clone + Send + Sync + 'static, L: Layout> MemoryCache<R, L> {
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
        let schedule = |generation| {
            // The claim first: if building the job panics, or the pool refuses it, the claim is
            // dropped and releases the entry.
            let claim = self.claim(key, generation);
            let job = refresh(&args);
            let _ = refresh::spawn_blocking(move || {
                Counters::count(&self.counters.refreshes.started);
                claim.land(cacheable, refresh::run_caught(job));
            });
        };
        match self.find(key, schedule) {
            Found::Value(value) => L::restore(value),
            Found::Compute(compute) => self.computed(key, compute, cacheable, body(args)).0,
        }
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
        let schedule = |generation| {
            // As in the sync form; a cancelled task drops the claim too.
            let claim = self.claim(key, generation);
            let job = refresh(&args);
            let _ = refresh::spawn_task(async move {
                Counters::count(&self.counters.refreshes.started);
                claim.land(cacheable, refresh::await_caught(job).await);
            });
        };
        match self.find_async(key, schedule).await {
            Found::Value(value) => L::restore(value),
            Found::Compute(compute) => {
                self.compute_async(key, compute, cacheable, body(args))
                    .await
                    .0
            }
        }
    }

    fn claim(&'static self, key: u128, generation: u64) -> Refreshing<R, L> {
        Refreshing {
            cache: self,
            key,
            generation,
            landed: false,
        }
    }

    /// Stores a refresh's value, or keeps the old one when it failed (`None`: a panic). The
    /// entry is updated before the outcome is counted, so whoever sees the count sees the entry
    /// ready for its next refresh.
    fn refresh_done<Ret>(
        &self,
        key: u128,
        generation: u64,
        cacheable: impl Fn(&Ret) -> bool,
        outcome: Option<Ret>,
    ) where
        L: Keep<Ret, Kept = R>,
    {
        let panicked = outcome.is_none();
        let value = outcome
            .as_ref()
            .and_then(|value| kept::<Ret, L>(&cacheable, value))
            .map(|kept| (kept.clone(), self.expires_at()));
        let stored = value.is_some();
        let replaced =
            self.backend
                .store
                .refreshed(key, generation, value, clock::now_ms(), self.readers());
        let refreshes = &self.counters.refreshes;
        if !stored {
            Counters::count(&refreshes.failed);
            tracing::warn!(
                function = self.config.name,
                panicked,
                "cachemacro: background refresh failed; the cached value is kept"
            );
        } else if replaced.is_some() {
            Counters::count(&refreshes.updated);
        }
    }

    /// Gives back the refresh a stale hit claimed, for the next call to schedule: warming finds
    /// an entry present, and leaves its refresh to the calls.
    #[cold]
    pub(super) fn decline_refresh(&self, key: u128, generation: u64) {
        self.backend
            .store
            .refreshed(key, generation, None, clock::now_ms(), self.readers());
    }

    #[cold]
    fn refresh_dropped(&self, key: u128, generation: u64) {
        self.decline_refresh(key, generation);
        Counters::count(&self.counters.refreshes.dropped);
    }
}
