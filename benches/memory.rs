//! The in-process hit and miss paths beside their baselines, in one run: a plain `HashMap` lookup
//! (foldhash) of a prebuilt key of the same arguments, and the caches a user would otherwise
//! memoize with: the `cached` crate's `#[cached(max_size = 10000)]`, and quick_cache and moka used
//! the way a memoized function uses a cache (`get`, and on a miss the body then `insert`), with an
//! owned `(u64, String)` key, capacity 10,000 and foldhash (quick_cache's default hasher). The
//! paired miss also runs with `lock = "none"` (no single-flight, as those peers have none).
//! `BENCHMARKS.md` records the ratios.

#[path = "support/paired.rs"]
mod paired;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::hash::Hash;
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

/// The same in a cache that keeps taking writes (the mixed workload of the paired figures): no
/// shard stays biased, so each hit marks its read with a locked add (`memory/read_lock.rs`).
#[memoize(capacity = 10_000)]
fn ours_str_written(a: u64, b: &str) -> u64 {
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
fn ours_miss_string(a: u64, b: String) -> u64 {
    a + b.len() as u64
}

/// `ours_miss_string` without single-flight (`lock = "none"`), as quick_cache's `get` + `insert`
/// has none: what the flight costs a miss.
#[memoize(capacity = 10_000, lock = "none")]
fn ours_miss_string_unlocked(a: u64, b: String) -> u64 {
    a + b.len() as u64
}

#[cached(max_size = 10000)]
fn theirs_miss_string(a: u64, b: String) -> u64 {
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

/// The capacity of every cache here, in entries.
const CAPACITY: usize = 10_000;

type QuickCache<K> =
    quick_cache::sync::Cache<K, u64, quick_cache::UnitWeighter, foldhash::fast::RandomState>;
type Moka<K> = moka::sync::Cache<K, u64, foldhash::fast::RandomState>;

fn new_quick_cache<K: Eq + Hash + Clone>() -> QuickCache<K> {
    quick_cache::sync::Cache::with(
        CAPACITY,
        CAPACITY as u64,
        quick_cache::UnitWeighter,
        foldhash::fast::RandomState::default(),
        quick_cache::sync::DefaultLifecycle::default(),
    )
}

fn new_moka<K: Eq + Hash + Send + Sync + 'static>() -> Moka<K> {
    moka::sync::Cache::builder()
        .max_capacity(CAPACITY as u64)
        .build_with_hasher(foldhash::fast::RandomState::default())
}

/// A memoized call through quick_cache: `get`, and on a miss the body and `insert`.
fn quick_memo<K: Eq + Hash + Clone>(
    cache: &QuickCache<K>,
    key: K,
    body: impl Fn(&K) -> u64,
) -> u64 {
    if let Some(value) = cache.get(&key) {
        return value;
    }
    let value = body(&key);
    cache.insert(key, value);
    value
}

/// The same through moka.
fn moka_memo<K: Eq + Hash + Send + Sync + 'static>(
    cache: &Moka<K>,
    key: K,
    body: impl Fn(&K) -> u64,
) -> u64 {
    if let Some(value) = cache.get(&key) {
        return value;
    }
    let value = body(&key);
    cache.insert(key, value);
    value
}

/// A peer's `f(u64, String)`, named for the tables of paired figures.
type OwnedCall<'a> = Box<dyn Fn(String) -> u64 + 'a>;

/// The body of every `f(u64, String)`.
fn body(key: &(u64, String)) -> u64 {
    key.0 + key.1.len() as u64
}

/// The body of every `f(u64)` of the thread figures.
fn shared_body(key: &u64) -> u64 {
    key * 3
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
    let quick = new_quick_cache();
    quick_memo(&quick, (42, NAME.to_string()), body);
    group.bench_function("quick_cache: f(u64, String)", |b| {
        b.iter_batched(
            || NAME.to_string(),
            |name| quick_memo(&quick, (black_box(42), name), body),
            BatchSize::SmallInput,
        )
    });
    let moka = new_moka();
    moka_memo(&moka, (42, NAME.to_string()), body);
    group.bench_function("moka: f(u64, String)", |b| {
        b.iter_batched(
            || NAME.to_string(),
            |name| moka_memo(&moka, (black_box(42), name), body),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

/// Fills a cache to its capacity and beyond, so that every later insert evicts: `call(k)` for
/// `2 x CAPACITY` keys below those the miss figures use.
fn fill(call: impl Fn(u64) -> u64) {
    for k in 0..2 * CAPACITY as u64 {
        black_box(call(k));
    }
}

/// The first key of the miss figures: above every key [`fill`] used.
const FRESH: u64 = 1 << 40;

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
    fill(|k| ours_miss(k, NAME));
    let mut next = FRESH;
    group.bench_function("cachemacro: f(u64, &str) miss + insert (evicting)", |b| {
        b.iter(|| {
            next += 1;
            ours_miss(black_box(next), black_box(NAME))
        })
    });
    // f(u64, String), each side full at 10,000: the caller's String is built outside the timing.
    fill(|k| ours_miss_string(k, NAME.to_string()));
    let next = Cell::new(FRESH);
    let fresh = || {
        next.set(next.get() + 1);
        next.get()
    };
    group.bench_function("cachemacro: f(u64, String) miss + insert (evicting)", |b| {
        b.iter_batched(
            || NAME.to_string(),
            |name| ours_miss_string(black_box(fresh()), name),
            BatchSize::SmallInput,
        )
    });
    let quick = new_quick_cache();
    fill(|k| quick_memo(&quick, (k, NAME.to_string()), body));
    group.bench_function(
        "quick_cache: f(u64, String) get miss + insert (evicting)",
        |b| {
            b.iter_batched(
                || NAME.to_string(),
                |name| quick_memo(&quick, (black_box(fresh()), name), body),
                BatchSize::SmallInput,
            )
        },
    );
    fill(|k| theirs_miss_string(k, NAME.to_string()));
    group.bench_function("cached: f(u64, String) miss + insert (evicting)", |b| {
        b.iter_batched(
            || NAME.to_string(),
            |name| theirs_miss_string(black_box(fresh()), name),
            BatchSize::SmallInput,
        )
    });
    let moka = new_moka();
    fill(|k| moka_memo(&moka, (k, NAME.to_string()), body));
    group.bench_function("moka: f(u64, String) get miss + insert (evicting)", |b| {
        b.iter_batched(
            || NAME.to_string(),
            |name| moka_memo(&moka, (black_box(fresh()), name), body),
            BatchSize::SmallInput,
        )
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
    let quick = new_quick_cache::<u64>();
    let moka = new_moka::<u64>();
    for key in 0..1_000 {
        ours_shared(key);
        theirs_shared(key);
        quick_memo(&quick, key, shared_body);
        moka_memo(&moka, key, shared_body);
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
        group.bench_function(
            format!("quick_cache: {threads} thread(s), time per hit per thread"),
            |b| {
                b.iter_custom(|iters| {
                    parallel_hits(threads, iters, |k| quick_memo(&quick, k, shared_body))
                })
            },
        );
        group.bench_function(
            format!("moka: {threads} thread(s), time per hit per thread"),
            |b| {
                b.iter_custom(|iters| {
                    parallel_hits(threads, iters, |k| moka_memo(&moka, k, shared_body))
                })
            },
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
    let quick = new_quick_cache();
    quick_memo(&quick, (42, NAME.to_string()), body);
    let moka = new_moka();
    moka_memo(&moka, (42, NAME.to_string()), body);
    let peers: [(&str, OwnedCall); 3] = [
        ("cached", Box::new(|name| theirs_string(42, name))),
        (
            "quick_cache",
            Box::new(|name| quick_memo(&quick, (42, name), body)),
        ),
        ("moka", Box::new(|name| moka_memo(&moka, (42, name), body))),
    ];
    for (peer, call) in &peers {
        let batches = Batches::new(ROUNDS, CALLS as usize);
        let ours_owned = batches.block(|name| ours_string(42, name));
        let theirs_owned = batches.block(call);
        let faster = paired::median_ratio(ROUNDS, &theirs_owned, &ours_owned);
        let target = if *peer == "cached" {
            " (target >= 2.5)"
        } else {
            ""
        };
        println!("paired: hit f(u64, String), {peer} / cachemacro = {faster:.2}x faster{target}");
    }

    // Miss + insert of new keys, every cache full at its capacity of 10,000 (every insert
    // evicts), f(u64, String) with the caller's Strings built before the timing.
    const MISSES: usize = 5_000;
    fill(|k| ours_miss_string(k, NAME.to_string()));
    let quick = new_quick_cache();
    fill(|k| quick_memo(&quick, (k, NAME.to_string()), body));
    let moka = new_moka();
    fill(|k| moka_memo(&moka, (k, NAME.to_string()), body));
    fill(|k| theirs_miss_string(k, NAME.to_string()));
    // One sequence of new keys for all: no side meets a key another side stored.
    let next = Cell::new(FRESH << 1);
    let fresh = || {
        next.set(next.get() + 1);
        next.get()
    };
    let peers: [(&str, OwnedCall); 3] = [
        (
            "quick_cache get + insert",
            Box::new(|name| quick_memo(&quick, (fresh(), name), body)),
        ),
        ("cached", Box::new(|name| theirs_miss_string(fresh(), name))),
        (
            "moka get + insert",
            Box::new(|name| moka_memo(&moka, (fresh(), name), body)),
        ),
    ];
    for (peer, call) in &peers {
        let batches = Batches::new(ROUNDS, MISSES);
        let ours_miss = batches.block(|name| ours_miss_string(fresh(), name));
        let theirs_miss = batches.block(call);
        let ratio = paired::median_ratio(ROUNDS, &ours_miss, &theirs_miss);
        let target = if peer.starts_with("quick_cache") {
            " (target <= 1.0)"
        } else {
            ""
        };
        println!(
            "paired: miss + insert f(u64, String) at capacity 10,000 full, cachemacro / {peer} = {ratio:.2}x the time{target}"
        );
    }
    assert_eq!(
        ours_miss_string_cache().len(),
        Some(CAPACITY as u64),
        "full"
    );
    fill(|k| ours_miss_string_unlocked(k, NAME.to_string()));
    let batches = Batches::new(ROUNDS, MISSES);
    let unlocked = batches.block(|name| ours_miss_string_unlocked(fresh(), name));
    let quick_miss = batches.block(&peers[0].1);
    let ratio = paired::median_ratio(ROUNDS, &unlocked, &quick_miss);
    println!(
        "paired: miss + insert f(u64, String) at capacity 10,000 full, cachemacro lock = \"none\" (no single-flight) / quick_cache get + insert = {ratio:.2}x the time"
    );
    assert_eq!(
        ours_miss_string_unlocked_cache().len(),
        Some(CAPACITY as u64),
        "full"
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
    let quick = new_quick_cache::<u64>();
    let moka = new_moka::<u64>();
    for key in 0..1_000 {
        theirs_shared(key);
        quick_memo(&quick, key, shared_body);
        moka_memo(&moka, key, shared_body);
    }
    let peers: [(&str, &(dyn Fn(u64) -> u64 + Sync)); 3] = [
        ("cached", &theirs_shared),
        ("quick_cache", &|k| quick_memo(&quick, k, shared_body)),
        ("moka", &|k| moka_memo(&moka, k, shared_body)),
    ];
    for (peer, hit) in peers {
        let one = || {
            parallel_hits(1, THREAD_CALLS, hit);
        };
        let two = || {
            parallel_hits(2, THREAD_CALLS, hit);
        };
        let scaling = 2.0 / paired::median_ratio(ROUNDS, &two, &one);
        println!("paired: {peer}, 2 threads / 1 thread throughput = {scaling:.2}x");
    }
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

    // A mixed workload: the same hit in a cache that also takes a miss every 1,000 calls, so
    // that no shard stays biased and every hit pays the locked add. The misses run inside the
    // timing (about 2% of it).
    ours_str_written(42, NAME);
    let fresh = Cell::new(1_000_000u64);
    let ours_written = || {
        for call in 0..CALLS {
            if call % 1_000 == 0 {
                fresh.set(fresh.get() + 1);
                black_box(ours_str_written(fresh.get(), NAME));
            }
            black_box(ours_str_written(black_box(42), black_box(NAME)));
        }
    };
    let written = paired::median_ratio(ROUNDS, &ours_written, &baseline);
    println!(
        "paired: hit f(u64, &str) in a cache taking a miss per 1,000 calls / HashMap get = {written:.2}x the time (no target: the unbiased hit)"
    );
}

/// Owned Strings for the calls of a paired measurement, built before the timing: `2 x rounds`
/// batches (each side runs `rounds` blocks), shared by both sides as a caller's would be.
struct Batches {
    fresh: RefCell<Vec<Vec<String>>>,
    /// Emptied batches, kept so that freeing their buffers is not timed.
    spent: RefCell<Vec<Vec<String>>>,
}

impl Batches {
    fn new(rounds: usize, calls: usize) -> Self {
        Batches {
            fresh: RefCell::new(
                (0..2 * rounds)
                    .map(|_| vec![NAME.to_string(); calls])
                    .collect(),
            ),
            spent: RefCell::default(),
        }
    }

    /// A block: `call` on each String of the next batch (each String dropped inside the call).
    fn block<'a>(&'a self, call: impl Fn(String) -> u64 + 'a) -> impl Fn() + 'a {
        move || {
            let mut batch = self.fresh.borrow_mut().pop().unwrap_or_default();
            for name in batch.drain(..) {
                black_box(call(black_box(name)));
            }
            self.spent.borrow_mut().push(batch);
        }
    }
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
