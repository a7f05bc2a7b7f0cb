use std::sync::atomic::{AtomicUsize, Ordering};

use cachemacro_runtime::memoize;

static RUNS: AtomicUsize = AtomicUsize::new(0);

// The in-process backend needs no feature.
#[memoize(ttl = 60)]
fn double(x: u64) -> u64 {
    RUNS.fetch_add(1, Ordering::SeqCst);
    x * 2
}

fn main() {
    assert_eq!(double(21), 42);
    assert_eq!(double(21), 42);
    assert_eq!(RUNS.load(Ordering::SeqCst), 1, "the second call is a hit");
    assert_eq!(double_cache().len(), Some(1));
}
