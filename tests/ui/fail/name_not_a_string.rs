use cachemacro_runtime::memoize;

#[memoize(name = users)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
