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
    /// Background refreshes that began running (`refresh = "background"`).
    pub refreshes_started: u64,
    /// Refreshes that stored a new value. In process every successful refresh counts here: the
    /// value is replaced without comparing.
    pub refreshes_updated: u64,
    /// Refreshes whose value was unchanged, so only the entry's age was renewed (shared backends,
    /// which compare the encoded bytes).
    pub refreshes_unchanged: u64,
    /// Refreshes that failed (an `Err` that is not cached, or a panic): the old value stays.
    pub refreshes_failed: u64,
    /// Refreshes dropped because the pool's queue was full; a later hit tries again.
    pub refreshes_dropped: u64,
}

/// Threads with a slot of their own; more threads at once share slots (and pay for atomic adds).
const SLOTS: usize = 64;

/// Hit and miss counters, one pair per thread slot.
///
/// A hit is the hot path, and an atomic add (~2.4 ns here) is a large part of it: a thread that
/// owns its slot counts with a plain load and store instead, which no other thread writes. Slots
/// are handed out once per thread and taken back when the thread exits, so counts stay exact.
pub(crate) struct Counters {
    slots: Box<[Slot]>,
    pub(crate) evictions: AtomicU64,
    pub(crate) expirations: AtomicU64,
    pub(crate) errors: AtomicU64,
    pub(crate) refreshes: RefreshCounters,
}

/// What happened to background refreshes.
#[derive(Default)]
pub(crate) struct RefreshCounters {
    pub(crate) started: AtomicU64,
    pub(crate) updated: AtomicU64,
    pub(crate) unchanged: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) dropped: AtomicU64,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            // One more than the owned slots: the last is shared, and only ever added to atomically.
            slots: (0..=SLOTS).map(|_| Slot::default()).collect(),
            evictions: AtomicU64::new(0),
            expirations: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            refreshes: RefreshCounters::default(),
        }
    }
}

#[derive(Default)]
#[repr(align(64))]
struct Slot {
    hits: AtomicU64,
    misses: AtomicU64,
}

impl Counters {
    #[inline]
    pub(crate) fn hit(&self) {
        thread_slot::bump(|slot| &self.slots[slot].hits);
    }

    #[inline]
    pub(crate) fn miss(&self) {
        thread_slot::bump(|slot| &self.slots[slot].misses);
    }

    pub(crate) fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// A snapshot with the backend-specific fields left for the caller.
    pub(crate) fn snapshot(&self) -> Stats {
        let mut stats = Stats::default();
        for slot in &*self.slots {
            stats.hits += slot.hits.load(Ordering::Relaxed);
            stats.misses += slot.misses.load(Ordering::Relaxed);
        }
        stats.evictions = self.evictions.load(Ordering::Relaxed);
        stats.expirations = self.expirations.load(Ordering::Relaxed);
        stats.errors = self.errors.load(Ordering::Relaxed);
        let refreshes = &self.refreshes;
        stats.refreshes_started = refreshes.started.load(Ordering::Relaxed);
        stats.refreshes_updated = refreshes.updated.load(Ordering::Relaxed);
        stats.refreshes_unchanged = refreshes.unchanged.load(Ordering::Relaxed);
        stats.refreshes_failed = refreshes.failed.load(Ordering::Relaxed);
        stats.refreshes_dropped = refreshes.dropped.load(Ordering::Relaxed);
        stats
    }
}

/// Which counter slot the current thread uses, and whether it is the slot's only writer.
mod thread_slot {
    use std::cell::Cell;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::SLOTS;

    /// Slots no live thread owns. A thread that finds none uses the shared slot, `SLOTS`.
    static FREE: Mutex<Vec<usize>> = Mutex::new(Vec::new());
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    const SHARED: usize = usize::MAX;

    const UNCLAIMED: usize = usize::MAX - 1;

    /// Gives the slot back when the thread exits.
    struct Release(usize);

    impl Drop for Release {
        fn drop(&mut self) {
            SLOT.with(|slot| slot.set(SHARED));
            if self.0 != SHARED {
                // The mutex orders this thread's last counts before the next owner's first.
                let mut free = FREE.lock().unwrap_or_else(|poison| poison.into_inner());
                free.push(self.0);
            }
        }
    }

    thread_local! {
        // Const-initialised: reading it on the hit path is one load, with no lazy-init check.
        static SLOT: Cell<usize> = const { Cell::new(UNCLAIMED) };
        static RELEASE: Cell<Option<Release>> = const { Cell::new(None) };
    }

    #[cold]
    fn claim() -> usize {
        let slot = {
            let mut free = FREE.lock().unwrap_or_else(|poison| poison.into_inner());
            free.pop().unwrap_or_else(|| {
                let next = NEXT.fetch_add(1, Ordering::Relaxed);
                if next < SLOTS { next } else { SHARED }
            })
        };
        // A thread already being torn down cannot register the release: give the slot back and
        // count through the shared one.
        if RELEASE
            .try_with(|release| release.set(Some(Release(slot))))
            .is_err()
        {
            drop(Release(slot));
            return SHARED;
        }
        let _ = SLOT.try_with(|cell| cell.set(slot));
        slot
    }

    /// Adds one to the counter `counter(slot)` picks for this thread.
    #[inline]
    pub(super) fn bump<'a>(counter: impl Fn(usize) -> &'a AtomicU64) {
        let mut slot = SLOT.try_with(Cell::get).unwrap_or(SHARED);
        if slot == UNCLAIMED {
            slot = claim();
        }
        if slot == SHARED {
            // No slot of its own (too many threads, or one being torn down): use the shared one.
            counter(SLOTS).fetch_add(1, Ordering::Relaxed);
        } else {
            let counter = counter(slot);
            counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        }
    }
}
