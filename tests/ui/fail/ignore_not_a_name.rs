use cachemacro_runtime::memoize;

#[memoize(ignore = [x.0])]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
