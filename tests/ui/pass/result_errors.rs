// Results whose error type is neither `Clone` nor serde: only `Ok` values are cached.
use cachemacro_runtime::layout::OkOnly;
use cachemacro_runtime::{MemoryCache, RedisCache, memoize};

#[derive(Debug)]
struct AppError; // no derives at all

// An `anyhow::Result`-like alias with a default error type (recognised by its name, `Result`).
type Result<T, E = AppError> = std::result::Result<T, E>;

#[memoize]
fn read_conf(name: &str) -> std::io::Result<String> {
    std::fs::read_to_string(name)
}

#[memoize(ttl = 60, refresh = "background")]
fn boxed(id: u64) -> std::result::Result<u64, Box<dyn std::error::Error + Send + Sync>> {
    Ok(id)
}

#[memoize]
async fn app(id: u64) -> Result<Vec<u8>> {
    if id == 0 { Err(AppError) } else { Ok(vec![1]) }
}

#[memoize(backend = "redis")]
fn shared(id: u64) -> Result<String> {
    if id == 0 { Err(AppError) } else { Ok(id.to_string()) }
}

#[memoize(backend = "redis", ttl = 60, refresh = "background")]
async fn shared_async(id: u64) -> std::io::Result<u64> {
    Ok(id)
}

// An alias without parameters is a `Result` too, its `Ok` values alone cached.
mod fixed {
    use cachemacro_runtime::memoize;

    pub type Result = std::result::Result<u32, super::AppError>;

    #[memoize]
    pub fn count(id: u32) -> Result {
        if id == 0 { Err(super::AppError) } else { Ok(id) }
    }
}

fn main() {
    let _: &'static MemoryCache<u32, OkOnly> = fixed::count_cache();
    let _: &'static MemoryCache<String, OkOnly> = read_conf_cache();
    let _: &'static MemoryCache<u64, OkOnly> = boxed_cache();
    let _: &'static RedisCache<u64, OkOnly> = shared_async_cache();
    let _ = (read_conf("x"), boxed(1), app(1), shared(1), shared_async(1), fixed::count(1));
}
