use cachemacro_runtime::memoize;

#[memoize(ttl = 1.5)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
