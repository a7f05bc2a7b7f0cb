use cachemacro_runtime::memoize;

#[memoize(tll = 60)]
fn f(x: &mut u32) -> u32 {
    *x
}

fn main() {}
