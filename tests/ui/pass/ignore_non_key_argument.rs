use cachemacro_runtime::memoize;

struct Logger;

#[memoize(ignore = [log])]
fn load(id: u32, log: &Logger) -> u32 {
    let _ = log;
    id
}

fn main() {
    assert_eq!(load(4, &Logger), 4);
}
