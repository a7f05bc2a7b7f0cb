//! The in-process hit path beside its baselines, in one run: a plain `HashMap` lookup (foldhash)
//! of a prebuilt key of the same arguments, and the `cached` crate's `#[cached(max_size = 10000)]`.
//! `BENCHMARKS.md` records the ratios.

#[path = "support/paired.rs"]
mod paired;

use std::collections::HashMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use cached::proc_macro::cached;
use cachemacro_runtime::memoize;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

const NAME: &str = "user-name-42";

#[memoize(capacity = 10_000)]
fn ours_str(a: u64, b: &str) -> u64 {
    a + b.len() as u64
}

/// The same with a `ttl`: its hit also reads the clock.
#[memoize(capacity = 10_000, ttl = 3600)]
fn ours_str_ttl(a: u64, b: &str) -> u64 {
    a + b.len() as u64
}

#[memoize(capacity = 10_000)]
fn ours_string(a: u64, b: String) -> u64 {
    a + b.len() as u64
}

#[cached(max_size = 10000)]
fn theirs_string(a: u64, b: String) -> u64 {
    a + b.len() as u64
}

#[memoize(capacity = 10_000)]
fn ours_miss(a: u64, b: &str) -> u64 {
    a + b.len() as u64
}

#[memoize(capacity = 10_000)]
fn ours_shared(a: u64) -> u64 {
    a * 3
}

#[cached(max_size = 10000)]
fn theirs_shared(a: u64) -> u64 {
    a * 3
}

fn hit(c: &mut Criterion) {
    let mut group = c.benchmark_group("hit");
    let mut map: HashMap<(u64, String), u64, foldhash::fast::RandomState> = HashMap::default();
    map.insert((42, NAME.to_string()), 54);
    let key = (42u64, NAME.to_string());
    group.bench_function("baseline: HashMap<(u64, String)> get, foldhash", |b| {
        b.iter(|| *map.get(black_box(&key)).unwrap())
    });
    ours_str(42, NAME);
    group.bench_function("cachemacro: f(u64, &str)", |b| {
        b.iter(|| ours_str(black_box(42), black_box(NAME)))
    });
    // Owned arguments: the caller's String is built outside the timing and dropped inside it,
    // the same for both crates.
    ours_string(42, NAME.to_string());
    group.bench_function("cachemacro: f(u64, String)", |b| {
        b.iter_batched(
            || NAME.to_string(),
            |name| ours_string(black_box(42), name),
            BatchSize::SmallInput,
        )
    });
    theirs_string(42, NAME.to_string());
    group.bench_function("cached: f(u64, String)", |b| {
        b.iter_batched(
            || NAME.to_string(),
            |name| theirs_string(black_box(42), name),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn miss(c: &mut Criterion) {
    let mut group = c.benchmark_group("miss_insert");
    let mut map: HashMap<(u64, String), u64, foldhash::fast::RandomState> = HashMap::default();
    let mut next = 0u64;
    group.bench_function("baseline: HashMap get miss + insert, foldhash", |b| {
        b.iter(|| {
            next += 1;
            map.entry((next, NAME.to_string())).or_insert(next);
            if map.len() >= 10_000 {
                map.clear();
            }
        })
    });
    let mut next = 0u64;
    group.bench_function("cachemacro: f(u64, &str) miss + insert (evicting)", |b| {
        b.iter(|| {
            next += 1;
            ours_miss(black_box(next), black_box(NAME))
        })
    });
    group.finish();
}

/// Wall time for `threads` threads each doing `iters` hits over a 1,000-key working set.
fn parallel_hits(threads: usize, iters: u64, hit: impl Fn(u64) -> u64 + Sync) -> Duration {
    let hit = &hit;
    let start = Instant::now();
    std::thread::scope(|scope| {
        for t in 0..threads as u64 {
            scope.spawn(move || {
                for i in 0..iters {
                    black_box(hit(black_box((i + t * 500) % 1_000)));
                }
            });
        }
    });
    start.elapsed()
}

fn threads(c: &mut Criterion) {
    for key in 0..1_000 {
        ours_shared(key);
        theirs_shared(key);
    }
    // The machine's own ceiling: a read-only map shared by the threads, no writes at all.
    let map: HashMap<u64, u64, foldhash::fast::RandomState> =
        (0..1_000).map(|k| (k, k * 3)).collect();
    let mut group = c.benchmark_group("threads_1000_keys");
    for threads in [1usize, 2] {
        group.bench_function(
            format!("baseline: read-only HashMap, {threads} thread(s), time per hit per thread"),
            |b| b.iter_custom(|iters| parallel_hits(threads, iters, |k| map[&k])),
        );
        group.bench_function(
            format!("cachemacro: {threads} thread(s), time per hit per thread"),
            |b| b.iter_custom(|iters| parallel_hits(threads, iters, ours_shared)),
        );
        group.bench_function(
            format!("cached: {threads} thread(s), time per hit per thread"),
            |b| b.iter_custom(|iters| parallel_hits(threads, iters, theirs_shared)),
        );
    }
    group.finish();
}

/// The ratios the targets are about, each measured in alternating blocks (see `support/paired.rs`).
fn paired_ratios(_: &mut Criterion) {
    const ROUNDS: usize = 41;
    const CALLS: u64 = 20_000;
    let mut map: HashMap<(u64, String), u64, foldhash::fast::RandomState> = HashMap::default();
    map.insert((42, NAME.to_string()), 54);
    let key = (42u64, NAME.to_string());
    ours_str(42, NAME);
    ours_string(42, NAME.to_string());
    theirs_string(42, NAME.to_string());

    let baseline = || {
        for _ in 0..CALLS {
            black_box(map.get(black_box(&key)));
        }
    };
    let ours = || {
        for _ in 0..CALLS {
            black_box(ours_str(black_box(42), black_box(NAME)));
        }
    };
    let hit = paired::median_ratio(ROUNDS, &ours, &baseline);
    println!("paired: hit f(u64, &str) / HashMap get = {hit:.2}x the time (target <= 1.5)");

    // The clock read: the same hit on a cache with a `ttl`, beside the one without.
    ours_str_ttl(42, NAME);
    let ours_ttl = || {
        for _ in 0..CALLS {
            black_box(ours_str_ttl(black_box(42), black_box(NAME)));
        }
    };
    let ttl_hit = paired::median_ratio(ROUNDS, &ours_ttl, &baseline);
    println!("paired: hit f(u64, &str) with ttl / HashMap get = {ttl_hit:.2}x the time");
    let clock_read = paired::median_ratio(ROUNDS, &ours_ttl, &ours);
    println!("paired: hit with ttl / hit without = {clock_read:.2}x the time (the clock read)");

    // Owned arguments: both sides take Strings built before the timing (a batch per block, made
    // up front) and drop them inside it, as a caller passing an owned String does.
    let batches = std::cell::RefCell::new(
        (0..2 * ROUNDS)
            .map(|_| vec![NAME.to_string(); CALLS as usize])
            .collect::<Vec<_>>(),
    );
    let next_batch = || batches.borrow_mut().pop().unwrap_or_default();
    let ours_owned = || {
        let batch = next_batch();
        for name in batch {
            black_box(ours_string(black_box(42), name));
        }
    };
    let theirs_owned = || {
        let batch = next_batch();
        for name in batch {
            black_box(theirs_string(black_box(42), name));
        }
    };
    let versus_cached = paired::median_ratio(ROUNDS, &theirs_owned, &ours_owned);
    println!(
        "paired: hit f(u64, String), cached / cachemacro = {versus_cached:.2}x faster (target >= 2.5)"
    );

    // Long blocks, so that starting the threads is a small part of each.
    const THREAD_CALLS: u64 = 400_000;
    let one = || {
        parallel_hits(1, THREAD_CALLS, ours_shared);
    };
    let two = || {
        parallel_hits(2, THREAD_CALLS, ours_shared);
    };
    // Two threads do twice the work in the time measured.
    let scaling = 2.0 / paired::median_ratio(ROUNDS, &two, &one);
    println!("paired: 2 threads / 1 thread throughput = {scaling:.2}x (target >= 1.6)");
    let map: HashMap<u64, u64, foldhash::fast::RandomState> =
        (0..1_000).map(|k| (k, k * 3)).collect();
    let one = || {
        parallel_hits(1, THREAD_CALLS, |k| map[&k]);
    };
    let two = || {
        parallel_hits(2, THREAD_CALLS, |k| map[&k]);
    };
    let ceiling = 2.0 / paired::median_ratio(ROUNDS, &two, &one);
    println!(
        "paired: read-only HashMap, 2 threads / 1 thread throughput = {ceiling:.2}x (the machine's ceiling)"
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(40);
    targets = hit, miss, threads, paired_ratios
}
criterion_main!(benches);
