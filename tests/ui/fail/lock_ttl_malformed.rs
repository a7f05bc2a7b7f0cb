use cachemacro_runtime::memoize;

#[memoize(backend = "redis", lock_ttl = "2 seconds")]
fn servers(region: &str) -> Vec<String> {
    vec![region.to_string()]
}

fn main() {}
