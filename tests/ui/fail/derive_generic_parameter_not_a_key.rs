use cachemacro_runtime::{CacheKey, memoize};

#[derive(CacheKey)]
struct Page<T> {
    items: Vec<T>,
    number: u32,
}

struct Row;

#[memoize]
fn render(page: &Page<Row>) -> String {
    format!("page {}", page.number)
}

fn main() {}
