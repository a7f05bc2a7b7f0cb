//! Cache statistics: the public [`Stats`] snapshot and the contention-free counters behind it.

use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of one memoized function's cache, from `f_cache().stats()`.
///
/// Counters start at zero when the cache is first used and only grow; `clear()` does not reset them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Calls answered from the cache, including callers that waited for another caller's
    /// computation of the same key.
    pub hits: u64,
    /// Calls that ran the function body because no live entry was found.
    pub misses: u64,
    /// Entries held now, including expired ones not yet removed. `None` where the backend cannot
    /// tell cheaply (Redis).
    pub entries: Option<u64>,
    /// The most entries the cache holds at once. `None` where the backend sets no bound (Redis,
    /// where Redis' own `maxmemory` policy rules).
    pub capacity: Option<u64>,
    /// Entries removed to make room for new ones.
    pub evictions: u64,
    /// Entries found past their `ttl` and removed.
    pub expirations: u64,
    /// Backend errors (Redis unreachable, timed out, undecodable values). Always 0 in process.
    pub errors: u64,
}

/// Enough stripes that two threads rarely write the same cache line, few enough to sum cheaply.
const STRIPES: usize = 16;

/// Hit and miss counters striped by key hash: one shared atomic would bounce its cache line
/// between every thread that hits the function, and hits are the hot path.
#[derive(Default)]
pub(crate) struct Counters {
    stripes: [Stripe; STRIPES],
    pub(crate) evictions: AtomicU64,
    pub(crate) expirations: AtomicU64,
    pub(crate) errors: AtomicU64,
}

#[derive(Default)]
#[repr(align(128))]
struct Stripe {
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Counters {
    #[inline]
    fn stripe(&self, key: u128) -> &Stripe {
        &self.stripes[(key as usize) % STRIPES]
    }

    #[inline]
    pub(crate) fn hit(&self, key: u128) {
        self.stripe(key).hits.fetch_add(1, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn miss(&self, key: u128) {
        self.stripe(key).misses.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A snapshot with the backend-specific fields left for the caller.
    pub(crate) fn snapshot(&self) -> Stats {
        let mut stats = Stats::default();
        for stripe in &self.stripes {
            stats.hits += stripe.hits.load(Ordering::Relaxed);
            stats.misses += stripe.misses.load(Ordering::Relaxed);
        }
        stats.evictions = self.evictions.load(Ordering::Relaxed);
        stats.expirations = self.expirations.load(Ordering::Relaxed);
        stats.errors = self.errors.load(Ordering::Relaxed);
        stats
    }
}
