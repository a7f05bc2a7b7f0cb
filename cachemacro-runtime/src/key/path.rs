//! Keys of `OsStr` and `Path`, defined on every platform.
//!
//! An `OsStr` is its length in bytes as `u64`, then its bytes: on Unix the bytes the OS uses
//! (`OsStrExt::as_bytes`); on Windows its UTF-16 converted to WTF-8, which is UTF-8 for every valid
//! Unicode string, so a Unicode name writes the same bytes on both. (`OsStr::as_encoded_bytes` is
//! not used: std leaves its encoding unspecified.) Elsewhere, a valid Unicode string writes its
//! UTF-8, and another one the bytes of `as_encoded_bytes`, which std does not promise to keep.
//!
//! A `Path` compares by its components (`a//b` equals `a/b`), so it is keyed by them: their
//! number as `u64`, then each component as an `OsStr` (the root as the platform writes it: `/` on
//! Unix, `\` on Windows; `.` and `..` as written), except a Windows prefix (`C:`, `\\server\share`),
//! which compares by its parsed form and is keyed by it: `u64::MAX`, a tag for its kind (0
//! verbatim, 1 verbatim UNC, 2 verbatim disk, 3 device, 4 UNC, 5 disk), then its parts (names
//! as `OsStr`, a drive letter as one byte). Two paths that are equal on one platform share a key;
//! the same text can give other keys on Unix and Windows, whose paths do not parse alike.

use std::ffi::{OsStr, OsString};
use std::path::{Component, Path, PathBuf, Prefix};

use super::{CacheKey, KeySink};

impl CacheKey for OsStr {
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStrExt;
            out.write_len(self.len());
            out.write_bytes(self.as_bytes());
        }
        #[cfg(windows)]
        {
            match self.to_str() {
                Some(text) => text.write_key(out),
                None => {
                    use std::os::windows::ffi::OsStrExt;
                    let bytes = wtf8(self.encode_wide());
                    out.write_len(bytes.len());
                    out.write_bytes(&bytes);
                }
            }
        }
        #[cfg(not(any(unix, windows)))]
        {
            match self.to_str() {
                Some(text) => text.write_key(out),
                None => {
                    let bytes = self.as_encoded_bytes();
                    out.write_len(bytes.len());
                    out.write_bytes(bytes);
                }
            }
        }
    }
}

impl CacheKey for OsString {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        self.as_os_str().write_key(out);
    }
}

impl CacheKey for Path {
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        out.write_len(self.components().count());
        for component in self.components() {
            match component {
                Component::Prefix(prefix) => write_prefix(prefix.kind(), out),
                other => other.as_os_str().write_key(out),
            }
        }
    }
}

/// A Windows prefix compares by its parsed form (`c:` equals `C:`, `//srv/share` equals
/// `\\srv\share`), so it is keyed by that: `u64::MAX` (a length no `OsStr` has, so a prefix
/// never writes what a first component could), a tag for its kind, then its parts.
fn write_prefix<S: KeySink + ?Sized>(prefix: Prefix<'_>, out: &mut S) {
    out.write_u64(u64::MAX);
    match prefix {
        Prefix::Verbatim(name) => {
            out.write_bytes(&[0]);
            name.write_key(out);
        }
        Prefix::VerbatimUNC(server, share) => {
            out.write_bytes(&[1]);
            server.write_key(out);
            share.write_key(out);
        }
        Prefix::VerbatimDisk(drive) => out.write_bytes(&[2, drive]),
        Prefix::DeviceNS(name) => {
            out.write_bytes(&[3]);
            name.write_key(out);
        }
        Prefix::UNC(server, share) => {
            out.write_bytes(&[4]);
            server.write_key(out);
            share.write_key(out);
        }
        Prefix::Disk(drive) => out.write_bytes(&[5, drive]),
    }
}

impl CacheKey for PathBuf {
    #[inline]
    fn write_key<S: KeySink + ?Sized>(&self, out: &mut S) {
        self.as_path().write_key(out);
    }
}

/// WTF-8 of a sequence of UTF-16 code units: UTF-8, with each unpaired surrogate written as the
/// three bytes UTF-8 would give its code point. A Windows string that is not valid Unicode
/// writes these bytes.
#[cfg(any(windows, test))]
fn wtf8(units: impl Iterator<Item = u16>) -> Vec<u8> {
    let mut bytes = Vec::new();
    for unit in char::decode_utf16(units) {
        match unit {
            Ok(c) => bytes.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
            Err(error) => {
                let surrogate = error.unpaired_surrogate();
                bytes.extend_from_slice(&[
                    0xE0 | (surrogate >> 12) as u8,
                    0x80 | ((surrogate >> 6) & 0x3F) as u8,
                    0x80 | (surrogate & 0x3F) as u8,
                ]);
            }
        }
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::wtf8;

    #[test]
    fn wtf8_is_utf8_with_lone_surrogates_as_three_bytes() {
        let units = |text: &str| text.encode_utf16().collect::<Vec<_>>();
        assert_eq!(wtf8(units("añ€😀").into_iter()), "añ€😀".as_bytes());
        // Python: "a\ud800b".encode("utf-8", "surrogatepass") == b"a\xed\xa0\x80b"
        assert_eq!(wtf8([0x61, 0xD800, 0x62].into_iter()), b"a\xed\xa0\x80b");
        // A trailing lone low surrogate: "\udfff".encode("utf-8", "surrogatepass")
        assert_eq!(wtf8([0xDFFF].into_iter()), b"\xed\xbf\xbf");
    }
}
