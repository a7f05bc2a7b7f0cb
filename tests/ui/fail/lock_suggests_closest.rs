use cachemacro_runtime::memoize;

// A close misspelling of a lock is answered with the lock meant.
#[memoize(lock = "proces")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
