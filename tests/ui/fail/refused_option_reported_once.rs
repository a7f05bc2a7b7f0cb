use cachemacro_runtime::memoize;

// An option whose value is refused is reported once, on itself: the checks of combinations do not
// also report it missing (`refresh` without a `ttl`, `near_ttl` without `near`), nor judge the
// other options by the default it leaves (the in-process backend, the process lock).
#[memoize(ttl = "200000d", refresh = "background")]
fn ttl_too_long(x: u32) -> u32 {
    x
}

#[memoize(tll = 60, refresh = "background")]
fn ttl_misspelt(x: u32) -> u32 {
    x
}

#[memoize(ttl, refresh = "background")]
fn ttl_without_value(x: u32) -> u32 {
    x
}

#[memoize(ttl = 60, refresh = "backgroud", refresh_after = 10)]
fn refresh_misspelt(x: u32) -> u32 {
    x
}

#[memoize(backend = "rediss", near = 10, lock = "redis", lock_ttl = 5)]
fn backend_misspelt(x: u32) -> u32 {
    x
}

#[memoize(backend = "redis", lock = "proces", lock_ttl = 5)]
fn lock_misspelt(x: u32) -> u32 {
    x
}

#[memoize(backend = "redis", near = 0, near_ttl = 5)]
fn near_zero(x: u32) -> u32 {
    x
}

fn main() {}
