use cachemacro_runtime::memoize;

#[memoize()]
fn f(x: u32) {
    let _ = x;
}

fn main() {}
