use cachemacro_runtime::memoize;

#[memoize(backend = "redis", capacity = 1000)]
fn user_name(id: u64) -> String {
    format!("user {id}")
}

fn main() {}
