use cachemacro_runtime::memoize;

#[memoize(ttl = "999999999999999d")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
