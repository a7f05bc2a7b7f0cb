use cachemacro_runtime::CacheKey;
use cachemacro_runtime::key::LocalHasher;
use cachemacro_runtime::memoize;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hash::BuildHasher;
use std::hint::black_box;
#[memoize(capacity = 10_000)]
fn ours_str(a: u64, b: &str) -> u64 {
    a + b.len() as u64
}
fn b(c: &mut Criterion) {
    ours_str(42, "user-name-42");
    let cache = ours_str_cache();
    let key = __cachemacro_ours_str_key(&42, &"user-name-42");
    c.bench_function("store hit with precomputed key", |b| {
        b.iter(|| cache.get_or_compute(black_box(key), |_| true, || unreachable!()))
    });
    c.bench_function("full hit", |b| {
        b.iter(|| ours_str(black_box(42), black_box("user-name-42")))
    });
    let mut map: std::collections::HashMap<(u64, String), u64, foldhash::fast::RandomState> =
        Default::default();
    map.insert((42, "user-name-42".to_string()), 54);
    let k = (42u64, "user-name-42".to_string());
    c.bench_function("baseline", |b| b.iter(|| *map.get(black_box(&k)).unwrap()));
    c.bench_function("local hasher (u64,&str)", |b| {
        b.iter(|| {
            let mut h = LocalHasher::new();
            black_box(42u64).write_key(&mut h);
            black_box("user-name-42").write_key(&mut h);
            h.finish()
        })
    });
    let s = foldhash::fast::RandomState::default();
    c.bench_function("foldhash fast one lane (u64,&str)", |b| {
        b.iter(|| s.hash_one((black_box(42u64), black_box("user-name-42"))))
    });
    let q = foldhash::quality::RandomState::default();
    c.bench_function("foldhash quality one lane (u64,&str)", |b| {
        b.iter(|| q.hash_one((black_box(42u64), black_box("user-name-42"))))
    });
}
criterion_group! {name=g; config=Criterion::default().warm_up_time(std::time::Duration::from_millis(300)).measurement_time(std::time::Duration::from_secs(1)).sample_size(20); targets=b}
criterion_main!(g);
