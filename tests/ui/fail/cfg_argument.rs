use cachemacro_runtime::memoize;

// The companions and the key take every argument: one error, on the `#[cfg]`.
#[memoize]
fn f(#[cfg(any())] verbose: bool, x: u32) -> u32 {
    x
}

#[memoize]
fn g(x: u32, #[cfg_attr(all(), cfg(any()))] y: u32) -> u32 {
    x
}

fn main() {
    let _ = f(1);
}
