use cachemacro_runtime::memoize;

struct Repo;

#[memoize]
impl Repo {
    fn count(&self) -> usize {
        0
    }
}

fn main() {}
