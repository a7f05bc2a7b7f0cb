use cachemacro_runtime::memoize;

mod inner {
    use super::memoize;

    /// Documented.
    #[memoize(capacity = 1)]
    #[allow(clippy::needless_pass_by_value)]
    #[inline]
    pub(crate) fn shout(word: String) -> String {
        word.to_uppercase()
    }

    // A `#[cfg_attr]` on an argument that cannot remove it is accepted.
    #[memoize]
    pub(crate) fn lint_on_argument(#[cfg_attr(any(), allow(unused))] n: u32) -> u32 {
        n + 1
    }

    #[cfg(any())]
    #[memoize]
    pub fn never_compiled(x: u32) -> u32 {
        x
    }
}

fn main() {
    assert_eq!(inner::shout("hi".into()), "HI");
    assert_eq!(inner::shout_cache().capacity(), Some(1));
    assert_eq!(inner::lint_on_argument(1), 2);
}
