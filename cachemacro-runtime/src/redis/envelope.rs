//! The bytes stored under a key: a small header that names the format and the value's type, then
//! the value in postcard.
//!
//! | bytes | content |
//! |---|---|
//! | 0..2 | `cm`, so that a value written by something else is recognised |
//! | 2 | the envelope format, now 2 (bumped if the header or the codec changes) |
//! | 3..11 | the type tag: XXH3-64 of the return type as written, whitespace removed (after `#ok:` when only the `Ok` value of a `Result` is stored), little-endian |
//! | 11..19 | when the entry expires, in milliseconds since the Unix epoch by the writer's clock (0: never), little-endian: what a near tier may keep it for (Redis deletes an expired key only when it finds it, which can take minutes) |
//! | 19.. | the value, [postcard](https://docs.rs/postcard)-encoded |
//!
//! A different format or type tag is a miss, not a wrong value: after a deploy that changes a
//! function's return type, old entries are recomputed. Postcard is not self-describing, so a type
//! that keeps its name but changes its fields needs a new `version = N` on the function.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde::de::DeserializeOwned;
use xxhash_rust::xxh3::xxh3_64;

use super::depth;

const MAGIC: [u8; 2] = *b"cm";
/// The envelope format written by this version of the crate (1: without the expiry).
pub(crate) const FORMAT: u8 = 2;
const TAG_END: usize = 11;
const HEADER_LEN: usize = 19;
/// Where an envelope keeps its expiry (the refresh's renewal script writes it after the header
/// it is given).
pub(crate) const EXPIRY_BYTES: std::ops::Range<usize> = TAG_END..HEADER_LEN;

/// Milliseconds since the Unix epoch: the clock that entries' expiries are written in, shared
/// by the processes of a deployment (to within their clocks' skew).
fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// The expiry to write for an entry stored now with `ttl_ms` (0: none).
pub(crate) fn expiry(ttl_ms: u64) -> u64 {
    match ttl_ms {
        0 => 0,
        ttl => unix_ms().saturating_add(ttl).max(1),
    }
}

/// What is left of an entry's life: `None` if it never expires, else the milliseconds until
/// its expiry (0: expired, by this process' clock).
pub(crate) fn remaining(expires_at: u64) -> Option<u64> {
    (expires_at != 0).then(|| expires_at.saturating_sub(unix_ms()))
}

/// The tag of a return type as the macro spells it (`stringify!`), blind to spacing.
pub(crate) fn type_tag(ret_type: &str) -> u64 {
    let compact: String = ret_type.chars().filter(|c| !c.is_whitespace()).collect();
    xxh3_64(compact.as_bytes())
}

/// Why a value was not written or not read.
#[derive(Debug)]
pub(crate) enum EnvelopeError {
    TooLarge { len: usize, limit: usize },
    NotAnEnvelope,
    OtherFormat(u8),
    OtherType,
    Codec(postcard::Error),
}

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EnvelopeError::TooLarge { len, limit } => {
                write!(f, "value of {len} bytes is over the limit of {limit} bytes")
            }
            EnvelopeError::NotAnEnvelope => {
                f.write_str("stored value was not written by cachemacro")
            }
            EnvelopeError::OtherFormat(format) => {
                write!(
                    f,
                    "stored value has envelope format {format}, expected {FORMAT}"
                )
            }
            EnvelopeError::OtherType => f.write_str("stored value is of another return type"),
            EnvelopeError::Codec(error) => write!(f, "value could not be (de)serialized: {error}"),
        }
    }
}

/// Whether two envelopes hold the same value of the same type, whatever their expiries.
pub(crate) fn same_value(one: &[u8], other: &[u8]) -> bool {
    let (Some(one_head), Some(other_head)) = (one.get(..TAG_END), other.get(..TAG_END)) else {
        return one == other;
    };
    one_head == other_head && one.get(HEADER_LEN..) == other.get(HEADER_LEN..)
}

/// Serializes `value`, expiring at `expires_at` ([`expiry`]), into an envelope of at most `limit`
/// bytes.
pub(crate) fn encode<R: Serialize>(
    tag: u64,
    value: &R,
    expires_at: u64,
    limit: usize,
) -> Result<Vec<u8>, EnvelopeError> {
    let mut bytes = Vec::with_capacity(64);
    bytes.extend_from_slice(&MAGIC);
    bytes.push(FORMAT);
    bytes.extend_from_slice(&tag.to_le_bytes());
    bytes.extend_from_slice(&expires_at.to_le_bytes());
    let bytes = postcard::to_extend(value, bytes).map_err(EnvelopeError::Codec)?;
    if bytes.len() > limit {
        return Err(EnvelopeError::TooLarge {
            len: bytes.len(),
            limit,
        });
    }
    Ok(bytes)
}

/// The value in an envelope of type `tag`, and its expiry (0: never); the size is checked before
/// anything is decoded, and a value nested more than [`depth::LIMIT`] levels deep is an error.
pub(crate) fn decode<R: DeserializeOwned>(
    tag: u64,
    bytes: &[u8],
    limit: usize,
) -> Result<(R, u64), EnvelopeError> {
    if bytes.len() > limit {
        return Err(EnvelopeError::TooLarge {
            len: bytes.len(),
            limit,
        });
    }
    if bytes.len() < 3 || bytes[..2] != MAGIC {
        return Err(EnvelopeError::NotAnEnvelope);
    }
    if bytes[2] != FORMAT {
        // Format 1 had a shorter header: told apart before the length is checked.
        return Err(EnvelopeError::OtherFormat(bytes[2]));
    }
    if bytes.len() < HEADER_LEN {
        return Err(EnvelopeError::NotAnEnvelope);
    }
    let word = |at: usize| {
        let mut word = [0; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(word)
    };
    if word(3) != tag {
        return Err(EnvelopeError::OtherType);
    }
    let expires_at = word(TAG_END);
    // Through the nesting limit: a value nested a million levels deep is an error, not a stack
    // overflow.
    let value = depth::from_bytes(&bytes[HEADER_LEN..]).map_err(EnvelopeError::Codec)?;
    Ok((value, expires_at))
}

#[cfg(test)]
mod tests {
    use super::super::depth::tests::{Everything, Node, chain, chain_bytes, everything};
    use super::*;

    const LIMIT: usize = 1 << 20;

    #[test]
    fn values_round_trip() {
        let tag = type_tag("Vec<(u32, String)>");
        let value = vec![(1u32, "one".to_owned()), (2, "two".to_owned())];
        let bytes = encode(tag, &value, 1234, LIMIT).unwrap();
        assert_eq!(&bytes[..3], b"cm\x02");
        assert_eq!(
            decode::<Vec<(u32, String)>>(tag, &bytes, LIMIT).unwrap(),
            (value, 1234)
        );
    }

    #[test]
    fn the_expiry_is_the_writers_clock_plus_the_ttl() {
        assert_eq!((expiry(0), remaining(0)), (0, None), "no ttl: never");
        let expires_at = expiry(60_000);
        let left = remaining(expires_at).unwrap();
        assert!((59_000..=60_000).contains(&left), "{left}");
        assert_eq!(remaining(1), Some(0), "long past");
    }

    #[test]
    fn a_short_entry_of_format_1_reads_as_another_format() {
        // Format 1's header was 11 bytes: a small value's whole entry is shorter than format 2's.
        let mut old = b"cm\x01".to_vec();
        old.extend_from_slice(&type_tag("u8").to_le_bytes());
        old.push(7);
        assert!(matches!(
            decode::<u8>(type_tag("u8"), &old, LIMIT),
            Err(EnvelopeError::OtherFormat(1))
        ));
    }

    #[test]
    fn the_same_value_is_recognised_whatever_its_expiry() {
        let tag = type_tag("String");
        let value = "v".to_owned();
        let (a, b) = (encode(tag, &value, 1, LIMIT), encode(tag, &value, 2, LIMIT));
        assert!(same_value(&a.unwrap(), &b.unwrap()));
        let other = encode(tag, &"w".to_owned(), 1, LIMIT).unwrap();
        assert!(!same_value(&encode(tag, &value, 1, LIMIT).unwrap(), &other));
        assert!(!same_value(b"cm", b"cn"));
    }

    #[test]
    fn type_tag_ignores_spacing_only() {
        assert_eq!(type_tag("Vec < u8 >"), type_tag("Vec<u8>"));
        assert_ne!(type_tag("Vec<u8>"), type_tag("Vec<u16>"));
    }

    #[test]
    fn another_type_is_rejected() {
        let bytes = encode(type_tag("u64"), &7u64, 0, LIMIT).unwrap();
        assert!(matches!(
            decode::<u64>(type_tag("u32"), &bytes, LIMIT),
            Err(EnvelopeError::OtherType)
        ));
    }

    #[test]
    fn foreign_and_truncated_bytes_are_rejected() {
        let tag = type_tag("String");
        assert!(matches!(
            decode::<String>(tag, b"hello world, not ours", LIMIT),
            Err(EnvelopeError::NotAnEnvelope)
        ));
        let bytes = encode(tag, &"a long enough string".to_owned(), 0, LIMIT).unwrap();
        assert!(decode::<String>(tag, &bytes[..bytes.len() - 3], LIMIT).is_err());
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode::<String>(tag, &longer, LIMIT).is_err());
        let mut other_format = bytes;
        other_format[2] = FORMAT + 1;
        assert!(matches!(
            decode::<String>(tag, &other_format, LIMIT),
            Err(EnvelopeError::OtherFormat(_))
        ));
    }

    #[test]
    fn size_limit_applies_both_ways() {
        let tag = type_tag("Vec<u8>");
        let big = vec![0u8; 100];
        assert!(matches!(
            encode(tag, &big, 0, 50),
            Err(EnvelopeError::TooLarge { .. })
        ));
        let bytes = encode(tag, &big, 0, LIMIT).unwrap();
        assert!(matches!(
            decode::<Vec<u8>>(tag, &bytes, 50),
            Err(EnvelopeError::TooLarge { .. })
        ));
    }

    /// An envelope of `Node` holding `payload`, as anyone who can write to Redis could store.
    fn node_envelope(payload: &[u8]) -> Vec<u8> {
        let mut bytes = encode(type_tag("Node"), &Node { children: vec![] }, 0, LIMIT).unwrap();
        bytes.truncate(HEADER_LEN);
        bytes.extend_from_slice(payload);
        bytes
    }

    #[test]
    fn varied_values_round_trip_unchanged() {
        let tag = type_tag("Everything");
        let value = everything();
        let bytes = encode(tag, &value, 5, LIMIT).unwrap();
        assert_eq!(
            decode::<Everything>(tag, &bytes, LIMIT).unwrap(),
            (value, 5)
        );
        let deep = chain(100);
        let bytes = encode(type_tag("Node"), &deep, 0, LIMIT).unwrap();
        assert_eq!(bytes, node_envelope(&chain_bytes(100)));
        assert_eq!(
            decode::<Node>(type_tag("Node"), &bytes, LIMIT).unwrap(),
            (deep, 0)
        );
    }

    #[test]
    fn values_nested_128_levels_decode_and_129_do_not() {
        let tag = type_tag("Node");
        let bytes = node_envelope(&chain_bytes(128));
        assert_eq!(decode::<Node>(tag, &bytes, LIMIT).unwrap(), (chain(128), 0));
        let bytes = node_envelope(&chain_bytes(129));
        assert!(matches!(
            decode::<Node>(tag, &bytes, LIMIT),
            Err(EnvelopeError::Codec(postcard::Error::SerdeDeCustom))
        ));
    }

    #[test]
    fn a_value_nested_a_million_levels_is_an_error_not_a_crash() {
        // On a thread with a 2 MiB stack (tokio's workers have no more): without the limit, the
        // stack overflows and the test process aborts.
        let bytes = node_envelope(&chain_bytes(1_000_000));
        assert!(bytes.len() <= LIMIT);
        let decoded = std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(move || decode::<Node>(type_tag("Node"), &bytes, LIMIT).map(drop))
            .unwrap()
            .join()
            .unwrap();
        assert!(
            matches!(
                decoded,
                Err(EnvelopeError::Codec(postcard::Error::SerdeDeCustom))
            ),
            "{decoded:?}"
        );
    }
}
