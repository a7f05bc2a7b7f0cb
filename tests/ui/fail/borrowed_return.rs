use cachemacro_runtime::memoize;

#[memoize()]
fn f(x: &str) -> &str {
    x
}

fn main() {}
