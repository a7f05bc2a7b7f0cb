use cachemacro_runtime::memoize;

#[memoize(capacity = 4_294_967_296)]
fn f(x: u32) -> u32 {
    x
}

fn main() {}
