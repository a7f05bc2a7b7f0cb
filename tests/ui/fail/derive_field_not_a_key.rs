use std::collections::HashMap;

use cachemacro_runtime::CacheKey;

struct Connection;

#[derive(CacheKey)]
struct Request {
    path: String,
    connection: Connection,
}

#[derive(CacheKey)]
enum Filter {
    Any,
    Tags(u32, HashMap<String, u32>),
}

fn main() {}
