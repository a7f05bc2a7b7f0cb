//! Background refresh: a 2-second function over data that changes while the program runs. After
//! the first call every call returns in microseconds, and the printed value follows the data a
//! little after it changes.
//!
//! Run it with `cargo run --example background_refresh` (in-process cache, about 16 seconds).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cachemacro_runtime::memoize;

/// The "database": a price that the main loop changes every few seconds.
static PRICE: AtomicU64 = AtomicU64::new(100);

/// A slow query: two seconds per call. Its entries live 10 minutes, and a hit on an entry older
/// than 3 seconds is served at once while a pool worker recomputes it.
#[memoize(ttl = "10m", refresh = "background", refresh_after = "3s")]
fn listing_price(listing: u64) -> u64 {
    std::thread::sleep(Duration::from_secs(2));
    PRICE.load(Ordering::SeqCst) + listing
}

fn main() {
    let start = Instant::now();
    let mut next_change = Duration::from_secs(4);
    let mut printed = None;
    while start.elapsed() < Duration::from_secs(16) {
        if start.elapsed() >= next_change {
            let new = PRICE.fetch_add(10, Ordering::SeqCst) + 10;
            println!(
                "{:>6.2?}  data changed: price is now {new}",
                start.elapsed()
            );
            next_change += Duration::from_secs(4);
        }
        let call = Instant::now();
        let value = listing_price(1);
        let took = call.elapsed();
        if printed != Some(value) || took > Duration::from_millis(100) {
            println!(
                "{:>6.2?}  listing_price(1) = {value:<5} (call took {took:.2?})",
                start.elapsed()
            );
            printed = Some(value);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let stats = listing_price_cache().stats();
    println!(
        "\nhits {}  misses {}  refreshes: started {}, updated {}, failed {}, dropped {}",
        stats.hits,
        stats.misses,
        stats.refreshes_started,
        stats.refreshes_updated,
        stats.refreshes_failed,
        stats.refreshes_dropped
    );
}
