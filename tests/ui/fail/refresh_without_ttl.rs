use cachemacro_runtime::memoize;

#[memoize(refresh = "background")]
fn servers(region: &str) -> Vec<String> {
    vec![region.to_string()]
}

fn main() {}
