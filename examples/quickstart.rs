//! Quickstart: a slow function, timed before and after memoization, and the cache's statistics.
//!
//! Run it with `cargo run --example quickstart` (in-process cache, nothing to set up).

use std::time::{Duration, Instant};

use cachemacro_runtime::memoize;

/// Pretends to be a slow query: 100 ms per call.
#[memoize(ttl = "5m", capacity = 1_000)]
fn user_name(id: u64, locale: &str) -> String {
    std::thread::sleep(Duration::from_millis(100));
    match locale {
        "fr" => format!("utilisateur {id}"),
        _ => format!("user {id}"),
    }
}

fn timed<T>(label: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let value = f();
    println!("{label:<44} {:>10.3?}", start.elapsed());
    value
}

fn main() {
    println!("== without the cache (user_name_uncached)");
    for _ in 0..3 {
        timed("user_name_uncached(42, \"en\")", || {
            user_name_uncached(42, "en")
        });
    }

    println!("\n== with #[memoize(ttl = \"5m\", capacity = 1_000)]");
    let first = timed("user_name(42, \"en\")  first call: miss", || {
        user_name(42, "en")
    });
    for _ in 0..3 {
        let again = timed("user_name(42, \"en\")  again: hit", || user_name(42, "en"));
        assert_eq!(again, first);
    }
    timed("user_name(42, \"fr\")  other arguments: miss", || {
        user_name(42, "fr")
    });

    let hits = 100_000;
    let start = Instant::now();
    for _ in 0..hits {
        std::hint::black_box(user_name(42, "en"));
    }
    println!(
        "{:<44} {:>10.1?} per call",
        format!("{hits} more hits"),
        start.elapsed() / hits
    );

    println!("\n== after a write: drop the stale entry");
    println!(
        "user_name_invalidate(42, \"en\") -> {}",
        user_name_invalidate(42, "en")
    );
    timed("user_name(42, \"en\")  recomputed: miss", || {
        user_name(42, "en")
    });

    let stats = user_name_cache().stats();
    println!("\n== user_name_cache().stats()");
    println!("hits        {}", stats.hits);
    println!("misses      {}", stats.misses);
    println!("entries     {}", stats.entries.unwrap_or_default());
    println!("capacity    {}", stats.capacity.unwrap_or_default());
    println!("evictions   {}", stats.evictions);
    println!("expirations {}", stats.expirations);
}
