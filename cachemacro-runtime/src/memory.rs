//! The in-process backend: a bounded, sharded cache per memoized function, with TTL and
//! single-flight misses.
//!
//! The store is [`quick_cache`]'s sharded cache: reads take a shard's read lock (no global lock),
//! and its placeholders give single-flight for threads and tasks alike. Keys are the 128-bit stable
//! key hashes, so the store never holds (or clones) arguments. Eviction is quick_cache's
//! CLOCK-PRO-style policy, an approximation of LRU that keeps hits cheap and resists scans: an entry
//! that was hit since the hand last passed survives, a never-hit entry goes first.

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use quick_cache::sync::GuardResult;
use quick_cache::{Lifecycle, OptionsBuilder, UnitWeighter};

use crate::FnConfig;
use crate::clock;
use crate::stats::{Counters, Stats};

/// The capacity of an in-process cache when `capacity` is not given.
pub const DEFAULT_CAPACITY: u64 = 10_000;

#[derive(Clone)]
struct Entry<R> {
    value: R,
    /// On the coarse clock; `u64::MAX` for no expiry.
    expires_at: u64,
}

/// The cache of one memoized function on the in-process backend, returned by `f_cache()`.
pub struct MemoryCache<R> {
    config: FnConfig,
    store: quick_cache::sync::Cache<u128, Entry<R>, UnitWeighter, KeyHashBuilder, EvictionCounter>,
    capacity: u64,
    counters: Arc<Counters>,
}

impl<R: Clone + Send + Sync + 'static> MemoryCache<R> {
    #[doc(hidden)]
    pub fn new(config: FnConfig) -> Self {
        if config.ttl_ms > 0 {
            clock::start();
        }
        let requested = config.capacity.max(1);
        let shards = shard_count(requested);
        // quick_cache rounds each shard's share up; a multiple of the shard count makes the shares
        // exact, so the total never exceeds what was asked for.
        let capacity = (requested / shards) * shards;
        let counters = Arc::new(Counters::default());
        let options = OptionsBuilder::new()
            .shards(shards as usize)
            .estimated_items_capacity(capacity as usize)
            .weight_capacity(capacity)
            .build()
            .expect("the options are all set");
        let store = quick_cache::sync::Cache::with_options(
            options,
            UnitWeighter,
            KeyHashBuilder,
            EvictionCounter(counters.clone()),
        );
        MemoryCache {
            config,
            store,
            capacity,
            counters,
        }
    }

    fn expires_at(&self) -> u64 {
        match self.config.ttl_ms {
            0 => u64::MAX,
            ttl => clock::now_ms().saturating_add(ttl),
        }
    }

    /// The live value under `key`, removing it if it expired.
    #[inline]
    fn live(&self, key: u128, entry: Entry<R>) -> Option<R> {
        if entry.expires_at > clock::now_ms() {
            return Some(entry.value);
        }
        self.expire(key);
        None
    }

    #[cold]
    fn expire(&self, key: u128) {
        let now = clock::now_ms();
        if self
            .store
            .remove_if(&key, |entry| entry.expires_at <= now)
            .is_some()
        {
            Counters::count(&self.counters.expirations);
        }
    }

    /// The cached value for `key`, or the body's value, computed once however many callers miss
    /// the same key at once.
    #[doc(hidden)]
    #[inline]
    pub fn get_or_compute(
        &self,
        key: u128,
        cacheable: impl Fn(&R) -> bool,
        body: impl FnOnce() -> R,
    ) -> R {
        let mut body = Some(body);
        loop {
            match self.store.get_value_or_guard(&key, None) {
                GuardResult::Value(entry) => {
                    if let Some(value) = self.live(key, entry) {
                        self.counters.hit(key);
                        return value;
                    }
                }
                GuardResult::Guard(guard) => {
                    self.counters.miss(key);
                    // A panic in the body drops the guard, which wakes the waiters: one of them
                    // becomes the next to compute. Nothing is stored and no lock is poisoned.
                    let body = body.take().expect("the body runs at most once");
                    let value = body();
                    if cacheable(&value) {
                        let _ = guard.insert(Entry {
                            value: value.clone(),
                            expires_at: self.expires_at(),
                        });
                    }
                    return value;
                }
                GuardResult::Timeout => {}
            }
        }
    }

    /// The async form of [`get_or_compute`](Self::get_or_compute): waiters await, and a cancelled
    /// computation releases them like a panicking one.
    #[doc(hidden)]
    pub async fn get_or_compute_async(
        &self,
        key: u128,
        cacheable: impl Fn(&R) -> bool,
        body: impl Future<Output = R>,
    ) -> R {
        let mut body = Some(body);
        loop {
            match self.store.get_value_or_guard_async(&key).await {
                Ok(entry) => {
                    if let Some(value) = self.live(key, entry) {
                        self.counters.hit(key);
                        return value;
                    }
                }
                Err(guard) => {
                    self.counters.miss(key);
                    let body = body.take().expect("the body runs at most once");
                    let value = body.await;
                    if cacheable(&value) {
                        let _ = guard.insert(Entry {
                            value: value.clone(),
                            expires_at: self.expires_at(),
                        });
                    }
                    return value;
                }
            }
        }
    }

    /// Stores `value` under `key` if it is cacheable, replacing any entry (`f_refresh`).
    #[doc(hidden)]
    pub fn store(&self, key: u128, cacheable: impl Fn(&R) -> bool, value: &R) {
        if cacheable(value) {
            self.store.insert(
                key,
                Entry {
                    value: value.clone(),
                    expires_at: self.expires_at(),
                },
            );
        }
    }

    /// [`store`](Self::store) for async functions, so the expansion is the same for every backend.
    #[doc(hidden)]
    pub async fn store_async(&self, key: u128, cacheable: impl Fn(&R) -> bool, value: &R) {
        self.store(key, cacheable, value);
    }

    /// [`invalidate`](Self::invalidate) for async functions.
    #[doc(hidden)]
    pub async fn invalidate_async(&self, key: u128) -> bool {
        self.invalidate(key)
    }

    /// Removes the entry under `key`; true if a live one was there (`f_invalidate`).
    #[doc(hidden)]
    pub fn invalidate(&self, key: u128) -> bool {
        match self.store.remove(&key) {
            Some((_, entry)) => entry.expires_at > clock::now_ms(),
            None => false,
        }
    }

    /// A snapshot of this cache's counters.
    pub fn stats(&self) -> Stats {
        let mut stats = self.counters.snapshot();
        stats.entries = Some(self.store.len() as u64);
        stats.capacity = Some(self.capacity);
        stats
    }

    /// Removes every entry. Counters keep their values.
    pub fn clear(&self) {
        self.store.clear();
    }

    /// Entries held now, including expired ones not yet removed.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// True when no entry is held.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }

    /// The most entries this cache holds at once: the `capacity` option, rounded down to a
    /// multiple of the shard count (at most 32 fewer, and exact for round numbers).
    pub fn capacity(&self) -> u64 {
        self.capacity
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

impl<R> std::fmt::Debug for MemoryCache<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryCache")
            .field("name", &self.config.name)
            .field("version", &self.config.version)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// Power-of-two shard count: enough for the machine's threads, and at least 32 entries per shard
/// so that the per-shard eviction order stays close to the global one.
fn shard_count(capacity: u64) -> u64 {
    let threads = std::thread::available_parallelism().map_or(4, |n| n.get()) as u64;
    let mut shards = (threads * 4).next_power_of_two().min(32);
    while shards > 1 && capacity / shards < 32 {
        shards /= 2;
    }
    shards
}

/// Keys are already uniform 128-bit hashes: fold them instead of hashing them again.
#[derive(Clone, Copy, Default)]
struct KeyHashBuilder;

#[derive(Default)]
struct KeyHasher(u64);

impl BuildHasher for KeyHashBuilder {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write_u128(&mut self, key: u128) {
        self.0 = (key as u64) ^ ((key >> 64) as u64);
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only u128 keys reach this hasher; keep a correct fallback all the same.
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }
}

#[derive(Clone)]
struct EvictionCounter(Arc<Counters>);

impl<R> Lifecycle<u128, Entry<R>> for EvictionCounter {
    type RequestState = ();
    fn on_evict(&self, _: &mut (), _: u128, _: Entry<R>) {
        Counters::count(&self.0.evictions);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache(capacity: u64) -> MemoryCache<u64> {
        MemoryCache::new(FnConfig {
            name: "t",
            version: 0,
            ttl_ms: 0,
            capacity,
            ret_type: "u64",
        })
    }

    #[test]
    fn capacity_is_never_exceeded_by_rounding() {
        for requested in [1, 7, 33, 100, 1000, 10_001, 12_345] {
            let cache = cache(requested);
            assert!(cache.capacity() <= requested);
            assert!(requested - cache.capacity() < 32);
            for key in 0..requested as u128 * 3 {
                cache.store(key, |_| true, &1);
                assert!(cache.len() as u64 <= cache.capacity());
            }
        }
    }
}
