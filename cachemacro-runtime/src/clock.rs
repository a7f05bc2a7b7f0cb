//! The coarse clock behind every age and expiry, and the manual mode that tests drive.
//!
//! Reading the OS clock (`Instant::now()`, ~30 ns here) costs more than a whole cache hit, so a hit
//! reads an atomic instead: a background thread, started the first time a cache with a `ttl` is
//! built, stores the milliseconds since the clock's start every [`TICK`]. The clock lags real
//! time by at least a tick, more when the thread is not scheduled in time: ages are measured
//! short by that lag, so an entry may outlive its `ttl` by it, and is never cut short.
//!
//! Tests replace the ticking with manual time: [`pause`] freezes the clock, [`advance`] moves it,
//! [`resume`] goes back to real time. The clock is process-wide, so a test binary that pauses it
//! should run its time-dependent tests one at a time.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

/// How often the background thread updates the clock: its resolution.
pub const TICK: Duration = Duration::from_millis(1);

static NOW_MS: AtomicU64 = AtomicU64::new(0);
static PAUSED: AtomicBool = AtomicBool::new(false);
static TICKER: Once = Once::new();
static START: OnceLock<Instant> = OnceLock::new();
/// Held by the ticker while it stores and by [`pause`], so that once `pause` returns no tick
/// that read "not paused" can still land.
static TICK_LOCK: Mutex<()> = Mutex::new(());

/// Milliseconds on the coarse clock. Cheap: one atomic load.
#[inline]
pub fn now_ms() -> u64 {
    NOW_MS.load(Ordering::Relaxed)
}

/// Starts the ticking thread if it is not running yet. Called when a cache that needs time is
/// built, never on the hit path.
pub(crate) fn start() {
    TICKER.call_once(|| {
        let start = *START.get_or_init(Instant::now);
        let spawned = std::thread::Builder::new()
            .name("cachemacro-clock".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(TICK);
                    let _held = TICK_LOCK.lock().unwrap_or_else(|poison| poison.into_inner());
                    if !PAUSED.load(Ordering::Relaxed) {
                        let elapsed = start.elapsed().as_millis() as u64;
                        NOW_MS.fetch_max(elapsed, Ordering::Relaxed);
                    }
                }
            });
        if let Err(error) = spawned {
            // Without the thread time stands still and entries never expire: say so loudly.
            tracing::error!(%error, "cachemacro: could not start the clock thread; ttl is not enforced");
        }
    });
}

/// Freezes the clock: from now on it moves only through [`advance`]. For tests.
pub fn pause() {
    let _held = TICK_LOCK
        .lock()
        .unwrap_or_else(|poison| poison.into_inner());
    PAUSED.store(true, Ordering::SeqCst);
}

/// Moves a paused clock forward by `by` (rounded down to whole milliseconds). For tests.
pub fn advance(by: Duration) {
    NOW_MS.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
}

/// Returns a paused clock to real time. It never runs backwards: if manual time got ahead of real
/// time, it waits for real time to catch up. For tests.
pub fn resume() {
    PAUSED.store(false, Ordering::SeqCst);
}
