use cachemacro_runtime::memoize;

#[memoize(ttl = 60, refresh = "background", refresh_after = "30 seconds")]
fn servers(region: &str) -> Vec<String> {
    vec![region.to_string()]
}

fn main() {}
