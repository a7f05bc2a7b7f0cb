use cachemacro_runtime::memoize;

// A close misspelling of a backend is answered with the backend meant.
#[memoize(backend = "reddis")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
