use cachemacro_runtime::memoize;

struct User {
    id: u64,
    name: String,
}

#[memoize(key = (user.name.len(), user))]
fn greet(user: &User) -> String {
    format!("{} {}", user.id, user.name)
}

fn main() {}
