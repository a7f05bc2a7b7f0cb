//! Compile-fail and compile-pass cases for `#[memoize]`: every mistake the macro rejects, with the
//! message the compiler must print (`tests/ui/fail/*.stderr`), and the uses it must accept.
//!
//! Regenerate the `.stderr` files with `TRYBUILD=overwrite cargo test --test ui`, then read each:
//! the caret must sit on the user's mistake.

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
