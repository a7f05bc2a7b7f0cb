//! `max_bytes`: the in-process cache's byte budget.
use cachemacro_runtime::{CacheSize, memoize};

#[memoize(max_bytes = "4KiB")]
fn blob(id: u32, len: usize) -> Vec<u8> {
    vec![id as u8; len]
}

#[test]
fn smoke() {
    assert_eq!(blob(1, 100).len(), 100);
    assert_eq!(blob_cache().max_bytes(), Some(4096));
    assert_eq!(blob_cache().bytes(), Some((64 + 24 + 100) as u64));
    let _ = CacheSize::cache_size(&1u8);
}
