use cachemacro_runtime::memoize;

#[memoize(backend = "redis", near_ttl = "5s")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
