use cachemacro_runtime::memoize;

#[memoize(backend = "memcache")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
