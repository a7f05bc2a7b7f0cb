//! The in-process backend: a bounded, sharded cache per memoized function, with TTL and
//! single-flight misses.
//!
//! Keys are 128-bit hashes of the arguments (see [`crate::key`]), so the cache never holds or
//! clones arguments. The capacity is exact: the cache never holds more than `capacity` entries,
//! at any moment.
//!
//! With `max_bytes`, so is the memory bound, to the entries' own accounting: each entry is
//! charged its value's [`CacheSize`](crate::CacheSize) plus [`ENTRY_OVERHEAD`] (the key, the
//! entry's bookkeeping and its queue slot), computed once when it is stored, and the charges held
//! never exceed `max_bytes`, at any moment ([`MemoryCache::bytes`] reads them). Storing evicts in
//! the order below until the new entry fits both bounds; a value charged more than its shard's
//! share of the budget is not stored at all (see [`budget`]). Not charged: the table's spare
//! buckets and the eviction policy's memory below, which depend on the capacity, not on the
//! values.
//!
//! # What the cache keeps
//!
//! Entries that are hit again, and keys that keep coming back; not one-off keys. The policy is
//! S3-FIFO (Yang et al., SOSP 2023) with a TinyLFU-style frequency sketch, and ARC's adaptation
//! (Megiddo and Modha, FAST 2003) of the share given to new keys, chosen by measuring hit ratios
//! on recorded and synthetic workloads (`BENCHMARKS.md`, "Hit ratio"). Each shard of the cache
//! has:
//!
//! - a **small queue** where every new key starts (3% of the capacity to begin with, then
//!   between 1% and 50%, below). When it leaves the queue, an entry hit meanwhile moves to the
//!   main queue (when the workload rewards frequency, only if it outranks main's next victim,
//!   below); one never hit is dropped, and only its key's hash is remembered, in the ghost
//!   queue.
//! - a **main queue** for entries proven useful, swept by a hand as CLOCK's is, with a count of
//!   up to 5 hits per entry instead of a bit: the hand spares an entry once per hit since it last
//!   passed, and gives up the first one with none left.
//! - a **ghost queue** of the last keys either queue dropped (twice the capacity), and a
//!   **sketch** counting how often each key was seen lately: its misses, and its hits as the hand
//!   consumes them (4-bit counters, four per entry in each of its four rows, as Caffeine sizes
//!   TinyLFU's; it halves its counts every 20 capacities of counts, so that old popularity
//!   fades).
//!
//! A key back from the ghost queue tells which queue was too small: one the small queue
//! dropped would have hit in a larger small queue, one main dropped in a larger main. Each such
//! return moves the small queue's share by a tenth of an entry that way (more when the other
//! queue's drops outnumber this one's, as ARC weighs its two ghost lists), between 1% and 50%.
//! The share then tells what the workload rewards:
//!
//! - **at or above its start** (recency: keys come back soon after they are dropped), an entry
//!   hit in the small queue moves to main, and so does a key back from the ghost queue within
//!   half a capacity of drops;
//! - **below it** (frequency: what main drops comes back), either only if the sketch rates it
//!   above the entry main would give up for it (or that entry has expired, or the sketch does
//!   not know it); a tie keeps the incumbent. A key back is rated by its accesses before this
//!   one: the entry it would displace is one whose next access has not come yet (the hand
//!   stops at an entry not hit since it last passed), so both are counted to the same point.
//!
//! Any other key back from the ghost queue goes to main on the same condition, and otherwise
//! starts over in the small queue.
//!
//! Why: most keys of most workloads are used once; giving them only a small queue keeps them from
//! pushing out what is reused, and the hit counts keep the most-reused longest. A **scan** (a burst
//! of keys each used once: a batch job, a crawler) passes through the small queue and leaves: the
//! main queue, and with it the hot set, is untouched. A key that repeats at a long interval is
//! caught by the ghost queue on its second visit, and the sketch keeps the ghost from letting in
//! keys rarer than those it would displace. A **loop** over more keys than the cache holds keeps a
//! stable part of itself: its keys are all as popular, rated to the same point, and ties keep the
//! incumbents. When popularity moves, the new keys win main's places as their counts in the sketch
//! grow and the old ones' fade. Workloads whose keys come back soon after a first use (sessions,
//! bursts) grow the small queue, so that their second use hits.
//!
//! An expired entry is given up when the hand (of either queue) meets it, before any live entry
//! it would otherwise spare. A hit costs one relaxed bump of the entry's counter (no queue moves,
//! no lock); the queues, the ghost and the sketch are the writer's, on misses. Their memory, on
//! top of the entries: about 16 bytes per entry held (queues), up to 16 per entry of capacity
//! (sketch, grown with the entries) and 24 to 48 per entry of capacity (ghost, allocated when the
//! cache first evicts): about 0.55 MB for the default capacity of 10,000. The table's slots (an
//! entry's key, bookkeeping and value: 64 bytes for a `u64` value) number up to about 3.3 per
//! entry held once evictions have run a while (hashbrown grows a table whose deleted slots use
//! up its room), so a full cache of 10,000 such entries holds about 2 MB of slots.
//!
//! Hits take no lock and write no memory that another thread writes, so they scale across threads
//! (see `read_lock.rs` for the read-mostly protocol). A miss takes its shard's lock twice: once
//! alone to publish that it computes the key (waiting for no reader), once as a writer to store
//! the value and end its flight (see `store.rs`, "Flights"). The price is a fixed ~8 KiB per memoized
//! function: one 128-byte slot per thread (64 of them, plus one shared) for hit counts and reader
//! marks.

use std::future::Future;
use std::panic;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use self::per_thread::Slots;
use self::store::{Finished, Probe, Read, Removed, Store};
use crate::bypass;
use crate::cache::{Backend, Cache};
use crate::clock;
use crate::flight::Flight;
use crate::key::{LocalHasher, LocalSeeds};
use crate::layout::{Keep, Layout, Whole};
use crate::memo::protocol::{Aging, Found, Protocol};
use crate::stats::Counters;
use crate::{reentry, refresh};

mod refreshing;

pub mod budget;
pub use budget::ENTRY_OVERHEAD;
mod cell;
#[doc(hidden)]
pub use cell::MemoryCell;

// The store: the table (`store`, its eviction's sketch and ghost in `evict`, whose buckets
// `lanes` searches, the keys in flight in `flights`) over the read-mostly lock (`read_lock`, all
// of the store's unsafe code but `lanes`' SSE2 intrinsics) and the per-thread slots (`per_thread`),
// built from `sync`'s primitives; `model` compiles them again over shuttle's (tests only).
pub(crate) mod evict;
mod flights;
mod lanes;
mod membarrier;
#[cfg(test)]
mod model;
pub(crate) mod per_thread;
pub(crate) mod read_lock;
pub(crate) mod store;
mod sync;

use crate::{FnConfig, Lock};
#[doc(hidden)]
pub use refreshing::Refreshing;

/// The capacity of an in-process cache when `capacity` is not given.
pub const DEFAULT_CAPACITY: u64 = 10_000;

/// The cache of one memoized function on the in-process backend, returned by `f_cache()`: a
/// [`Cache`] (see there for its methods).
///
/// `R` is what the cache keeps of a result: the return type itself, or, for a `Result` whose
/// errors are not cached, its `Ok` type with the layout `L` = `OkOnly` (see [`crate::layout`]).
pub type MemoryCache<R, L = Whole> = Cache<R, L, Memory<R>>;

/// The in-process backend of a [`Cache`]: the table of entries and the seeds of its keys.
pub struct Memory<R> {
    key_seeds: LocalSeeds,
    store: Store<R>,
}

/// The caller that computes a missing key. Dropping it without `land` (a panic in the body,
/// a cancelled future) ends the flight with nothing stored, which releases the waiters.
#[doc(hidden)]
pub struct Lead<'a, R: Clone, L> {
    cache: &'a MemoryCache<R, L>,
    key: u128,
    /// The flight's id in its shard (see `flights.rs`).
    id: u64,
    /// The flight is no thread's own, and its computation was listed in `reentry`: so is the
    /// user code that lands it.
    listed: bool,
}

impl<R: Clone, L> Lead<'_, R, L> {
    /// Stores a clone of `kept`, if any, and ends the flight, handing the value to its waiters.
    /// True if stored.
    fn land(self, kept: Option<&R>) -> bool {
        let cache = self.cache;
        // User code runs here (the value's `Clone`, and its `CacheSize` under `max_bytes`): a
        // memoized call of this key made in it must not wait for this very flight, so it runs as
        // one made inside the body does (see `reentry`; a flight this thread owns tells it so
        // without the listing).
        let listed = self.listed.then(|| reentry::list(cache, self.key));
        let value = kept.map(|kept| (kept.clone(), cache.expires_at()));
        let finished =
            cache
                .backend
                .store
                .finish(self.key, self.id, value, clock::now_ms(), cache.readers());
        // Should user code panic from here on, dropping this lead ends the flight: before
        // `finish` ended it (a value's `CacheSize`), that releases the waiters; after, the id
        // makes it a no-op, and keeps it from ending another leader's flight of the same key.
        let Finished {
            removed,
            stored,
            waiters,
        } = finished;
        // The waiters wake before any other user code runs (the clone below, the `Drop`s of
        // what the store took out): a panic there must not leave them waiting.
        if let Some(waiters) = &waiters {
            let _ends = EndsFlight(waiters);
            if let Some(kept) = kept {
                // The waiters' clone is theirs, not this caller's: should it panic, this call
                // returns its value all the same, and the waiters look again (each then clones
                // from the table, in its own call).
                let clone = panic::catch_unwind(panic::AssertUnwindSafe(|| kept.clone()));
                if let Ok(value) = clone {
                    waiters.land_value(value);
                }
            }
        }
        drop(listed);
        cache.count(removed);
        // Landed: nothing for `drop` to do (a lead holds no resource), not even its no-op.
        std::mem::forget(self);
        stored
    }
}

/// A lead dropped before it landed (a panic in the body, a cancelled future, a panic in the
/// landing's user code) ends its flight with nothing, if `finish` has not ended it already.
impl<R: Clone, L> Drop for Lead<'_, R, L> {
    fn drop(&mut self) {
        let cache = self.cache;
        let finished =
            cache
                .backend
                .store
                .finish(self.key, self.id, None, clock::now_ms(), cache.readers());
        cache.count(finished.removed);
    }
}

/// Ends a flight with nothing when dropped, unless it has ended (a panic on the way to its end).
struct EndsFlight<'a, R>(&'a Flight<R>);

impl<R> Drop for EndsFlight<'_, R> {
    fn drop(&mut self) {
        self.0.land();
    }
}

std::thread_local! {
    /// Its address tells this thread from every other one alive: the owner of a flight.
    static THREAD: u8 = const { 0 };
}

/// This thread's mark as a flight's owner ([`flights::NO_OWNER`] is no thread's).
#[inline]
fn this_thread() -> usize {
    THREAD.with(|mark| std::ptr::from_ref(mark) as usize)
}

/// What a lookup of the in-process backend comes to.
type MemoryFound<'a, R, L> = Found<R, MemoryLead<'a, R, L>, u64>;

/// What a caller does next: what its lookup comes to, or the flight it must wait for (then look
/// again). One type from the table to the protocol, so that nothing is converted on the way.
type Step<'a, R, L> = Result<MemoryFound<'a, R, L>, Arc<Flight<R>>>;

/// What lands a computed value.
#[doc(hidden)]
pub enum MemoryLead<'a, R: Clone, L> {
    /// This caller's flight: its waiters get the value it lands (or look again if it lands
    /// none, or was detached).
    Flight(Lead<'a, R, L>),
    /// `lock = "none"`: stored without a flight, unless its shard saw an invalidation since the
    /// lookup (whose count of them this holds).
    Unlocked(u128, u64),
}

impl<R: Clone, L> MemoryCache<R, L> {
    fn expires_at(&self) -> u64 {
        match self.config.ttl_ms {
            0 => u64::MAX,
            ttl => clock::now_ms().saturating_add(ttl),
        }
    }

    fn readers(&self) -> &Slots {
        &self.counters.threads
    }

    /// True (and logged) when this thread is inside an in-process store's read, running a
    /// value's `Clone`: a write now would wait for that read to end, which never comes (or, across
    /// two threads doing the same, for each other). Such a write is skipped.
    fn refuse_write_in_read(&self, operation: &'static str) -> bool {
        let refused = bypass::in_store_read();
        if refused {
            tracing::warn!(
                function = self.config.name,
                operation,
                "cachemacro: a cached value's `Clone` wrote to an in-process cache; skipped"
            );
        }
        refused
    }

    /// The hit path: the store's read of `key`, counted there. The caller has checked that no
    /// bypass is active.
    #[inline(always)]
    fn hit(&self, key: u128, aging: Aging) -> Read<R> {
        self.backend.store.read(
            key,
            Self::now(aging),
            if aging.refreshes {
                self.config.refresh_after_ms
            } else {
                0
            },
            per_thread::current(),
            self.readers(),
        )
    }

    /// The coarse clock for a hit: a cache whose entries never age (no `ttl`, no refresh) does
    /// not read it.
    #[inline(always)]
    fn now(aging: Aging) -> u64 {
        if aging.expires || aging.refreshes {
            clock::now_ms()
        } else {
            0
        }
    }

    /// The first look of a lookup; `after_hit`: the hit path has just found nothing; `own`: a
    /// flight this caller leads is its thread's (see [`this_thread`]).
    #[inline(always)]
    fn first_step(&self, key: u128, after_hit: bool, own: bool) -> Step<'_, R, L> {
        match after_hit {
            true if bypass::active() => Ok(Found::Return),
            true => self.miss(key, own),
            false => self.step(key, own),
        }
    }

    /// Stores `kept` under `key`, replacing any entry, unless its key was invalidated since its
    /// computation began: `since`, the shard's count of invalidations then. An `f_refresh`'s
    /// value (`refresh`) supersedes the computations in progress; a `lock = "none"` miss's does
    /// not. True if stored.
    #[inline(always)]
    fn put_now(&self, key: u128, kept: &R, since: u64, refresh: bool) -> bool {
        if self.refuse_write_in_read("f_refresh") {
            return false;
        }
        let (store, value) = (&self.backend.store, kept.clone());
        let (expires_at, now, readers) = (self.expires_at(), clock::now_ms(), self.readers());
        let put = if refresh {
            store.replace(key, value, expires_at, now, Some(since), readers)
        } else {
            store.insert_unflown(key, value, expires_at, now, since, readers)
        };
        put.is_some_and(|removed| {
            let stored = !removed.oversized();
            self.count(removed);
            stored
        })
    }

    /// A sync caller found another caller's flight: it waits for that flight's value, on its
    /// thread. (Dropping the flight to look again under the driver left a gap: a value landed and
    /// evicted in between was computed again.) `None` when the flight ended without a value (a
    /// panic, an invalidation), for another look under the driver.
    #[cold]
    fn wait_now(&self, key: u128, flight: &Flight<R>) -> Option<MemoryFound<'_, R, L>> {
        if reentry::computing(self, key) {
            // This thread computes the key: waiting would wait for itself.
            return Some(Found::Return);
        }
        let value = crate::memo::driver::block_on(flight.wait_async())?;
        self.counters.hit();
        Some(Found::Value(value, None))
    }

    /// One look at the table: a hit, a flight to wait for, or the lead.
    #[inline]
    fn step(&self, key: u128, own: bool) -> Step<'_, R, L> {
        if bypass::active() {
            return Ok(Found::Return);
        }
        match self.hit(key, Aging::of(&self.config)) {
            Read::Hit(value, due) => Ok(Found::Value(value, due)),
            Read::Miss => self.miss(key, own),
        }
    }

    #[cold]
    fn miss(&self, key: u128, own: bool) -> Step<'_, R, L> {
        if self.config.lock == Lock::None {
            self.counters.miss();
            // `lock = "none"`: computed and stored without a flight.
            return Ok(Found::Compute {
                lead: MemoryLead::Unlocked(key, self.backend.store.invalidations(key)),
                listed: false,
            });
        }
        let (readers, index) = (self.readers(), per_thread::current());
        let now = clock::now_ms();
        match self
            .backend
            .store
            .lead_or_wait_as(key, now, index, readers, this_thread(), own)
        {
            Some(Probe::Hit(value)) => Ok(Found::Value(value, None)),
            Some(Probe::Wait(flight)) => Err(flight),
            Some(Probe::Lead(id)) => {
                readers.miss(index);
                Ok(Found::Compute {
                    lead: MemoryLead::Flight(Lead {
                        cache: self,
                        key,
                        id,
                        listed: !own,
                    }),
                    // A re-entrant call finds a flight this thread owns: no listing.
                    listed: !own,
                })
            }
            // Inside this thread's own computation of the key.
            None => Ok(Found::Return),
        }
    }

    fn count(&self, removed: Removed<R>) {
        let (evicted, expired) = removed.counts();
        if evicted > 0 {
            self.readers().evicted(per_thread::current(), evicted);
        }
        if expired > 0 {
            self.counters
                .expirations
                .fetch_add(expired, Ordering::Relaxed);
        }
        if removed.oversized() {
            Counters::count(&self.counters.oversized);
        }
    }
}

impl<R, L> MemoryCache<R, L> {
    /// Builds the cache: bound-free, so that [`MemoryCell`] can build it without a bound that the
    /// function's proofs should report.
    fn build(config: FnConfig, sizer: Option<budget::Sizer<R>>) -> Self {
        if config.ttl_ms > 0 {
            clock::start();
        }
        let backend = Memory {
            key_seeds: LocalSeeds::random(),
            store: Store::bounded(config.capacity, sizer),
        };
        Cache::with_backend(config, backend)
    }
}

impl<R: Clone + Send + Sync + 'static, L: Layout> MemoryCache<R, L> {
    /// A cache that also holds at most `max_bytes` in charges (`max_bytes`; see [`budget`]).
    #[doc(hidden)]
    pub fn with_max_bytes(config: FnConfig, max_bytes: u64) -> Self
    where
        R: crate::CacheSize,
    {
        let size: fn(&R) -> usize = crate::CacheSize::cache_size;
        Self::build(config, Some(budget::Sizer { size, max_bytes }))
    }

    /// The bytes this cache's entries are charged now (see [`budget`] for what an entry is
    /// charged), as of each shard's last write; `None` without `max_bytes`.
    pub fn bytes(&self) -> Option<u64> {
        self.backend.store.bytes()
    }

    /// The most bytes this cache's entries are charged at once: its `max_bytes`, if it has one.
    pub fn max_bytes(&self) -> Option<u64> {
        self.backend.store.max_bytes()
    }

    /// The hasher for this cache's keys.
    #[doc(hidden)]
    #[inline]
    pub fn key_hasher(&self) -> LocalHasher<'_> {
        LocalHasher::new(&self.backend.key_seeds)
    }
}

impl<R: Clone + Send + Sync + 'static> Backend<R> for Memory<R> {
    const NAME: &'static str = "MemoryCache";

    fn entries(&self) -> Option<u64> {
        Some(self.store.len() as u64)
    }

    fn capacity(&self) -> Option<u64> {
        Some(self.store.capacity())
    }

    async fn count<L>(cache: &Cache<R, L, Self>) -> Option<u64> {
        cache.backend.entries()
    }

    async fn clear<L>(cache: &Cache<R, L, Self>) {
        if !cache.refuse_write_in_read("clear") {
            drop(cache.backend.store.clear(cache.readers()));
        }
    }
}

impl<R: Clone + Send + Sync + 'static, L: Layout> Protocol<R, L> for Memory<R> {
    type Lead<'a>
        = MemoryLead<'a, R, L>
    where
        R: 'a,
        L: 'a;
    /// The generation of the entry whose refresh the hit claimed (its `refreshing` flag).
    type Stale = u64;
    type Claim = Refreshing<R, L>;
    type Before = u64;

    // Inlined into each memoized function in optimized builds; shared in debug builds,
    // which then compile one copy per value type rather than one per function.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn hit(cache: &MemoryCache<R, L>, key: u128, aging: Aging) -> Option<(R, Option<u64>)> {
        if !bypass::active()
            && let Read::Hit(value, due) = cache.hit(key, aging)
        {
            return Some((value, due));
        }
        None
    }

    /// Waits for the flight of another caller, if there is one: its value, or, if it ended
    /// without one (or was detached), another look.
    async fn find(
        cache: &MemoryCache<R, L>,
        key: u128,
        after_hit: bool,
    ) -> Found<R, MemoryLead<'_, R, L>, u64> {
        // A task may move between threads: its flights are no thread's.
        let mut step = cache.first_step(key, after_hit, false);
        loop {
            match step {
                Ok(found) => return found,
                // This thread or task computes the key: waiting would wait for itself.
                Err(_) if reentry::computing(cache, key) => return Found::Return,
                Err(flight) => {
                    // The leader's value comes with the flight.
                    if let Some(value) = flight.wait_async().await {
                        cache.counters.hit();
                        return Found::Value(value, None);
                    }
                }
            }
            step = cache.step(key, false);
        }
    }

    /// [`find`](Protocol::find)'s first step. The flight it leads is this thread's: the body
    /// runs and lands on the caller's stack, before the thread can end. Another caller's flight
    /// is waited for here (see [`wait_now`](MemoryCache::wait_now)).
    #[inline(always)]
    fn find_now(
        cache: &MemoryCache<R, L>,
        key: u128,
        after_hit: bool,
    ) -> Option<MemoryFound<'_, R, L>> {
        match cache.first_step(key, after_hit, true) {
            Ok(found) => Some(found),
            Err(flight) => cache.wait_now(key, &flight),
        }
    }

    fn land_now<'a>(
        cache: &'a MemoryCache<R, L>,
        lead: MemoryLead<'a, R, L>,
        kept: Option<&R>,
    ) -> bool {
        match lead {
            MemoryLead::Flight(lead) => lead.land(kept),
            MemoryLead::Unlocked(key, since) => {
                kept.is_some_and(|kept| cache.put_now(key, kept, since, false))
            }
        }
    }

    async fn land<'a>(
        cache: &'a MemoryCache<R, L>,
        lead: MemoryLead<'a, R, L>,
        kept: Option<&R>,
    ) -> bool {
        Self::land_now(cache, lead, kept)
    }

    async fn before_put(cache: &MemoryCache<R, L>, key: u128) -> u64 {
        cache.backend.store.invalidations(key)
    }

    async fn put(cache: &MemoryCache<R, L>, key: u128, kept: &R, before: u64) -> bool {
        cache.put_now(key, kept, before, true)
    }

    async fn remove(cache: &MemoryCache<R, L>, key: u128) -> bool {
        if cache.refuse_write_in_read("f_invalidate") {
            return false;
        }
        matches!(
            cache
                .backend
                .store
                .remove(key, clock::now_ms(), cache.readers()),
            Some((_, true))
        )
    }

    fn claim(cache: &'static MemoryCache<R, L>, key: u128, generation: u64) -> Refreshing<R, L> {
        cache.claim(key, generation)
    }

    fn decline(cache: &MemoryCache<R, L>, key: u128, generation: u64) {
        cache.decline_refresh(key, generation);
    }

    async fn refresh<Ret>(
        cache: &'static MemoryCache<R, L>,
        _key: u128,
        claim: Refreshing<R, L>,
        cacheable: impl Fn(&Ret) -> bool + Send,
        job: impl Future<Output = Ret> + Send,
    ) where
        L: Keep<Ret, Kept = R>,
    {
        Counters::count(&cache.counters.refreshes.started);
        claim.land(cacheable, refresh::await_caught(job).await);
    }

    /// Nothing to count here: the refused job's claim counted itself as it dropped.
    fn refused(_: &MemoryCache<R, L>) {}
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Duration;

    use crate::layout::Whole;
    use crate::memo::protocol::{Found, Protocol};
    use crate::memory::{Memory, MemoryCache};
    use crate::{FnConfig, Lock};

    type Backend = Memory<u64>;

    /// A sync caller that finds another caller's flight waits for it in `find_now` and gets its
    /// value from the flight: it does not give the flight up for a second look, after which a
    /// value landed and evicted meanwhile would be computed again.
    #[test]
    fn a_sync_waiter_keeps_the_flight_it_found() {
        let cache: &'static MemoryCache<u64> = Box::leak(Box::new(MemoryCache::build(
            FnConfig {
                name: "memory::tests",
                version: 0,
                ttl_ms: 0,
                capacity: 100,
                refresh_after_ms: 0,
                ret_type: "u64",
                lock: Lock::Process,
                lock_ttl_ms: 0,
            },
            None,
        )));
        let Some(Found::Compute { lead, .. }) =
            <Backend as Protocol<_, Whole>>::find_now(cache, 7, false)
        else {
            panic!("the first caller leads");
        };
        let (sender, received) = mpsc::channel();
        let waiter = std::thread::spawn(move || {
            let found = <Backend as Protocol<_, Whole>>::find_now(cache, 7, false);
            let kind = match found {
                Some(Found::Value(value, _)) => Ok(value),
                Some(Found::Compute { .. }) => Err("computes"),
                Some(Found::Return) => Err("returns"),
                None => Err("gave the flight up"),
            };
            sender.send(kind).unwrap();
        });
        // Not a synchronisation: time for the waiter to reach the flight. Had it given the
        // flight up, its answer would be here already (and would fail below in any case).
        let early = received.recv_timeout(Duration::from_millis(200));
        assert!(
            early.is_err(),
            "the waiter answered before the value landed: {early:?}"
        );
        assert!(<Backend as Protocol<_, Whole>>::land_now(
            cache,
            lead,
            Some(&42)
        ));
        assert_eq!(received.recv_timeout(Duration::from_secs(10)), Ok(Ok(42)));
        waiter.join().unwrap();
        assert_eq!(cache.stats().hits, 1, "the waiter's value counts as a hit");
    }
}
