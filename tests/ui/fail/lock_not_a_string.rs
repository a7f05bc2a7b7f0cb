use cachemacro_runtime::memoize;

#[memoize(backend = "redis", lock = true)]
fn servers(region: &str) -> Vec<String> {
    vec![region.to_string()]
}

fn main() {}
