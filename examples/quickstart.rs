//! Quickstart: a slow function, timed before and after memoization, and the cache's statistics.
//!
//! Run it with `cargo run --example quickstart` (in-process cache, nothing to set up).

use std::time::{Duration, Instant};

use cachemacro_runtime::{CacheKey, memoize};

/// An argument of your own type: `#[derive(CacheKey)]` makes it part of the key.
#[derive(Debug, Clone, Copy, CacheKey)]
enum Locale {
    En,
    Fr,
}

/// Pretends to be a slow query: 100 ms per call.
#[memoize(ttl = "5m", capacity = 1_000)]
fn user_name(id: u64, locale: Locale) -> String {
    std::thread::sleep(Duration::from_millis(100));
    match locale {
        Locale::Fr => format!("utilisateur {id}"),
        Locale::En => format!("user {id}"),
    }
}

fn timed<T>(label: &str, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let value = f();
    println!("{label:<48} {:>10.3?}", start.elapsed());
    value
}

fn main() {
    println!("== without the cache (user_name_uncached)");
    for _ in 0..3 {
        timed("user_name_uncached(42, Locale::En)", || {
            user_name_uncached(42, Locale::En)
        });
    }

    println!("\n== with #[memoize(ttl = \"5m\", capacity = 1_000)]");
    let first = timed("user_name(42, Locale::En)  first call: miss", || {
        user_name(42, Locale::En)
    });
    for _ in 0..3 {
        let again = timed("user_name(42, Locale::En)  again: hit", || {
            user_name(42, Locale::En)
        });
        assert_eq!(again, first);
    }
    timed("user_name(42, Locale::Fr)  other arguments: miss", || {
        user_name(42, Locale::Fr)
    });

    let hits = 100_000;
    let start = Instant::now();
    for _ in 0..hits {
        std::hint::black_box(user_name(42, Locale::En));
    }
    println!(
        "{:<48} {:>10.1?} per call",
        format!("{hits} more hits"),
        start.elapsed() / hits
    );

    println!("\n== after a write: drop the stale entry");
    println!(
        "user_name_invalidate(42, Locale::En) -> {}",
        user_name_invalidate(42, Locale::En)
    );
    timed("user_name(42, Locale::En)  recomputed: miss", || {
        user_name(42, Locale::En)
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
