//! The eviction policy's memory beyond the entries themselves, one of each per shard of the
//! store ([`crate::store`], which holds the queues and runs the policy): a frequency sketch of
//! recent accesses, and the ghost queue of keys recently dropped from the small FIFO.
//!
//! Both are touched only by the shard's writer (a miss, an insertion, an eviction); a hit never
//! reaches them. The constants are those chosen by measurement in `benches/hit_ratio.rs`
//! (`S3Lfu::chosen` in `benches/support/policies.rs`), the same for every workload.

use std::collections::VecDeque;

use hashbrown::HashTable;
use hashbrown::hash_table::Entry;

/// Spreads a 64-bit half of a key over all bits (splitmix64's finaliser): the sketch's rows
/// take disjoint slices of it.
fn mix(half: u64) -> u64 {
    let mut z = half.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A count-min sketch (TinyLFU's): four rows of counters saturating at 15, halved every
/// `10 x capacity` additions so that old popularity fades.
///
/// Sized for the entries actually held, up to the shard's capacity: a cache declared with a
/// large capacity and holding few entries pays for few counters. Growing starts the counts
/// afresh, as Caffeine's sketch does.
pub(crate) struct Sketch {
    counters: Vec<u8>,
    mask: usize,
    added: usize,
    period: usize,
    capacity: usize,
}

/// Counters per row for `entries` entries: twice as many, a power of two, at least 32.
fn width(entries: usize) -> usize {
    (entries.max(16) * 2).next_power_of_two()
}

impl Sketch {
    /// A sketch for a shard of `capacity` entries; it allocates on its first use.
    pub(crate) fn new(capacity: usize) -> Self {
        Sketch {
            counters: Vec::new(),
            mask: 0,
            added: 0,
            period: 0,
            capacity: capacity.max(1),
        }
    }

    /// Grows the rows, if needed, to suit a shard holding `entries` entries.
    pub(crate) fn fit(&mut self, entries: usize) {
        let want = width(entries.min(self.capacity));
        if want <= self.mask + 1 && !self.counters.is_empty() {
            return;
        }
        self.counters = vec![0; want * 4];
        self.mask = want - 1;
        self.added = 0;
        self.period = 10 * self.capacity.min(want / 2);
    }

    /// Empties the sketch (and frees its rows).
    pub(crate) fn clear(&mut self) {
        *self = Sketch::new(self.capacity);
    }

    fn slots(&self, key: u128) -> [usize; 4] {
        let low = mix(key as u64);
        let high = mix((key >> 64) as u64 ^ low);
        let width = self.mask + 1;
        let hashes = [low, low >> 32, high, high >> 32];
        std::array::from_fn(|row| row * width + (hashes[row] as usize & self.mask))
    }

    /// Counts `times` accesses of `key`; `true` if that halved every counter (the caller then
    /// halves what it counts beside the sketch).
    pub(crate) fn add(&mut self, key: u128, times: u8) -> bool {
        if times == 0 || self.counters.is_empty() {
            return false;
        }
        for slot in self.slots(key) {
            self.counters[slot] = self.counters[slot].saturating_add(times).min(15);
        }
        self.added += usize::from(times);
        if self.added < self.period {
            return false;
        }
        self.added /= 2;
        for counter in &mut self.counters {
            *counter /= 2;
        }
        true
    }

    /// How often `key` was seen lately (an over-estimate, at most 15).
    pub(crate) fn estimate(&self, key: u128) -> u8 {
        if self.counters.is_empty() {
            return 0;
        }
        self.slots(key)
            .into_iter()
            .map(|slot| self.counters[slot])
            .min()
            .unwrap_or(0)
    }
}

/// A FIFO of keys without values (S3-FIFO's ghost queue), bounded in live keys. A key removed
/// from it leaves a stale slot in the queue, skipped when it reaches the front and swept out
/// when stale slots outnumber live ones.
pub(crate) struct Ghost {
    capacity: usize,
    /// Key and the sequence number of its insertion, oldest first.
    queue: VecDeque<(u64, u64)>,
    /// The live keys, each with the sequence number of its slot in `queue`.
    live: HashTable<(u64, u64)>,
    seq: u64,
}

impl Ghost {
    /// A ghost queue remembering at most `capacity` keys.
    pub(crate) fn new(capacity: usize) -> Self {
        Ghost {
            capacity: capacity.max(1),
            queue: VecDeque::new(),
            live: HashTable::new(),
            seq: 0,
        }
    }

    /// Remembers `key` (a key's hash: its low half), as the newest.
    pub(crate) fn insert(&mut self, key: u64) {
        self.seq += 1;
        let seq = self.seq;
        match self.live.entry(key, |&(k, _)| k == key, |&(k, _)| k) {
            Entry::Occupied(mut found) => found.get_mut().1 = seq,
            Entry::Vacant(vacant) => {
                vacant.insert((key, seq));
            }
        }
        self.queue.push_back((key, seq));
        while self.live.len() > self.capacity {
            let Some((old, seq)) = self.queue.pop_front() else {
                break;
            };
            if let Ok(found) = self.live.find_entry(old, |&(k, s)| k == old && s == seq) {
                found.remove();
            }
        }
        // Stale slots are swept in bulk, once they are as many as the live ones: a check of the
        // front after each insertion would cost a lookup per miss.
        if self.queue.len() > 2 * self.capacity + 16 {
            let live = &self.live;
            self.queue
                .retain(|&(k, s)| live.find(k, |&(lk, ls)| lk == k && ls == s).is_some());
        }
    }

    /// Forgets `key`; whether it was remembered.
    pub(crate) fn remove(&mut self, key: u64) -> bool {
        self.live
            .find_entry(key, |&(k, _)| k == key)
            .map(|found| found.remove())
            .is_ok()
    }

    /// Forgets every key.
    pub(crate) fn clear(&mut self) {
        *self = Ghost::new(self.capacity);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ghost_keeps_its_newest_keys_up_to_its_capacity() {
        let mut ghost = Ghost::new(3);
        for key in 1..=5 {
            ghost.insert(key);
        }
        assert!(!ghost.remove(1));
        assert!(!ghost.remove(2));
        assert!(ghost.remove(3));
        assert!(!ghost.remove(3), "forgotten once returned");
        assert!(ghost.remove(5));
    }

    #[test]
    fn the_ghost_queue_stays_bounded_when_keys_come_back() {
        let mut ghost = Ghost::new(4);
        ghost.insert(0);
        for key in 1..10_000 {
            ghost.insert(key);
            assert!(ghost.remove(key));
        }
        assert!(ghost.queue.len() <= 2 * 4 + 17, "{}", ghost.queue.len());
        assert!(ghost.remove(0));
    }

    #[test]
    fn the_sketch_counts_and_forgets() {
        let mut sketch = Sketch::new(100);
        sketch.fit(100);
        for _ in 0..5 {
            sketch.add(7, 1);
        }
        assert_eq!(sketch.estimate(7), 5);
        let mut halved = false;
        for key in 1_000..3_000u128 {
            halved |= sketch.add(key, 1);
        }
        assert!(halved);
        assert!(sketch.estimate(7) <= 2, "{}", sketch.estimate(7));
    }
}
