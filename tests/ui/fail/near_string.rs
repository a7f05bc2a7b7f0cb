use cachemacro_runtime::memoize;

#[memoize(backend = "redis", near = "many")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
