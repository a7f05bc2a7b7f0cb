//! Several worker processes sharing one Redis-backed cache: each prints, per job, whether it
//! computed the result or found it computed by another worker.
//!
//! ```text
//! cargo run --example redis_workers
//! ```
//!
//! Uses the Redis at `CACHEMACRO_REDIS_URL` if that is set; otherwise starts its own
//! `redis-server` (which must then be on PATH: `apt-get install redis-server`) on a free loopback
//! port and stops it at the end. Each run uses a fresh key namespace, so it starts cold.

#[path = "../tests/support/redis_server.rs"]
mod redis_server;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cachemacro_runtime::memoize;
use cachemacro_runtime::redis::{NAMESPACE_VAR, URL_VAR};

const WORKERS: usize = 4;
const JOBS: [u64; 8] = [3, 1, 4, 15, 9, 2, 6, 5];

/// Set by the body, so the worker can tell a computed result from a cached one.
static COMPUTED: AtomicBool = AtomicBool::new(false);

#[memoize(ttl = "10m", backend = "redis")]
fn slow_square(n: u64) -> u64 {
    COMPUTED.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(200)); // an expensive computation
    n * n
}

fn main() {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (Some("--worker"), Some(index)) => worker(index.parse().expect("a worker number")),
        _ => coordinator(),
    }
}

/// Starts the workers against one Redis and waits for them.
fn coordinator() {
    let own_server;
    let url = match std::env::var(URL_VAR) {
        Ok(url) => url,
        Err(_) => {
            own_server = redis_server::RedisServer::start()
                .expect("redis-server is on PATH, or CACHEMACRO_REDIS_URL is set");
            own_server.url()
        }
    };
    let namespace = format!("redis_workers_{}", std::process::id());
    println!("{WORKERS} workers, Redis at {url}, namespace {namespace}");
    let started = Instant::now();
    let workers: Vec<_> = (0..WORKERS)
        .map(|index| {
            Command::new(std::env::current_exe().expect("the example's path"))
                .args(["--worker", &index.to_string()])
                .env(URL_VAR, &url)
                .env(NAMESPACE_VAR, &namespace)
                .spawn()
                .expect("a worker process starts")
        })
        .collect();
    for mut worker in workers {
        let status = worker.wait().expect("the worker runs");
        assert!(status.success(), "a worker failed: {status}");
    }
    println!(
        "done in {:?}; {} jobs computed once each would take {:?} in one process",
        started.elapsed(),
        JOBS.len(),
        Duration::from_millis(200) * JOBS.len() as u32
    );
}

/// Works through every job, starting at its own offset so that workers overlap little.
fn worker(index: usize) {
    for step in 0..JOBS.len() {
        let n = JOBS[(index * 2 + step) % JOBS.len()];
        COMPUTED.store(false, Ordering::SeqCst);
        let square = slow_square(n);
        let how = if COMPUTED.load(Ordering::SeqCst) {
            "computed"
        } else {
            "hit (computed by another worker)"
        };
        println!("worker {index}: slow_square({n:>2}) = {square:>3}  {how}");
    }
    let stats = slow_square_cache().stats();
    println!(
        "worker {index}: {} hits, {} misses, {} errors",
        stats.hits, stats.misses, stats.errors
    );
}
