// `f_warm` exists for functions whose arguments borrow, elide lifetimes in paths, or name them.
use std::borrow::Cow;

use cachemacro_runtime::memoize;

#[memoize]
fn joined<'a>(parts: &'a [&'a str], sep: Cow<str>) -> String {
    parts.join(&sep)
}

#[memoize]
async fn shout(word: &str, times: Option<&'_ str>) -> String {
    format!("{word}{}", times.unwrap_or("!"))
}

fn main() {
    let parts = ["a", "b"];
    let report = joined_warm([(&parts[..], Cow::Borrowed("-"))]);
    assert_eq!(report.stored, 1);
    let _ = shout_warm([("hey", None), ("ho", Some("?"))]);
}
