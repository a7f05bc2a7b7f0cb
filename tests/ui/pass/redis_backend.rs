// Redis-backed functions that must compile; none is called, so no Redis is needed.
use cachemacro_runtime::{RedisCache, RedisConfig, memoize};

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct User {
    id: u64,
    name: String,
}

#[derive(Clone, Debug)]
struct LookupError; // no serde: without `cache_err`, errors are not stored

#[memoize(ttl = "10m", backend = "redis")]
fn user(id: u64) -> User {
    User { id, name: String::new() }
}

#[memoize(backend = "redis")]
fn lookup(id: u64) -> Result<User, LookupError> {
    if id == 0 { Err(LookupError) } else { Ok(user(id)) }
}

mod app {
    pub type Result<T> = std::result::Result<T, super::LookupError>;
}

// An alias with the `Ok` type alone, like `io::Result<T>`.
#[memoize(backend = "redis")]
fn read(path: &str) -> app::Result<Vec<u8>> {
    std::fs::read(path).map_err(|_| LookupError)
}

#[memoize(backend = "redis", cache_err = true, version = 2)]
fn cached_errors(id: u64) -> Result<u64, String> {
    Ok(id)
}

#[memoize(ttl = "10m", refresh = "background", refresh_after = "1m", backend = "redis")]
async fn quote(symbol: String) -> Result<u64, LookupError> {
    Ok(symbol.len() as u64)
}

fn main() {
    let _: &'static RedisCache<User> = user_cache();
    lookup_cache().configure(RedisConfig::new().namespace("ui"));
    let _ = (read_cache().stats(), cached_errors_cache().capacity(), quote_cache().name());
    let _ = (lookup, read, cached_errors, quote);
}
