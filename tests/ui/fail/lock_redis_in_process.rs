use cachemacro_runtime::memoize;

// A Redis lock needs the Redis backend: the error is on the value.
#[memoize(ttl = 60, lock = "redis", lock_ttl = "5s")]
fn servers(region: &str) -> Vec<String> {
    vec![region.to_string()]
}

fn main() {}
