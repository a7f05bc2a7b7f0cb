use cachemacro_runtime::memoize;
use std::sync::atomic::{AtomicUsize, Ordering};

static RUNS: AtomicUsize = AtomicUsize::new(0);

#[memoize(ttl = 60, capacity = 100)]
fn user_name(id: u64, locale: &str) -> String {
    RUNS.fetch_add(1, Ordering::SeqCst);
    format!("{id}-{locale}")
}

#[memoize]
fn fib(n: u64) -> u64 {
    if n < 2 { n } else { fib(n - 1) + fib(n - 2) }
}

struct Repo;
impl Repo {
    #[memoize(ttl = 30, ignore = [self])]
    fn count(&self, table: &str) -> usize {
        table.len()
    }
}

#[memoize(ttl = "5s")]
async fn price(symbol: String) -> Result<f64, String> {
    Ok(symbol.len() as f64)
}

#[test]
fn smoke() {
    assert_eq!(user_name(1, "en"), "1-en");
    assert_eq!(user_name(1, &String::from("en")), "1-en");
    assert_eq!(RUNS.load(Ordering::SeqCst), 1);
    assert_eq!(fib(90), 2880067194370816120);
    assert_eq!(Repo.count("abc"), 3);
    assert_eq!(Repo::count_cache().stats().misses, 1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(price("ab".into())), Ok(2.0));
    println!("{:?}", user_name_cache().stats());
}
