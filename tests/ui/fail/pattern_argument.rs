use cachemacro_runtime::memoize;

#[memoize()]
fn f((a, b): (u32, u32)) -> u32 {
    a + b
}

fn main() {}
