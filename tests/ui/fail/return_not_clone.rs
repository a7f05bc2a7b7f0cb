use cachemacro_runtime::memoize;

struct Report;

#[memoize]
fn report(id: u64) -> Report {
    let _ = id;
    Report
}

fn main() {}
