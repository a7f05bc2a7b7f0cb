//! The one public handle of a memoized function's cache, whatever its backend.

use std::future::Future;
use std::marker::PhantomData;

use crate::FnConfig;
use crate::layout::Whole;
use crate::memo::driver::block_on;
use crate::memory::Memory;
use crate::stats::{Counters, Stats};

/// The cache of one memoized function, returned by `f_cache()`: the same methods on every
/// backend.
///
/// `R` is what the cache keeps of a result: the return type itself, or, for a `Result` whose
/// errors are not cached, its `Ok` type with the layout `L` = `OkOnly` (see [`crate::layout`]).
/// `B` is the backend: [`MemoryCache`](crate::MemoryCache) and `RedisCache` name the two.
/// Where a backend cannot know an answer cheaply or at all, the method says `None`: Redis has no
/// capacity of its own, and counting its entries can fail.
pub struct Cache<R, L = Whole, B = Memory<R>> {
    pub(crate) config: FnConfig,
    pub(crate) counters: Counters,
    pub(crate) backend: B,
    pub(crate) layout: PhantomData<fn() -> (R, L)>,
}

/// What a backend answers about its entries: the part of [`Cache`]'s methods that differs.
/// Not a public API.
#[doc(hidden)]
pub trait Backend<R>: Sized {
    /// The type's name in `Debug` output.
    const NAME: &'static str;

    /// Entries held now, for [`Stats::entries`], where that is cheap to know.
    fn entries(&self) -> Option<u64>;

    /// The most entries the backend holds for the function, if it bounds them.
    fn capacity(&self) -> Option<u64>;

    /// Hits served by a near tier in front of a shared backend (counted apart from `hits`).
    fn near_hits(&self) -> u64 {
        0
    }

    /// Counts the function's entries; `None` when they cannot be counted now.
    fn count<L>(cache: &Cache<R, L, Self>) -> impl Future<Output = Option<u64>>;

    /// Removes every entry of the function.
    fn clear<L>(cache: &Cache<R, L, Self>) -> impl Future<Output = ()>;
}

impl<R, L, B> Cache<R, L, B> {
    pub(crate) fn with_backend(config: FnConfig, backend: B) -> Self {
        Cache {
            config,
            counters: Counters::default(),
            backend,
            layout: PhantomData,
        }
    }

    /// The function's identity in keys: its module path and name, or its `name = "..."`.
    pub fn name(&self) -> &'static str {
        self.config.name
    }

    /// The function's `version`.
    pub fn version(&self) -> u32 {
        self.config.version
    }
}

impl<R, L, B: Backend<R>> Cache<R, L, B> {
    /// A snapshot of this cache's counters, with `entries` and `capacity` where the backend
    /// knows them cheaply (in process; `None` on Redis, whose `maxmemory` policy bounds it).
    pub fn stats(&self) -> Stats {
        let mut stats = self.counters.snapshot();
        stats.entries = self.backend.entries();
        stats.capacity = self.backend.capacity();
        stats.near_hits = self.backend.near_hits();
        stats.hits += stats.near_hits;
        stats
    }

    /// Removes every entry (on Redis: of this function's current `version`, page by page with
    /// `SCAN` and `UNLINK`, never `KEYS`, with the entries' locks). Counters keep their values.
    /// Computations in progress (calls', `f_refresh`'s) store nothing when they finish (their
    /// values may predate what made the caller clear); on Redis, in every process, if they end
    /// within the function's `lock_ttl` (see the `redis` module's "Invalidation"). A failure is
    /// counted and logged, and leaves the remaining entries in place. In process, skipped (with a
    /// warning) when called from a cached value's `Clone` while this thread reads an in-process
    /// cache.
    pub fn clear(&self) {
        block_on(B::clear(self));
    }

    /// [`clear`](Self::clear) for async code.
    pub async fn clear_async(&self) {
        B::clear(self).await;
    }

    /// Entries held now, including expired ones not yet removed in process. On Redis a walk
    /// over the whole database with `SCAN` (for tests and diagnostics), `None` (and an error
    /// counted) when Redis cannot be reached.
    pub fn len(&self) -> Option<u64> {
        block_on(B::count(self))
    }

    /// True when [`len`](Self::len) is `Some(0)`; `None` when it is `None`.
    pub fn is_empty(&self) -> Option<bool> {
        self.len().map(|count| count == 0)
    }

    /// The most entries this cache holds at once: the `capacity` option in process; `None` on
    /// Redis, whose own `maxmemory` policy bounds the entries.
    pub fn capacity(&self) -> Option<u64> {
        self.backend.capacity()
    }
}

impl<R, L, B: Backend<R>> std::fmt::Debug for Cache<R, L, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(B::NAME)
            .field("name", &self.config.name)
            .field("version", &self.config.version)
            .finish_non_exhaustive()
    }
}
