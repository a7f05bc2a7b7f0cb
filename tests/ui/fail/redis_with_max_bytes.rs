use cachemacro_runtime::memoize;

#[memoize(backend = "redis", ttl = 60, max_bytes = "1MiB")]
fn f(x: u32) -> Vec<u8> {
    vec![0; x as usize]
}

fn main() {}
