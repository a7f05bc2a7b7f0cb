use cachemacro_runtime::memoize;

struct Config;

// Only the `Ok` value is cached, and it must be `Clone`.
#[memoize]
fn load(name: &str) -> std::io::Result<Config> {
    let _ = name;
    Ok(Config)
}

fn main() {}
