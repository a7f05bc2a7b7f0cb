use cachemacro_runtime::memoize;

#[memoize(cache_none = false)]
fn find(id: u32) -> Option<u32> {
    (id > 0).then_some(id)
}

fn main() {
    assert_eq!(find(0), None);
    assert_eq!(find(0), None);
    assert_eq!(find_cache().len(), Some(0));
}
