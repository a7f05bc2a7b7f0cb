use cachemacro_runtime::memoize;

struct Query;

#[memoize]
fn run(id: u64, query: Query) -> u64 {
    let _ = query;
    id
}

fn main() {}
