//! Eight 32-bit lanes searched at once: the ghost queue's buckets (`evict.rs`), searched on every
//! eviction.
//!
//! Written by hand with SSE2 on x86_64 (part of its baseline: the cfg below checks it, as a
//! soft-float target turns it off) because LLVM compiled these searches one lane at a time:
//! measured by ablation, the search of the bucket took 11-15% of a miss + insert at a full
//! capacity of 10,000 (`BENCHMARKS.md`, issue 13). Elsewhere, the portable loops below, which
//! are also what the tests hold the SSE2 code to.

/// Lanes of a bucket.
pub(crate) const LANES: usize = 8;

/// The lanes holding `value`, one bit each (lane 0 the lowest bit).
#[inline(always)]
pub(crate) fn equal(lanes: &[u32; LANES], value: u32) -> u32 {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        sse2::equal(lanes, value)
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        portable::equal(lanes, value)
    }
}

/// The oldest lane, where lane `i` was written at sequence number `seqs[i]` (a wrapping count)
/// unless `prints[i]` is 0 (empty, older than any), and `now` is the current number: the lane
/// with the largest `now - seqs[i]`, the last of equals.
#[inline(always)]
pub(crate) fn oldest(prints: &[u32; LANES], seqs: &[u32; LANES], now: u32) -> usize {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    {
        sse2::oldest(prints, seqs, now)
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
    {
        portable::oldest(prints, seqs, now)
    }
}

#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
mod portable {
    use super::LANES;

    #[inline(always)]
    pub(super) fn equal(lanes: &[u32; LANES], value: u32) -> u32 {
        (0..LANES).fold(0, |mask, i| mask | u32::from(lanes[i] == value) << i)
    }

    #[inline(always)]
    pub(super) fn oldest(prints: &[u32; LANES], seqs: &[u32; LANES], now: u32) -> usize {
        // The age and the lane packed in one word, so that the last of equals is the maximum.
        let oldest = (0..LANES).fold(0u64, |oldest, i| {
            let age = match prints[i] {
                0 => u32::MAX,
                _ => now.wrapping_sub(seqs[i]),
            };
            oldest.max(u64::from(age) << 3 | i as u64)
        });
        oldest as usize & (LANES - 1)
    }
}

#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_andnot_si128, _mm_castsi128_ps, _mm_cmpeq_epi32,
        _mm_cmpgt_epi32, _mm_loadu_si128, _mm_movemask_ps, _mm_or_si128, _mm_set1_epi32,
        _mm_setzero_si128, _mm_shuffle_epi32, _mm_sub_epi32, _mm_xor_si128,
    };

    use super::LANES;

    /// The two halves of `lanes`.
    #[inline(always)]
    fn halves(lanes: &[u32; LANES]) -> (__m128i, __m128i) {
        let pointer = lanes.as_ptr().cast::<__m128i>();
        // SAFETY: SSE2 is in x86_64's baseline; each load reads 16 of the array's 32 bytes
        // (unaligned loads: no alignment is assumed).
        unsafe { (_mm_loadu_si128(pointer), _mm_loadu_si128(pointer.add(1))) }
    }

    /// One bit per lane set in `low` (lanes 0-3) or `high` (4-7), each lane all ones or zeros.
    #[inline(always)]
    fn mask(low: __m128i, high: __m128i) -> u32 {
        // SAFETY: SSE and SSE2 are in x86_64's baseline.
        unsafe {
            let low = _mm_movemask_ps(_mm_castsi128_ps(low));
            let high = _mm_movemask_ps(_mm_castsi128_ps(high));
            (low | high << 4) as u32
        }
    }

    #[inline(always)]
    pub(super) fn equal(lanes: &[u32; LANES], value: u32) -> u32 {
        let (low, high) = halves(lanes);
        // SAFETY: SSE2 is in x86_64's baseline.
        unsafe {
            let value = _mm_set1_epi32(value as i32);
            mask(_mm_cmpeq_epi32(low, value), _mm_cmpeq_epi32(high, value))
        }
    }

    #[inline(always)]
    pub(super) fn oldest(prints: &[u32; LANES], seqs: &[u32; LANES], now: u32) -> usize {
        let (prints_low, prints_high) = halves(prints);
        let (seqs_low, seqs_high) = halves(seqs);
        // SAFETY: SSE2 is in x86_64's baseline.
        let ages = unsafe {
            let now = _mm_set1_epi32(now as i32);
            let zero = _mm_setzero_si128();
            // An empty lane's age is all ones (u32::MAX). Ages are unsigned: their sign bits are
            // flipped so that SSE2's signed comparison orders them.
            let flip = _mm_set1_epi32(i32::MIN);
            let age = |prints, seqs| {
                let empty = _mm_cmpeq_epi32(prints, zero);
                _mm_xor_si128(_mm_or_si128(_mm_sub_epi32(now, seqs), empty), flip)
            };
            (age(prints_low, seqs_low), age(prints_high, seqs_high))
        };
        // SAFETY: SSE2 is in x86_64's baseline.
        let most = unsafe {
            let max = |a, b| {
                let greater = _mm_cmpgt_epi32(a, b);
                _mm_or_si128(_mm_and_si128(greater, a), _mm_andnot_si128(greater, b))
            };
            // The maximum in every lane: of the halves, then of swapped pairs of pairs, then of
            // swapped neighbours.
            let most = max(ages.0, ages.1);
            let most = max(most, _mm_shuffle_epi32::<0b01_00_11_10>(most));
            max(most, _mm_shuffle_epi32::<0b10_11_00_01>(most))
        };
        // SAFETY: SSE2 is in x86_64's baseline.
        let at = unsafe { mask(_mm_cmpeq_epi32(ages.0, most), _mm_cmpeq_epi32(ages.1, most)) };
        // Some lane holds the maximum: `at` is never 0.
        (31 - at.leading_zeros()) as usize & (LANES - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SplitMix64, for reproducible lanes.
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    fn draws(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
    }

    /// The SSE2 code against the portable loops (on x86_64; elsewhere only the loops exist).
    #[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
    #[test]
    fn the_searches_agree_with_the_portable_loops() {
        let mut draw = draws(7);
        for round in 0..100_000 {
            // Few distinct prints, so that equal ones and empty ones are common; sequence
            // numbers near `now`, near the wrap, or anywhere.
            let mut prints = [0u32; LANES];
            let mut seqs = [0u32; LANES];
            let now = match round % 3 {
                0 => draw() as u32,
                1 => u32::MAX - (draw() % 16) as u32,
                _ => (draw() % 16) as u32,
            };
            for i in 0..LANES {
                prints[i] = (draw() % 4) as u32;
                seqs[i] = match draw() % 3 {
                    0 => now.wrapping_sub((draw() % 40) as u32),
                    1 => now.wrapping_add((draw() % 40) as u32),
                    _ => draw() as u32,
                };
            }
            for value in 0..4 {
                assert_eq!(
                    sse2::equal(&prints, value),
                    portable::equal(&prints, value),
                    "{prints:?} {value}"
                );
            }
            assert_eq!(
                sse2::oldest(&prints, &seqs, now),
                portable::oldest(&prints, &seqs, now),
                "{prints:?} {seqs:?} {now}"
            );
        }
    }

    #[test]
    fn the_oldest_is_an_empty_lane_else_the_largest_age_the_last_of_equals() {
        let now = 100;
        let full = [1; LANES];
        assert_eq!(oldest(&full, &[99, 98, 97, 10, 96, 95, 94, 93], now), 3);
        assert_eq!(oldest(&full, &[99, 10, 97, 10, 96, 95, 94, 93], now), 3);
        // Across the wrap: 5 was written after u32::MAX - 5.
        assert_eq!(oldest(&full, &[5, u32::MAX - 5, 3, 4, 1, 2, 0, 6], 8), 1);
        let mut prints = full;
        prints[2] = 0;
        prints[6] = 0;
        assert_eq!(oldest(&prints, &[0; LANES], now), 6);
        assert_eq!(equal(&prints, 0), 1 << 2 | 1 << 6);
        assert_eq!(equal(&prints, 1), 0xff & !(1 << 2 | 1 << 6));
    }
}
