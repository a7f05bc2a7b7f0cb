//! Cache statistics: the public [`Stats`] snapshot and the contention-free counters behind it.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::memory::per_thread::{self, Slots};

/// A snapshot of one memoized function's cache, from `f_cache().stats()`.
///
/// Counters start at zero when the cache is first used and only grow; `clear()` does not reset them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Calls answered from the cache, including callers that waited for another caller's
    /// computation of the same key.
    pub hits: u64,
    /// Of the `hits`, those served by the near tier (`near = N` on Redis) without asking Redis.
    pub near_hits: u64,
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
    /// Entries found past their `ttl` and removed, or replaced by the miss that recomputed them.
    pub expirations: u64,
    /// Values not stored because they alone were charged more than the byte budget they would
    /// share (`max_bytes`; see [`crate::memory::budget`]): returned to their callers, not cached.
    pub oversized: u64,
    /// Backend errors (Redis unreachable, timed out, undecodable values). Always 0 in process.
    pub errors: u64,
    /// Background refreshes that began running (`refresh = "background"`).
    pub refreshes_started: u64,
    /// Refreshes that stored a new value. In process every successful refresh of an entry that
    /// is still there counts here: the value is replaced without comparing. (A refresh whose
    /// entry was invalidated, evicted or replaced meanwhile stores nothing and is not counted.)
    pub refreshes_updated: u64,
    /// Refreshes whose value was unchanged, so only the entry's age was renewed (shared backends,
    /// which compare the encoded bytes).
    pub refreshes_unchanged: u64,
    /// Refreshes that failed (an `Err` that is not cached, or a panic): the old value stays.
    pub refreshes_failed: u64,
    /// Refreshes dropped because the pool's queue was full; a later hit tries again.
    pub refreshes_dropped: u64,
    /// Refreshes not run because another process was refreshing the same key, or had just
    /// refreshed it (Redis with `lock = "redis"`): one refresh serves every process.
    pub refreshes_skipped: u64,
    /// Misses that found another process computing the same key (Redis with `lock = "redis"`)
    /// and waited for its value instead of running the body. A wait ends as a hit, or, when that
    /// process gives up (see `lock_takeovers`), as a miss that runs the body here.
    pub lock_waits: u64,
    /// Waits that ended with this process taking the lock over and running the body: the holder
    /// released it without storing a value (an `Err` that is not cached, a panic), or died, or
    /// ran longer than `lock_ttl` (this function's, if the holder's lock lives longer).
    pub lock_takeovers: u64,
}

/// A cache's counters. Hits, misses and evictions live in per-thread slots (see [`crate::memory::per_thread`]): the
/// hit path must not write a cache line that other threads write.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) threads: Slots,
    pub(crate) expirations: AtomicU64,
    pub(crate) oversized: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) refreshes: RefreshCounters,
    pub(crate) locks: LockCounters,
}

/// What happened to background refreshes.
#[derive(Default)]
pub(crate) struct RefreshCounters {
    pub(crate) started: AtomicU64,
    pub(crate) updated: AtomicU64,
    pub(crate) unchanged: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) skipped: AtomicU64,
}

/// What happened to waits for other processes' locks.
#[derive(Default)]
pub(crate) struct LockCounters {
    pub(crate) waits: AtomicU64,
    pub(crate) takeovers: AtomicU64,
}

impl Counters {
    /// A hit found by a backend's lookup rather than a store's read (which counts its own).
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    #[inline]
    pub(crate) fn hit(&self) {
        self.threads.hit(per_thread::current());
    }

    #[inline]
    pub(crate) fn miss(&self) {
        self.threads.miss(per_thread::current());
    }

    pub(crate) fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A snapshot with the backend-specific fields left for the caller.
    pub(crate) fn snapshot(&self) -> Stats {
        let mut stats = Stats::default();
        (stats.hits, stats.misses) = self.threads.totals();
        stats.evictions = self.threads.evictions();
        stats.expirations = self.expirations.load(Ordering::Relaxed);
        stats.oversized = self.oversized.load(Ordering::Relaxed);
        stats.errors = self.errors.load(Ordering::Relaxed);
        let refreshes = &self.refreshes;
        stats.refreshes_started = refreshes.started.load(Ordering::Relaxed);
        stats.refreshes_updated = refreshes.updated.load(Ordering::Relaxed);
        stats.refreshes_unchanged = refreshes.unchanged.load(Ordering::Relaxed);
        stats.refreshes_failed = refreshes.failed.load(Ordering::Relaxed);
        stats.refreshes_dropped = refreshes.dropped.load(Ordering::Relaxed);
        stats.refreshes_skipped = refreshes.skipped.load(Ordering::Relaxed);
        stats.lock_waits = self.locks.waits.load(Ordering::Relaxed);
        stats.lock_takeovers = self.locks.takeovers.load(Ordering::Relaxed);
        stats
    }
}
