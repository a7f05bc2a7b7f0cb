use cachemacro_runtime::memoize;

#[memoize(ttl = "10x")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
