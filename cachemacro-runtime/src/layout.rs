//! What a cache keeps of a function's result: the whole value, or, for a `Result` whose errors are
//! not cached (`cache_err = false`, the default), the `Ok` value alone.
//!
//! Keeping the `Ok` value alone is what lets `std::io::Result<T>`, `anyhow::Result<T>` or
//! `Result<T, Box<dyn Error>>` be memoized: an error is never stored, so the error type needs
//! neither `Clone` nor serde, only the `Ok` type does. A hit returns `Ok(value.clone())`.
//!
//! Every backend's cache is generic over what it keeps (`MemoryCache<T, OkOnly>` for a function
//! returning `io::Result<T>`), and its entry points over the function's result, converting at the
//! edge through [`Keep`]: the protocol inside (flights, locks, refresh) handles the kept value
//! only.

/// A layout, known without any bound on the result (to build a cache).
#[doc(hidden)]
pub trait Layout: Send + Sync + 'static {
    /// Set before the return type in a shared backend's type tag; empty for the whole value, so
    /// its tags are those of the return type alone.
    const TAG_PREFIX: &'static str;
}

/// How a layout turns a function's result `Ret` into what is kept, and back.
#[doc(hidden)]
pub trait Keep<Ret>: Layout {
    /// What the cache holds.
    type Kept;

    /// What is kept of `value`; `None` when nothing is (an `Err` in the `Ok`-only layout).
    fn kept(value: &Ret) -> Option<&Self::Kept>;

    /// The result a kept value stands for.
    fn restore(kept: Self::Kept) -> Ret;
}

/// The whole result is kept.
#[doc(hidden)]
#[derive(Debug)]
pub struct Whole;

/// Only `Ok` values of a `Result` are kept.
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

impl<Ret> Keep<Ret> for Whole {
    type Kept = Ret;

    #[inline(always)]
    fn kept(value: &Ret) -> Option<&Ret> {
        Some(value)
    }

    #[inline(always)]
    fn restore(kept: Ret) -> Ret {
        kept
    }
}

impl<T, E> Keep<Result<T, E>> for OkOnly {
    type Kept = T;

    #[inline(always)]
    fn kept(value: &Result<T, E>) -> Option<&T> {
        value.as_ref().ok()
    }

    #[inline(always)]
    fn restore(kept: T) -> Result<T, E> {
        Ok(kept)
    }
}

/// What of `value` a cache keeps: nothing when it is not `cacheable` (an `Err`, a `None` with
/// `cache_none = false`) or when the layout keeps nothing of it.
#[inline]
pub(crate) fn kept<'v, Ret, L: Keep<Ret>>(
    cacheable: &impl Fn(&Ret) -> bool,
    value: &'v Ret,
) -> Option<&'v L::Kept> {
    if cacheable(value) {
        L::kept(value)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_only_keeps_the_ok_value_and_nothing_of_an_error() {
        let ok: Result<u32, std::io::Error> = Ok(7);
        assert_eq!(<OkOnly as Keep<_>>::kept(&ok), Some(&7));
        let err: Result<u32, std::io::Error> = Err(std::io::Error::other("no"));
        assert_eq!(<OkOnly as Keep<_>>::kept(&err), None);
        let restored: Result<u32, std::io::Error> = <OkOnly as Keep<_>>::restore(7);
        assert_eq!(restored.ok(), Some(7));
    }
}
