//! The in-process backend: a bounded, sharded cache per memoized function, with TTL and
//! single-flight misses.
//!
//! Keys are 128-bit hashes of the arguments (see [`crate::key`]), so the cache never holds or
//! clones arguments. Eviction is CLOCK, an approximation of LRU that keeps hits cheap: a hit sets
//! the entry's bit; when the cache is full the hand sweeps, clearing bits, and gives up the first
//! entry that was not hit since the hand last passed, or that expired. The capacity is
//! exact: the cache never holds more than `capacity` entries, at any moment.
//!
//! Hits take no lock and write no memory that another thread writes, so they scale across threads
//! (see `store.rs` for the read-mostly protocol). The price is a fixed ~8 KiB per memoized
//! function: one 128-byte slot per thread (64 of them, plus one shared) for hit counts and reader
//! marks.

use std::future::Future;
use std::sync::Arc;

use crate::bypass;
use crate::cache::{Backend, Cache};
use crate::clock;
use crate::flight::Flight;
use crate::key::{LocalHasher, LocalSeeds};
use crate::layout::{Keep, Layout, Whole, kept};
use crate::memo::driver::block_on;
use crate::per_thread::{self, Slots};
use crate::reentry;
use crate::stats::Counters;
use crate::store::{Probe, Read, Removed, Store};
use crate::warm::Warmed;

mod refreshing;
use crate::{FnConfig, Lock};

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

/// The caller that computes a missing key. Dropping it without [`Lead::land`] (a panic in the body,
/// a cancelled future) ends the flight with nothing stored, which releases the waiters.
struct Lead<'a, R: Clone, L> {
    cache: &'a MemoryCache<R, L>,
    key: u128,
    flight: Arc<Flight>,
    landed: bool,
    /// For a thread (sync caller), which runs the body between taking the lead and landing it:
    /// lists the thread as the key's computation meanwhile (see [`reentry`]). A task's body is
    /// listed during its polls instead ([`MemoryCache::compute_async`]).
    listed: Option<reentry::Listed>,
}

impl<R: Clone, L> Lead<'_, R, L> {
    fn land(mut self, value: Option<R>) {
        self.landed = true;
        let cache = self.cache;
        let value = value.map(|value| (value, cache.expires_at()));
        let removed = cache.backend.store.finish(
            self.key,
            &self.flight,
            value,
            clock::now_ms(),
            cache.readers(),
        );
        cache.count(removed);
    }
}

impl<R: Clone, L> Drop for Lead<'_, R, L> {
    fn drop(&mut self) {
        if !self.landed {
            let cache = self.cache;
            let removed = cache.backend.store.finish(
                self.key,
                &self.flight,
                None,
                clock::now_ms(),
                cache.readers(),
            );
            cache.count(removed);
        }
    }
}

/// What a caller does next.
enum Step<'a, R: Clone, L> {
    /// A value, and the entry's generation when this caller must schedule its refresh.
    Hit(R, Option<u64>),
    Wait(Arc<Flight>),
    Lead(Lead<'a, R, L>),
    /// A miss with `lock = "none"`: compute and store, without a flight.
    Unlocked,
    /// Inside a bypass (or a value's `Clone` inside this store): run the body, touch nothing.
    Bypass,
}

/// What a lookup ended with.
enum Found<'a, R: Clone, L> {
    Value(R),
    /// Run the body, then [`MemoryCache::computed`].
    Compute(Compute<'a, R, L>),
}

/// What becomes of a computed value.
enum Compute<'a, R: Clone, L> {
    /// Handed to this caller's flight, and stored if cacheable.
    Lead(Lead<'a, R, L>),
    /// Stored if cacheable (`lock = "none"`).
    Store,
    /// Nothing: returned only.
    Return,
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
    fn hit(&self, key: u128) -> Read<R> {
        self.backend.store.read(
            key,
            self.now(),
            self.config.refresh_after_ms,
            per_thread::current(),
            self.readers(),
        )
    }

    /// The coarse clock for a hit: a cache whose entries never age (no `ttl`, no refresh) does
    /// not read it.
    #[inline(always)]
    fn now(&self) -> u64 {
        if self.config.ttl_ms == 0 && self.config.refresh_after_ms == 0 {
            0
        } else {
            clock::now_ms()
        }
    }

    /// One look at the table: a hit, a flight to wait for, or the lead.
    #[inline]
    fn step(&self, key: u128) -> Step<'_, R, L> {
        if bypass::active() {
            return Step::Bypass;
        }
        match self.hit(key) {
            Read::Hit(value, due) => Step::Hit(value, due),
            Read::Miss => self.miss(key, clock::now_ms(), self.readers()),
        }
    }

    #[cold]
    fn miss(&self, key: u128, now: u64, readers: &Slots) -> Step<'_, R, L> {
        if self.config.lock == Lock::None {
            self.counters.miss();
            return Step::Unlocked;
        }
        match self.backend.store.lead_or_wait(key, now, readers) {
            Probe::Hit(value) => {
                self.counters.hit();
                Step::Hit(value, None)
            }
            Probe::Wait(flight, expired) => {
                if expired.is_some() {
                    Counters::count(&self.counters.expirations);
                }
                Step::Wait(flight)
            }
            Probe::Lead(flight, expired) => {
                if expired.is_some() {
                    Counters::count(&self.counters.expirations);
                }
                self.counters.miss();
                Step::Lead(Lead {
                    cache: self,
                    key,
                    flight,
                    landed: false,
                    listed: None,
                })
            }
        }
    }

    fn count(&self, removed: Removed<R>) {
        if removed.evicted.is_some() {
            Counters::count(&self.counters.evictions);
        }
        if removed.expired.is_some() {
            Counters::count(&self.counters.expirations);
        }
    }
}

impl<R: Clone + Send + Sync + 'static, L: Layout> MemoryCache<R, L> {
    #[doc(hidden)]
    pub fn new(config: FnConfig) -> Self {
        if config.ttl_ms > 0 {
            clock::start();
        }
        let backend = Memory {
            key_seeds: LocalSeeds::random(),
            store: Store::new(config.capacity),
        };
        Cache::with_backend(config, backend)
    }

    /// The hasher for this cache's keys.
    #[doc(hidden)]
    #[inline]
    pub fn key_hasher(&self) -> LocalHasher<'_> {
        LocalHasher::new(&self.backend.key_seeds)
    }

    /// A live value for `key` (scheduling its refresh through `schedule` when the store asks for
    /// one), or what to do with the value the caller computes instead.
    #[inline(always)]
    fn find(&self, key: u128, schedule: impl FnOnce(u64)) -> Found<'_, R, L> {
        if !bypass::active()
            && let Read::Hit(value, due) = self.hit(key)
        {
            if let Some(generation) = due {
                schedule(generation);
            }
            return Found::Value(value);
        }
        self.find_slow(key, schedule)
    }

    /// [`find`](Self::find) after the hit path found nothing (or a bypass is active): out of
    /// line, so that the hit path stays small. A wait parks the thread in the blocking driver.
    #[cold]
    #[inline(never)]
    fn find_slow(&self, key: u128, schedule: impl FnOnce(u64)) -> Found<'_, R, L> {
        let first = if bypass::active() {
            Step::Bypass
        } else {
            self.miss(key, clock::now_ms(), self.readers())
        };
        match block_on(self.resolve(key, first, schedule)) {
            // A thread's lead lists itself until it lands (see `Lead`).
            Found::Compute(Compute::Lead(mut lead)) => {
                lead.listed = Some(reentry::Listed::enter(self, key));
                Found::Compute(Compute::Lead(lead))
            }
            found => found,
        }
    }

    /// [`find`](Self::find) for tasks: waiters await.
    async fn find_async(&self, key: u128, schedule: impl FnOnce(u64)) -> Found<'_, R, L> {
        self.resolve(key, self.step(key), schedule).await
    }

    /// Follows `step` to a value or to what becomes of the caller's computation, waiting for
    /// other callers' flights (and looking again after each) as needed.
    async fn resolve<'a>(
        &'a self,
        key: u128,
        mut step: Step<'a, R, L>,
        schedule: impl FnOnce(u64),
    ) -> Found<'a, R, L> {
        loop {
            match step {
                Step::Hit(value, due) => {
                    if let Some(generation) = due {
                        schedule(generation);
                    }
                    return Found::Value(value);
                }
                // This thread or task computes the key: waiting would wait for itself.
                Step::Wait(_) if reentry::computing(self, key) => {
                    return Found::Compute(Compute::Return);
                }
                // The leader stores its value before ending the flight: the next look finds it.
                Step::Wait(flight) => {
                    flight.wait_async().await;
                }
                Step::Lead(lead) => return Found::Compute(Compute::Lead(lead)),
                Step::Unlocked => return Found::Compute(Compute::Store),
                Step::Bypass => return Found::Compute(Compute::Return),
            }
            step = self.step(key);
        }
    }

    /// Awaits `body` and does with its value what `compute` says: the value, and whether it was
    /// stored. A leader's body is listed as the key's computation during each of its polls, so
    /// that a call of the key in the same task runs uncached rather than waiting for it (see
    /// [`reentry`]). (A thread's lead lists itself: see [`Lead`].)
    async fn compute_async<Ret>(
        &self,
        key: u128,
        compute: Compute<'_, R, L>,
        cacheable: impl Fn(&Ret) -> bool,
        body: impl Future<Output = Ret>,
    ) -> (Ret, bool)
    where
        L: Keep<Ret, Kept = R>,
    {
        let value = match compute {
            Compute::Lead(_) => reentry::run_async(self, key, body).await,
            Compute::Store | Compute::Return => body.await,
        };
        self.computed(key, compute, cacheable, value)
    }

    /// Does with a computed value what `compute` says, and returns it with whether it was
    /// stored.
    fn computed<Ret>(
        &self,
        key: u128,
        compute: Compute<'_, R, L>,
        cacheable: impl Fn(&Ret) -> bool,
        value: Ret,
    ) -> (Ret, bool)
    where
        L: Keep<Ret, Kept = R>,
    {
        let stored = match compute {
            Compute::Lead(lead) => {
                let kept = kept::<Ret, L>(&cacheable, &value).cloned();
                let stored = kept.is_some();
                lead.land(kept);
                stored
            }
            Compute::Store => self.store(key, cacheable, &value),
            Compute::Return => false,
        };
        (value, stored)
    }

    /// Warms one item (`f_warm`): looks `key` up as a call would, and computes and stores it if
    /// it is missing.
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
        match self.find(key, |generation| self.decline_refresh(key, generation)) {
            Found::Value(_) => Warmed::Present,
            Found::Compute(compute) => {
                Warmed::computed(self.computed(key, compute, cacheable, body()).1)
            }
        }
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
        match self
            .find_async(key, |generation| self.decline_refresh(key, generation))
            .await
        {
            Found::Value(_) => Warmed::Present,
            Found::Compute(compute) => {
                Warmed::computed(self.compute_async(key, compute, cacheable, body).await.1)
            }
        }
    }

    /// The cached value for `key`, or the body's value, computed once however many callers miss
    /// the same key at once.
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
        // Without a `refresh_after`, the store never asks for a refresh.
        match self.find(key, |_| {}) {
            Found::Value(value) => L::restore(value),
            Found::Compute(compute) => self.computed(key, compute, cacheable, body()).0,
        }
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
        match self.find_async(key, |_| {}).await {
            Found::Value(value) => L::restore(value),
            Found::Compute(compute) => self.compute_async(key, compute, cacheable, body).await.0,
        }
    }

    /// Stores `value` under `key` if it is cacheable, replacing any entry (`f_refresh`); true if
    /// it was stored.
    #[doc(hidden)]
    pub fn store<Ret>(&self, key: u128, cacheable: impl Fn(&Ret) -> bool, value: &Ret) -> bool
    where
        L: Keep<Ret, Kept = R>,
    {
        if self.refuse_write_in_read("f_refresh") {
            return false;
        }
        let Some(kept) = kept::<Ret, L>(&cacheable, value) else {
            return false;
        };
        let removed = self.backend.store.insert(
            key,
            kept.clone(),
            self.expires_at(),
            clock::now_ms(),
            self.readers(),
        );
        self.count(removed);
        true
    }

    /// [`store`](Self::store) for async functions, so the expansion is the same for every backend.
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
        self.store(key, cacheable, value)
    }

    /// Removes the entry under `key`; true if a live one was there (`f_invalidate`).
    #[doc(hidden)]
    pub fn invalidate(&self, key: u128) -> bool {
        if self.refuse_write_in_read("f_invalidate") {
            return false;
        }
        matches!(
            self.backend
                .store
                .remove(key, clock::now_ms(), self.readers()),
            Some((_, true))
        )
    }

    /// [`invalidate`](Self::invalidate) for async functions.
    #[doc(hidden)]
    pub async fn invalidate_async(&self, key: u128) -> bool {
        self.invalidate(key)
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
            cache.backend.store.clear(cache.readers());
        }
    }
}
