//! The generated code trips no lint in the user's crate: this file denies every warning, and
//! `cargo clippy --all-targets -- -D warnings` (CI) holds it to clippy's default and pedantic
//! lints as well. (An integration test rather than a trybuild case: trybuild runs rustc alone.)
//!
//! - A deprecated function's companions are deprecated (a user's call of one warns), and the
//!   generated calls of them do not warn.
//! - The key function of a function of 7 arguments (or `&self` and 6) takes 8, past clippy's
//!   `too_many_arguments`.
//! - An `#[expect(...)]` is kept on `f_uncached`, where the user's code is: fulfilled there, and
//!   not unfulfilled on the generated items.
//! - `f_uncached`, where clippy judges the function, has `f`'s `#[must_use]` and the `# Errors`
//!   and `# Panics` sections that `f`'s docs have: clippy asks for them only when `f` lacks them.
//!   With `#[target_feature]` it has a `# Safety` section as well.

#![deny(warnings)]
#![warn(clippy::pedantic)]

use cachemacro_runtime::{CacheKey, memoize};

/// A deprecated memoized function.
#[deprecated(note = "use `current` instead")]
#[memoize]
#[must_use]
pub fn legacy(x: u32) -> u32 {
    x + 1
}

/// A deprecated memoized function refreshed in the background.
#[deprecated(note = "use `current` instead")]
#[memoize(ttl = 60, refresh = "background")]
#[must_use]
pub fn legacy_refreshed(x: u32) -> u32 {
    x + 2
}

/// A deprecated memoized async function.
#[deprecated(note = "use `current` instead")]
#[memoize]
pub async fn legacy_async(x: u32) -> u32 {
    std::future::ready(x + 3).await
}

/// Seven arguments: the key function takes 8.
#[memoize]
#[must_use]
pub fn seven(mon: u8, tue: u8, wed: u8, thu: u8, fri: u8, sat: u8, sun: u8) -> u32 {
    [mon, tue, wed, thu, fri, sat, sun]
        .iter()
        .map(|&day| u32::from(day))
        .sum()
}

/// A type whose methods are memoized.
#[derive(Clone, CacheKey)]
pub struct Table(pub u32);

impl Table {
    /// `&self` and six arguments: the key function takes 8.
    #[memoize]
    #[must_use]
    pub fn six(&self, mon: u8, tue: u8, wed: u8, thu: u8, fri: u8, sat: u8) -> u32 {
        self.0
            + [mon, tue, wed, thu, fri, sat]
                .iter()
                .map(|&day| u32::from(day))
                .sum::<u32>()
    }

    /// A deprecated method.
    #[deprecated(note = "use `six` instead")]
    #[memoize]
    #[must_use]
    pub fn old(&self, x: u32) -> u32 {
        self.0 + x
    }
}

/// An argument left out of the key and unused by the body: the expectation is the body's.
#[memoize(ignore = [verbose])]
#[expect(unused_variables, reason = "kept for the signature")]
#[must_use]
pub fn doubled(x: u32, verbose: bool) -> u32 {
    x * 2
}

/// Never called: the expectation is fulfilled by `f_uncached`.
#[memoize]
#[expect(dead_code, reason = "kept for later")]
fn unused(x: u32) -> u32 {
    x
}

/// Documents its errors and panics; the companions do not ask for them again.
///
/// # Errors
///
/// When `x` is zero.
///
/// # Panics
///
/// When `x` is one.
#[memoize]
pub fn checked(x: u32) -> Result<u32, String> {
    assert!(x != 1, "one");
    if x == 0 { Err("zero".into()) } else { Ok(x) }
}

/// Without the sections in its docs: clippy still asks for them, once.
#[memoize]
#[expect(clippy::missing_errors_doc, clippy::missing_panics_doc)]
pub fn unchecked(x: u32) -> Result<u32, String> {
    assert!(x != 1, "one");
    if x == 0 { Err("zero".into()) } else { Ok(x) }
}

/// Compiled with a target feature, which clippy counts as unsafe: its `# Safety` section speaks
/// for `f_uncached` too.
///
/// # Safety
///
/// The CPU must have SSE4.1.
#[cfg(target_arch = "x86_64")]
#[memoize]
#[must_use]
#[target_feature(enable = "sse4.1")]
pub fn featured(x: u32) -> u32 {
    x + 6
}

/// Without `#[must_use]`: clippy still asks for it, once.
#[memoize]
#[expect(clippy::must_use_candidate)]
pub fn unmarked(x: u32) -> u32 {
    x + 5
}

#[test]
#[allow(deprecated)]
fn the_functions_work() {
    assert_eq!(legacy(1), 2);
    assert_eq!(legacy_refresh(1), 2);
    assert_eq!(legacy_refreshed(1), 3);
    assert_eq!(seven(1, 1, 1, 1, 1, 1, 1), 7);
    assert!(seven_invalidate(1, 1, 1, 1, 1, 1, 1));
    let table = Table(10);
    assert_eq!(table.six(1, 1, 1, 1, 1, 1), 16);
    assert_eq!(table.old(1), 11);
    assert_eq!(doubled(2, false), 4);
    assert_eq!(checked(0), Err("zero".into()));
    assert_eq!(checked_uncached(2), Ok(2));
    assert_eq!(unchecked(2), Ok(2));
    assert_eq!(unmarked(2), 7);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("sse4.1") {
        // SAFETY: the feature is there.
        assert_eq!(unsafe { featured(1) }, 7);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(legacy_async(1)), 4);
}
