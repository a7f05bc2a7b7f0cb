use cachemacro_runtime::memoize;

struct Db;

impl Db {
    #[memoize(ignore = [self])]
    fn count(&self, table: &str) -> usize {
        table.len()
    }
}

fn main() {
    assert_eq!(Db.count("users"), 5);
    assert!(Db.count_invalidate("users"));
}
