use cachemacro_runtime::memoize;

#[memoize(
    ttl = 60,
    capacity = 100,
    name = "pass::every_option",
    version = 2,
    ignore = [trace],
    cache_err = true,
    backend = "memory",
    crate = "cachemacro_runtime"
)]
fn lookup(id: u32, trace: &str) -> Result<u32, String> {
    let _ = trace;
    if id == 0 { Err("zero".into()) } else { Ok(id) }
}

fn main() {
    assert_eq!(lookup(0, "a"), Err("zero".to_string()));
    assert_eq!(lookup(0, "b"), Err("zero".to_string()));
    assert_eq!(lookup_cache().stats().hits, 1);
    assert_eq!(lookup_cache().name(), "pass::every_option");
}
