use cachemacro_runtime::memoize;

#[memoize(max_bytes = 0)]
fn f(x: u32) -> Vec<u8> {
    vec![0; x as usize]
}

#[memoize(max_bytes = "0KiB")]
fn g(x: u32) -> Vec<u8> {
    vec![0; x as usize]
}

fn main() {}
