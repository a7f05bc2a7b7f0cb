use cachemacro_runtime::memoize;

#[memoize()]
fn f<T: Clone>(x: T) -> T {
    x
}

fn main() {}
