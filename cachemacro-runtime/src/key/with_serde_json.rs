//! `serde_json::Value` (feature `serde_json`): a tag byte for the kind of value, then the value.
//!
//! | value | encoding |
//! |---|---|
//! | `Null` | `0` |
//! | `Bool(b)` | `1`, then `b` as `bool` |
//! | `Number(n)` | `2`, then `0` and the `u64` if `n.as_u64()` has one; else `1` and the `i64` if `n.as_i64()` has one; else `2` and the `f64` (as `f64` keys are written) if that `f64` stands for the number exactly; else (with the `arbitrary_precision` feature: a number wider than `u64`/`i64`, or a decimal no `f64` holds exactly) `3` and its text as a `str` |
//! | `String(s)` | `3`, then `s` as `str` |
//! | `Array(items)` | `4`, then the items as a sequence (length as `u64`, then each) |
//! | `Object(map)` | `5`, then the number of entries as `u64`, then each key (as `str`) and its value, **sorted by key** (byte order) |
//!
//! Objects are sorted whatever the map's order (`preserve_order` keeps insertion order, and
//! compares regardless of it), so equal objects share a key. `1` and `1.0` are different values
//! in `serde_json` (they compare unequal), and have different keys.

use ::serde_json::{Map, Number, Value};

use super::{CacheKey, KeySink};

impl CacheKey for Value {
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        match self {
            Value::Null => out.write_bytes(&[0]),
            Value::Bool(flag) => out.write_bytes(&[1, u8::from(*flag)]),
            Value::Number(number) => {
                out.write_bytes(&[2]);
                number.write_key(out);
            }
            Value::String(text) => {
                out.write_bytes(&[3]);
                text.write_key(out);
            }
            Value::Array(items) => {
                out.write_bytes(&[4]);
                items.write_key(out);
            }
            Value::Object(map) => {
                out.write_bytes(&[5]);
                map.write_key(out);
            }
        }
    }
}

impl CacheKey for Number {
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        if let Some(unsigned) = self.as_u64() {
            out.write_bytes(&[0]);
            unsigned.write_key(out);
        } else if let Some(signed) = self.as_i64() {
            out.write_bytes(&[1]);
            signed.write_key(out);
        } else if let Some(float) = self.as_f64()
            // With serde_json's `arbitrary_precision` a number is its text, and `as_f64` rounds
            // almost any of them: only a float that stands for the number exactly is keyed as
            // one, or two different numbers would share a key.
            && Number::from_f64(float).as_ref() == Some(self)
        {
            out.write_bytes(&[2]);
            float.write_key(out);
        } else {
            out.write_bytes(&[3]);
            self.to_string().write_key(out);
        }
    }
}

impl CacheKey for Map<String, Value> {
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        write_object(self.len(), self.iter(), out);
    }
}

/// Writes an object's `len` entries sorted by key. The default map is a `BTreeMap`, sorted
/// already; only an insertion-ordered one (`preserve_order`) is sorted here, which allocates.
fn write_object<'a, S: KeySink + ?Sized>(
    len: usize,
    entries: impl Iterator<Item = (&'a String, &'a Value)> + Clone,
    out: &mut S,
) {
    out.write_len(len);
    if entries.clone().map(|(key, _)| key).is_sorted() {
        for (key, value) in entries {
            key.write_key(out);
            value.write_key(out);
        }
    } else {
        let mut sorted: Vec<(&String, &Value)> = entries.collect();
        sorted.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (key, value) in sorted {
            key.write_key(out);
            value.write_key(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::{StableHasher, key_hash};

    #[test]
    fn insertion_ordered_objects_are_written_sorted() {
        let (a, b) = (String::from("a"), String::from("b"));
        let (one, two) = (Value::from(1), Value::from("two"));
        let mut unsorted = StableHasher::new();
        write_object(2, [(&b, &two), (&a, &one)].into_iter(), &mut unsorted);
        let mut map = Map::new();
        map.insert(b.clone(), two.clone());
        map.insert(a.clone(), one.clone());
        assert_eq!(unsorted.finish(), key_hash(&map));
        let mut reversed = StableHasher::new();
        write_object(2, [(&a, &two), (&b, &one)].into_iter(), &mut reversed);
        assert_ne!(
            reversed.finish(),
            key_hash(&map),
            "the values stay with their keys"
        );
    }
}
