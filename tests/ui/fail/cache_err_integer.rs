use cachemacro_runtime::memoize;

#[memoize(cache_err = 1)]
fn f(x: u32) -> Result<u32, String> {
    Ok(x)
}

fn main() {}
