use cachemacro_runtime::CacheSize;

#[derive(CacheSize)]
union Bits {
    int: u32,
    float: f32,
}

fn main() {}
