use cachemacro_runtime::memoize;

#[memoize]
fn square(x: u64) -> u64 {
    x * x
}

fn main() {
    assert_eq!(square(3), 9);
    assert_eq!(square(3), 9);
    assert_eq!(square_cache().stats().hits, 1);
}
