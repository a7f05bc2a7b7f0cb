use cachemacro_runtime::memoize;

#[memoize(max_bytes = "20000000000GiB")]
fn f(x: u32) -> Vec<u8> {
    vec![0; x as usize]
}

#[memoize(max_bytes = 99999999999999999999)]
fn g(x: u32) -> Vec<u8> {
    vec![0; x as usize]
}

#[memoize(max_bytes = 1.5)]
fn h(x: u32) -> Vec<u8> {
    vec![0; x as usize]
}

fn main() {}
