use cachemacro_runtime::memoize;

#[derive(Clone, Debug)]
struct LookupError; // no serde derives

// With `cache_err = true` the error is stored too, so it needs serde.
#[memoize(backend = "redis", cache_err = true)]
fn lookup(id: u64) -> Result<u64, LookupError> {
    if id == 0 { Err(LookupError) } else { Ok(id) }
}

fn main() {}
