use cachemacro_runtime::memoize;

#[memoize()]
const fn f(x: u32) -> u32 {
    x
}

fn main() {}
