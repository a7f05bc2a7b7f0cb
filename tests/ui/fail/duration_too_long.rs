use cachemacro_runtime::memoize;

// Redis refuses an expiry beyond an i64 of milliseconds from now (every write would fail and
// every call compute again), so each duration option stops at 100,000 days.
#[memoize(ttl = 18446744073709551)]
fn seconds(x: u32) -> u32 {
    x
}

#[memoize(ttl = "18446744073709551615ms")]
fn milliseconds(x: u32) -> u32 {
    x
}

#[memoize(ttl = "100001d")]
fn days(x: u32) -> u32 {
    x
}

#[memoize(backend = "redis", lock_ttl = "18446744073709551615ms")]
fn lock(x: u32) -> u32 {
    x
}

#[memoize(ttl = "200000d", refresh = "background", refresh_after = 8_640_000_001)]
fn refresh(x: u32) -> u32 {
    x
}

#[memoize(backend = "redis", near = 10, near_ttl = "200000d")]
fn near(x: u32) -> u32 {
    x
}

fn main() {}
