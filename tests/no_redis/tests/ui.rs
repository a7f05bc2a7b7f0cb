//! `#[memoize]` against the runtime built without its `redis` feature: an in-process function
//! compiles and runs (`ui/pass`), and `backend = "redis"` is one compile error on `"redis"` that
//! names the feature (`ui/fail`).
//!
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test -p
//! cachemacro-no-redis-tests`, then read each: the caret must sit on `"redis"`.

// Compilers word their errors differently from one version to the next, so the expected output
// holds only for the compiler it was generated with.
#[rustversion::attr(
    not(stable(1.95)),
    ignore = "the .stderr files were generated with rustc 1.95; other compilers word errors differently"
)]
#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
