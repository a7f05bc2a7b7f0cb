use cachemacro_runtime::memoize;

#[memoize(ignore = [x, x])]
fn f(x: u32, y: u32) -> u32 {
    x + y
}

fn main() {}
