use cachemacro_runtime::memoize;

#[memoize]
pub fn double(x: i64) -> i64 {
    x * 2
}

fn main() {
    assert_eq!(double_uncached(2), 4);
    assert_eq!(double_cache().len(), Some(0));
    assert_eq!(double_refresh(2), 4);
    assert_eq!(double(2), 4);
    assert!(double_invalidate(2));
    assert!(!double_invalidate(2));
}
