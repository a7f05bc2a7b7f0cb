use cachemacro_runtime::memoize;

#[memoize(ttl = 60, near = 100)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
