use cachemacro_runtime::memoize;

#[memoize(frobnicate = 1)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
