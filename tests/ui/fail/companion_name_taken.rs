use cachemacro_runtime::memoize;

// An item named like a companion is defined twice, which the compiler reports on it. The
// generated code reaches the cache through `f_cache()`: taken by another item, that is one
// error more, which says so, rather than one per use of the cache.
#[memoize]
fn f(x: u32) -> u32 {
    x
}

fn f_cache() -> u32 {
    0
}

#[memoize]
fn g(x: u32) -> u32 {
    x
}

fn g_uncached(x: u32) -> u32 {
    x
}

#[memoize(ttl = 60)]
fn h(x: u32) -> u32 {
    x
}

fn h_refresh() {}

struct S;

impl S {
    #[memoize(ignore = [self])]
    fn m(&self, x: u32) -> String {
        x.to_string()
    }

    fn m_cache(&self) -> usize {
        0
    }
}

fn main() {}
