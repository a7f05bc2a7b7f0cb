use cachemacro_runtime::memoize;

#[memoize(ignore = x)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
