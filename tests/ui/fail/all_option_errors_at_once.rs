use cachemacro_runtime::memoize;

#[memoize(tll = 60, capacity = 0, backend = "memcache")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
