//! The coarse clock behind every age and expiry, and the manual mode that tests drive.
//!
//! Reading the OS clock (`Instant::now()`, ~20-30 ns) costs more than a whole cache hit, so a hit
//! reads an atomic instead: a background thread, started the first time a cache with a `ttl` is
//! built, stores the milliseconds since the clock's start every [`TICK`]. The clock lags real
//! time by up to a tick, more when the thread is not scheduled in time: ages are measured short
//! by that lag, so an entry may outlive its `ttl` by it.
//!
//! The thread does not tick for a process whose caches are idle: when nothing has read the clock
//! for a whole period of 64 ticks, it marks the clock idle and parks, so an idle process gets no
//! periodic wake-ups (it parks 64 to 128 ticks after the last read). A read that finds the clock
//! idle takes a slow path: it computes the time from `Instant::now()` itself, so it never sees
//! the time at which the thread parked, and wakes the thread, which ticks again. Reads keep
//! computing the time themselves until the thread has woken, so no read sees a clock that fell
//! behind while it slept. A hit on a ticking clock costs one atomic load and a test of two flag
//! bits; the first read of each period also clears a flag (one atomic `and`), which is how the
//! thread learns that the clock is still read. `CLOCK_MONOTONIC_COARSE` was the other candidate:
//! ~5.5 ns through the vDSO against well under 1 ns for the load, at a 4 ms resolution.
//!
//! [`now_ms`] is the time of entries (ages, expiries). The same clock's real time, `real_ms`, on
//! the same start, times what must pass in real time whatever a test does with manual time:
//! Redis cool-downs and log rate limits.
//!
//! Tests replace the ticking with manual time: [`pause`] freezes the clock, [`advance`] moves it,
//! [`resume`] goes back to real time. The clock is process-wide, so a test binary that pauses it
//! should run its time-dependent tests one at a time.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::Thread;
use std::time::{Duration, Instant};

use crate::fork::{self, PerProcess};

/// How often the background thread updates the clock while caches read it: its resolution.
pub const TICK: Duration = Duration::from_millis(1);

/// Ticks in one period of the idle check: after a whole period without a read, the thread parks.
const PERIOD: u32 = 64;

// The clock word: the milliseconds shifted left by `SHIFT`, and three flags in the low bits, so
// that a read sees the time and the flags in one load and every change is one atomic update.
/// Set by the thread at the start of each period; the first read of the period clears it.
const UNREAD: u64 = 1;
/// The thread is parked (or about to park): a read computes the time itself and wakes it.
const IDLE: u64 = 2;
/// Manual time: only [`advance`] moves the clock. Not tested on the fast path: a paused clock is
/// read like a ticking one.
const PAUSED: u64 = 4;
const SHIFT: u32 = 3;
const FLAGS: u64 = (1 << SHIFT) - 1;
/// The largest time the word holds, ~9 million years: [`advance`] saturates there.
const MAX_MS: u64 = u64::MAX >> SHIFT;

static CLOCK: Clock = Clock(AtomicU64::new(0));
/// This process' ticking thread (`None` if it could not start), for a read that finds the clock
/// idle to wake it. Per process: a forked child has none of the parent's threads (see [`fork`]).
static TICKER: PerProcess<Option<Thread>> = PerProcess::new();
static START: OnceLock<Instant> = OnceLock::new();

/// Milliseconds on the coarse clock. Cheap: one atomic load, unless the clock is idle or the
/// first read of a period.
#[inline]
pub fn now_ms() -> u64 {
    CLOCK.unflagged().unwrap_or_else(now_ms_flagged)
}

/// A read that found a flag: records the read, and if the clock is idle computes the time and
/// wakes the thread. Out of line to keep the hit path one load and a test.
#[cold]
#[inline(never)]
fn now_ms_flagged() -> u64 {
    let (now, wake) = CLOCK.read_flagged(real_ms);
    if wake && let Some(ticker) = ticker() {
        ticker.unpark();
    }
    now
}

/// This process' ticking thread: none before [`start`]; in a forked child of a process that had
/// one, started by the first read (the fork marked the clock idle, see [`forked`]).
fn ticker() -> Option<&'static Thread> {
    if fork::generation() == 0 {
        TICKER.first()?.as_ref()
    } else {
        TICKER.get(spawn_ticker).as_ref()
    }
}

/// Called in a forked child, before `fork` returns there: the parent's ticking thread is not in
/// the child, so the clock is marked idle, and reads compute the time themselves until the first
/// of them has started the child's thread. Async-signal-safe: one atomic `or`.
#[allow(dead_code)] // Called by `fork`'s handler, on the targets that have `pthread_atfork`.
pub(crate) fn forked() {
    CLOCK.0.fetch_or(IDLE, Ordering::AcqRel);
}

/// Real milliseconds since the clock's start (the first call here or to `start`), never paused:
/// for what must end in real time even while tests drive the coarse clock by hand, such as a
/// Redis cool-down or a log's rate limit. Reads the OS clock, so it stays off the hit path.
pub(crate) fn real_ms() -> u64 {
    millis(START.get_or_init(Instant::now).elapsed())
}

fn millis(duration: Duration) -> u64 {
    duration.as_millis().min(MAX_MS.into()) as u64
}

/// Starts the ticking thread if it is not running yet. Called when a cache that needs time is
/// built, never on the hit path.
pub(crate) fn start() {
    TICKER.get(spawn_ticker);
}

fn spawn_ticker() -> Option<Thread> {
    let start = *START.get_or_init(Instant::now);
    let spawned = std::thread::Builder::new()
        .name("cachemacro-clock".into())
        .spawn(move || tick_forever(start));
    match spawned {
        Ok(ticking) => Some(ticking.thread().clone()),
        Err(error) => {
            // Without the thread, every read computes the time itself: ttl holds, hits are slower.
            CLOCK.0.fetch_or(IDLE, Ordering::AcqRel);
            tracing::error!(
                %error,
                "cachemacro: could not start the clock thread; every hit with a ttl reads the OS clock"
            );
            None
        }
    }
}

fn tick_forever(start: Instant) -> ! {
    CLOCK.start_ticking(millis(start.elapsed()));
    let mut ticks = 0u32;
    loop {
        std::thread::sleep(TICK);
        ticks = (ticks + 1) % PERIOD;
        if CLOCK.tick(millis(start.elapsed()), ticks == 0) == Ticker::Park {
            CLOCK.park_until_read(std::thread::park, || millis(start.elapsed()));
            ticks = 0;
        }
    }
}

/// What the ticking thread does after a tick.
#[derive(Debug, PartialEq, Eq)]
enum Ticker {
    Run,
    Park,
}

/// The clock word and its transitions. One process-wide instance; the unit tests drive their own.
struct Clock(AtomicU64);

/// `word` with its time raised to `real_ms` (never lowered), unless the clock is paused.
fn caught_up(word: u64, real_ms: u64) -> u64 {
    if word & PAUSED != 0 || real_ms <= word >> SHIFT {
        word
    } else {
        (real_ms << SHIFT) | (word & FLAGS)
    }
}

impl Clock {
    /// The time, if no flag asks for more than a load.
    #[inline(always)]
    fn unflagged(&self) -> Option<u64> {
        let word = self.0.load(Ordering::Relaxed);
        (word & (UNREAD | IDLE) == 0).then_some(word >> SHIFT)
    }

    /// Applies `change` atomically; returns the word it was applied to. `change` returns the
    /// word unchanged to write nothing.
    fn update(&self, change: impl Fn(u64) -> u64) -> u64 {
        let result = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                let new = change(word);
                (new != word).then_some(new)
            });
        match result {
            Ok(word) | Err(word) => word,
        }
    }

    /// A read that found [`UNREAD`] or [`IDLE`] set: clears [`UNREAD`] and, on an idle clock,
    /// catches the time up to `real_ms()`. Returns the time and whether the thread must be woken.
    fn read_flagged(&self, real_ms: impl FnOnce() -> u64) -> (u64, bool) {
        let mut word = self.0.load(Ordering::Acquire);
        if word & UNREAD != 0 {
            word = self.0.fetch_and(!UNREAD, Ordering::AcqRel) & !UNREAD;
        }
        if word & IDLE == 0 {
            return (word >> SHIFT, false);
        }
        if word & PAUSED != 0 {
            return (word >> SHIFT, true);
        }
        // Published, so that no later read returns less than this one did.
        let real_ms = real_ms();
        let word = self.update(|word| caught_up(word, real_ms));
        (caught_up(word, real_ms) >> SHIFT, true)
    }

    /// One tick of the thread at `real_ms`. At a period's end, a clock still [`UNREAD`] since
    /// the last one is marked [`IDLE`], with the current time, and the thread parks.
    fn tick(&self, real_ms: u64, period_end: bool) -> Ticker {
        let word = self.update(|word| {
            let mut new = caught_up(word, real_ms);
            if period_end {
                if word & UNREAD != 0 {
                    new |= IDLE;
                }
                new |= UNREAD;
            }
            new
        });
        if period_end && word & UNREAD != 0 {
            Ticker::Park
        } else {
            Ticker::Run
        }
    }

    /// The parked thread woke at `real_ms`. If a read woke it (it cleared [`UNREAD`]), clears
    /// [`IDLE`] with the current time and returns true: the thread ticks again. Otherwise the
    /// wake-up was spurious and the clock stays idle.
    fn wake(&self, real_ms: u64) -> bool {
        self.0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |word| {
                (word & UNREAD == 0).then(|| caught_up(word, real_ms) & !IDLE)
            })
            .is_ok()
    }

    /// Parks the thread (with `park`) until a read wakes it; a wake-up that no read caused
    /// (`park` may return spuriously) parks again. The clock is ticking when it returns.
    fn park_until_read(&self, park: impl Fn(), real_ms: impl Fn() -> u64) {
        loop {
            park();
            if self.wake(real_ms()) {
                return;
            }
        }
    }

    /// A ticking thread starts at `real_ms`: the clock is not idle from now on. A forked
    /// child's thread finds it idle (see [`forked`]), set while no thread of the child ticked.
    fn start_ticking(&self, real_ms: u64) {
        self.update(|word| caught_up(word, real_ms) & !IDLE);
    }

    fn pause(&self) {
        self.0.fetch_or(PAUSED, Ordering::SeqCst);
    }

    fn advance(&self, by: Duration) {
        let by = millis(by);
        self.update(|word| {
            ((word >> SHIFT).saturating_add(by).min(MAX_MS) << SHIFT) | (word & FLAGS)
        });
    }

    fn resume(&self) {
        self.0.fetch_and(!PAUSED, Ordering::SeqCst);
    }
}

/// Freezes the clock: from now on it moves only through [`advance`]. Once `pause` returns, no
/// tick or read of real time moves it. For tests.
pub fn pause() {
    CLOCK.pause();
}

/// Moves the clock forward by `by` (rounded down to whole milliseconds). For tests, on a paused
/// clock.
pub fn advance(by: Duration) {
    CLOCK.advance(by);
}

/// Returns a paused clock to real time. It never runs backwards: if manual time got ahead of real
/// time, it waits for real time to catch up. For tests.
pub fn resume() {
    CLOCK.resume();
}

#[cfg(test)]
mod tests {
    //! The clock's state machine, driven tick by tick on a private word with made-up real times.

    use super::*;

    fn clock_at(ms: u64) -> Clock {
        Clock(AtomicU64::new(ms << SHIFT))
    }

    /// What `now_ms` does, on `clock`, with `real_ms` as the OS clock: the time, and whether the
    /// ticker was woken.
    fn read(clock: &Clock, real_ms: u64) -> (u64, bool) {
        match clock.unflagged() {
            Some(now) => (now, false),
            None => clock.read_flagged(|| real_ms),
        }
    }

    /// Ticks through one period ending at `real_ms`; what the last tick decided.
    fn period(clock: &Clock, real_ms: u64) -> Ticker {
        for tick in 1..PERIOD as u64 {
            assert_eq!(
                clock.tick(real_ms - PERIOD as u64 + tick, false),
                Ticker::Run
            );
        }
        clock.tick(real_ms, true)
    }

    /// A fork leaves the clock idle with no thread ticking: reads compute the time and ask for
    /// a thread; once the child's starts, a read is one load again, and the time is its own.
    #[test]
    fn a_forked_child_reads_its_own_time_then_ticks_again() {
        let clock = clock_at(1_000);
        clock.0.fetch_or(IDLE, Ordering::AcqRel); // `forked`
        assert_eq!(
            read(&clock, 1_500),
            (1_500, true),
            "computed, and a ticker wanted"
        );
        clock.start_ticking(1_600);
        assert_eq!(clock.unflagged(), Some(1_600), "ticking: one load");
        assert_eq!(clock.tick(1_601, false), Ticker::Run);
        assert_eq!(read(&clock, 9_999), (1_601, false));
    }

    #[test]
    fn ticks_move_the_time_and_reads_cost_one_load() {
        let clock = clock_at(0);
        assert_eq!(clock.tick(1, false), Ticker::Run);
        assert_eq!(clock.0.load(Ordering::Relaxed), 1 << SHIFT, "no flag set");
        assert_eq!(
            read(&clock, 999),
            (1, false),
            "the published time, not real time"
        );
        assert_eq!(clock.tick(2, false), Ticker::Run);
        assert_eq!(read(&clock, 999), (2, false));
    }

    #[test]
    fn parks_only_after_a_whole_period_without_a_read() {
        let clock = clock_at(0);
        assert_eq!(
            period(&clock, 64),
            Ticker::Run,
            "first period: marks unread"
        );
        assert_eq!(read(&clock, 64), (64, false), "a read in the second period");
        assert_eq!(
            period(&clock, 128),
            Ticker::Run,
            "it was read: keeps ticking"
        );
        assert_eq!(
            period(&clock, 192),
            Ticker::Park,
            "nothing read for a period"
        );
        assert_eq!(clock.0.load(Ordering::Relaxed) & IDLE, IDLE);
        assert_eq!(
            clock.0.load(Ordering::Relaxed) >> SHIFT,
            192,
            "parks with the current time"
        );
    }

    #[test]
    fn a_read_of_an_idle_clock_computes_the_time_and_wakes_the_ticker() {
        let clock = clock_at(0);
        period(&clock, 64);
        assert_eq!(period(&clock, 128), Ticker::Park);
        assert!(
            !clock.wake(130),
            "a spurious wake-up: nothing read, stays parked"
        );
        assert_eq!(clock.0.load(Ordering::Relaxed) & IDLE, IDLE);

        // Two seconds later.
        assert_eq!(
            read(&clock, 2_128),
            (2_128, true),
            "fresh, and wakes the ticker"
        );
        assert_eq!(
            read(&clock, 2_129),
            (2_129, true),
            "until the ticker runs, reads compute the time"
        );
        assert_eq!(
            read(&clock, 2_000),
            (2_129, true),
            "never less than an earlier read"
        );
        assert!(clock.wake(2_130), "woken by a read");
        assert_eq!(
            clock.0.load(Ordering::Relaxed),
            2_130 << SHIFT,
            "ticking, no flag"
        );
        assert_eq!(read(&clock, 5_000), (2_130, false), "one load again");
        assert_eq!(
            period(&clock, 2_194),
            Ticker::Run,
            "a new period starts at the wake-up"
        );
    }

    #[test]
    fn the_parked_thread_ticks_again_after_a_read_only() {
        let clock = clock_at(0);
        period(&clock, 64);
        assert_eq!(period(&clock, 128), Ticker::Park);
        let parks = std::cell::Cell::new(0);
        clock.park_until_read(
            || {
                parks.set(parks.get() + 1);
                if parks.get() == 3 {
                    // Two spurious wake-ups, then a read (which would unpark the thread).
                    assert_eq!(read(&clock, 3_000), (3_000, true));
                }
            },
            || 3_001,
        );
        assert_eq!(parks.get(), 3);
        assert_eq!(
            clock.0.load(Ordering::Relaxed),
            3_001 << SHIFT,
            "ticking, no flag"
        );
    }

    #[test]
    fn a_read_between_the_idle_mark_and_the_park_is_not_lost() {
        let clock = clock_at(0);
        period(&clock, 64);
        // A read lands before the update that would mark the clock idle: that update sees the
        // read and does not park.
        clock.tick(127, false);
        assert_eq!(read(&clock, 127), (127, false));
        assert_eq!(clock.tick(128, true), Ticker::Run);
        // A read right after the idle mark, before the thread parks: `wake` sees it, and the
        // unpark it sends makes the `park` return at once.
        assert_eq!(period(&clock, 192), Ticker::Park);
        assert_eq!(read(&clock, 192), (192, true));
        assert!(clock.wake(193));
    }

    #[test]
    fn a_paused_clock_moves_only_by_advance() {
        let clock = clock_at(10);
        clock.pause();
        assert_eq!(clock.tick(500, false), Ticker::Run);
        assert_eq!(read(&clock, 500), (10, false), "ticks do not move it");
        period(&clock, 600);
        assert_eq!(
            period(&clock, 700),
            Ticker::Park,
            "a paused clock idles too"
        );
        assert_eq!(
            read(&clock, 800),
            (10, true),
            "an idle read does not move it"
        );
        assert!(clock.wake(900));
        assert_eq!(read(&clock, 900), (10, false));
        clock.advance(Duration::from_millis(5_000));
        assert_eq!(read(&clock, 900), (5_010, false));
        clock.resume();
        clock.tick(1_000, false);
        assert_eq!(
            read(&clock, 1_000),
            (5_010, false),
            "resumed: waits for real time"
        );
        clock.tick(6_000, false);
        assert_eq!(read(&clock, 6_000), (6_000, false));
    }

    #[test]
    fn advance_saturates() {
        let clock = clock_at(0);
        clock.pause();
        clock.advance(Duration::MAX);
        clock.advance(Duration::from_secs(1));
        assert_eq!(read(&clock, 0), (MAX_MS, false));
        assert_eq!(
            clock.0.load(Ordering::Relaxed) & FLAGS,
            PAUSED,
            "flags kept"
        );
    }
}
