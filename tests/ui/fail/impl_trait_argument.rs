use cachemacro_runtime::memoize;

#[memoize()]
fn f(x: impl Into<u32>) -> u32 {
    x.into()
}

fn main() {}
