use cachemacro_runtime::memoize;

// The alias names no error type: the error is reported on the return type.
#[memoize(cache_err = true)]
fn read_conf(name: &str) -> std::io::Result<String> {
    std::fs::read_to_string(name)
}

fn main() {}
