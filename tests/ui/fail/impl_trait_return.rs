use cachemacro_runtime::memoize;

#[memoize()]
fn f(x: u32) -> impl Clone {
    x
}

fn main() {}
