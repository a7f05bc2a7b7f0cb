use cachemacro_runtime::memoize;

#[memoize(ttl = 18_446_744_073_709_552)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
