use std::collections::HashMap;
use std::sync::Arc;

use cachemacro_runtime::{CacheSize, memoize};

#[derive(Clone, CacheSize)]
struct Page<T> {
    rows: Vec<T>,
    next: Option<String>,
}

#[derive(Clone, CacheSize)]
enum Never {}

#[memoize(max_bytes = "64MiB")]
fn page(n: u32) -> Page<u64> {
    Page {
        rows: vec![u64::from(n)],
        next: None,
    }
}

#[memoize(max_bytes = 1_000_000, capacity = 100, ttl = "5s")]
fn index(n: u32) -> Arc<HashMap<u32, String>> {
    Arc::new(HashMap::from([(n, n.to_string())]))
}

#[memoize(max_bytes = "2GB", cache_err = true)]
fn parsed(text: &str) -> Result<u32, String> {
    text.parse().map_err(|_| text.to_string())
}

#[memoize(max_bytes = "10KB", refresh = "background", ttl = 60)]
async fn remote(n: u32) -> Option<Box<str>> {
    Some(n.to_string().into())
}

fn main() {
    let _: Option<u64> = page_cache().bytes();
    let _ = (page(1), index(2), parsed("3"), remote(4));
    let _ = std::mem::size_of::<Never>();
}
