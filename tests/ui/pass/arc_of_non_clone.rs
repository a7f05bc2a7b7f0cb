use cachemacro_runtime::memoize;

use std::sync::Arc;

struct Report {
    rows: Vec<u32>,
}

#[memoize]
fn report(n: u32) -> Arc<Report> {
    Arc::new(Report { rows: (0..n).collect() })
}

fn main() {
    assert_eq!(report(3).rows.len(), 3);
}
