use cachemacro_runtime::memoize;

#[memoize(ttl = 60, backend = "redis", near = 100, near_ttl = "2m")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
