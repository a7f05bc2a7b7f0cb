use cachemacro_runtime::memoize;

#[memoize(ignore = [self])]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
