//! Background refresh on the in-process backend: a stale hit beside a fresh hit of the same
//! function shape, in one run. `BENCHMARKS.md` records the ratios.
//!
//! - fresh: a hit on an entry younger than `refresh_after`;
//! - stale, refresh in flight: a hit on an entry older than `refresh_after` whose refresh is
//!   already running (every hit but the first after an entry goes stale);
//! - stale, scheduling: each hit finds a different stale key and schedules its refresh (builds the
//!   job, queues it on the pool).

#[path = "support/paired.rs"]
mod paired;

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use cachemacro_runtime::refresh::{RefreshConfig, configure};
use cachemacro_runtime::{clock, memoize};
use criterion::{Criterion, criterion_group, criterion_main};

const NAME: &str = "user-name-42";
/// While set, refresh bodies spin here, so a refresh stays in flight.
static HOLD: AtomicBool = AtomicBool::new(false);

#[memoize(ttl = 600, refresh = "background", refresh_after = 60)]
fn fresh(a: u64, b: &str) -> u64 {
    a + b.len() as u64
}

#[memoize(ttl = 600, refresh = "background", refresh_after = 60)]
fn stale(a: u64, b: &str) -> u64 {
    while HOLD.load(Ordering::Relaxed) {
        std::thread::yield_now();
    }
    a + b.len() as u64
}

#[memoize(
    ttl = 600,
    capacity = 2_000_000,
    refresh = "background",
    refresh_after = 60
)]
fn scheduling(a: u64, b: &str) -> u64 {
    a + b.len() as u64
}

fn refresh(c: &mut Criterion) {
    let _ = configure(RefreshConfig {
        workers: 1,
        queue: 1 << 20,
    });
    clock::pause();
    stale(42, NAME);
    for key in 0..1_000_000 {
        scheduling(key, NAME);
    }
    clock::advance(Duration::from_secs(61));
    fresh(42, NAME);
    // The first stale hit schedules the refresh, which then holds; later hits find it in flight.
    HOLD.store(true, Ordering::SeqCst);
    stale(42, NAME);

    let mut group = c.benchmark_group("refresh");
    group.bench_function("fresh hit", |b| {
        b.iter(|| fresh(black_box(42), black_box(NAME)))
    });
    group.bench_function("stale hit, refresh in flight", |b| {
        b.iter(|| stale(black_box(42), black_box(NAME)))
    });
    let mut next = 0;
    group.bench_function("stale hit that schedules its refresh", |b| {
        b.iter(|| {
            next = (next + 1) % 1_000_000;
            scheduling(black_box(next), black_box(NAME))
        })
    });
    group.finish();

    const CALLS: usize = 20_000;
    let fresh_hits = || {
        for _ in 0..CALLS {
            black_box(fresh(black_box(42), black_box(NAME)));
        }
    };
    let stale_hits = || {
        for _ in 0..CALLS {
            black_box(stale(black_box(42), black_box(NAME)));
        }
    };
    let ratio = paired::median_ratio(41, &stale_hits, &fresh_hits);
    println!(
        "paired: stale hit (refresh in flight) / fresh hit = {ratio:.2}x the time (target <= 1.3)"
    );
    HOLD.store(false, Ordering::SeqCst);
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(40);
    targets = refresh
}
criterion_main!(benches);
