use cachemacro_runtime::memoize;

#[memoize()]
unsafe fn f(x: u32) -> u32 {
    x
}

fn main() {}
