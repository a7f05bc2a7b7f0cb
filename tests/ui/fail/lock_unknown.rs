use cachemacro_runtime::memoize;

#[memoize(backend = "redis", lock = "rediss")]
fn servers(region: &str) -> Vec<String> {
    vec![region.to_string()]
}

fn main() {}
