use cachemacro_runtime::memoize;

#[memoize(cache_err = true)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
