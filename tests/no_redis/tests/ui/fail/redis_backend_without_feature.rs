use cachemacro_runtime::memoize;

// The runtime is built without `redis`: one error, on "redis", naming the feature. The function
// stays callable, so its uses add no errors.
#[memoize(ttl = 60, backend = "redis")]
fn user_name(id: u64) -> String {
    format!("user {id}")
}

fn main() {
    assert_eq!(user_name(7), "user 7");
}
