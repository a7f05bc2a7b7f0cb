// `f_warm` exists for functions whose arguments borrow, elide lifetimes in paths, or name them,
// and for methods whose receiver names its lifetime.
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

struct Borrowed<'a>(&'a str);

impl<'a> Borrowed<'a> {
    #[memoize(ignore = [self])]
    fn len_a(&'a self, extra: u32) -> usize {
        self.0.len() + extra as usize
    }
}

struct Forever;

impl Forever {
    #[memoize(ignore = [self])]
    fn twice(&'static self, n: u32) -> u32 {
        n * 2
    }
}

static FOREVER: Forever = Forever;

fn main() {
    let parts = ["a", "b"];
    let report = joined_warm([(&parts[..], Cow::Borrowed("-"))]);
    assert_eq!(report.stored, 1);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let report = runtime.block_on(shout_warm([("hey", None), ("ho", Some("?"))]));
    assert_eq!(report.stored, 2);

    let text = String::from("four");
    let borrowed = Borrowed(&text);
    assert_eq!(borrowed.len_a_warm([1, 2]).stored, 2);
    assert_eq!(FOREVER.twice_warm([3]).stored, 1);
}
