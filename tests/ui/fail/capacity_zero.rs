use cachemacro_runtime::memoize;

#[memoize(capacity = 0)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
