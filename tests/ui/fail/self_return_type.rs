use cachemacro_runtime::memoize;

#[derive(Clone)]
struct Repo;

impl Repo {
    #[memoize(ignore = [self])]
    fn copy(&self, id: u32) -> Self {
        let _ = id;
        Repo
    }
}

fn main() {}
