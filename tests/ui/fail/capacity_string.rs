use cachemacro_runtime::memoize;

#[memoize(capacity = "10")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
