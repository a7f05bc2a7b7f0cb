// `f_warm`'s items are the function's arguments, as it takes them.
use cachemacro_runtime::memoize;

#[memoize]
fn greeting(id: u64, locale: &str) -> String {
    format!("{locale}:{id}")
}

fn main() {
    greeting_warm([("en", 1)]);
}
