use cachemacro_runtime::CacheKey;

#[derive(CacheKey)]
#[cache_key(skip)]
struct OnType {
    #[cache_key(skp)]
    a: u32,
    #[cache_key(rename = "b")]
    b: u32,
    #[cache_key(skip = true)]
    c: u32,
    #[cache_key(ordered, crate = "cache")]
    d: u32,
}

#[derive(CacheKey)]
#[cache_key(crate = 7)]
enum Variants {
    #[cache_key(skip)]
    A,
    #[cache_key(rename = "A")]
    B,
    #[cache_key(rename = "")]
    C,
    #[cache_key(renam = "D")]
    D,
    #[cache_key(rename)]
    E,
}

#[derive(CacheKey)]
struct Malformed {
    #[cache_key(skip, ,)]
    a: u32,
}

fn main() {}
