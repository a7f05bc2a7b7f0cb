use cachemacro_runtime::memoize;

#[memoize()]
fn f(x: &mut u32) -> u32 {
    *x
}

fn main() {}
