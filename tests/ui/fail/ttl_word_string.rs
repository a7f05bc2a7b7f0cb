use cachemacro_runtime::memoize;

#[memoize(ttl = "sixty")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
