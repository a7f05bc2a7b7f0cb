use cachemacro_runtime::memoize;

trait Repo {
    #[memoize]
    fn count(&self) -> usize;
}

fn main() {}
