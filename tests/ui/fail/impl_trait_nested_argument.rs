use cachemacro_runtime::memoize;
use std::fmt::Display;

// An `impl Trait` anywhere in an argument's type makes the function generic: one error, on it.
#[memoize]
fn f(items: Vec<impl Display>) -> usize {
    items.len()
}

#[memoize]
fn g(pair: &(u32, Box<impl Display>)) -> u32 {
    pair.0
}

fn main() {}
