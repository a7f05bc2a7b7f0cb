//! `bypass` and `bypass_async`: inside, memoized functions run their bodies and touch no cache, on
//! that thread or in that future only.

#[path = "support/redis_server.rs"]
mod redis_server;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

use cachemacro_runtime::{RedisConfig, bypass, bypass_async, memoize};
use redis_server::RedisServer;

/// Each run returns a new value, so a test can tell a cached value from a fresh one.
static VERSION: AtomicU64 = AtomicU64::new(0);

#[memoize(ttl = 60)]
fn balance(account: u64) -> (u64, u64) {
    (account, VERSION.fetch_add(1, Ordering::SeqCst) + 1)
}

#[memoize]
fn statement(account: u64) -> Vec<(u64, u64)> {
    vec![balance(account), balance(account + 1)]
}

/// Used by one test only, so its statistics are that test's.
#[memoize(ttl = 60)]
fn quote(symbol: u64) -> (u64, u64) {
    (symbol, VERSION.fetch_add(1, Ordering::SeqCst) + 1)
}

#[test]
fn inside_a_bypass_the_body_runs_and_the_cache_is_untouched() {
    let cached = quote(1);
    let fresh = bypass(|| quote(1));
    assert_ne!(fresh, cached, "the body ran again inside the bypass");
    assert_eq!(
        quote(1),
        cached,
        "the fresh value did not replace the entry"
    );

    let cold = bypass(|| quote(2));
    let after = quote(2);
    assert_ne!(
        after, cold,
        "a value computed inside a bypass was not stored"
    );
    let stats = quote_cache().stats();
    assert_eq!(
        (stats.hits, stats.misses),
        (1, 2),
        "the bypassed calls were not counted"
    );
}

#[test]
fn a_bypass_reaches_nested_calls_and_ends_with_its_closure() {
    let outer = statement(10);
    let fresh = bypass(|| statement(10));
    assert_ne!(
        fresh, outer,
        "outer and inner functions both ran their bodies"
    );
    assert_ne!(
        fresh[0],
        balance(10),
        "the inner calls were not stored either"
    );
    assert_eq!(
        statement(10),
        outer,
        "after the bypass, calls are cached again"
    );

    // A panic inside ends the bypass as it unwinds.
    let caught = std::panic::catch_unwind(|| bypass(|| -> u64 { panic!("inside") }));
    assert!(caught.is_err());
    assert_eq!(statement(10), outer);
}

#[test]
fn a_bypass_on_one_thread_leaves_other_threads_caching() {
    let cached = balance(20);
    let (entered, wait_entered) = mpsc::channel();
    let (done, wait_done) = mpsc::channel::<()>();
    let bypassing = std::thread::spawn(move || {
        bypass(|| {
            entered.send(()).unwrap();
            wait_done.recv().unwrap(); // Stay inside until the other thread has called.
            balance(20)
        })
    });
    wait_entered.recv().unwrap();
    assert_eq!(balance(20), cached, "this thread is not bypassed: a hit");
    done.send(()).unwrap();
    assert_ne!(bypassing.join().unwrap(), cached, "that thread was");
}

static PRICE_RUNS: AtomicU64 = AtomicU64::new(0);

#[memoize(ttl = 60)]
async fn price(item: u64) -> (u64, u64) {
    (item, PRICE_RUNS.fetch_add(1, Ordering::SeqCst) + 1)
}

#[tokio::test]
async fn bypass_async_is_scoped_to_its_future_not_its_thread() {
    let cached = price(1).await;
    // One thread, two tasks: the bypassed one is parked on a channel while the other calls.
    let (entered, wait_entered) = tokio::sync::oneshot::channel::<()>();
    let (resume, parked) = tokio::sync::oneshot::channel::<()>();
    let bypassed = tokio::spawn(bypass_async(async move {
        entered.send(()).unwrap();
        parked.await.unwrap();
        price(1).await
    }));
    wait_entered.await.unwrap(); // The bypassed task is inside its bypass, parked.
    assert_eq!(price(1).await, cached, "a task outside the bypass hits");
    resume.send(()).unwrap();
    let fresh = bypassed.await.unwrap();
    assert_ne!(fresh, cached, "the bypassed task ran the body");
    assert_eq!(price(1).await, cached, "and did not replace the entry");
    assert_eq!(PRICE_RUNS.load(Ordering::SeqCst), 2);

    // Tasks spawned inside a bypass are tasks of their own: they cache.
    let spawned = bypass_async(async { tokio::spawn(price(1)).await.unwrap() }).await;
    assert_eq!(spawned, cached);
}

static SHARED_RUNS: AtomicU64 = AtomicU64::new(0);

#[memoize(ttl = 60, backend = "redis")]
fn shared(id: u64) -> (u64, u64) {
    (id, SHARED_RUNS.fetch_add(1, Ordering::SeqCst) + 1)
}

#[memoize(ttl = 60, backend = "redis")]
async fn shared_async(id: u64) -> (u64, u64) {
    (id, SHARED_RUNS.fetch_add(1, Ordering::SeqCst) + 1)
}

#[test]
fn a_bypass_skips_the_redis_backend_too() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    let config = RedisConfig::new().url(server.url()).namespace("bypass");
    shared_cache().configure(config.clone());
    shared_async_cache().configure(config);

    let cached = shared(1);
    assert_ne!(bypass(|| shared(1)), cached);
    assert_eq!(shared(1), cached);
    let stats = shared_cache().stats();
    assert_eq!((stats.hits, stats.misses), (1, 1));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let cached = shared_async(2).await;
        assert_ne!(bypass_async(shared_async(2)).await, cached);
        assert_eq!(shared_async(2).await, cached);
    });
    assert_eq!(
        shared_cache().len(),
        Some(1),
        "nothing written inside the bypass"
    );
    assert_eq!(shared_async_cache().len(), Some(1));
}
