//! The `time` crate's dates and times (feature `time`), written like chrono's, so the same date
//! or instant keys alike in both:
//!
//! - `Date`: the days from the Common Era (1 for 0001-01-01, the Julian day minus 1,721,425) as
//!   `i32`.
//! - `Time`: the seconds from midnight as `u32`, then the nanoseconds as `u32`.
//! - `PrimitiveDateTime`: its date, then its time.
//! - `OffsetDateTime`, `UtcDateTime`: the UTC instant: the Unix timestamp in seconds as `i64`,
//!   then the nanoseconds as `u32`. Equal instants at different offsets share a key (they compare
//!   equal).

use ::time::{Date, OffsetDateTime, PrimitiveDateTime, Time, UtcDateTime};

use super::{CacheKey, KeySink};

/// The Julian day of 0000-12-31 (proleptic Gregorian), the day before the Common Era's first.
const JULIAN_DAY_BEFORE_CE: i32 = 1_721_425;

impl CacheKey for Date {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        (self.to_julian_day() - JULIAN_DAY_BEFORE_CE).write_key(out);
    }
}

impl CacheKey for Time {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        let (hour, minute, second) = self.as_hms();
        (u32::from(hour) * 3600 + u32::from(minute) * 60 + u32::from(second)).write_key(out);
        self.nanosecond().write_key(out);
    }
}

impl CacheKey for PrimitiveDateTime {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        self.date().write_key(out);
        self.time().write_key(out);
    }
}

impl CacheKey for OffsetDateTime {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        self.unix_timestamp().write_key(out);
        self.nanosecond().write_key(out);
    }
}

impl CacheKey for UtcDateTime {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        self.unix_timestamp().write_key(out);
        self.nanosecond().write_key(out);
    }
}
