use cachemacro_runtime::memoize;

#[memoize(backend = "redis", near = 100, near_ttl = 0)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
