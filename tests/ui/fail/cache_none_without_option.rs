use cachemacro_runtime::memoize;

#[memoize(cache_none = false)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
