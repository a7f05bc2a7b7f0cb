use cachemacro_runtime::memoize;

struct Repo;

impl Repo {
    #[memoize]
    fn count(self, table: &str) -> usize {
        table.len()
    }
}

fn main() {}
