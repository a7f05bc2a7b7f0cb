use cachemacro_runtime::memoize;

#[memoize]
trait Repo {
    fn count(&self) -> usize;
}

fn main() {}
