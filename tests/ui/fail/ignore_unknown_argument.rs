use cachemacro_runtime::memoize;

#[memoize(ignore = [y])]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
