//! The eviction policy's memory beyond the entries themselves, one of each per shard of the
//! store ([`crate::store`], which holds the queues and runs the policy): a frequency sketch of
//! recent accesses, and the ghost queue of keys recently dropped from the small FIFO.
//!
//! Both are touched only by the shard's writer (a miss, an insertion, an eviction); a hit never
//! reaches them. The constants are those chosen by measurement in `benches/hit_ratio.rs`
//! (`S3Lfu::chosen` in `benches/support/policies.rs`), the same for every workload.

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
/// A key's four counters lie in one 64-byte block, one in each quarter (as in Caffeine's
/// sketch): a miss touches one cache line of the sketch, not four.
///
/// Sized for the entries actually held, up to the shard's capacity: a cache declared with a
/// large capacity and holding few entries pays for few counters. Growing starts the counts
/// afresh, as Caffeine's sketch does.
pub(crate) struct Sketch {
    blocks: Vec<Block>,
    /// Blocks, less one (a power of two).
    mask: usize,
    added: usize,
    period: usize,
    capacity: usize,
    /// Entries the rows suit: up to this many, [`Sketch::fit`] has nothing to do.
    fitted: usize,
}

/// Four rows of 16 counters, on one cache line.
#[derive(Clone, Copy)]
#[repr(align(64))]
struct Block([u8; 64]);

/// Counters per row for `entries` entries: twice as many, a power of two, at least 32.
fn width(entries: usize) -> usize {
    (entries.max(16) * 2).next_power_of_two()
}

impl Sketch {
    /// A sketch for a shard of `capacity` entries; it allocates on its first use.
    pub(crate) fn new(capacity: usize) -> Self {
        Sketch {
            blocks: Vec::new(),
            mask: 0,
            added: 0,
            period: 0,
            capacity: capacity.max(1),
            fitted: 0,
        }
    }

    /// Grows the rows, if needed, to suit a shard holding `entries` entries.
    #[inline]
    pub(crate) fn fit(&mut self, entries: usize) {
        if entries > self.fitted {
            self.grow(entries);
        }
    }

    #[cold]
    fn grow(&mut self, entries: usize) {
        let want = width(entries.min(self.capacity));
        self.fitted = if want / 2 >= self.capacity {
            usize::MAX
        } else {
            want / 2
        };
        // 4 rows of `want` counters, 64 to a block.
        let blocks = want / 16;
        self.blocks = vec![Block([0; 64]); blocks];
        self.mask = blocks - 1;
        self.added = 0;
        self.period = 10 * self.capacity.min(want / 2);
    }

    /// Empties the sketch (and frees its rows).
    pub(crate) fn clear(&mut self) {
        *self = Sketch::new(self.capacity);
    }

    /// The block of `key` and its counter in each quarter of it.
    fn slots(&self, key: u128) -> (usize, [usize; 4]) {
        // The key is a hash already; its low half is mixed again because the table's buckets
        // come from it.
        let hash = mix(key as u64);
        let block = (hash >> 32) as usize & self.mask;
        (
            block,
            std::array::from_fn(|row| row * 16 + ((hash >> (row * 4)) as usize & 15)),
        )
    }

    /// Counts `times` accesses of `key`; `true` if that halved every counter (the caller then
    /// halves what it counts beside the sketch).
    pub(crate) fn add(&mut self, key: u128, times: u8) -> bool {
        if times == 0 || self.blocks.is_empty() {
            return false;
        }
        let (block, slots) = self.slots(key);
        let Some(Block(counters)) = self.blocks.get_mut(block) else {
            return false;
        };
        for slot in slots {
            counters[slot] = counters[slot].saturating_add(times).min(15);
        }
        self.added += usize::from(times);
        if self.added < self.period {
            return false;
        }
        self.added /= 2;
        for Block(counters) in &mut self.blocks {
            for counter in counters {
                *counter /= 2;
            }
        }
        true
    }

    /// How often `key` was seen lately (an over-estimate, at most 15).
    pub(crate) fn estimate(&self, key: u128) -> u8 {
        let (block, slots) = self.slots(key);
        let Some(Block(counters)) = self.blocks.get(block) else {
            return 0;
        };
        slots
            .into_iter()
            .map(|slot| counters[slot])
            .min()
            .unwrap_or(0)
    }
}

/// S3-FIFO's ghost queue: the keys (their hashes) among the last `capacity` dropped from the
/// small FIFO, without values. A key is in it while fewer than `capacity` others were dropped
/// after it: the order is kept by a sequence number per key rather than a queue, so that each
/// insertion and lookup is one probe of a hash table. Keys past the window are swept out in bulk
/// once they are as many as the window.
pub(crate) struct Ghost {
    capacity: usize,
    /// Each key with the sequence number of its last insertion.
    keys: HashTable<(u64, u64)>,
    seq: u64,
}

impl Ghost {
    /// A ghost queue remembering the last `capacity` keys.
    pub(crate) fn new(capacity: usize) -> Self {
        Ghost {
            capacity: capacity.max(1),
            keys: HashTable::new(),
            seq: 0,
        }
    }

    /// Remembers `key` (a key's hash: its low half), as the newest.
    pub(crate) fn insert(&mut self, key: u64) {
        self.seq += 1;
        let seq = self.seq;
        match self.keys.entry(key, |&(k, _)| k == key, |&(k, _)| k) {
            Entry::Occupied(mut found) => found.get_mut().1 = seq,
            Entry::Vacant(vacant) => {
                vacant.insert((key, seq));
            }
        }
        if self.keys.len() > 2 * self.capacity + 16 {
            let oldest = seq.saturating_sub(self.capacity as u64);
            self.keys.retain(|&mut (_, s)| s > oldest);
        }
    }

    /// Forgets `key`; whether it was among the last `capacity` keys remembered.
    pub(crate) fn remove(&mut self, key: u64) -> bool {
        match self.keys.find_entry(key, |&(k, _)| k == key) {
            Ok(found) => {
                let seq = found.remove().0.1;
                seq + self.capacity as u64 > self.seq
            }
            Err(_) => false,
        }
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
    fn the_ghost_stays_bounded() {
        let mut ghost = Ghost::new(4);
        ghost.insert(0);
        for key in 1..4 {
            ghost.insert(key);
            assert!(ghost.remove(key));
        }
        assert!(ghost.remove(0), "within the window of 4");
        for key in 10_000..20_000 {
            ghost.insert(key);
            assert!(ghost.keys.len() <= 2 * 4 + 16, "{}", ghost.keys.len());
        }
        assert!(ghost.remove(19_999));
        assert!(!ghost.remove(10_000));
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
