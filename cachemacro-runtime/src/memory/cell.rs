//! The `static` behind a memoized function's in-process cache: a constant of the function's
//! configuration, with the cache built from it on first use.
//!
//! Why not a `LazyLock<MemoryCache<R>>` and a closure: every memoized function then compiles the
//! closure, its proof and the constant evaluation of the lazy cell at each build of the user's
//! crate, about a twentieth of the touch rebuild of a crate of memoized functions
//! (`BENCHMARKS.md`, "Compile cost"). Here the `static` is plain data, and one instantiation of
//! the slow path per kept type builds the caches of all the functions that keep it.

use std::sync::OnceLock;

use super::MemoryCache;
use crate::FnConfig;
use crate::layout::Whole;

/// The cache of one memoized function (without `max_bytes`), built on first use. Not a public
/// API: `f_cache()` returns the cache itself.
pub struct MemoryCell<R, L = Whole> {
    config: FnConfig,
    cache: OnceLock<MemoryCache<R, L>>,
}

impl<R, L> MemoryCell<R, L> {
    /// The cell of a function configured by `config`; nothing is built yet.
    pub const fn new(config: FnConfig) -> Self {
        MemoryCell {
            config,
            cache: OnceLock::new(),
        }
    }

    /// The cache, built now if this is its first use. Without bounds on `R`: the function's
    /// proofs report a type that cannot be cached, once, where the cache is used.
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    pub fn get(&self) -> &MemoryCache<R, L> {
        // `get_or_init` rather than `get` and a cold builder that returns the cache: then the
        // hit knows the cache's address from the `static` alone (measured: 4 instructions fewer
        // per hit), and the builder is still out of line (`OnceLock::initialize` is cold).
        self.cache
            .get_or_init(|| MemoryCache::build(self.config, None))
    }
}
