use cachemacro_runtime::memoize;

// The expansion uses the path given, so a wrong one is reported once, on the string.
#[memoize(crate = "no_such_runtime")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
