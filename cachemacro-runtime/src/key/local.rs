//! The in-process key hash: 128 bits from two lanes that share every load, branch and buffer and
//! differ only in their seeds.
//!
//! Written by hand because the key is most of a hit's cost, and measured: two independent
//! `foldhash` hashers (the previous design) cost 0.58x of a whole `HashMap` lookup more than one,
//! since each lane repeated the other's buffering and length dispatch, and the pair no longer fit
//! in registers. Here the lanes run the same folded multiplies side by side, so the second lane
//! costs one more multiply per step, issued in parallel with the first.
//!
//! The steps are foldhash's own (a folded multiply of the input, xored with the accumulator and a
//! seed), so each lane is as strong as one foldhash hasher; unlike `foldhash::fast::FixedState`,
//! every seed is random, so only an input that guesses a 64-bit secret can zero a multiplier.
//! Integers are gathered two at a time (16 bytes) and folded as one piece; a byte string first folds the gathered integers, so the
//! hash follows the order of the writes. A piece's length rotates the accumulator before it is
//! folded in, so pieces of different lengths never read alike. Pieces longer than 16 bytes go
//! through foldhash's long-input hash, seeded per lane. A last folded multiply per lane, by a
//! seed of its own, spreads every bit window: the store reads many (the shard, the table's and
//! the ghost's buckets, the sketch's rows), and one fold of a key that differs from the next in
//! a few bits leaves them uneven (see `finish`).

use std::hash::{BuildHasher, Hasher};

use foldhash::SharedSeed;

use super::{KeyHasher, KeySink};

/// The random seeds of one cache's key hash.
pub struct LocalSeeds {
    start: [u64; 2],
    pieces: [u64; 2],
    long: [SharedSeed; 2],
    /// The finishing multiply's, one per lane. Odd, so that the product's low half is one to one
    /// in the input; the fold then mixes in the high half.
    finish: [u64; 2],
}

impl LocalSeeds {
    /// Seeds no one outside the process can know.
    pub fn random() -> Self {
        let random = foldhash::fast::RandomState::default();
        Self::drawn(|i| random.hash_one(i))
    }

    /// Fixed seeds, for tests: SplitMix64 of `seed`, so that no two are alike and none is zero
    /// (a zero multiplier would collapse a lane).
    #[cfg(test)]
    fn fixed(seed: u64) -> Self {
        let draw = |i: u64| {
            let mut z = seed.wrapping_add(i.wrapping_add(1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        Self::drawn(draw)
    }

    /// Seeds from `draw(0)` to `draw(7)`.
    fn drawn(draw: impl Fn(u64) -> u64) -> Self {
        LocalSeeds {
            start: [draw(0), draw(1)],
            pieces: [draw(2), draw(3)],
            long: [SharedSeed::from_u64(draw(4)), SharedSeed::from_u64(draw(5))],
            finish: [draw(6) | 1, draw(7) | 1],
        }
    }
}

/// The in-process hasher: equal write sequences give equal hashes within one process, and no
/// two caches (or processes) share seeds.
#[derive(Clone, Copy)]
pub struct LocalHasher<'a> {
    lanes: [u64; 2],
    /// Integers written since the last fold, the first in the low half.
    gathered: u128,
    /// Bytes in `gathered`: 0, 8 or 16.
    gathered_len: u32,
    seeds: &'a LocalSeeds,
}

#[inline(always)]
fn folded_multiply(x: u64, y: u64) -> u64 {
    let full = u128::from(x).wrapping_mul(u128::from(y));
    (full as u64) ^ ((full >> 64) as u64)
}

impl<'a> LocalHasher<'a> {
    /// An empty hasher.
    #[inline(always)]
    pub fn new(seeds: &'a LocalSeeds) -> Self {
        LocalHasher {
            lanes: seeds.start,
            gathered: 0,
            gathered_len: 0,
            seeds,
        }
    }

    /// Folds a piece of at most 16 bytes, given as its first and last 8 bytes (overlapping, or
    /// zero-padded below 8 bytes), into both lanes.
    #[inline(always)]
    fn fold(&mut self, len: u32, first: u64, last: u64) {
        for lane in 0..2 {
            let accumulator = self.lanes[lane].rotate_right(len);
            self.lanes[lane] = folded_multiply(accumulator ^ first, self.seeds.pieces[lane] ^ last);
        }
    }

    #[inline(always)]
    fn fold_gathered(&mut self) {
        if self.gathered_len > 0 {
            let first = self.gathered as u64;
            let last = if self.gathered_len == 16 {
                (self.gathered >> 64) as u64
            } else {
                first
            };
            self.fold(self.gathered_len, first, last);
            self.gathered = 0;
            self.gathered_len = 0;
        }
    }
}

/// Folds a piece longer than 16 bytes into `lanes`: foldhash's long-input hash, once per lane.
/// Out of line and by value, so that the common short keys stay small and in registers.
#[inline(never)]
fn fold_long(lanes: [u64; 2], seeds: &LocalSeeds, bytes: &[u8]) -> [u64; 2] {
    let lane = |i: usize| {
        let mut hasher = foldhash::fast::FoldHasher::with_seed(lanes[i], &seeds.long[i]);
        hasher.write(bytes);
        hasher.finish()
    };
    [lane(0), lane(1)]
}

impl KeySink for LocalHasher<'_> {
    #[inline(always)]
    fn write_bytes(&mut self, bytes: &[u8]) {
        self.fold_gathered();
        let len = bytes.len();
        // The same overlapping reads as foldhash's short-input hash.
        let (first, last) = if len >= 8 {
            if len > 16 {
                self.lanes = fold_long(self.lanes, self.seeds, bytes);
                return;
            }
            (read_u64(bytes, 0), read_u64(bytes, len - 8))
        } else if len >= 4 {
            (
                u64::from(read_u32(bytes, 0)),
                u64::from(read_u32(bytes, len - 4)),
            )
        } else if len > 0 {
            (
                u64::from(bytes[0]),
                (u64::from(bytes[len - 1]) << 8) | u64::from(bytes[len / 2]),
            )
        } else {
            (0, 0)
        };
        self.fold(len as u32, first, last);
    }

    #[inline(always)]
    fn write_u64(&mut self, value: u64) {
        if self.gathered_len == 16 {
            self.fold_gathered();
        }
        self.gathered |= u128::from(value) << (self.gathered_len * 8);
        self.gathered_len += 8;
    }
}

impl KeyHasher for LocalHasher<'_> {
    // Inlined into each memoized function in optimized builds; shared in debug builds,
    // which then compile one copy per value type rather than one per function.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn finish(&self) -> u128 {
        let mut last = *self;
        last.fold_gathered();
        // One more folded multiply per lane, by a seed of its own. A single fold leaves
        // structure: sequential integers, or strings that differ in a few bytes, vary only some
        // of the product's bits, and the store reads many windows of the hash (the shard, the
        // table's buckets, the ghost's, the sketch's rows). Without this step, under 1 seed in
        // 40 the most popular 1,000 of a Zipf workload's sequential keys fell into 16 shards
        // 12 to 115 apiece (62 is even), and the cache lost 0.9 points of hit ratio.
        let lanes = [0, 1].map(|lane| folded_multiply(last.lanes[lane], self.seeds.finish[lane]));
        (u128::from(lanes[1]) << 64) | u128::from(lanes[0])
    }
}

#[inline(always)]
fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

#[inline(always)]
fn read_u32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CacheKey;

    fn hash<T: CacheKey + ?Sized>(seeds: &LocalSeeds, value: &T) -> u128 {
        let mut out = LocalHasher::new(seeds);
        value.write_key(&mut out);
        out.finish()
    }

    #[test]
    fn the_order_and_the_grouping_of_writes_count() {
        let seeds = LocalSeeds::fixed(7);
        let h = |value: &dyn Fn(&mut LocalHasher)| {
            let mut out = LocalHasher::new(&seeds);
            value(&mut out);
            out.finish()
        };
        let pairs: [(u128, u128); 6] = [
            (
                h(&|o| (1u64, 2u64).write_key(o)),
                h(&|o| (2u64, 1u64).write_key(o)),
            ),
            (h(&|o| 5u64.write_key(o)), h(&|o| (5u64, 0u64).write_key(o))),
            (
                h(&|o| (1u64, "a").write_key(o)),
                h(&|o| ("a", 1u64).write_key(o)),
            ),
            (
                h(&|o| ("", "ab").write_key(o)),
                h(&|o| ("ab", "").write_key(o)),
            ),
            (h(&|o| o.write_bytes(b"")), h(&|_| {})),
            (
                h(&|o| (1u64, 2u64, 3u64).write_key(o)),
                h(&|o| (1u64, 2u64, 0u64).write_key(o)),
            ),
        ];
        for (i, (a, b)) in pairs.into_iter().enumerate() {
            assert_ne!(a, b, "pair {i}");
        }
    }

    #[test]
    fn every_length_and_every_byte_counts() {
        // Each of the short-input read patterns (0, 1-3, 4-7, 8-16 bytes) and the long one, with
        // one bit flipped at each position: no two of these keys hash alike, in either lane.
        let seeds = LocalSeeds::fixed(11);
        let mut lows = std::collections::HashSet::new();
        let mut highs = std::collections::HashSet::new();
        let mut count = 0;
        for len in 0..=300usize {
            let base: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut variants = vec![base.clone()];
            for at in 0..len {
                let mut flipped = base.clone();
                flipped[at] ^= 1;
                variants.push(flipped);
            }
            for bytes in variants {
                let key = hash(&seeds, &bytes[..]);
                lows.insert(key as u64);
                highs.insert((key >> 64) as u64);
                count += 1;
            }
        }
        assert_eq!((lows.len(), highs.len()), (count, count));
    }

    #[test]
    fn runs_of_one_byte_differ_by_their_length() {
        // Overlapping reads see the same words in "a" and "aa", or in 8 and 9 times "a": only the
        // length tells them apart.
        let seeds = LocalSeeds::fixed(5);
        let keys: std::collections::HashSet<u128> = (0..=40)
            .map(|len| {
                let mut out = LocalHasher::new(&seeds);
                out.write_bytes(&vec![b'a'; len]);
                out.finish()
            })
            .collect();
        assert_eq!(keys.len(), 41);
    }

    #[test]
    fn integers_spread_over_both_lanes() {
        let seeds = LocalSeeds::fixed(3);
        let mut lows = std::collections::HashSet::new();
        let mut highs = std::collections::HashSet::new();
        for a in 0..300u64 {
            for b in 0..300u64 {
                let key = hash(&seeds, &(a, b));
                assert_ne!(key as u64, (key >> 64) as u64, "the lanes differ");
                lows.insert(key as u64);
                highs.insert((key >> 64) as u64);
            }
        }
        assert_eq!((lows.len(), highs.len()), (90_000, 90_000));
    }

    #[test]
    fn every_window_of_the_hash_spreads_structured_keys() {
        // The store reads many windows of a key's hash: the shard and the sketch's rows and
        // blocks from the high half, the table's and the ghost's buckets and the tags from the
        // low half. Under each of 64 seeds, 1,000 sequential integers, pairs and short strings
        // must spread over each 4-bit window's 16 values about evenly: a chi-square below 80
        // (15 degrees of freedom; a random hash exceeds it with odds of 7 in 10^11). With a
        // single folded multiply per lane it failed at the first seed.
        type Kind = fn(&LocalSeeds, u64) -> u128;
        let kinds: [(&str, Kind); 5] = [
            ("integers", |s, k| hash(s, &k)),
            ("spaced integers", |s, k| hash(s, &(k * 1_000))),
            ("pairs", |s, k| hash(s, &(7u64, k))),
            ("ids", |s, k| hash(s, &format!("user-{k}")[..])),
            ("8 digits", |s, k| hash(s, &format!("{k:08}")[..])),
        ];
        for seed in 0..64 {
            let seeds = LocalSeeds::fixed(seed);
            for (kind, key) in kinds {
                let hashes: Vec<u128> = (0..1_000).map(|k| key(&seeds, k)).collect();
                for shift in [0, 4, 60, 64, 68, 76, 96, 124] {
                    let mut counts = [0u32; 16];
                    for h in &hashes {
                        counts[((h >> shift) & 15) as usize] += 1;
                    }
                    let chi: f64 = counts
                        .iter()
                        .map(|&c| (f64::from(c) - 62.5).powi(2) / 62.5)
                        .sum();
                    assert!(
                        chi < 80.0,
                        "{kind}, seed {seed}, bits {shift}..: {counts:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn caches_draw_their_own_seeds() {
        let (one, two) = (LocalSeeds::random(), LocalSeeds::random());
        assert_ne!(hash(&one, &(7u64, "en")), hash(&two, &(7u64, "en")));
        assert_eq!(
            hash(&one, &(7u64, "en")),
            hash(&one, &(7u64, String::from("en")))
        );
    }
}
