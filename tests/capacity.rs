//! Capacity is a hard bound, and eviction keeps what is reused: not the latest one-off keys.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use cachemacro_runtime::memoize;

static SMALL_RUNS: AtomicUsize = AtomicUsize::new(0);
#[memoize(capacity = 4)]
fn small(x: u32) -> u32 {
    SMALL_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

fn small_runs() -> usize {
    SMALL_RUNS.load(Ordering::SeqCst)
}

#[test]
fn the_entry_not_used_since_it_was_stored_is_evicted_first() {
    for x in 1..=4 {
        small(x);
    }
    assert_eq!(small_cache().len(), Some(4));
    // Use 1, 2 and 4 again; 3 is now the only entry not used since it was stored.
    small(1);
    small(2);
    small(4);
    assert_eq!(small_runs(), 4);
    small(5);
    assert_eq!(small_cache().len(), Some(4), "still at capacity");
    assert_eq!(small_cache().stats().evictions, 1);
    let before = small_runs();
    for x in [1, 2, 4, 5] {
        small(x);
    }
    assert_eq!(small_runs(), before, "the recently used entries survived");
    small(3);
    assert_eq!(small_runs(), before + 1, "3 was the one evicted");
}

static SCANNED_RUNS: AtomicUsize = AtomicUsize::new(0);
#[memoize(capacity = 1000)]
fn scanned(x: u64) -> u64 {
    SCANNED_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn a_scan_of_one_off_keys_does_not_flush_the_keys_in_use() {
    let hot = 0..100u64;
    for _ in 0..5 {
        for x in hot.clone() {
            scanned(x);
        }
    }
    assert_eq!(SCANNED_RUNS.load(Ordering::SeqCst), 100);
    // A batch job's pass over 10,000 keys, each used once: ten times the capacity.
    for x in 1_000_000..1_010_000 {
        scanned(x);
    }
    assert!(matches!(scanned_cache().len(), Some(n) if n <= 1000));
    let before = SCANNED_RUNS.load(Ordering::SeqCst);
    for x in hot {
        assert_eq!(scanned(x), x);
    }
    let recomputed = SCANNED_RUNS.load(Ordering::SeqCst) - before;
    assert!(
        recomputed <= 10,
        "{recomputed} of the 100 keys in use were recomputed after the scan"
    );
}

#[memoize(capacity = 1000)]
fn bounded(x: u64) -> u64 {
    x
}

#[test]
fn entries_never_exceed_capacity_under_concurrency() {
    let done = AtomicBool::new(false);
    let capacity = bounded_cache().capacity().expect("an in-process capacity");
    assert_eq!(capacity, 1000);
    std::thread::scope(|scope| {
        let observer = scope.spawn(|| {
            let mut largest = 0;
            while !done.load(Ordering::SeqCst) {
                largest = largest.max(bounded_cache().len().expect("an in-process count"));
            }
            largest
        });
        let writers: Vec<_> = (0..4u64)
            .map(|t| {
                scope.spawn(move || {
                    for i in 0..20_000u64 {
                        assert_eq!(bounded(t * 1_000_000 + i), t * 1_000_000 + i);
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        done.store(true, Ordering::SeqCst);
        let largest = observer.join().unwrap();
        assert!(
            largest <= capacity,
            "saw {largest} entries, capacity {capacity}"
        );
    });
    let stats = bounded_cache().stats();
    assert!(stats.entries.unwrap() <= 1000);
    assert_eq!(stats.misses, 80_000);
    assert!(
        stats.evictions >= 79_000,
        "evictions counted: {}",
        stats.evictions
    );
}
