//! `chrono`'s dates and times (feature `chrono`), written like the `time` crate's, so the same
//! date or instant keys alike in both:
//!
//! - `NaiveDate`: the days from the Common Era (`num_days_from_ce`: 1 for 0001-01-01) as `i32`.
//! - `NaiveTime`: the seconds from midnight as `u32`, then the nanoseconds as `u32` (from
//!   1,000,000,000 up for a leap second, as chrono represents it).
//! - `NaiveDateTime`: its date, then its time.
//! - `DateTime<Tz>`: the UTC instant: the Unix timestamp in seconds as `i64`, then the
//!   nanoseconds as `u32`. Equal instants in different time zones share a key (they compare
//!   equal).

use ::chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike};

use super::{CacheKey, KeySink};

impl CacheKey for NaiveDate {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        self.num_days_from_ce().write_key(out);
    }
}

impl CacheKey for NaiveTime {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        self.num_seconds_from_midnight().write_key(out);
        self.nanosecond().write_key(out);
    }
}

impl CacheKey for NaiveDateTime {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        self.date().write_key(out);
        self.time().write_key(out);
    }
}

impl<Tz: TimeZone> CacheKey for DateTime<Tz> {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        self.timestamp().write_key(out);
        self.timestamp_subsec_nanos().write_key(out);
    }
}
