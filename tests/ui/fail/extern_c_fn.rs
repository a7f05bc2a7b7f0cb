use cachemacro_runtime::memoize;

#[memoize()]
extern "C" fn f(x: u32) -> u32 {
    x
}

fn main() {}
