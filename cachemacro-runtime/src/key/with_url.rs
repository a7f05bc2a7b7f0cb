//! `url::Url` (feature `url`): its serialization (`Url::as_str`) as a `str`. A `Url` is
//! normalized when parsed, and compares by that serialization, so equal URLs share a key.

use super::{CacheKey, KeySink};

impl CacheKey for ::url::Url {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        self.as_str().write_key(out);
    }
}
