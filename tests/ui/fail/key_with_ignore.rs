use cachemacro_runtime::memoize;

struct Logger;

#[memoize(key = id, ignore = [logger])]
fn load(id: u64, logger: &Logger) -> u64 {
    let _ = logger;
    id
}

fn main() {}
