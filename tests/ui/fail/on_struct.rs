use cachemacro_runtime::memoize;

#[memoize]
struct Config {
    ttl: u64,
}

fn main() {}
