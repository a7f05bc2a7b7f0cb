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

    #[cfg(any())]
    #[memoize]
    pub fn never_compiled(x: u32) -> u32 {
        x
    }
}

fn main() {
    assert_eq!(inner::shout("hi".into()), "HI");
    assert_eq!(inner::shout_cache().capacity(), Some(1));
}
