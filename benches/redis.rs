//! A hit on the Redis backend against a raw redis-rs `GET` of the same bytes, in the same run, on
//! a `redis-server` of its own (loopback, no persistence).
//!
//! - `redis_hit/raw_get` vs `redis_hit/memoized`: one caller, one key.
//! - `redis_hit_32/raw_get` vs `redis_hit_32/memoized`: 32 tasks at once, each reading its own
//!   key, on the multiplexed connection; one iteration is the 32 reads.
//! - `redis_hit_sync/raw_get` vs `redis_hit_sync/memoized`: one caller of a sync memoized
//!   function (whose `GET` goes out on a blocking connection of the caller's thread), against a
//!   `GET` on redis-rs' blocking connection. Each memoized hit must send exactly one `GET`,
//!   checked with `INFO commandstats`.
//! - `redis_miss/*`: a miss of a new key, memoized with `lock = "redis"` (a `GET`, the claim
//!   script, and the write script, which checks the invalidation marks, runs the `SET` and
//!   releases the lock) and `lock = "process"` (`GET`, the write script), beside the `GET` then
//!   `SET` of hand-written cache-aside code.
//!
//! - With `--features cached-redis`: `cached` 4's `AsyncRedisCache` and `RedisCache` beside
//!   them (the paired ratios only).
//!
//! Targets: a hit costs at most 1.2x the raw GET (1.1x for the sync caller); 32 concurrent hits
//! have at least 0.9x the throughput of 32 raw GETs. Besides criterion's numbers, the bench prints both ratios measured
//! in alternating blocks (see [`paired_ratios`]). Run with `cargo bench --bench redis`; results
//! in BENCHMARKS.md.

#[path = "support/paired.rs"]
mod paired;
#[path = "../tests/support/redis_server.rs"]
mod redis_server;

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use cachemacro_runtime::key::{format_key, key_hash};
use cachemacro_runtime::{RedisConfig, memoize};
use criterion::{Criterion, criterion_group, criterion_main};
use redis::aio::ConnectionManager;
use redis_server::{RedisServer, command_stats, reset_stats};

const CONCURRENCY: u64 = 32;
const NAMESPACE: &str = "bench";

/// A small record, as a typical memoized lookup returns: about 100 bytes stored.
#[memoize(backend = "redis", name = "bench_record")]
async fn record(id: u64) -> (u64, String, Vec<u32>) {
    (
        id,
        format!("record number {id} with a short description"),
        (0..16).collect(),
    )
}

/// The record `record` returns, for the peers.
#[cfg(feature = "cached-redis")]
fn record_value(id: u64) -> (u64, String, Vec<u32>) {
    (
        id,
        format!("record number {id} with a short description"),
        (0..16).collect(),
    )
}

/// `cached` 4's Redis stores (`--features cached-redis`): the same function memoized the way its
/// docs show, with `#[concurrent_cached]` over `AsyncRedisCache` (a multiplexed connection) and
/// `RedisCache` (an r2d2 pool of blocking connections). A hit is one `GET` (a pipeline of one).
#[cfg(feature = "cached-redis")]
mod cached_peer {
    use std::sync::OnceLock;

    use cached::macros::concurrent_cached;

    /// The bench's `redis-server`, set before the first call.
    pub static URL: OnceLock<String> = OnceLock::new();

    #[concurrent_cached(
        map_error = r##"|e| format!("{e:?}")"##,
        ty = "cached::AsyncRedisCache<u64, (u64, String, Vec<u32>)>",
        create = r##"{
            cached::AsyncRedisCache::builder("bench_cached_async")
                .ttl(std::time::Duration::from_secs(3600))
                .connection_string(URL.get().expect("the URL is set"))
                .build()
                .await
                .expect("cached's AsyncRedisCache connects")
        }"##
    )]
    pub async fn record(id: u64) -> Result<(u64, String, Vec<u32>), String> {
        Ok(super::record_value(id))
    }

    #[concurrent_cached(
        map_error = r##"|e| format!("{e:?}")"##,
        ty = "cached::RedisCache<u64, (u64, String, Vec<u32>)>",
        create = r##"{
            cached::RedisCache::builder("bench_cached_sync")
                .ttl(std::time::Duration::from_secs(3600))
                .connection_string(URL.get().expect("the URL is set"))
                .build()
                .expect("cached's RedisCache connects")
        }"##
    )]
    pub fn record_sync(id: u64) -> Result<(u64, String, Vec<u32>), String> {
        Ok(super::record_value(id))
    }
}

/// `record` under a lock in this process only: a miss is a `GET` and a `SET`.
#[memoize(backend = "redis", name = "bench_record_process", lock = "process")]
async fn record_process_lock(id: u64) -> (u64, String, Vec<u32>) {
    record_uncached(id).await
}

/// `record` as a sync function: its calls block the caller's thread.
#[memoize(backend = "redis", name = "bench_record_sync")]
fn record_sync(id: u64) -> (u64, String, Vec<u32>) {
    (
        id,
        format!("record number {id} with a short description"),
        (0..16).collect(),
    )
}

fn redis_key(id: u64) -> String {
    format!(
        "{NAMESPACE}:{}",
        format_key("bench_record", 0, key_hash(&id))
    )
}

/// A `GET` on redis-rs' blocking connection.
fn raw_get_sync(connection: &mut redis::Connection, key: &str) -> Vec<u8> {
    redis::cmd("GET")
        .arg(key)
        .query(connection)
        .expect("GET works")
}

async fn raw_get(mut connection: ConnectionManager, key: Arc<str>) -> Vec<u8> {
    redis::cmd("GET")
        .arg(&*key)
        .query_async(&mut connection)
        .await
        .expect("GET works")
}

fn benches(c: &mut Criterion) {
    let Some(server) = RedisServer::start() else {
        return;
    };
    record_cache().configure(
        RedisConfig::new()
            .url(server.url())
            .namespace(NAMESPACE)
            .timeout(Duration::from_secs(1)),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let client = redis::Client::open(server.url()).expect("a valid URL");
    let connection = runtime
        .block_on(ConnectionManager::new(client))
        .expect("raw connection");

    let keys: Vec<Arc<str>> = (0..CONCURRENCY).map(|id| redis_key(id).into()).collect();
    runtime.block_on(async {
        for id in 0..CONCURRENCY {
            record(id).await; // stores every entry
            assert!(
                !raw_get(connection.clone(), keys[id as usize].clone())
                    .await
                    .is_empty()
            );
        }
    });
    let misses = record_cache().stats().misses;
    #[cfg(feature = "cached-redis")]
    {
        cached_peer::URL.set(server.url()).expect("set once");
        let mut observer = server.client();
        runtime.block_on(async {
            for id in 0..CONCURRENCY {
                cached_peer::record(id)
                    .await
                    .expect("cached stores the entry");
            }
        });
        cached_peer::record_sync(0).expect("cached stores the entry");
        let gets = gets_sent(&mut observer, 100, || {
            black_box(runtime.block_on(cached_peer::record(0)).expect("a hit"));
        });
        assert_eq!(gets, 100, "a hit of cached's AsyncRedisCache sends one GET");
        // r2d2 checks each connection it lends with a `PING` (its `test_on_check_out`), so this
        // peer's hit is two round trips: printed, not asserted.
        reset_stats(&mut observer);
        for _ in 0..100 {
            black_box(cached_peer::record_sync(0).expect("a hit"));
        }
        println!(
            "cached's RedisCache, the commands of 100 hits: {:?}",
            command_stats(&mut observer)
                .into_iter()
                .map(|(name, calls, _)| (name, calls))
                .collect::<Vec<_>>()
        );
    }

    // One sync caller: the memoized function's hit (a GET on the backend's blocking connection)
    // against a blocking GET of the same bytes.
    record_sync_cache().configure(
        RedisConfig::new()
            .url(server.url())
            .namespace(NAMESPACE)
            .timeout(Duration::from_secs(1)),
    );
    record_sync(0);
    let sync_key = format!(
        "{NAMESPACE}:{}",
        format_key("bench_record_sync", 0, key_hash(&0u64))
    );
    let mut sync_connection = redis::Client::open(server.url())
        .and_then(|client| client.get_connection())
        .expect("a blocking connection");
    assert!(!raw_get_sync(&mut sync_connection, &sync_key).is_empty());
    let sync_misses = record_sync_cache().stats().misses;
    assert_eq!(
        gets_sent(&mut sync_connection, 1000, || {
            black_box(record_sync(0));
        }),
        1000,
        "a sync hit sends exactly one GET"
    );
    let mut sync = c.benchmark_group("redis_hit_sync");
    sync.bench_function("raw_get", |b| {
        b.iter(|| raw_get_sync(&mut sync_connection, black_box(&sync_key)))
    });
    sync.bench_function("memoized", |b| b.iter(|| record_sync(black_box(0))));
    sync.finish();

    let mut one = c.benchmark_group("redis_hit");
    one.bench_function("raw_get", |b| {
        b.iter(|| runtime.block_on(raw_get(connection.clone(), black_box(keys[0].clone()))))
    });
    one.bench_function("memoized", |b| {
        b.iter(|| runtime.block_on(record(black_box(0))))
    });
    one.finish();

    let mut many = c.benchmark_group("redis_hit_32");
    many.bench_function("raw_get", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let reads: Vec<_> = keys
                    .iter()
                    .map(|key| tokio::spawn(raw_get(connection.clone(), key.clone())))
                    .collect();
                for read in reads {
                    black_box(read.await.expect("the read task completes"));
                }
            })
        })
    });
    many.bench_function("memoized", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let reads: Vec<_> = (0..CONCURRENCY)
                    .map(|id| tokio::spawn(record(id)))
                    .collect();
                for read in reads {
                    black_box(read.await.expect("the read task completes"));
                }
            })
        })
    });
    many.finish();

    let stats = record_cache().stats();
    assert_eq!(stats.misses, misses, "every benchmarked call was a hit");
    assert_eq!(stats.errors, 0);

    // Misses: every iteration asks for an id never asked before. The baseline is what
    // hand-written cache-aside code sends on a miss: a `GET` that finds nothing, then a `SET`.
    record_process_lock_cache().configure(
        RedisConfig::new()
            .url(server.url())
            .namespace(NAMESPACE)
            .timeout(Duration::from_secs(1)),
    );
    let next = std::sync::atomic::AtomicU64::new(1_000_000);
    let fresh = || next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut miss = c.benchmark_group("redis_miss");
    miss.bench_function("raw_get_then_set", |b| {
        b.iter(|| {
            runtime.block_on(async {
                let key: Arc<str> = format!("{NAMESPACE}:raw:{}", fresh()).into();
                let mut connection = connection.clone();
                let found = raw_get(connection.clone(), key.clone()).await;
                assert!(found.is_empty());
                let _: () = redis::cmd("SET")
                    .arg(&*key)
                    .arg(&[0u8; 100][..])
                    .query_async(&mut connection)
                    .await
                    .expect("SET works");
            })
        })
    });
    miss.bench_function("memoized_lock_redis", |b| {
        b.iter(|| runtime.block_on(record(black_box(fresh()))))
    });
    miss.bench_function("memoized_lock_process", |b| {
        b.iter(|| runtime.block_on(record_process_lock(black_box(fresh()))))
    });
    miss.finish();
    assert_eq!(record_cache().stats().errors, 0);

    paired_ratios(&runtime, &connection, &keys);
    paired_sync(&mut sync_connection, &sync_key);
    let stats = record_sync_cache().stats();
    assert_eq!(
        stats.misses, sync_misses,
        "every benchmarked sync call was a hit"
    );
    assert_eq!(stats.errors, 0);
}

/// The `GET`s the server ran while `call` was made `calls` times (`INFO commandstats`); panics if
/// it ran any other command.
fn gets_sent(observer: &mut redis::Connection, calls: u64, mut call: impl FnMut()) -> u64 {
    reset_stats(observer);
    for _ in 0..calls {
        call();
    }
    let counted: Vec<(String, u64)> = command_stats(observer)
        .into_iter()
        .map(|(name, calls, _)| (name, calls))
        .filter(|(name, _)| !["info", "config|resetstat"].contains(&name.as_str()))
        .collect();
    match &counted[..] {
        [(name, gets)] if name == "get" => *gets,
        _ => panic!("commands other than GET: {counted:?}"),
    }
}

/// The sync caller's ratio, in alternating blocks as [`paired_ratios`].
fn paired_sync(connection: &mut redis::Connection, key: &str) {
    const ROUNDS: usize = 41;
    const CALLS: usize = 200;
    let connection = std::cell::RefCell::new(connection);
    let raw = || {
        let mut connection = connection.borrow_mut();
        for _ in 0..CALLS {
            black_box(raw_get_sync(&mut connection, key));
        }
    };
    let memoized = || {
        for _ in 0..CALLS {
            black_box(record_sync(0));
        }
    };
    let ratio = paired::median_ratio(ROUNDS, &memoized, &raw);
    println!(
        "paired: one sync caller, memoized hit time / raw blocking GET time = {ratio:.3} (target <= 1.1)"
    );
    #[cfg(feature = "cached-redis")]
    {
        let peer = || {
            for _ in 0..CALLS {
                black_box(cached_peer::record_sync(0).expect("a hit"));
            }
        };
        let peer_raw = paired::median_ratio(ROUNDS, &peer, &raw);
        let memoized_peer = paired::median_ratio(ROUNDS, &memoized, &peer);
        println!(
            "paired: one sync caller, cached RedisCache hit time / raw blocking GET time = {peer_raw:.3}"
        );
        println!(
            "paired: one sync caller, memoized hit time / cached RedisCache hit time = {memoized_peer:.3}"
        );
    }
}

/// The machine is shared, so load drifts between criterion's sequential measurements. These
/// ratios come from alternating short blocks of both sides (in alternating order), so each pair
/// sees the same load; the median over the rounds is printed.
fn paired_ratios(
    runtime: &tokio::runtime::Runtime,
    connection: &ConnectionManager,
    keys: &[Arc<str>],
) {
    const ROUNDS: usize = 41;
    const CALLS: usize = 200;
    const BATCHES: usize = 20;

    let single_raw = || {
        runtime.block_on(async {
            for _ in 0..CALLS {
                black_box(raw_get(connection.clone(), keys[0].clone()).await);
            }
        })
    };
    let single_memoized = || {
        runtime.block_on(async {
            for _ in 0..CALLS {
                black_box(record(0).await);
            }
        })
    };
    let many_raw = || {
        runtime.block_on(async {
            for _ in 0..BATCHES {
                let reads: Vec<_> = keys
                    .iter()
                    .map(|key| tokio::spawn(raw_get(connection.clone(), key.clone())))
                    .collect();
                for read in reads {
                    black_box(read.await.expect("the read task completes"));
                }
            }
        })
    };
    let many_memoized = || {
        runtime.block_on(async {
            for _ in 0..BATCHES {
                let reads: Vec<_> = (0..CONCURRENCY)
                    .map(|id| tokio::spawn(record(id)))
                    .collect();
                for read in reads {
                    black_box(read.await.expect("the read task completes"));
                }
            }
        })
    };

    let single = paired::median_ratio(ROUNDS, &single_memoized, &single_raw);
    let many = paired::median_ratio(ROUNDS, &many_memoized, &many_raw);
    println!("paired: one caller, memoized hit time / raw GET time = {single:.3} (target <= 1.1)");
    println!(
        "paired: 32 tasks, memoized throughput / raw GET throughput = {:.3} (target >= 0.9)",
        1.0 / many
    );
    #[cfg(feature = "cached-redis")]
    {
        let single_peer = || {
            runtime.block_on(async {
                for _ in 0..CALLS {
                    black_box(cached_peer::record(0).await.expect("a hit"));
                }
            })
        };
        let many_peer = || {
            runtime.block_on(async {
                for _ in 0..BATCHES {
                    let reads: Vec<_> = (0..CONCURRENCY)
                        .map(|id| tokio::spawn(cached_peer::record(id)))
                        .collect();
                    for read in reads {
                        black_box(read.await.expect("the read task completes").expect("a hit"));
                    }
                }
            })
        };
        let single_peer_raw = paired::median_ratio(ROUNDS, &single_peer, &single_raw);
        let single_memoized_peer = paired::median_ratio(ROUNDS, &single_memoized, &single_peer);
        let many_peer_raw = paired::median_ratio(ROUNDS, &many_peer, &many_raw);
        let many_memoized_peer = paired::median_ratio(ROUNDS, &many_memoized, &many_peer);
        println!(
            "paired: one caller, cached AsyncRedisCache hit time / raw GET time = {single_peer_raw:.3}"
        );
        println!(
            "paired: one caller, memoized hit time / cached AsyncRedisCache hit time = {single_memoized_peer:.3}"
        );
        println!(
            "paired: 32 tasks, cached AsyncRedisCache throughput / raw GET throughput = {:.3}",
            1.0 / many_peer_raw
        );
        println!(
            "paired: 32 tasks, memoized throughput / cached AsyncRedisCache throughput = {:.3} (target > 1)",
            1.0 / many_memoized_peer
        );
    }
}

criterion_group! {
    name = redis_backend;
    config = Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(4));
    targets = benches
}
criterion_main!(redis_backend);
