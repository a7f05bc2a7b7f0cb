//! What generated key code calls: `#[derive(CacheKey)]` for each field, `#[memoize(key = ...)]`
//! for its expression. Each goes through its own trait, so that a type without a key is reported
//! with the advice for that place, on the field's type or on the expression. Two impls each, for
//! the reason given at `__private::CacheValue`: with one, the compiler would report `CacheKey`'s
//! own advice (for arguments) and list its impls.

use crate::__private::Never;
use crate::key::{CacheKey, KeySink};

/// Writes one field of a type that derives `CacheKey`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be part of a cache key, so this field cannot",
    label = "this field's type does not implement `CacheKey`",
    note = "if `{Self}` is your type, derive its key with `#[derive(cachemacro_runtime::CacheKey)]`; or leave the field out of the key with `#[cache_key(skip)]`",
    note = "`HashMap`/`HashSet` iterate in random order and have no stable key: use `BTreeMap`/`BTreeSet`"
)]
pub trait KeyField {
    /// Writes `self`'s key encoding.
    fn write_field<S: KeySink + ?Sized>(&self, out: &mut S);
}

impl<T: CacheKey + ?Sized> KeyField for T {
    #[inline(always)]
    fn write_field<S: KeySink + ?Sized>(&self, out: &mut S) {
        self.write_key(out);
    }
}

impl<T: ?Sized> KeyField for T
where
    Never<T>: Clone,
{
    fn write_field<S: KeySink + ?Sized>(&self, _: &mut S) {}
}

/// Writes the value of a `#[memoize(key = ...)]` expression.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a cache key: the type of a `key = ...` expression must implement `CacheKey`",
    label = "this expression's value is the key",
    note = "key on values that have a key: integers, strings, tuples of them, types that `#[derive(CacheKey)]`, as in `key = (user.id, page)`"
)]
pub trait KeyExpr {
    /// Writes `self`'s key encoding.
    fn write_expr<S: KeySink + ?Sized>(&self, out: &mut S);
}

impl<T: CacheKey + ?Sized> KeyExpr for T {
    #[inline(always)]
    fn write_expr<S: KeySink + ?Sized>(&self, out: &mut S) {
        self.write_key(out);
    }
}

impl<T: ?Sized> KeyExpr for T
where
    Never<T>: Clone,
{
    fn write_expr<S: KeySink + ?Sized>(&self, _: &mut S) {}
}
