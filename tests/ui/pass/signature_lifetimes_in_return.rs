use std::sync::Arc;

use cachemacro_runtime::memoize;

// The lifetimes of a function pointer's or a closure trait's own signature, elided or bound by
// `for<'a>`, borrow nothing from the call: such values can be cached.
#[memoize]
fn matcher(prefix: String) -> Arc<dyn Fn(&str) -> bool + Send + Sync> {
    Arc::new(move |text: &str| text.starts_with(&prefix))
}

#[memoize]
fn measure(by_chars: bool) -> fn(&str) -> usize {
    if by_chars {
        |text| text.chars().count()
    } else {
        str::len
    }
}

#[memoize]
fn trimmer(both: bool) -> Arc<dyn for<'a> Fn(&'a str) -> &'a str + Send + Sync> {
    if both {
        Arc::new(str::trim)
    } else {
        Arc::new(str::trim_start)
    }
}

#[memoize]
fn parsers(count: usize) -> Vec<for<'a> fn(&'a str) -> Option<&'a str>> {
    vec![|text| text.split(',').next(); count]
}

fn main() {
    assert!(matcher("ab".to_string())("abc"));
    assert_eq!(measure(true)("é"), 1);
    assert_eq!(measure(false)("é"), 2);
    assert_eq!(trimmer(true)(" x "), "x");
    assert_eq!(parsers(2)[1]("a,b"), Some("a"));
    assert_eq!(measure_warm([true, false]).present, 2);
}
