use cachemacro_runtime::memoize;

#[memoize(backend = "redis", lock = "process", lock_ttl = "5s")]
fn servers(region: &str) -> Vec<String> {
    vec![region.to_string()]
}

fn main() {}
