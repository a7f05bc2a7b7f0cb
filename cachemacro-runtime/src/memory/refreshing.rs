//! Background refresh in process: a stale hit claims its entry's refresh (the store's per-entry
//! flag, set by the reader without a lock), the pool recomputes it, and the new value replaces
//! the entry if it is still the generation that was found stale.

use super::MemoryCache;
use crate::clock;
use crate::layout::{Keep, Layout, kept};
use crate::stats::Counters;

/// A scheduled refresh's claim on its entry. Dropped before it lands (the
/// job was dropped, its task cancelled, building it panicked), it releases the entry, so a later
/// hit schedules again, and counts the refresh as dropped.
#[doc(hidden)]
pub struct Refreshing<R: Clone + Send + Sync + 'static, L: Layout> {
    cache: &'static MemoryCache<R, L>,
    key: u128,
    generation: u64,
    landed: bool,
}

impl<R: Clone + Send + Sync + 'static, L: Layout> Refreshing<R, L> {
    pub(super) fn land<Ret>(mut self, cacheable: impl Fn(&Ret) -> bool, outcome: Option<Ret>)
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
    /// The claim on `key`'s refresh, which a stale hit on `generation` took.
    pub(super) fn claim(&'static self, key: u128, generation: u64) -> Refreshing<R, L> {
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
        let replaced = replaced.map(|removed| {
            let replaced = removed.replaced.is_some() && !removed.oversized();
            self.count(removed);
            replaced
        });
        if !stored {
            Counters::count(&refreshes.failed);
            tracing::warn!(
                function = self.config.name,
                panicked,
                "cachemacro: background refresh failed; the cached value is kept"
            );
        } else if replaced == Some(true) {
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
