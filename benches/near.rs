//! The near tier (`near = N`) on a `redis-server` of its own (loopback, no persistence).
//!
//! 1. A near hit against an in-process (`backend = "memory"`) hit of the same function, in
//!    alternating blocks (see `support/paired.rs`); `INFO commandstats` shows that the near hits
//!    sent no `GET`. Target: at most 1.5x the time.
//! 2. Propagation: a writer process (this binary again, `NEAR_BENCH_WRITER=1`) stores values
//!    1, 2, ... 10,000 under one key with `f_refresh`, each after the previous write's reply;
//!    this process reads the key in a loop through a near tier. For each write: the time from its
//!    reply to this process' first read returning it (or a newer value): p50/p99/max (target: p99
//!    at most 5 ms), and the reads that returned a value older than the one a write replied
//!    before the read began had replaced (value `v` read after write `v + 2` replied).
//! 3. The same while a thread kills the tracking connection (`CLIENT KILL ID`) every 10 ms: the
//!    reads that returned a value overwritten more than 50 ms before they began (target: 0).
//!
//! Timestamps are the system's real-time clock, which both processes read. Run with
//! `cargo bench --bench near`; results in BENCHMARKS.md.

#[path = "support/paired.rs"]
mod paired;
#[path = "../tests/support/redis_server.rs"]
mod redis_server;

use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cachemacro_runtime::{RedisConfig, memoize};
use redis_server::{RedisServer, eventually};

const NAMESPACE: &str = "nearbench";
const WRITES: u64 = 10_000;
const WRITER_VAR: &str = "NEAR_BENCH_WRITER";
const URL_VAR: &str = "NEAR_BENCH_URL";
const KEYS: u64 = 100;

#[memoize(backend = "redis", near = 1_000, name = "near_bench_hit")]
fn near_hit(id: u64) -> (u64, u64) {
    (id, id * 2)
}

#[memoize(capacity = 1_000)]
fn memory_hit(id: u64) -> (u64, u64) {
    (id, id * 2)
}

/// The value the writer stores next.
static NEXT: AtomicU64 = AtomicU64::new(0);

/// The writer's side: no near tier, so each `f_refresh` is one `SET` and its reply.
#[memoize(backend = "redis", name = "near_bench_counter")]
fn counter_written(key: u64) -> u64 {
    let _ = key;
    NEXT.load(Ordering::SeqCst)
}

/// The reader's side. The writer has stored the key before the reader starts, so the body runs
/// only if Redis cannot be reached.
#[memoize(
    backend = "redis",
    near = 16,
    name = "near_bench_counter",
    lock = "none"
)]
fn counter_read(key: u64) -> u64 {
    let _ = key;
    0
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64)
}

fn config(url: &str) -> RedisConfig {
    RedisConfig::new()
        .url(url)
        .namespace(NAMESPACE)
        .timeout(Duration::from_secs(1))
}

fn main() {
    if std::env::var_os(WRITER_VAR).is_some() {
        return writer();
    }
    let Some(server) = RedisServer::start() else {
        eprintln!("near bench: no redis-server");
        return;
    };
    hits(&server);
    let quiet = propagation(&server, false);
    let killed = propagation(&server, true);
    println!("propagation without kills: {quiet}");
    println!("propagation with kills: {killed}");
}

fn gets(admin: &mut redis::Connection) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query(admin)
        .expect("INFO answers");
    info.lines()
        .find_map(|line| line.strip_prefix("cmdstat_get:calls="))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |count| count.parse().expect("a count"))
}

/// Part 1: near hit against in-process hit, paired.
fn hits(server: &RedisServer) {
    const ROUNDS: usize = 41;
    const PASSES: u64 = 100;
    near_hit_cache().configure(config(&server.url()));
    for id in 0..KEYS {
        memory_hit(id);
    }
    let all_near = || {
        let before = near_hit_cache().stats().near_hits;
        (0..KEYS).for_each(|id| {
            near_hit(id);
        });
        near_hit_cache().stats().near_hits - before == KEYS
    };
    assert!(
        eventually(Duration::from_secs(10), all_near),
        "every key becomes a near hit"
    );
    let block = |f: fn(u64) -> (u64, u64)| {
        move || {
            for _ in 0..PASSES {
                for id in 0..KEYS {
                    black_box(f(black_box(id)));
                }
            }
        }
    };
    let (near, memory) = (block(near_hit), block(memory_hit));
    let mut admin = server.client();
    let (gets_before, near_before) = (gets(&mut admin), near_hit_cache().stats().near_hits);
    let ratio = paired::median_ratio(ROUNDS, &near, &memory);
    let per_hit = |f: &dyn Fn()| {
        let mut times: Vec<f64> = (0..ROUNDS)
            .map(|_| {
                let started = Instant::now();
                f();
                started.elapsed().as_secs_f64() * 1e9 / (PASSES * KEYS) as f64
            })
            .collect();
        times.sort_by(f64::total_cmp);
        times[ROUNDS / 2]
    };
    let (near_ns, memory_ns) = (per_hit(&near), per_hit(&memory));
    let sent = gets(&mut admin) - gets_before;
    let near_hits = near_hit_cache().stats().near_hits - near_before;
    println!(
        "hit: near {near_ns:.1} ns, memory {memory_ns:.1} ns (medians of {ROUNDS} blocks of {} calls)",
        PASSES * KEYS
    );
    println!("paired: near hit time / memory hit time = {ratio:.3} (target <= 1.5)");
    println!(
        "near hits during the measurement: {near_hits}, GETs Redis received meanwhile: {sent}"
    );
}

/// The writer process: stores 1..=WRITES, printing each write's reply time.
fn writer() {
    let url = std::env::var(URL_VAR).expect("the URL");
    counter_written_cache().configure(config(&url));
    let mut replies = Vec::with_capacity(WRITES as usize);
    for value in 1..=WRITES {
        NEXT.store(value, Ordering::SeqCst);
        counter_written_refresh(0);
        replies.push(now_ns());
    }
    let stats = counter_written_cache().stats();
    assert_eq!(stats.errors, 0, "the writer's writes all succeeded");
    for reply in replies {
        println!("{reply}");
    }
}

/// Consecutive reads that returned one value.
struct Run {
    value: u64,
    /// When the first of them returned.
    first_end: u64,
    /// When the last of them began.
    last_start: u64,
}

struct Report {
    p50_us: f64,
    p99_us: f64,
    max_us: f64,
    reads: u64,
    near_hits: u64,
    older_than_replaced: usize,
    overwritten_50ms_before: usize,
    kills: u64,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.0} us, p99 {:.0} us, max {:.0} us over {WRITES} writes; {} reads ({} near hits); \
             runs of reads of a value older than the one replaced: {}; overwritten > 50 ms before: {}; \
             tracking connections killed: {}",
            self.p50_us,
            self.p99_us,
            self.max_us,
            self.reads,
            self.near_hits,
            self.older_than_replaced,
            self.overwritten_50ms_before,
            self.kills
        )
    }
}

fn tracking_client(admin: &mut redis::Connection) -> Option<u64> {
    let list: String = redis::cmd("CLIENT").arg("LIST").query(admin).ok()?;
    list.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(' ').collect();
        let flags = fields.iter().find_map(|f| f.strip_prefix("flags="))?;
        flags
            .contains('t')
            .then(|| fields.iter().find_map(|f| f.strip_prefix("id=")))
            .flatten()
            .and_then(|id| id.parse().ok())
    })
}

/// Parts 2 and 3: a writer process, this process reading; with `kill`, a thread kills the
/// tracking connection every 10 ms.
fn propagation(server: &RedisServer, kill: bool) -> Report {
    let url = server.url();
    counter_read_cache().configure(config(&url));
    // The key exists before the reader starts.
    counter_written_cache().configure(config(&url));
    NEXT.store(0, Ordering::SeqCst);
    counter_written_refresh(0);
    assert!(
        eventually(Duration::from_secs(10), || {
            let before = counter_read_cache().stats().near_hits;
            counter_read(0) == 0 && counter_read_cache().stats().near_hits > before
        }),
        "the reader's near tier holds the key"
    );

    let done = Arc::new(AtomicBool::new(false));
    let kills = Arc::new(AtomicU64::new(0));
    let killer = kill.then(|| {
        let (done, kills, mut admin) = (done.clone(), kills.clone(), server.client());
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                if let Some(id) = tracking_client(&mut admin) {
                    let killed: redis::RedisResult<u64> = redis::cmd("CLIENT")
                        .arg("KILL")
                        .arg("ID")
                        .arg(id)
                        .query(&mut admin);
                    if killed == Ok(1) {
                        kills.fetch_add(1, Ordering::SeqCst);
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    });

    let mut child = Command::new(std::env::current_exe().expect("this binary"))
        .env(WRITER_VAR, "1")
        .env(URL_VAR, &url)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the writer starts");
    let stdout = child.stdout.take().expect("piped");
    let finished = Arc::new(AtomicBool::new(false));
    let reading = {
        let finished = finished.clone();
        std::thread::spawn(move || {
            let replies: Vec<u64> = BufReader::new(stdout)
                .lines()
                .map(|line| line.expect("a line").parse().expect("a time"))
                .collect();
            finished.store(true, Ordering::SeqCst);
            replies
        })
    };

    let near_before = counter_read_cache().stats().near_hits;
    let mut runs: Vec<Run> = Vec::with_capacity(100_000);
    let mut reads = 0u64;
    while !finished.load(Ordering::Relaxed) {
        let start = now_ns();
        let value = counter_read(0);
        let end = now_ns();
        reads += 1;
        match runs.last_mut() {
            Some(run) if run.value == value => run.last_start = start,
            _ => runs.push(Run {
                value,
                first_end: end,
                last_start: start,
            }),
        }
    }
    let replies = reading.join().expect("the reader thread");
    assert!(child.wait().expect("the writer ends").success());
    done.store(true, Ordering::SeqCst);
    if let Some(killer) = killer {
        killer.join().expect("the killer thread");
    }
    assert_eq!(replies.len() as u64, WRITES, "every write replied");
    let near_hits = counter_read_cache().stats().near_hits - near_before;

    // `reply[v]`: when the write of value `v` replied (values start at 1).
    let reply = |value: u64| replies[(value - 1) as usize];
    // The earliest run returning `value` or newer: the running maximum only grows.
    let mut prefix_max = Vec::with_capacity(runs.len());
    let mut max = 0;
    for run in &runs {
        max = max.max(run.value);
        prefix_max.push(max);
    }
    let mut latencies: Vec<u64> = (1..=WRITES)
        .filter_map(|value| {
            let first = prefix_max.partition_point(|&seen| seen < value);
            let run = runs.get(first)?;
            Some(run.first_end.saturating_sub(reply(value)))
        })
        .collect();
    assert_eq!(latencies.len() as u64, WRITES, "every value was read");
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize] as f64 / 1e3;
    let older_than_replaced = runs
        .iter()
        .filter(|run| run.value + 2 <= WRITES && run.last_start > reply(run.value + 2))
        .count();
    let overwritten_50ms_before = runs
        .iter()
        .filter(|run| run.value < WRITES && run.last_start > reply(run.value + 1) + 50_000_000)
        .count();
    Report {
        p50_us: at(0.5),
        p99_us: at(0.99),
        max_us: at(1.0),
        reads,
        near_hits,
        older_than_replaced,
        overwritten_50ms_before,
        kills: kills.load(Ordering::SeqCst),
    }
}
