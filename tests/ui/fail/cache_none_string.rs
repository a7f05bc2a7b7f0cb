use cachemacro_runtime::memoize;

#[memoize(cache_none = "no")]
fn f(x: u32) -> Option<u32> {
    Some(x)
}

fn main() {}
