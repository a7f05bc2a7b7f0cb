//! TTL expiry on the controllable clock: entries are served until their `ttl` and never after.
//!
//! The clock is process-wide, so these tests hold one lock while they move it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use cachemacro_runtime::{clock, memoize};

static CLOCK: Mutex<()> = Mutex::new(());

/// Pauses the clock for one test at a time.
fn manual_clock() -> MutexGuard<'static, ()> {
    let guard = CLOCK.lock().unwrap_or_else(|poison| poison.into_inner());
    clock::pause();
    guard
}

static SECONDS_RUNS: AtomicUsize = AtomicUsize::new(0);
#[memoize(ttl = 60)]
fn seconds(x: u32) -> u32 {
    SECONDS_RUNS.fetch_add(1, Ordering::SeqCst) as u32 + x
}

#[test]
fn entries_are_served_until_ttl_and_never_after() {
    let _clock = manual_clock();
    let first = seconds(1);
    clock::advance(Duration::from_millis(59_999));
    assert_eq!(seconds(1), first, "younger than ttl: a hit");
    assert_eq!(SECONDS_RUNS.load(Ordering::SeqCst), 1);
    clock::advance(Duration::from_millis(1));
    let second = seconds(1);
    assert_ne!(second, first, "as old as ttl: recomputed");
    assert_eq!(SECONDS_RUNS.load(Ordering::SeqCst), 2);
    let stats = seconds_cache().stats();
    assert_eq!(stats.expirations, 1);
    assert_eq!((stats.hits, stats.misses), (1, 2));
    assert_eq!(seconds(1), second, "the new entry is fresh");
}

static UNIT_RUNS: AtomicUsize = AtomicUsize::new(0);
#[memoize(ttl = "250ms")]
fn short_lived(x: u32) -> u32 {
    UNIT_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn duration_strings_set_the_ttl() {
    let _clock = manual_clock();
    short_lived(1);
    clock::advance(Duration::from_millis(249));
    short_lived(1);
    assert_eq!(UNIT_RUNS.load(Ordering::SeqCst), 1);
    clock::advance(Duration::from_millis(1));
    short_lived(1);
    assert_eq!(UNIT_RUNS.load(Ordering::SeqCst), 2);
}

static REFRESHED_RUNS: AtomicUsize = AtomicUsize::new(0);
#[memoize(ttl = "10s")]
fn refreshed(x: u32) -> usize {
    REFRESHED_RUNS.fetch_add(1, Ordering::SeqCst) + x as usize
}

#[test]
fn refresh_restarts_the_ttl_and_invalidate_ignores_expired_entries() {
    let _clock = manual_clock();
    refreshed(0);
    clock::advance(Duration::from_secs(9));
    refreshed_refresh(0);
    clock::advance(Duration::from_secs(9));
    refreshed(0);
    assert_eq!(
        REFRESHED_RUNS.load(Ordering::SeqCst),
        2,
        "refreshed 9 s ago: still live"
    );
    clock::advance(Duration::from_secs(1));
    assert!(
        !refreshed_invalidate(0),
        "an expired entry does not count as removed"
    );
}

static NO_TTL_RUNS: AtomicUsize = AtomicUsize::new(0);
#[memoize]
fn forever(x: u32) -> u32 {
    NO_TTL_RUNS.fetch_add(1, Ordering::SeqCst);
    x
}

#[test]
fn without_ttl_entries_never_expire() {
    let _clock = manual_clock();
    forever(1);
    clock::advance(Duration::from_secs(10 * 365 * 86_400));
    forever(1);
    assert_eq!(NO_TTL_RUNS.load(Ordering::SeqCst), 1);
}

static ASYNC_RUNS: AtomicUsize = AtomicUsize::new(0);
#[memoize(ttl = "5s")]
async fn quote(symbol: String) -> f64 {
    ASYNC_RUNS.fetch_add(1, Ordering::SeqCst);
    symbol.len() as f64
}

#[test]
fn async_functions_expire_too() {
    let _clock = manual_clock();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        assert_eq!(quote("abc".into()).await, 3.0);
        clock::advance(Duration::from_millis(4_999));
        assert_eq!(quote("abc".into()).await, 3.0);
        assert_eq!(ASYNC_RUNS.load(Ordering::SeqCst), 1);
        clock::advance(Duration::from_millis(1));
        assert_eq!(quote("abc".into()).await, 3.0);
        assert_eq!(ASYNC_RUNS.load(Ordering::SeqCst), 2);
    });
}
