use cachemacro_runtime::memoize;

#[memoize(ttl = 60, capacity = 10, ttl = 30)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
