use cachemacro_runtime::memoize;

#[memoize(version = "2")]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
