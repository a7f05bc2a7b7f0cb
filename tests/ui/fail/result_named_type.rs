// `#[memoize]` knows a `Result` by its name: a type of another kind named `Result` is one error,
// on the return type, that says how to cache it as a plain value.
use cachemacro_runtime::memoize;

#[derive(Clone)]
struct Result;

#[memoize]
fn plain(x: u32) -> Result {
    let _ = x;
    Result
}

mod wrapped {
    use cachemacro_runtime::memoize;

    #[derive(Clone)]
    pub struct Result<T>(pub T);

    #[memoize(ttl = 60)]
    pub fn wrap(x: u32) -> crate::wrapped::Result<u32> {
        Result(x)
    }
}

fn main() {
    let _ = plain(1);
    let _ = wrapped::wrap(1);
}
