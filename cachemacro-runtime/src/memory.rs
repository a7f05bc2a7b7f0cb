//! The in-process backend: a bounded, sharded cache per memoized function, with TTL and
//! single-flight misses.
//!
//! Keys are 128-bit hashes of the arguments (see [`crate::key`]), so the cache never holds or
//! clones arguments. The capacity is exact: the cache never holds more than `capacity` entries,
//! at any moment.
//!
//! # What the cache keeps
//!
//! Entries that are hit again, and keys that keep coming back; not one-off keys. The policy is
//! S3-FIFO (Yang et al., SOSP 2023) with a TinyLFU-style frequency sketch, chosen by measuring
//! hit ratios on recorded and synthetic workloads (`BENCHMARKS.md`, "Hit ratio"). Each shard of
//! the cache has:
//!
//! - a **small queue** (5% of the capacity) where every new key starts. When it leaves the
//!   queue, an entry hit meanwhile moves to the main queue; one never hit is dropped, and only
//!   its key's hash is remembered, in the ghost queue.
//! - a **main queue** for entries proven useful, swept by a hand as CLOCK's is, with a count of
//!   up to 7 hits per entry instead of a bit: the hand spares an entry once per hit since it last
//!   passed, and gives up the first one with none left.
//! - a **ghost queue** of the last keys the small queue dropped (twice the capacity), and a
//!   **sketch** counting how often each key was seen lately (it halves its counts every 10
//!   capacities of accesses, so that old popularity fades). A key back from the ghost queue goes
//!   straight to the main queue if the sketch rates it at least as high as the entry main would
//!   give up for it; otherwise it starts over in the small queue.
//!
//! Why: most keys of most workloads are used once; giving them only a small queue keeps them
//! from pushing out what is reused, and the hit counts keep the most-reused longest. A **scan**
//! (a burst of keys each used once: a batch job, a crawler) passes through the small queue and
//! leaves: the main queue, and with it the hot set, is untouched. A key that repeats at a long
//! interval is caught by the ghost queue on its second visit.
//!
//! An expired entry is given up when the hand (of either queue) meets it, before any live entry
//! it would otherwise spare. A hit costs one relaxed bump of the entry's counter (no queue moves,
//! no lock); the queues, the ghost and the sketch are the writer's, on misses. Their memory, on
//! top of the entries: about 16 bytes per entry held (queues), up to 16 per entry of capacity
//! (sketch, grown with the entries) and 32 to 64 per entry of capacity (ghost, allocated when the
//! cache first evicts): about 0.8 MB for the default capacity of 10,000.
//!
//! Hits take no lock and write no memory that another thread writes, so they scale across threads
//! (see `store.rs` for the read-mostly protocol). The price is a fixed ~8 KiB per memoized
//! function: one 128-byte slot per thread (64 of them, plus one shared) for hit counts and reader
//! marks.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::bypass;
use crate::clock;
use crate::flight::Flight;
use crate::key::{LocalHasher, LocalSeeds};
use crate::layout::{Keep, Layout, Whole, kept};
use crate::per_thread::{self, Slots};
use crate::reentry;
use crate::refresh;
use crate::stats::{Counters, Stats};
use crate::store::{Probe, Read, Removed, Store};
use crate::warm::Warmed;
use crate::{FnConfig, Lock};

/// The capacity of an in-process cache when `capacity` is not given.
pub const DEFAULT_CAPACITY: u64 = 10_000;

/// The cache of one memoized function on the in-process backend, returned by `f_cache()`.
///
/// `R` is what the cache keeps of a result: the return type itself, or, for a `Result` whose
/// errors are not cached, its `Ok` type with the layout `L` = `OkOnly` (see [`crate::layout`]).
pub struct MemoryCache<R, L = Whole> {
    config: FnConfig,
    key_seeds: LocalSeeds,
    store: Store<R>,
    counters: Counters,
    layout: PhantomData<fn() -> L>,
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
        let removed = cache.store.finish(
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
            let removed = cache.store.finish(
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

    /// The hit path: the store's read of `key`, counted there. The caller has checked that no
    /// bypass is active.
    #[inline(always)]
    fn hit(&self, key: u128) -> Read<R> {
        self.store.read(
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
        match self.store.lead_or_wait(key, now, readers) {
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
        MemoryCache {
            key_seeds: LocalSeeds::random(),
            store: Store::new(config.capacity),
            config,
            counters: Counters::default(),
            layout: PhantomData,
        }
    }

    /// The hasher for this cache's keys.
    #[doc(hidden)]
    #[inline]
    pub fn key_hasher(&self) -> LocalHasher<'_> {
        LocalHasher::new(&self.key_seeds)
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
    /// line, so that the hit path stays small.
    #[cold]
    #[inline(never)]
    fn find_slow(&self, key: u128, schedule: impl FnOnce(u64)) -> Found<'_, R, L> {
        let mut step = if bypass::active() {
            Step::Bypass
        } else {
            self.miss(key, clock::now_ms(), self.readers())
        };
        loop {
            match step {
                Step::Hit(value, due) => {
                    if let Some(generation) = due {
                        schedule(generation);
                    }
                    return Found::Value(value);
                }
                // This thread computes the key: waiting would wait for itself.
                Step::Wait(_) if reentry::computing(self, key) => {
                    return Found::Compute(Compute::Return);
                }
                Step::Wait(flight) => flight.wait(),
                Step::Lead(mut lead) => {
                    lead.listed = Some(reentry::Listed::enter(self, key));
                    return Found::Compute(Compute::Lead(lead));
                }
                Step::Unlocked => return Found::Compute(Compute::Store),
                Step::Bypass => return Found::Compute(Compute::Return),
            }
            step = self.step(key);
        }
    }

    /// [`find`](Self::find) for tasks: waiters await.
    async fn find_async(&self, key: u128, schedule: impl FnOnce(u64)) -> Found<'_, R, L> {
        loop {
            match self.step(key) {
                Step::Hit(value, due) => {
                    if let Some(generation) = due {
                        schedule(generation);
                    }
                    return Found::Value(value);
                }
                // This task computes the key: waiting would wait for itself.
                Step::Wait(_) if reentry::computing(self, key) => {
                    return Found::Compute(Compute::Return);
                }
                Step::Wait(flight) => flight.wait_async().await,
                Step::Lead(lead) => return Found::Compute(Compute::Lead(lead)),
                Step::Unlocked => return Found::Compute(Compute::Store),
                Step::Bypass => return Found::Compute(Compute::Return),
            }
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
            self.store
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
    fn decline_refresh(&self, key: u128, generation: u64) {
        self.store
            .refreshed(key, generation, None, clock::now_ms(), self.readers());
    }

    #[cold]
    fn refresh_dropped(&self, key: u128, generation: u64) {
        self.decline_refresh(key, generation);
        Counters::count(&self.counters.refreshes.dropped);
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
        let removed = self.store.insert(
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
            self.store.remove(key, clock::now_ms(), self.readers()),
            Some((_, true))
        )
    }

    /// [`invalidate`](Self::invalidate) for async functions.
    #[doc(hidden)]
    pub async fn invalidate_async(&self, key: u128) -> bool {
        self.invalidate(key)
    }

    /// A snapshot of this cache's counters.
    pub fn stats(&self) -> Stats {
        let mut stats = self.counters.snapshot();
        stats.entries = Some(self.store.len() as u64);
        stats.capacity = Some(self.store.capacity());
        stats
    }

    /// Removes every entry. Counters keep their values; computations in progress still store
    /// their results when they finish. Skipped (with a warning) when called from a cached value's
    /// `Clone` while this thread reads an in-process cache.
    pub fn clear(&self) {
        if !self.refuse_write_in_read("clear") {
            self.store.clear(self.readers());
        }
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

    /// Entries held now, including expired ones not yet removed.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// True when no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most entries this cache holds at once: the `capacity` option.
    pub fn capacity(&self) -> u64 {
        self.store.capacity()
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

impl<R, L> std::fmt::Debug for MemoryCache<R, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCache")
            .field("name", &self.config.name)
            .field("version", &self.config.version)
            .finish_non_exhaustive()
    }
}
