//! `f_warm(items)`: computes and stores what is missing, a bounded number at a time, and reports
//! what it did; a failure does not stop the rest.

#[path = "support/deadline.rs"]
mod deadline;
#[path = "support/gate.rs"]
mod gate;
#[path = "support/redis_server.rs"]
mod redis_server;

use std::borrow::Cow;
use std::rc::Rc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use cachemacro_runtime::{RedisConfig, WarmReport, bypass, clock, memoize};
use gate::Gate;
use redis_server::RedisServer;

fn runs(counter: &AtomicUsize) -> usize {
    counter.load(Ordering::SeqCst)
}

fn report(stored: usize, present: usize, failed: usize) -> (usize, usize, usize) {
    (stored, present, failed)
}

fn counts(report: WarmReport) -> (usize, usize, usize) {
    (report.stored, report.present, report.failed)
}

static GREETING_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60)]
fn greeting(id: u64, locale: &str) -> String {
    GREETING_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{locale}:{id}")
}

#[test]
fn warming_stores_what_is_missing_and_leaves_what_is_there() {
    assert_eq!(greeting(1, "en"), "en:1");
    let warmed = greeting_warm((1..=50).map(|id| (id, "en")));
    assert_eq!(counts(warmed), report(49, 1, 0));
    assert_eq!(warmed.total(), 50);
    assert_eq!(runs(&GREETING_RUNS), 50, "each missing item computed once");
    assert_eq!(greeting_cache().len(), Some(50));

    // Warmed entries are ordinary entries: calls hit them.
    let hits = greeting_cache().stats().hits;
    assert_eq!(greeting(30, "en"), "en:30");
    assert_eq!(greeting_cache().stats().hits, hits + 1);
    assert_eq!(runs(&GREETING_RUNS), 50);

    // Items borrowed from owned data.
    let locales = ["fr".to_string(), "de".to_string()];
    let warmed = greeting_warm(locales.iter().map(|locale| (1, locale.as_str())));
    assert_eq!(counts(warmed), report(2, 0, 0));
    assert_eq!(greeting(1, "de"), "de:1");
    assert_eq!(runs(&GREETING_RUNS), 52);
}

static FLAKY_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize]
fn flaky(n: u32) -> Result<u32, String> {
    FLAKY_RUNS.fetch_add(1, Ordering::SeqCst);
    match n % 10 {
        3 => Err(format!("{n} failed")),
        7 => panic!("{n} panicked"),
        _ => Ok(n),
    }
}

#[test]
fn failures_are_counted_and_do_not_stop_the_rest() {
    let warmed = flaky_warm(0..100);
    assert_eq!(
        counts(warmed),
        report(80, 0, 20),
        "errors and panics failed"
    );
    assert_eq!(runs(&FLAKY_RUNS), 100, "every item ran");
    assert_eq!(
        flaky_cache().len(),
        Some(80),
        "only the Ok values are stored"
    );
    assert_eq!(flaky(5), Ok(5));
    assert_eq!(runs(&FLAKY_RUNS), 100, "a hit");
}

#[memoize]
fn inner_half(n: u32) -> u32 {
    n / 2
}

/// Stores only even results; its body misses another memoized function first.
#[memoize(cache_none = false)]
fn outer_even(n: u32) -> Option<u32> {
    let half = inner_half(n);
    n.is_multiple_of(2).then_some(half)
}

#[test]
fn an_item_reports_its_own_outcome_not_that_of_a_call_inside_its_body() {
    // A sync free function's `f_warm` calls the function and observes its miss; the inner
    // function's misses (stored) come first and must not count for the outer item.
    let warmed = outer_even_warm(0..10);
    assert_eq!(
        counts(warmed),
        report(5, 0, 5),
        "the odd items are not stored"
    );
    assert_eq!(inner_half_cache().len(), Some(10));
    assert_eq!(outer_even_cache().len(), Some(5));
    assert_eq!(counts(outer_even_warm(0..4)), report(0, 2, 2));
}

static WARMS_ITSELF_RUNS: AtomicUsize = AtomicUsize::new(0);
static WARMS_ITSELF_REPORT: Mutex<Option<(usize, usize, usize)>> = Mutex::new(None);

/// Its first run warms its own key and the next one, from inside its own computation.
#[memoize]
fn warms_itself(k: u64) -> u64 {
    if WARMS_ITSELF_RUNS.fetch_add(1, Ordering::SeqCst) == 0 {
        let warmed = warms_itself_warm([k, k + 1]);
        *WARMS_ITSELF_REPORT.lock().unwrap() = Some(counts(warmed));
    }
    k
}

#[test]
fn a_body_that_warms_its_own_key_does_not_wait_for_itself() {
    // On worker threads, the item of the key being computed would wait for this computation,
    // which waits for the workers. From inside a body, items are warmed on the caller's thread,
    // where that item runs uncached, as a call made inside its own computation does.
    let value = deadline::within("warms_itself", Duration::from_secs(10), || warms_itself(3));
    assert_eq!(value, 3);
    assert_eq!(
        *WARMS_ITSELF_REPORT.lock().unwrap(),
        Some(report(1, 0, 1)),
        "the next key stored; its own key computed uncached, so not stored"
    );
    assert_eq!(runs(&WARMS_ITSELF_RUNS), 3);
    assert_eq!(warms_itself_cache().len(), Some(2));
}

#[memoize]
fn normalized(query: &str) -> String {
    query.trim().to_lowercase()
}

#[memoize(key = normalized(query))]
fn search(query: &str) -> usize {
    query.len()
}

#[test]
fn an_item_is_not_credited_with_a_miss_made_by_its_key() {
    assert_eq!(counts(search_warm(["Abc"])), report(1, 0, 0));
    // The key misses `normalized(" abc ")` (stored), then `search` hits.
    assert_eq!(counts(search_warm([" abc "])), report(0, 1, 0));
}

#[memoize]
fn items(n: u32) -> u32 {
    n + 1
}

#[test]
fn a_function_named_items_warms() {
    assert_eq!(counts(items_warm(0..3)), report(3, 0, 0));
    assert_eq!(items(2), 3);
}

#[cfg(target_arch = "x86_64")]
#[memoize]
#[target_feature(enable = "sse2")]
fn with_feature(n: u32) -> u32 {
    n * 3
}

#[cfg(target_arch = "x86_64")]
#[test]
fn a_target_feature_function_warms() {
    // `f_warm` runs the body, so it has the function's features and is called as it is.
    // SAFETY: every x86_64 CPU has SSE2.
    unsafe {
        assert_eq!(counts(with_feature_warm(0..3)), report(3, 0, 0));
        assert_eq!(counts(with_feature_warm(0..4)), report(1, 3, 0));
    }
}

static SLOW_RUNS: AtomicUsize = AtomicUsize::new(0);
static SLOW_RUNNING: AtomicUsize = AtomicUsize::new(0);
static SLOW_MOST: AtomicUsize = AtomicUsize::new(0);
static SLOW_GATE: Gate = Gate::new();

/// The default refresh pool bound: `RefreshConfig::workers`.
const WORKERS: usize = 4;

#[memoize]
fn slow(n: u32) -> u32 {
    SLOW_RUNS.fetch_add(1, Ordering::SeqCst);
    let running = SLOW_RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
    SLOW_MOST.fetch_max(running, Ordering::SeqCst);
    SLOW_GATE.pass();
    SLOW_RUNNING.fetch_sub(1, Ordering::SeqCst);
    n
}

/// Waits, with a deadline for failure only, until `condition` holds.
fn wait_for(mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out");
        std::thread::yield_now();
    }
}

#[test]
fn sync_warming_runs_up_to_the_pool_bound_at_once() {
    SLOW_GATE.set(false);
    let warming = std::thread::spawn(|| slow_warm(0..40));
    // The first `WORKERS` items are in their bodies, held at the gate: warming is concurrent...
    wait_for(|| SLOW_RUNNING.load(Ordering::SeqCst) == WORKERS);
    SLOW_GATE.set(true);
    let warmed = warming.join().unwrap();
    assert_eq!(counts(warmed), report(40, 0, 0));
    // ...and bounded.
    assert_eq!(SLOW_MOST.load(Ordering::SeqCst), WORKERS);
    assert_eq!(runs(&SLOW_RUNS), 40);
}

struct Repo {
    table: &'static str,
    log: Mutex<Vec<String>>,
}

static COUNT_RUNS: AtomicUsize = AtomicUsize::new(0);

impl Repo {
    #[memoize(ignore = [self, note])]
    fn count(&self, filter: Cow<str>, note: &str) -> usize {
        COUNT_RUNS.fetch_add(1, Ordering::SeqCst);
        self.log
            .lock()
            .unwrap()
            .push(format!("{}:{filter}:{note}", self.table));
        filter.len()
    }
}

#[test]
fn methods_warm_with_self_and_every_argument() {
    let repo = Repo {
        table: "users",
        log: Mutex::new(Vec::new()),
    };
    let warmed = repo.count_warm([
        (Cow::Borrowed("a"), "warm-up"),
        (Cow::Owned("bb".to_string()), "warm-up"),
        (Cow::Borrowed("a"), "again"),
    ]);
    // The third item has the key of the first (`note` is ignored); which one computes depends
    // on which worker gets there first, so only the totals are fixed.
    assert_eq!(warmed.total(), 3);
    assert_eq!(warmed.stored, 2);
    assert_eq!(runs(&COUNT_RUNS), 2);
    assert_eq!(repo.count(Cow::Borrowed("bb"), "call"), 2);
    assert_eq!(runs(&COUNT_RUNS), 2, "a hit");
    assert!(
        repo.log
            .lock()
            .unwrap()
            .iter()
            .all(|line| line.starts_with("users:"))
    );
}

/// A sync function whose arguments are not `Send` still compiles; only its `f_warm` could not be
/// called (its items cannot go to other threads).
#[memoize]
fn rc_len(text: Rc<str>) -> usize {
    text.len()
}

#[test]
fn functions_with_arguments_that_cannot_be_sent_still_compile() {
    assert_eq!(rc_len(Rc::from("four")), 4);
}

static LABEL_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize]
fn label(id: u64) -> String {
    LABEL_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("#{id}")
}

#[test]
fn inside_a_bypass_warming_stores_nothing() {
    let warmed = bypass(|| label_warm([1, 2]));
    assert_eq!(counts(warmed), report(0, 0, 2));
    assert_eq!(runs(&LABEL_RUNS), 0, "no body ran");
    assert_eq!(label_cache().len(), Some(0));
}

static PRICE_RUNS: AtomicUsize = AtomicUsize::new(0);
static PRICE_RUNNING: AtomicUsize = AtomicUsize::new(0);
static PRICE_MOST: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60)]
async fn price(symbol: String, scale: Rc<u32>) -> u64 {
    PRICE_RUNS.fetch_add(1, Ordering::SeqCst);
    let running = PRICE_RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
    PRICE_MOST.fetch_max(running, Ordering::SeqCst);
    // Every item yields once while "running", so the warm-up polls others meanwhile.
    tokio::task::yield_now().await;
    PRICE_RUNNING.fetch_sub(1, Ordering::SeqCst);
    symbol.len() as u64 * u64::from(*scale)
}

#[tokio::test]
async fn async_warming_polls_up_to_the_bound_in_the_callers_task() {
    let scale = Rc::new(10); // Not `Send`: async warm-up stays in this task.
    let symbols: Vec<String> = (0..20).map(|n| format!("S{n}")).collect();
    let warmed = price_warm(symbols.iter().map(|s| (s.clone(), scale.clone()))).await;
    assert_eq!(counts(warmed), report(20, 0, 0));
    assert_eq!(
        PRICE_MOST.load(Ordering::SeqCst),
        WORKERS,
        "concurrent, and bounded"
    );
    assert_eq!(price("S7".to_string(), scale.clone()).await, 20);
    assert_eq!(runs(&PRICE_RUNS), 20, "a hit");
    let again = price_warm([("S7".to_string(), scale)]).await;
    assert_eq!(counts(again), report(0, 1, 0));
}

static SHARED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, backend = "redis")]
fn shared(id: u64) -> Option<u64> {
    SHARED_RUNS.fetch_add(1, Ordering::SeqCst);
    id.is_multiple_of(2).then_some(id)
}

#[test]
fn warming_a_redis_backed_function() {
    let Some(mut server) = RedisServer::start() else {
        return;
    };
    shared_cache().configure(RedisConfig::new().url(server.url()).namespace("warm"));
    assert_eq!(
        counts(shared_warm(0..10)),
        report(10, 0, 0),
        "None is cached too"
    );
    assert_eq!(counts(shared_warm(5..15)), report(5, 5, 0));
    assert_eq!(shared_cache().len(), Some(15));
    assert_eq!(runs(&SHARED_RUNS), 15);

    // With Redis gone, values are computed but cannot be stored: failures, not lies.
    server.kill();
    let warmed = shared_warm(100..103);
    assert_eq!(counts(warmed), report(0, 0, 3));
    assert!(shared_cache().stats().errors >= 1);
}

static FLEET_RUNS: AtomicUsize = AtomicUsize::new(0);

// Two functions with one `name` stand for one function in two processes: they share entries and
// locks in Redis, but not in-process flights.
#[memoize(ttl = 60, backend = "redis", name = "fleet")]
fn fleet_a(id: u32) -> u32 {
    FLEET_RUNS.fetch_add(1, Ordering::SeqCst);
    id + 1
}

#[memoize(ttl = 60, backend = "redis", name = "fleet")]
fn fleet_b(id: u32) -> u32 {
    FLEET_RUNS.fetch_add(1, Ordering::SeqCst);
    id + 1
}

#[test]
fn two_processes_warming_at_once_compute_each_item_once() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    // A generous timeout: on a loaded machine one slow reply would fail open and compute twice.
    let config = RedisConfig::new()
        .url(server.url())
        .namespace("fleet")
        .timeout(Duration::from_secs(5));
    fleet_a_cache().configure(config.clone());
    fleet_b_cache().configure(config);
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| fleet_a_warm(0..40));
        let b = scope.spawn(|| fleet_b_warm(0..40));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!((a.failed, b.failed), (0, 0));
    assert_eq!(a.stored + b.stored, 40, "each item stored by one of them");
    assert_eq!(a.present + b.present, 40, "and found by the other");
    assert_eq!(runs(&FLEET_RUNS), 40, "each body ran once in all");
    assert_eq!(fleet_b(7), 8);
}

#[memoize(ttl = 60)]
async fn tag(id: u64, label: &str) -> String {
    format!("{label}{id}")
}

#[tokio::test]
async fn an_async_warm_up_can_be_spawned() {
    // Compiles only if `tag_warm`'s future is `Send`.
    let warming = tokio::spawn(tag_warm((0..10).map(|id| (id, "t"))));
    assert_eq!(counts(warming.await.unwrap()), report(10, 0, 0));
}

static STALE_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, refresh = "background", refresh_after = 1)]
fn stale(id: u32) -> u32 {
    STALE_RUNS.fetch_add(1, Ordering::SeqCst);
    id
}

#[test]
fn warming_a_stale_entry_leaves_its_refresh_to_the_next_call() {
    clock::pause();
    assert_eq!(stale(1), 1);
    clock::advance(Duration::from_secs(2));
    assert_eq!(
        counts(stale_warm([1])),
        report(0, 1, 0),
        "present, though stale"
    );
    assert_eq!(stale_cache().stats().refreshes_started, 0);
    // The next call schedules the refresh that warming declined.
    assert_eq!(stale(1), 1);
    wait_for(|| stale_cache().stats().refreshes_updated == 1);
    assert_eq!(runs(&STALE_RUNS), 2);
}

static BYPASSED_RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize]
async fn bypassed_label(id: u64) -> String {
    BYPASSED_RUNS.fetch_add(1, Ordering::SeqCst);
    format!("#{id}")
}

#[tokio::test]
async fn inside_bypass_async_warming_stores_nothing() {
    let warmed = cachemacro_runtime::bypass_async(bypassed_label_warm([1, 2, 3])).await;
    assert_eq!(counts(warmed), report(0, 0, 3));
    assert_eq!(runs(&BYPASSED_RUNS), 0, "no body ran");
    assert_eq!(bypassed_label_cache().len(), Some(0));
}
