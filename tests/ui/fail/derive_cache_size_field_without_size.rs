use cachemacro_runtime::CacheSize;

#[derive(CacheSize)]
struct Holder {
    bits: std::cell::Cell<u32>,
}

fn main() {}
