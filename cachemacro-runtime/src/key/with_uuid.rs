//! `uuid::Uuid` (feature `uuid`): its 16 bytes, in the order `Uuid::as_bytes` gives them (the
//! RFC 9562 byte order, as in its text form).

use super::{CacheKey, KeySink};

impl CacheKey for ::uuid::Uuid {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        out.write_bytes(self.as_bytes());
    }
}
