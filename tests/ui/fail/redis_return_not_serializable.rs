use cachemacro_runtime::memoize;

#[derive(Clone)]
struct Handle(u32); // no serde derives

#[memoize(backend = "redis")]
fn open(path: &str) -> Handle {
    Handle(path.len() as u32)
}

fn main() {}
