use cachemacro_runtime::memoize;

#[memoize(name = "  ")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
