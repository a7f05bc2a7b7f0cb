use cachemacro_runtime::memoize;

#[memoize(crate = "not a path")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
