use cachemacro_runtime::memoize;

struct Report;

#[memoize]
async fn report(id: u64) -> Report {
    let _ = id;
    Report
}

fn main() {}
