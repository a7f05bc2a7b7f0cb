//! The eviction policy's memory beyond the entries themselves, one of each per shard of the
//! store ([`crate::memory::store`], which holds the queues and runs the policy): a frequency
//! sketch of recent accesses, and the ghost queue of keys recently dropped.
//!
//! Both are touched only by the shard's writer (a miss, an insertion, an eviction); a hit never
//! reaches them. The constants are those chosen by measurement in `benches/hit_ratio.rs`
//! (`S3Lfu::chosen` in `benches/support/policies.rs`), the same for every workload.

use super::lanes::{self, LANES};

/// Additions to the sketch between two halvings, in capacities of the shard.
const PERIOD: usize = 20;

/// A count-min sketch (TinyLFU's): four rows of 4-bit counters saturating at 15, halved every
/// [`PERIOD`] x capacity additions so that old popularity fades.
///
/// A key's four counters lie in one 64-byte block, one in each row (as in Caffeine's sketch):
/// a miss touches one cache line of the sketch, not four. Each row has four counters per entry
/// held (Caffeine's sizing); packed two to a byte, they take the bytes that two one-byte
/// counters a row took before. Half as many collisions rate keys more exactly, which the
/// frequency regime's comparisons need; with the store weighing a key back by its accesses
/// before this one (`store.rs`), hit ratios rose by as much as 1.8 points and fell by at most
/// 0.1 (`BENCHMARKS.md`, issue 15's round of the 4-bit sketch).
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

/// Four rows of 32 counters of 4 bits, on one cache line: rows 0 and 1 in the low and high
/// halves of bytes 0 to 31, rows 2 and 3 in those of bytes 32 to 63, so that a row's counter
/// is a byte at a fixed offset and a fixed shift (the rows are unrolled).
#[derive(Clone, Copy)]
#[repr(align(64))]
struct Block([u8; 64]);

/// Counters in a block's row.
const ROW: usize = 32;

/// The low bits of a key's high half that may pick its shard (`Store::place`): the sketch reads
/// none of them, since within a shard they never vary.
const SHARD_BITS: u32 = 12;
const _: () = assert!(super::read_lock::MAX_SHARDS <= 1 << SHARD_BITS);
// The four rows' slots (5 bits each) end below the block's bits.
const _: () = assert!(SHARD_BITS + 4 * 5 <= 32);

impl Block {
    /// The byte and the shift of counter `slot` of `row`.
    #[inline(always)]
    fn at(row: usize, slot: usize) -> (usize, u32) {
        ((row / 2) * ROW + slot, 4 * (row % 2) as u32)
    }

    #[inline(always)]
    fn get(&self, row: usize, slot: usize) -> u8 {
        let (byte, shift) = Self::at(row, slot);
        (self.0[byte] >> shift) & 15
    }

    /// Adds `times` to a counter, saturating at 15.
    #[inline(always)]
    fn add(&mut self, row: usize, slot: usize, times: u8) {
        let (byte, shift) = Self::at(row, slot);
        let count = (self.0[byte] >> shift) & 15;
        // At most 15 before, so the sum fits in a `u16`.
        let raised = (u16::from(count) + u16::from(times)).min(15) as u8;
        self.0[byte] += (raised - count) << shift;
    }

    /// Adds one to a counter below 15 (a miss's count, the common case: fewer steps).
    #[inline(always)]
    fn bump(&mut self, row: usize, slot: usize) {
        let (byte, shift) = Self::at(row, slot);
        let below = (self.0[byte] >> shift) & 15 != 15;
        self.0[byte] += u8::from(below) << shift;
    }

    fn halve(&mut self) {
        for byte in &mut self.0 {
            *byte = (*byte >> 1) & 0x77;
        }
    }
}

/// Counters per row for `entries` entries: four times as many, a power of two, at least 64.
fn width(entries: usize) -> usize {
    (entries.max(16) * 4).next_power_of_two()
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
        self.fitted = if want / 4 >= self.capacity {
            usize::MAX
        } else {
            want / 4
        };
        // 4 rows of `want` counters, `ROW` of each to a block.
        let blocks = want / ROW;
        self.blocks = vec![Block([0; 64]); blocks];
        self.mask = blocks - 1;
        self.added = 0;
        self.period = PERIOD * self.capacity.min(want / 4);
    }

    /// Empties the sketch (and frees its rows).
    pub(crate) fn clear(&mut self) {
        *self = Sketch::new(self.capacity);
    }

    /// The block of `key` and its counter in each row of it.
    #[inline(always)]
    fn slots(&self, key: u128) -> (usize, [usize; 4]) {
        // The key is a 128-bit hash already (two independently seeded lanes in process,
        // XXH3-128 in the near tier), so it is not mixed again. The table's buckets and the
        // ghost take its low half; the shard takes the low bits of its high half (below
        // `SHARD_BITS`), which are the same for every key of a shard; the sketch takes the bits
        // above those: each row's slot from bits 12 to 31, the block from bits 32 and up.
        let hash = (key >> 64) as u64;
        let block = (hash >> 32) as usize & self.mask;
        (
            block,
            std::array::from_fn(|row| (hash >> (SHARD_BITS + row as u32 * 5)) as usize & (ROW - 1)),
        )
    }

    /// Counts `times` accesses of `key`, halving every counter once a period's worth were
    /// counted. Adding 0 changes nothing (the store skips the call then).
    pub(crate) fn add(&mut self, key: u128, times: u8) {
        if self.blocks.is_empty() {
            return;
        }
        let (block, slots) = self.slots(key);
        let Some(counters) = self.blocks.get_mut(block) else {
            return;
        };
        for (row, slot) in slots.into_iter().enumerate() {
            // A miss counts one: the shorter step (the branch is the same for every row).
            if times == 1 {
                counters.bump(row, slot);
            } else {
                counters.add(row, slot, times);
            }
        }
        self.added += usize::from(times);
        if self.added >= self.period {
            self.halve();
        }
    }

    /// TinyLFU's reset: out of line, it runs once a period.
    #[cold]
    fn halve(&mut self) {
        self.added /= 2;
        for block in &mut self.blocks {
            block.halve();
        }
    }

    /// How often `key` was seen lately (an over-estimate, at most 15).
    pub(crate) fn estimate(&self, key: u128) -> u8 {
        let (block, slots) = self.slots(key);
        let Some(counters) = self.blocks.get(block) else {
            return 0;
        };
        slots
            .into_iter()
            .enumerate()
            .map(|(row, slot)| counters.get(row, slot))
            .min()
            .unwrap_or(0)
    }
}

/// S3-FIFO's ghost queue: the keys (their hashes) among the last `capacity` dropped from the
/// small FIFO or from main, without values, each with the queue that dropped it (what ARC's
/// adaptation of the small FIFO's share needs, in the store).
///
/// Kept as a set-associative table of fingerprints, each with the sequence number of its
/// insertion: a key's bucket is one cache line of 8 slots, an insertion takes the slot of the same
/// key or else the oldest (or an empty one), and a key is in the queue while fewer than
/// `capacity` keys were dropped after it. With 1.5 to 3 times as many slots as the window (a
/// power of two), a bucket rarely overflows, so this is FIFO order in all but rare cases; each
/// miss touches one line and never allocates (a hash table here cost a probe, tombstones and
/// rehashes on every miss). Twice the window's slots measured the same hit ratios at a capacity
/// of 10,000, and a miss about 15% slower: a larger table misses the CPU's caches more
/// (`BENCHMARKS.md`, issue 15's round of ARC's adaptation).
pub(crate) struct Ghost {
    window: u32,
    buckets: Vec<Bucket>,
    /// Buckets, less one (a power of two).
    mask: usize,
    /// Twice the keys remembered so far: a slot's number is this with the low bit set if main
    /// dropped the key (so that finding a key compares fingerprints alone). Wraps: a slot is
    /// overwritten long before its number could come round again.
    seq: u32,
}

/// 8 slots, each a fingerprint (0 for none) and a sequence number (see [`Ghost::seq`]): the two
/// kinds in arrays of their own, so that a search reads all 8 of a kind at once (`lanes.rs`).
#[derive(Clone, Copy)]
#[repr(align(64))]
struct Bucket {
    prints: [u32; LANES],
    seqs: [u32; LANES],
}

// One cache line a bucket: an insertion or a lookup touches one line of the ghost.
const _: () = assert!(std::mem::size_of::<Bucket>() == 64);

impl Bucket {
    const EMPTY: Bucket = Bucket {
        prints: [0; LANES],
        seqs: [0; LANES],
    };

    /// The first slot holding `print`, if any.
    #[inline(always)]
    fn slot_of(&self, print: u32) -> Option<usize> {
        match lanes::equal(&self.prints, print) {
            0 => None,
            same => Some(same.trailing_zeros() as usize % LANES),
        }
    }
}

/// A slot number's low bit: main dropped the key (else the small FIFO did).
const FROM_MAIN: u32 = 1;

/// 32 bits of a key's hash, never 0: two keys of one bucket share them with odds of 2^-32, and
/// then one is taken for a ghost when it is not (weighed for main rather than starting small).
fn fingerprint(key: u64) -> u32 {
    match (key ^ (key >> 32)) as u32 {
        0 => 0x9e37_79b9,
        print => print,
    }
}

/// A key found in the ghost queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Return {
    /// Main dropped it (else the small FIFO did).
    pub(crate) from_main: bool,
    /// Keys remembered after it: how soon it came back.
    pub(crate) age: u32,
}

impl Ghost {
    /// A ghost queue remembering the last `capacity` keys (at most 2^30); it allocates on its
    /// first insertion (the shard is full by then).
    pub(crate) fn new(capacity: usize) -> Self {
        Ghost {
            window: capacity.clamp(1, 1 << 30) as u32,
            buckets: Vec::new(),
            mask: 0,
            seq: 0,
        }
    }

    fn bucket(&self, key: u64) -> usize {
        key as usize & self.mask
    }

    /// Remembers `key` (a key's hash: its low half), as the newest; `from_main`: main dropped
    /// it.
    pub(crate) fn insert(&mut self, key: u64, from_main: bool) {
        if self.buckets.is_empty() {
            self.allocate();
        }
        self.seq = self.seq.wrapping_add(2);
        let (seq, print) = (self.seq, fingerprint(key));
        let index = self.bucket(key);
        let Some(bucket) = self.buckets.get_mut(index) else {
            return;
        };
        // The first slot of the same key, else the oldest (the last of equals; the origin bit
        // never changes the order, as numbers differ by 2); an empty one counts as older than
        // any.
        let target = bucket
            .slot_of(print)
            .unwrap_or_else(|| lanes::oldest(&bucket.prints, &bucket.seqs, seq));
        bucket.prints[target] = print;
        bucket.seqs[target] = seq | if from_main { FROM_MAIN } else { 0 };
    }

    /// The table, on the first insertion (the shard is full by then): out of line, so that an
    /// insertion saves no registers for it.
    #[cold]
    fn allocate(&mut self) {
        let buckets = (self.window as usize * 3 / 2)
            .div_ceil(LANES)
            .next_power_of_two();
        self.buckets = vec![Bucket::EMPTY; buckets];
        self.mask = buckets - 1;
    }

    /// Forgets `key`; what it was if it was among the last `capacity` keys remembered.
    pub(crate) fn remove(&mut self, key: u64) -> Option<Return> {
        let (index, print) = (self.bucket(key), fingerprint(key));
        let bucket = self.buckets.get_mut(index)?;
        let at = bucket.slot_of(print)?;
        let number = bucket.seqs[at];
        let from_main = number & FROM_MAIN != 0;
        let age = self.seq.wrapping_sub(number & !FROM_MAIN) / 2;
        (bucket.prints[at], bucket.seqs[at]) = (0, 0);
        (age < self.window).then_some(Return { from_main, age })
    }

    /// How many keys it remembers at most.
    pub(crate) fn window(&self) -> usize {
        self.window as usize
    }

    /// Forgets every key (and frees the table).
    pub(crate) fn clear(&mut self) {
        *self = Ghost::new(self.window as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ghost_keeps_its_newest_keys_up_to_its_capacity() {
        let mut ghost = Ghost::new(3);
        for key in 1..=5 {
            ghost.insert(key, false);
        }
        assert!(ghost.remove(1).is_none());
        assert!(ghost.remove(2).is_none());
        assert!(ghost.remove(3).is_some());
        assert!(ghost.remove(3).is_none(), "forgotten once returned");
        assert!(ghost.remove(5).is_some());
    }

    #[test]
    fn the_ghost_forgets_keys_past_its_window_and_keys_that_came_back() {
        let mut ghost = Ghost::new(4);
        ghost.insert(0, false);
        for key in 1..4 {
            ghost.insert(key, false);
            assert!(ghost.remove(key).is_some());
        }
        assert!(ghost.remove(0).is_some(), "within the window of 4");
        for key in 10_000..20_000 {
            ghost.insert(key, false);
        }
        assert!(ghost.remove(19_999).is_some());
        assert!(ghost.remove(19_996).is_some());
        assert!(ghost.remove(19_995).is_none());
        assert!(ghost.remove(10_000).is_none());
        assert_eq!(ghost.buckets.len(), 1, "a fixed table");
    }

    #[test]
    fn the_ghost_takes_the_slot_of_the_same_key_else_an_empty_else_the_oldest() {
        // A window of 3: one bucket of 8 slots, so every key meets every other.
        let mut ghost = Ghost::new(3);
        let holds = |ghost: &Ghost, key: u64| {
            let print = fingerprint(key);
            ghost.buckets[0]
                .prints
                .iter()
                .filter(|&&p| p == print)
                .count()
        };
        for key in 1..=8 {
            ghost.insert(key, false);
        }
        ghost.insert(9, false);
        assert_eq!(
            (holds(&ghost, 1), holds(&ghost, 9)),
            (0, 1),
            "the oldest made room"
        );
        ghost.insert(5, false);
        assert_eq!(holds(&ghost, 5), 1, "the same key keeps one slot");
        assert_eq!(holds(&ghost, 2), 1, "and the oldest stays");
        ghost.remove(7);
        ghost.insert(10, false);
        assert_eq!(
            (holds(&ghost, 2), holds(&ghost, 10)),
            (1, 1),
            "an empty slot goes before the oldest"
        );
    }

    #[test]
    fn the_ghost_tells_who_dropped_a_key_and_how_long_ago() {
        let mut ghost = Ghost::new(100);
        ghost.insert(1, true);
        ghost.insert(2, false);
        for key in 10..20 {
            ghost.insert(key, key % 2 == 0);
        }
        let back = |from_main, age| Some(Return { from_main, age });
        assert_eq!(ghost.remove(1), back(true, 11));
        assert_eq!(ghost.remove(2), back(false, 10));
        assert_eq!(ghost.remove(19), back(false, 0));
        // Dropped again, by the other queue: the newer drop is what it tells.
        ghost.insert(18, false);
        assert_eq!(ghost.remove(18), back(false, 0));
    }

    /// Each 4-bit counter counts (by `add` and by `bump`), saturates and halves on its own: its
    /// neighbours in the word (and the carry out of its top bit) stay untouched.
    #[test]
    fn a_blocks_counters_count_saturate_and_halve_apart() {
        for row in 0..4 {
            for slot in 0..ROW {
                let mut block = Block([0; 64]);
                block.add(row, slot, 9);
                block.add(row, slot, 9);
                assert_eq!(block.get(row, slot), 15, "saturated");
                let others = |block: &Block| {
                    (0..4)
                        .flat_map(|r| (0..ROW).map(move |s| (r, s)))
                        .filter(|&at| at != (row, slot))
                        .map(|(r, s)| block.get(r, s))
                        .map(u32::from)
                        .sum::<u32>()
                };
                assert_eq!(others(&block), 0, "row {row} slot {slot}");
                block.add(row, slot, 0);
                assert_eq!(block.get(row, slot), 15);
                block.halve();
                assert_eq!(block.get(row, slot), 7);
                block.add(row, slot, 3);
                assert_eq!(block.get(row, slot), 10);
                block.halve();
                assert_eq!(block.get(row, slot), 5);
                assert_eq!(others(&block), 0, "row {row} slot {slot}");
                // One at a time, as a miss counts.
                let mut block = Block([0; 64]);
                for bumps in 1..=20 {
                    block.bump(row, slot);
                    assert_eq!(block.get(row, slot), bumps.min(15));
                }
                assert_eq!(others(&block), 0, "row {row} slot {slot}");
            }
        }
        // Neighbours full, each halved alone.
        let mut block = Block([0; 64]);
        for row in 0..4 {
            for slot in 0..ROW {
                block.add(row, slot, (slot % 16) as u8);
            }
        }
        block.halve();
        for row in 0..4 {
            for slot in 0..ROW {
                assert_eq!(
                    block.get(row, slot),
                    (slot % 16) as u8 / 2,
                    "row {row} slot {slot}"
                );
            }
        }
    }

    /// The keys of one shard agree in the bits that pick it: the sketch must not read those,
    /// or a row would use only a few of its counters in each block.
    #[test]
    fn the_keys_of_one_shard_use_every_counter_of_every_row() {
        let mut sketch = Sketch::new(1_000);
        sketch.fit(1_000);
        let mut seen = [[false; ROW]; 4];
        // Keys of shard 0 of the most there are (high halves that are multiples of
        // `MAX_SHARDS`), their other bits spread by an odd multiplier.
        for k in 1..2_000u64 {
            let h = (k * super::super::read_lock::MAX_SHARDS as u64)
                .wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let (_, slots) = sketch.slots(u128::from(h) << 64);
            for (row, slot) in slots.into_iter().enumerate() {
                seen[row][slot] = true;
            }
        }
        for (row, slots) in seen.iter().enumerate() {
            let used = slots.iter().filter(|&&s| s).count();
            assert_eq!(used, ROW, "row {row} uses {used} of its {ROW} counters");
        }
    }

    /// The rows grow with the entries held, four counters each per entry (a power of two), up
    /// to the capacity, and the period follows.
    #[test]
    fn the_sketch_is_sized_for_the_entries_held() {
        let mut sketch = Sketch::new(1_000);
        assert!(sketch.blocks.is_empty(), "nothing before the first use");
        sketch.fit(100);
        assert_eq!(sketch.blocks.len() * ROW, 4 * 128);
        assert_eq!(sketch.fitted, 128);
        assert_eq!(sketch.period, PERIOD * 128);
        sketch.fit(128);
        assert_eq!(sketch.blocks.len() * ROW, 4 * 128, "still fits");
        sketch.fit(129);
        assert_eq!(sketch.blocks.len() * ROW, 4 * 256);
        sketch.fit(1_000);
        assert_eq!(sketch.blocks.len() * ROW, 4 * 1_024);
        assert_eq!(
            sketch.fitted,
            usize::MAX,
            "at the capacity: never grows again"
        );
        assert_eq!(sketch.period, PERIOD * 1_000);
        assert_eq!(sketch.mask + 1, sketch.blocks.len());
    }

    #[test]
    fn the_sketch_counts_and_forgets() {
        // The sketch reads a key's high half, above its shard's bits: two keys apart in every
        // row of one block.
        let high = |slots: u128| slots << (64 + SHARD_BITS);
        let (a, b) = (
            high(0b00111_00110_00101_00100),
            high(0b01000_01001_01010_01011),
        );
        let mut sketch = Sketch::new(100);
        sketch.fit(100);
        for _ in 0..5 {
            sketch.add(a, 1);
        }
        assert_eq!(sketch.estimate(a), 5);
        assert_eq!(sketch.estimate(b), 0, "no counter shared");
        // Another key's accesses (on other counters) up to one short of a period: nothing fades.
        let period = PERIOD * 100;
        for _ in 5..period - 1 {
            sketch.add(b, 1);
        }
        assert_eq!(sketch.estimate(a), 5);
        assert_eq!(sketch.estimate(b), 15, "saturated");
        sketch.add(b, 1);
        assert_eq!(sketch.estimate(a), 2, "halved at the period's end");
        assert_eq!(sketch.estimate(b), 7);
        // The low half (the table's and the ghost's) plays no part.
        assert_eq!(sketch.estimate(a | 0xffff), 2);
    }
}
