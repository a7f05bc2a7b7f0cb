use cachemacro_runtime::memoize;

#[memoize()]
fn f<const N: usize>(x: [u8; N]) -> usize {
    x.len()
}

fn main() {}
