//! Async memoized functions: companions are async, waiters await, and a leader that panics or is
//! cancelled releases them.

use std::sync::atomic::{AtomicUsize, Ordering};

use cachemacro_runtime::memoize;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap()
}

static PRICE_RUNS: AtomicUsize = AtomicUsize::new(0);
#[memoize(ttl = "5s")]
async fn price(symbol: String) -> Result<f64, String> {
    PRICE_RUNS.fetch_add(1, Ordering::SeqCst);
    match symbol.as_str() {
        "" => Err("empty symbol".into()),
        _ => Ok(symbol.len() as f64),
    }
}

#[test]
fn async_companions_are_async_and_behave_like_the_sync_ones() {
    runtime().block_on(async {
        assert_eq!(price("ab".into()).await, Ok(2.0));
        assert_eq!(price("ab".into()).await, Ok(2.0));
        assert_eq!(PRICE_RUNS.load(Ordering::SeqCst), 1);

        assert_eq!(price_uncached("ab".into()).await, Ok(2.0));
        assert_eq!(PRICE_RUNS.load(Ordering::SeqCst), 2);

        assert_eq!(price_refresh("abc".into()).await, Ok(3.0));
        assert_eq!(price("abc".into()).await, Ok(3.0));
        assert_eq!(
            PRICE_RUNS.load(Ordering::SeqCst),
            3,
            "refresh primed the entry"
        );

        assert!(price_invalidate("abc".into()).await);
        assert!(!price_invalidate("abc".into()).await);

        assert!(price(String::new()).await.is_err());
        assert!(price(String::new()).await.is_err());
        assert_eq!(PRICE_RUNS.load(Ordering::SeqCst), 5, "Err is not cached");

        let stats = price_cache().stats();
        assert_eq!((stats.hits, stats.misses), (2, 3));
    });
}

static ARRIVED: AtomicUsize = AtomicUsize::new(0);
static PANICKY_RUNS: AtomicUsize = AtomicUsize::new(0);
#[memoize]
async fn panicky(key: u32) -> u32 {
    if PANICKY_RUNS.fetch_add(1, Ordering::SeqCst) == 0 {
        while ARRIVED.load(Ordering::SeqCst) < 8 {
            tokio::task::yield_now().await;
        }
        panic!("the first run fails");
    }
    key * 2
}

#[test]
fn a_panicking_async_body_releases_the_waiting_tasks() {
    let results = runtime().block_on(async {
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                tokio::spawn(async {
                    ARRIVED.fetch_add(1, Ordering::SeqCst);
                    panicky(21).await
                })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.ok());
        }
        results
    });
    assert_eq!(results.iter().filter(|r| r.is_none()).count(), 1);
    assert!(results.iter().flatten().all(|v| *v == 42));
    assert_eq!(PANICKY_RUNS.load(Ordering::SeqCst), 2);
}

static STARTED: AtomicUsize = AtomicUsize::new(0);
static SLOW_RUNS: AtomicUsize = AtomicUsize::new(0);
#[memoize]
async fn slow(key: u32) -> u32 {
    let run = SLOW_RUNS.fetch_add(1, Ordering::SeqCst);
    STARTED.fetch_add(1, Ordering::SeqCst);
    if run == 0 {
        // The first run never finishes: the test cancels it.
        std::future::pending::<()>().await;
    }
    key + 1
}

#[test]
fn a_cancelled_leader_releases_the_waiting_tasks() {
    let value = runtime().block_on(async {
        let leader = tokio::spawn(slow(1));
        while STARTED.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let waiter = tokio::spawn(slow(1));
        // The waiter is blocked behind the leader until the leader's future is dropped.
        leader.abort();
        waiter.await.unwrap()
    });
    assert_eq!(value, 2);
    assert_eq!(SLOW_RUNS.load(Ordering::SeqCst), 2);
}
