use cachemacro_runtime::memoize;

// In process the default lock is "process", which has no ttl.
#[memoize(ttl = 60, lock_ttl = 5)]
fn servers(region: &str) -> Vec<String> {
    vec![region.to_string()]
}

fn main() {}
