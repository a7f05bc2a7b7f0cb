use cachemacro_runtime::memoize;

#[memoize(backend = memory)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
