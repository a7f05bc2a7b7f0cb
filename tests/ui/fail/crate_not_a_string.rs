use cachemacro_runtime::memoize;

#[memoize(crate = cachemacro_runtime)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
