//! Paired measurements for a shared, noisy machine: both sides run in alternating short blocks,
//! so each pair sees the same load, and the median ratio over the rounds is the figure to read.

use std::time::Instant;

/// The median over `rounds` of (time of `a`) / (time of `b`), measured back to back, in
/// alternating order.
pub fn median_ratio(rounds: usize, a: &dyn Fn(), b: &dyn Fn()) -> f64 {
    let time = |f: &dyn Fn()| {
        let started = Instant::now();
        f();
        started.elapsed().as_secs_f64()
    };
    let mut ratios: Vec<f64> = (0..rounds)
        .map(|round| {
            if round % 2 == 0 {
                let ta = time(a);
                ta / time(b)
            } else {
                let tb = time(b);
                time(a) / tb
            }
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios[rounds / 2]
}
