use cachemacro_runtime::memoize;

// A close misspelling of a refresh mode is answered with the mode meant.
#[memoize(ttl = 60, refresh = "backgroud")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
