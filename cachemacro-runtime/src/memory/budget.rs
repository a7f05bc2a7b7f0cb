//! The byte budget of a cache with `max_bytes`: what an entry is charged, and how the budget is
//! split over the cache's shards.
//!
//! - **The charge.** An entry is charged its value's [`CacheSize`](crate::CacheSize) plus
//!   [`ENTRY_OVERHEAD`], computed once, outside the shard's lock, when the value is stored (the
//!   stored value is the cache's clone of the result: a `String`'s clone has no spare capacity).
//!   The store keeps the charge beside the value, in room the entry's alignment leaves free, so
//!   entries keep their size, a hit reads nothing more, and an entry gives back exactly what it
//!   was charged, whatever its value's interior mutability does meanwhile.
//! - **The bound.** The budget is split over the shards as the capacity is: the shares add up to
//!   `max_bytes`, and each shard's charges never exceed its share, so the cache's never exceed
//!   `max_bytes`. Storing evicts (in the policy's order) until the new entry fits both its
//!   shard's share and its share of `capacity`; replacing an entry (`f_refresh`, a background
//!   refresh) counts the difference, and a value that grew past the room left is stored anew,
//!   evicting others.
//! - **Values too large.** A value charged more than its shard's share (or 4 GiB or more) is
//!   returned to its caller and to the callers waiting for the same key, but not stored, and the
//!   key's older entry is removed (it is out of date); [`Stats::oversized`](crate::Stats) counts
//!   them. There are at most 64 shards, and fewer for smaller budgets, each with at least 1 MiB:
//!   so any value charged up to `max_bytes / 64` is stored, and below 2 MiB (one shard) any
//!   value charged up to `max_bytes`.

/// Bytes charged for each entry on top of its value's `CacheSize` (whose `size_of` part is the
/// value's place in the entry): its key and bookkeeping. On 64-bit targets the table's slot holds
/// 56 bytes beside the value (the key, expiry, age, generation, counters and charge, with
/// padding) and the entry's slot in an eviction queue 16 more, some of it shared with stale
/// slots; 64 is charged, a fixed figure between the two. Not charged: the table's spare buckets
/// and the eviction policy's sketch and ghost, which depend on the capacity, not on the values.
pub const ENTRY_OVERHEAD: usize = 64;

/// The least share of `max_bytes` a shard is given when there are several: the shards are fewer
/// for a smaller budget, so that a value of up to `max_bytes / 64` (and, under 2 MiB, any value
/// up to `max_bytes`) can always be stored.
pub(crate) const MIN_SHARD_BYTES: u64 = 1 << 20;

/// The most one entry can be charged (kept in a `u32`): a larger value is never stored.
pub(crate) const MAX_CHARGE: usize = u32::MAX as usize;

/// How a byte-bounded store sizes its values.
pub(crate) struct Sizer<R> {
    /// The value's `CacheSize::cache_size`.
    pub(crate) size: fn(&R) -> usize,
    pub(crate) max_bytes: u64,
}

impl<R> Clone for Sizer<R> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R> Copy for Sizer<R> {}

impl<R> Sizer<R> {
    /// What storing `value` costs. User code (its `CacheSize`): run outside the shard's lock.
    pub(crate) fn charge(&self, value: &R) -> usize {
        (self.size)(value).saturating_add(ENTRY_OVERHEAD)
    }
}

/// Halves `shards` until each one's share of `max_bytes` is at least [`MIN_SHARD_BYTES`].
pub(crate) fn fewer_shards(mut shards: u64, max_bytes: u64) -> u64 {
    while shards > 1 && max_bytes / shards < MIN_SHARD_BYTES {
        shards /= 2;
    }
    shards
}

/// Shard `index`'s share of `total` split over `shards`: the shares add up to `total`.
pub(crate) fn share(total: u64, shards: u64, index: u64) -> u64 {
    total / shards + u64::from(index < total % shards)
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use crate::layout::Whole;
    use crate::memo::protocol::{Found, Protocol};
    use crate::memory::{Memory, MemoryCache};
    use crate::{FnConfig, Lock};

    fn config() -> FnConfig {
        FnConfig {
            name: "budget::tests",
            version: 0,
            ttl_ms: 0,
            capacity: 100,
            refresh_after_ms: 0,
            ret_type: "Vec<u8>",
            lock: Lock::Process,
            lock_ttl_ms: 0,
        }
    }

    fn poll<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        future.poll(&mut Context::from_waker(Waker::noop()))
    }

    /// The waiters of a flight whose value is too large to store get it from the flight, in
    /// order: the leader takes the flight, a waiter parks on it, the leader lands the value.
    #[test]
    fn a_value_too_large_to_store_reaches_the_flights_waiters() {
        type Backend = Memory<Vec<u8>>;
        let cache = MemoryCache::<Vec<u8>>::with_max_bytes(config(), 1_000);
        let leader = pin!(<Backend as Protocol<_, Whole>>::find(&cache, 7, false));
        let Poll::Ready(Found::Compute { lead, .. }) = poll(leader) else {
            panic!("the first caller leads");
        };
        let mut waiter = pin!(<Backend as Protocol<_, Whole>>::find(&cache, 7, false));
        assert!(
            poll(waiter.as_mut()).is_pending(),
            "the second caller waits"
        );
        let value = vec![1u8; 5_000];
        let landed = pin!(<Backend as Protocol<_, Whole>>::land(
            &cache,
            lead,
            Some(&value)
        ));
        assert!(matches!(poll(landed), Poll::Ready(false)), "not stored");
        match poll(waiter) {
            Poll::Ready(Found::Value(got, None)) => assert_eq!(got, value),
            _ => panic!("the waiter did not get the value"),
        }
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.oversized), (1, 1, 1));
        assert_eq!((cache.len(), cache.bytes()), (Some(0), Some(0)));
    }
}
