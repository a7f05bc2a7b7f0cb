// `#[target_feature]` holds where the body runs (`f_uncached`) and on every companion that runs
// it, so a body that uses the feature compiles. Each is called like `f` itself: in `unsafe`,
// once the feature was detected.
#![cfg_attr(not(target_arch = "x86_64"), allow(unused))]

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use cachemacro_runtime::memoize;
    use std::arch::x86_64::{__m256i, _mm256_extract_epi32, _mm256_set1_epi32};

    // Safe to call only where `avx2` is enabled.
    #[target_feature(enable = "avx2")]
    fn splat(n: i32) -> __m256i {
        _mm256_set1_epi32(n)
    }

    #[memoize]
    #[target_feature(enable = "avx2")]
    pub fn lane(n: i32) -> i32 {
        _mm256_extract_epi32::<3>(splat(n))
    }

    #[memoize(ttl = 60, refresh = "background")]
    #[target_feature(enable = "avx2")]
    pub fn refreshed(n: i32) -> i32 {
        _mm256_extract_epi32::<0>(splat(n))
    }

    #[memoize]
    #[target_feature(enable = "avx2")]
    pub async fn later(n: i32) -> i32 {
        _mm256_extract_epi32::<1>(splat(n))
    }

    pub struct Lanes;

    impl Lanes {
        #[memoize(ignore = [self])]
        #[target_feature(enable = "avx2")]
        pub fn lane(&self, n: i32) -> i32 {
            _mm256_extract_epi32::<2>(splat(n))
        }
    }

    pub fn run() {
        if !is_x86_feature_detected!("avx2") {
            return;
        }
        // SAFETY: the CPU has avx2.
        unsafe {
            assert_eq!(lane(7), 7);
            assert_eq!(lane_uncached(7), 7);
            assert_eq!(lane_refresh(8), 8);
            assert_eq!(lane_warm([1, 2]).stored, 2);
            assert_eq!(refreshed(4), 4);
            assert_eq!(refreshed_warm([5]).stored, 1);
            assert_eq!(Lanes.lane(3), 3);
            assert_eq!(Lanes.lane_refresh(3), 3);
            let _ = later(9);
            let _ = later_warm([1]);
        }
        assert!(lane_invalidate(7));
    }
}

fn main() {
    #[cfg(target_arch = "x86_64")]
    avx2::run();
}
