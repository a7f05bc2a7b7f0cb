use cachemacro_runtime::memoize;

#[memoize(ttl = "250ms")]
fn a(x: u8) -> u8 { x }
#[memoize(ttl = "90s")]
fn b(x: u8) -> u8 { x }
#[memoize(ttl = "5m")]
fn c(x: u8) -> u8 { x }
#[memoize(ttl = "1h")]
fn d(x: u8) -> u8 { x }
#[memoize(ttl = "1d")]
fn e(x: u8) -> u8 { x }
#[memoize(ttl = "1_000ms")]
fn g(x: u8) -> u8 { x }

fn main() {
    assert_eq!(a(1) + b(1) + c(1) + d(1) + e(1) + g(1), 6);
}
