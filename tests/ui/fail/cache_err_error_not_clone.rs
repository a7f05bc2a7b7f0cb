use cachemacro_runtime::memoize;

// With `cache_err = true` errors are cached, so `io::Error` (not `Clone`) cannot be.
#[memoize(cache_err = true)]
fn read_conf(name: &str) -> Result<String, std::io::Error> {
    std::fs::read_to_string(name)
}

fn main() {}
