//! What a Redis-backed function stores of its result: the whole value, or, for a `Result` whose
//! errors are not cached (`cache_err = false`, the default), the `Ok` value alone, so that only
//! the `Ok` type needs serde.
//!
//! The two layouts have different type tags (see [`envelope`](super::envelope)), so after a
//! function's `cache_err` is flipped, entries written under the other layout are misses, never
//! read as the wrong shape.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A layout, known without any bound on the return type (to build the cache).
#[doc(hidden)]
pub trait Layout: Send + Sync + 'static {
    /// Set before the return type in the type tag; empty for the whole value, so its tags are
    /// those of the return type alone.
    const TAG_PREFIX: &'static str;
}

/// How a layout turns a function's result `R` into what is stored, and back.
#[doc(hidden)]
pub trait Storage<R>: Layout {
    /// The serialized type.
    type Stored: Serialize + DeserializeOwned;

    /// What is stored of `value`; `None` when nothing is (an `Err` in the `Ok`-only layout).
    fn stored(value: &R) -> Option<&Self::Stored>;

    /// The result a stored value stands for.
    fn restore(stored: Self::Stored) -> R;
}

/// The whole result is stored.
#[doc(hidden)]
#[derive(Debug)]
pub struct Whole;

/// Only `Ok` values of a `Result` are stored.
#[doc(hidden)]
#[derive(Debug)]
pub struct OkOnly;

impl Layout for Whole {
    const TAG_PREFIX: &'static str = "";
}

impl Layout for OkOnly {
    // `#` cannot appear in a type, so no return type's tag collides with these.
    const TAG_PREFIX: &'static str = "#ok:";
}

impl<R: Serialize + DeserializeOwned> Storage<R> for Whole {
    type Stored = R;

    fn stored(value: &R) -> Option<&R> {
        Some(value)
    }

    fn restore(stored: R) -> R {
        stored
    }
}

impl<T: Serialize + DeserializeOwned, E> Storage<Result<T, E>> for OkOnly {
    type Stored = T;

    fn stored(value: &Result<T, E>) -> Option<&T> {
        value.as_ref().ok()
    }

    fn restore(stored: T) -> Result<T, E> {
        Ok(stored)
    }
}
