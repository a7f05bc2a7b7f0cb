use cachemacro_runtime::memoize;

#[memoize()]
unsafe fn f(x: &mut u32, (a, b): (u32, u32)) {
    *x = a + b;
}

fn main() {}
