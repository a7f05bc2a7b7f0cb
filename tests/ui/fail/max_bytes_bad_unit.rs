use cachemacro_runtime::memoize;

#[memoize(max_bytes = "64mb")]
fn f(x: u32) -> Vec<u8> {
    vec![0; x as usize]
}

fn main() {}
