//! Memoization for Rust functions: put `#[memoize(...)]` on a function and its results are cached,
//! with every option checked at compile time.
//!
//! ```
//! use cachemacro_runtime::memoize;
//!
//! #[memoize(ttl = 60, capacity = 10_000)]
//! fn user_name(id: u64, locale: &str) -> String {
//!     format!("user {id} ({locale})") // imagine a slow database query
//! }
//!
//! assert_eq!(user_name(7, "en"), "user 7 (en)"); // runs the body
//! assert_eq!(user_name(7, "en"), "user 7 (en)"); // served from the cache
//! assert_eq!(user_name_cache().stats().hits, 1);
//! ```
//!
//! This crate is the one dependency a user adds: it re-exports the [`memoize`] attribute and holds
//! what the generated code calls: the [stable keys](key), the in-process [backend](memory), the
//! [clock] and the [statistics](Stats). Every option of `#[memoize(...)]`, with its type, default,
//! meaning and an example, is in [`options`].
//!
//! Sizes, for `max_bytes`: the standard types have one, and `#[derive(CacheSize)]` gives your own
//! types one. See [`size`].
//!
//! Keys: the standard types, `std::net` addresses and paths have one; `#[derive(CacheKey)]` gives
//! your own structs and enums one; the cargo features `uuid`, `chrono`, `time`, `url` and
//! `serde_json` (off by default) give those crates' types one. See [`key`].
//!
//! With `backend = "redis"` entries live in Redis and are shared by every process: see
//! [`redis`][redis-module] for its configuration, key and value layout, and failure behaviour (it
//! never makes a call fail). The Redis backend and its dependencies are the cargo feature `redis`,
//! off by default (`cachemacro-runtime = { version = "0.1", features = ["redis"] }`); without it
//! `backend = "redis"` is a compile error on `"redis"` that names the feature. `rediss://` needs
//! the feature `tls`.
//!
//! # What `#[memoize]` generates
//!
//! For a function `f(args) -> R`, beside `f` itself and with `f`'s visibility (for methods:
//! associated functions with the same receiver):
//!
//! | companion | what it does |
//! |---|---|
//! | `f_uncached(args) -> R` | runs the original body; neither reads nor writes the cache |
//! | `f_refresh(args) -> R` | runs the body now and stores its result (prime / put) |
//! | `f_invalidate(args) -> bool` | removes the entry for these arguments; true if there was a live one. In process, a computation of them in progress (a call's, or an `f_refresh`'s) stores nothing when it ends, and calls from now on compute anew (so does `f_refresh`'s new value, and `clear()`); with `lock = "none"`, or for an `f_refresh`, which have no flight, a shard remembers the keys of its last 16 invalidations, and one that began before more than 16 stores nothing either. On Redis, in every process, a computation that began before the invalidation stores nothing (for up to the function's `lock_ttl`: see the `redis` module's "Invalidation") |
//! | `f_warm(items) -> WarmReport` | computes and stores the items (argument tuples) not cached yet, a few at a time: see [`warm`] |
//! | `f_cache() -> &'static MemoryCache<R>` | the cache: [`stats()`](Cache::stats), [`clear()`](Cache::clear), [`len()`](Cache::len) |
//!
//! The companions' names are taken: the compiler reports another item of one of these names
//! beside `f` as defined twice (and, for `f_cache`, that the generated code reaches the cache
//! through it); rename that item or `f`.
//!
//! The companions carry `f`'s attributes but for `#[memoize]` itself: its docs' `# Errors` and
//! `# Panics` sections and its `#[must_use]` go to `f_uncached`, a `#[deprecated]` `f` has
//! deprecated companions (the generated code calling them does not warn), and an `#[expect]`
//! stays on `f_uncached`, which holds the body (elsewhere it becomes `#[allow]`), so that
//! `#![deny(warnings)]` and `clippy::pedantic` see nothing from the expansion.
//! A `#[target_feature(enable = "...")]` holds for `f` and for every companion that runs the
//! body (`f_uncached`, `f_refresh`, `f_warm`), so the body is compiled with the feature; call
//! those as you call `f` (in `unsafe`, once the feature is detected). `f_invalidate` and
//! `f_cache()` run no body and stay safe to call anywhere.
//!
//! With `backend = "redis"`, `f_cache()` returns `&'static RedisCache<R>`. Both are one type,
//! [`Cache`], with the same methods on every backend: `stats()`, `clear()`, `clear_async()`,
//! `len()`, `is_empty()`, `capacity()`, `name()` and `version()` (`len()`, `is_empty()` and
//! `capacity()` answer `Option`s: Redis sets no capacity, and counting its entries can fail);
//! Redis adds `configure()` and `config()`.
//! For a function returning `Result<T, E>` without `cache_err`, the cache keeps the `Ok` value
//! alone: `f_cache()` is a `MemoryCache<T, OkOnly>` (or `RedisCache<T, OkOnly>`; see
//! [`layout`]).
//!
//! For an `async fn`, `f`, `f_uncached`, `f_refresh`, `f_invalidate` and `f_warm` are `async`
//! too.
//!
//! A path that must see fresh data wraps its calls in [`bypass()`] (or [`bypass_async`]): memoized
//! functions called there run their bodies and touch no cache, on that thread or in that future
//! only.
//!
//! # Semantics
//!
//! - **Keys.** A call's key depends only on the function's identity (its module path and name, or
//!   `name = "..."`), its `version`, and the values of the arguments that are part of the key: see
//!   [`key`] for the exact encoding and hash. Every argument is part of the key unless listed in
//!   `ignore = [...]`; an argument's type must implement [`CacheKey`] (`#[derive(CacheKey)]` gives
//!   your own types one). `key = <expression>` keys on the expression's value instead, such as
//!   `key = (user.id, page)` (see [`options`](crate::options#key)).
//! - **Results.** What is cached must be `Clone` (return `Arc<T>` for large values, so a hit
//!   clones a pointer). By default a `Result` is cached only when `Ok`, and only its `Ok` value
//!   is kept: a hit returns `Ok(value.clone())`, and the error type needs nothing, so
//!   `std::io::Result<T>`, `anyhow::Result<T>` and `Result<T, Box<dyn Error>>` can be memoized.
//!   With `cache_err = true` the whole `Result` is kept, and the error type must be `Clone` too. `None` is cached unless
//!   `cache_none = false`. `Result` and `Option` are recognised by the last segment of the return
//!   type's path, so `io::Result<T>` counts as a `Result`, and so does another alias of
//!   `std::result::Result` named `Result` (written with two type arguments, they must be the `Ok`
//!   then the error type, as in std's). Another type named `Result` is a compile error: return it
//!   through an alias of another name (`type Reply = Result;`) to cache it as a plain value.
//! - **TTL.** An entry older than `ttl` is never served: the next call recomputes it. Ages are
//!   measured on a coarse [clock] that ticks every millisecond while caches read it; a stalled
//!   tick makes entries live a little longer, never shorter. The clock stops ticking when no
//!   cache has read it for 64 to 128 ms, so an idle process gets no periodic wake-ups; the next
//!   read sees the current time.
//! - **Capacity.** A hard bound: the cache never holds more than `capacity` entries. See
//!   [`memory`] for the eviction order.
//! - **Memory.** `max_bytes = "64MiB"` bounds the bytes too, beside the entries: each entry is
//!   charged its value's [`CacheSize`] (derive it with `#[derive(CacheSize)]`) and a fixed
//!   overhead, and the charges held never exceed `max_bytes`. A value too large for the budget is
//!   returned but not cached. See [`options`](crate::options#max_bytes) and [`memory::budget`].
//! - **Concurrency.** Concurrent misses on one key run the body once; the other callers wait for its
//!   value (threads block, tasks await). If the body panics, nothing is cached, the panic reaches
//!   the caller that ran it, and the waiters run the body themselves, one at a time; the same
//!   happens when the result is not cached (an `Err`), so many concurrent callers of a failing
//!   key compute one after another. A value's `Clone` that
//!   calls a memoized function while the cache clones it runs that function uncached, and the
//!   writes it makes to an in-process cache meanwhile on that thread (`f_invalidate`,
//!   `f_refresh`, `clear`) are skipped with a warning: they would wait for the read the clone is
//!   part of. A `Clone` must not wait for another thread that writes to the same cache. On the
//!   Redis backend "once" holds across processes (`lock = "redis"`, the default there); `lock`
//!   chooses (see [`options`]).
//! - **Re-entrant calls.** A memoized function may call itself. With other arguments (a recursive
//!   `fib`), each key is computed once, as usual. With the arguments of the call it is computing
//!   (the same key), on the same thread, or in the same task for an `async fn`, the inner call
//!   runs the body uncached: it does not wait for the outer call (which waits for it), stores
//!   nothing and takes no lock, so the code returns what it returns without the cache, and the
//!   outer call's value is cached as usual (on Redis, the inner call reads the entry first, like
//!   any call). A body run by `f_warm` or by a background refresh (which holds the key's lock on
//!   Redis) does not wait for itself either. Work that the body hands to another thread or task
//!   and waits for is not the body's own: a call of the same key there waits for the body, which
//!   waits for it. (With `lock = "none"` nobody waits: the inner call is an ordinary one.)
//! - **Background refresh.** With `refresh = "background"`, a hit on an entry older than
//!   `refresh_after` is served at once and recomputed in a bounded pool: see [`refresh`].
//!
//! # Limits
//!
//! - **Generic functions are rejected** at compile time (an `impl Trait` anywhere in an
//!   argument's type, as in `Vec<impl Display>`, makes one). Each instantiation would need its own
//!   cache, and Rust has no generic `static`: every call would first find its cache in a
//!   process-wide map keyed by `TypeId` (a hash and a lock or an atomic load more per hit, and
//!   type parameters would have to be `'static`). A shared backend would also need each type's
//!   identity in the key, the same across builds and compilers: `TypeId` changes from one build
//!   to the next, and `std::any::type_name` is documented as neither stable nor unique, so only a
//!   name the user wrote per type would do. Memoize one non-generic function per concrete type
//!   (a generic function can call the right one), or key one function on a value that says which
//!   type is meant (an enum that derives [`CacheKey`]).
//! - An argument under `#[cfg]` (or a `#[cfg_attr]` that may make one) is rejected: the key and
//!   the companions take every argument. Put the `#[cfg]` on the whole function, one version of
//!   it per configuration.
//! - Methods are supported when they take `&self` (or no `self` is in the key: `ignore = [self]`).
//!   The return type must name its type rather than `Self`. An associated function without a
//!   receiver, and a method of a trait `impl`, do not compile under `#[memoize]` (the attribute
//!   cannot see the `impl`, and the companions cannot go into a trait's): memoize a free
//!   function, and call it from there.
//! - **Do not memoize a method of a generic `impl`, or a trait's default method.** The attribute
//!   sees the function alone, not the `impl` or trait around it, so it cannot reject them: when
//!   the return type names the `impl`'s parameters the code does not compile, but otherwise every
//!   instantiation (every implementor, for a default method) shares one cache, and one type's
//!   value is returned for another's call. Memoize a free function per concrete type instead, or
//!   put what tells the types apart into the key (an argument, or `key = ...`).
//! - Two functions with one name in one module share an identity: two methods of different
//!   types (the key cannot see the `impl`'s type), or two functions nested in different
//!   functions. Give one of them `name = "..."` when they share a Redis backend. The in-process
//!   caches are separate in any case.
//! - `fork()`: a child forked after the caches were used starts its own clock thread, refresh
//!   pools, Redis runtime, connections and near-tier trackers on first use (on Unix). What it
//!   cannot have back is what another thread of the parent held at the moment of the fork (a
//!   shard's lock, a read in progress, a computation that callers of its key would wait for,
//!   including a refresh the crate's own threads were landing): as with any mutex, fork while no
//!   other thread is using the caches, or `exec`.
//!
// Links to the `redis` module, which exists with the feature only: without it they point at the
// `backend` option, which says how to enable it.
#![cfg_attr(feature = "redis", doc = "[redis-module]: mod@redis")]
#![cfg_attr(not(feature = "redis"), doc = "[redis-module]: crate::options#backend")]
#![warn(missing_docs)]

mod cache;
pub mod clock;
mod features;
mod fork;
pub mod key;
pub mod layout;
mod memo;
pub mod memory;
pub mod options;
#[cfg(feature = "redis")]
pub mod redis;
pub mod size;
// Their crate-level paths, which the store and the backends name.
pub use memo::{bypass, refresh, warm};
use memo::{flight, reentry};
mod stats;

#[cfg(feature = "redis")]
pub use crate::redis::{RedisCache, RedisConfig};
pub use bypass::{bypass, bypass_async};
pub use cache::Cache;
pub use cachemacro::{CacheKey, CacheSize, memoize};
pub use key::{CacheKey, KeySink};
pub use memory::MemoryCache;
pub use size::CacheSize;
pub use stats::Stats;
pub use warm::WarmReport;

/// What the macro knows about one memoized function, fixed at compile time.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct FnConfig {
    /// The function's identity: the module path and name, or its `name = "..."`.
    pub name: &'static str,
    /// Its `version = N`.
    pub version: u32,
    /// Its `ttl` in milliseconds; 0 when entries never expire.
    pub ttl_ms: u64,
    /// Its `capacity` (in-process backend).
    pub capacity: u64,
    /// With `refresh = "background"`: the age in milliseconds from which a hit schedules a
    /// refresh. 0 without background refresh.
    pub refresh_after_ms: u64,
    /// The return type as written, to tell values of a changed type apart in a shared backend.
    pub ret_type: &'static str,
    /// Its `lock`, or the macro's default for its backend (`Redis` for Redis, `Process` in
    /// process): who coalesces concurrent misses of one key.
    pub lock: Lock,
    /// Its `lock_ttl` in milliseconds: the expiry of the Redis lock (`Lock::Redis` only); 0 for
    /// the default, 10 s.
    pub lock_ttl_ms: u64,
}

impl FnConfig {
    /// Every option at its default (in process, no `ttl`, the default `capacity`): the macro
    /// writes out only the options a function sets, `FnConfig { ttl_ms: .., ..FnConfig::new(..) }`,
    /// since every token it emits is compiled again at each build of the user's crate.
    #[doc(hidden)]
    pub const fn new(name: &'static str, ret_type: &'static str) -> FnConfig {
        FnConfig {
            name,
            version: 0,
            ttl_ms: 0,
            capacity: memory::DEFAULT_CAPACITY,
            refresh_after_ms: 0,
            ret_type,
            lock: Lock::Process,
            lock_ttl_ms: 0,
        }
    }
}

/// Who makes concurrent misses of one key run the body once: the `lock` option (see
/// [`options`](crate::options#lock)).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// Nobody: every caller that misses runs the body.
    None,
    /// This process: one caller runs the body, the others in this process wait for it.
    Process,
    /// Every process sharing the Redis backend: one caller in all of them runs the body, under a
    /// per-key lock in Redis (see the `redis` module's docs); and one process at a time
    /// refreshes a key in the background. The macro accepts it only with `backend = "redis"`.
    Redis,
}

/// What the generated code calls. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    /// Wraps the expansion of a function with `backend = "redis"` (see `features.rs`).
    pub use crate::__cachemacro_redis_backend as redis_backend;
    pub use crate::cache::Backend;
    pub use crate::key::generated::{KeyExpr, KeyField};
    pub use crate::memo::protocol::{Found, Protocol};
    pub use crate::memory::MemoryCell;
    pub use crate::warm::{
        WarmArgs, WarmCall, WarmFn, WarmItems, Warmed, warm, warm_async, warm_fn,
    };
    pub use crate::{FnConfig, Lock};

    /// Whether a result is stored, for a function that stores every result.
    pub fn every<T>(_: &T) -> bool {
        true
    }

    /// True while memoized calls on this thread run uncached (inside a `bypass`).
    #[inline]
    pub fn bypassed() -> bool {
        crate::bypass::active()
    }

    use crate::key::{CacheKey, KeySink};

    /// Writes one argument of a call's key: implemented by every [`CacheKey`] type.
    ///
    /// The generated code calls this rather than `CacheKey` itself so that an argument type
    /// without a key is reported with advice for arguments, on the argument's type. It has two
    /// impls for the reason given at [`CacheValue`]: with one, the compiler would report the
    /// missing `CacheKey` impl instead, with `CacheKey`'s advice and a list of its impls.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be part of a cache key",
        label = "this argument's type does not implement `CacheKey`",
        note = "if `{Self}` is your type, derive its key with `#[derive(cachemacro_runtime::CacheKey)]`; or key on part of the argument with `#[memoize(key = ...)]`, or leave it out of the key with `#[memoize(ignore = [...])]`",
        note = "`HashMap`/`HashSet` iterate in random order and have no stable key: use `BTreeMap`/`BTreeSet`"
    )]
    pub trait KeyArg {
        /// Writes `self`'s key encoding.
        fn write_arg<S: KeySink + ?Sized>(&self, out: &mut S);
    }

    impl<T: CacheKey + ?Sized> KeyArg for T {
        #[inline(always)]
        fn write_arg<S: KeySink + ?Sized>(&self, out: &mut S) {
            self.write_key(out);
        }
    }

    impl<T: ?Sized> KeyArg for T
    where
        Never<T>: Clone,
    {
        fn write_arg<S: KeySink + ?Sized>(&self, _: &mut S) {}
    }

    /// [`KeyArg`] for a method's `&self`, with the advice for a receiver.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be part of a cache key, so `&self` cannot be",
        label = "`Self` does not implement `CacheKey`",
        note = "derive a key for `{Self}` with `#[derive(cachemacro_runtime::CacheKey)]`, key on part of it with `#[memoize(key = ...)]`, or leave the receiver out of the key with `#[memoize(ignore = [self])]`"
    )]
    pub trait KeySelf {
        /// Writes `self`'s key encoding.
        fn write_self<S: KeySink + ?Sized>(&self, out: &mut S);
    }

    impl<T: CacheKey + ?Sized> KeySelf for T {
        #[inline(always)]
        fn write_self<S: KeySink + ?Sized>(&self, out: &mut S) {
            self.write_key(out);
        }
    }

    impl<T: ?Sized> KeySelf for T
    where
        Never<T>: Clone,
    {
        fn write_self<S: KeySink + ?Sized>(&self, _: &mut S) {}
    }

    /// An argument a background refresh can take an owned copy of: `Clone` values, and
    /// references to `ToOwned` types (`&str` gives a `String`, `&[T]` a `Vec<T>`). A refresh runs
    /// later, on a pool thread, so it cannot borrow the caller's arguments. Two impls, for the
    /// reason given at [`CacheValue`].
    #[diagnostic::on_unimplemented(
        message = "`refresh = \"background\"` needs an owned copy of every argument, and `{Self}` has none",
        label = "a background refresh cannot copy this argument",
        note = "a refresh runs later on a pool thread, so it takes owned copies of the arguments: derive `Clone` for `{Self}`, or pass an `Arc` of it"
    )]
    pub trait RefreshArg {
        /// The owned copy.
        type Owned;
        /// Makes the owned copy.
        fn to_refresh(&self) -> Self::Owned;
    }

    impl<T: ?Sized + ToOwned> RefreshArg for T {
        type Owned = T::Owned;
        #[inline]
        fn to_refresh(&self) -> T::Owned {
            self.to_owned()
        }
    }

    impl<T: ?Sized> RefreshArg for T
    where
        Never<T>: Clone,
    {
        type Owned = ();
        fn to_refresh(&self) {}
    }

    /// Implemented by every type a memoized function can return; its [`Cacheable`] proof unlocks
    /// the function's cache.
    ///
    /// The generated code reaches its cache only through the proof, `<R as CacheValue<_>>::proof()`,
    /// so a return type that cannot be cached is reported once, on the return type: where the
    /// bound fails, the proof's type is unknown and the compiler says nothing more about what is
    /// done with it.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be cached: a memoized function's return type must be `Clone + Send + Sync + 'static`",
        label = "this return type cannot be cached",
        note = "a hit returns a clone of the cached value, and the cache is shared between threads",
        note = "derive `Clone` for the type, or return an `Arc` of it (`Arc<T>` is `Clone`, and `Send + Sync` when `T` is)"
    )]
    pub trait CacheValue<P> {
        /// The proof.
        fn proof() -> P;
    }

    impl<T: Clone + Send + Sync + 'static> CacheValue<Cacheable> for T {
        #[inline(always)]
        fn proof() -> Cacheable {
            Cacheable(())
        }
    }

    // An impl that never applies (`Never<T>` is never `Clone`). With two candidates the compiler
    // checks each one's bounds before it picks one, so for a type that fails them it reports this
    // trait's own message and the proof's type stays unknown; with one, it would pick it
    // regardless, report the bound inside it, and every use of the cache as well.
    impl<T> CacheValue<Cacheable> for T
    where
        Never<T>: Clone,
    {
        fn proof() -> Cacheable {
            Cacheable(())
        }
    }

    /// What `f_cache()` returns. The generated code reaches the cache through `f_cache()`, so
    /// another item of that name beside the function (the compiler reports it as defined twice)
    /// is called instead: this reports that once, where every use of the cache would report its
    /// own error, and leaves the cache's type unknown.
    #[diagnostic::on_unimplemented(
        message = "`#[memoize]` reaches the function's cache through its `_cache` companion, and another item of that name returns `{Self}`",
        label = "this function's `_cache` companion is another item",
        note = "`#[memoize]` on `f` defines `f_uncached`, `f_refresh`, `f_invalidate`, `f_warm` and `f_cache`: rename the other item (or the function)"
    )]
    pub trait FunctionCache {
        /// The cache.
        type Cache;
        /// Returns it.
        fn cache(self) -> Self::Cache;
    }

    impl<R, L, B> FunctionCache for &'static crate::Cache<R, L, B> {
        type Cache = Self;
        #[inline(always)]
        fn cache(self) -> Self {
            self
        }
    }

    /// Never `Clone`: the bound of the impls that never apply.
    pub struct Never<T: ?Sized>(::core::marker::PhantomData<T>);

    /// Proof that a function's return type can be cached.
    #[derive(Clone, Copy)]
    pub struct Cacheable(());

    /// Implemented by every type a function with `max_bytes` can keep: its [`Sizable`] proof
    /// builds the function's byte-bounded cache, so a type without [`CacheSize`](crate::CacheSize)
    /// is reported once, on the type, like [`CacheValue`] (and with two impls for the same
    /// reason).
    #[diagnostic::on_unimplemented(
        message = "`{Self}` does not implement `CacheSize`: with `max_bytes`, the cache must know the size of what it keeps",
        label = "the size in bytes of this type is unknown",
        note = "derive it with `#[derive(cachemacro_runtime::CacheSize)]`, or implement `cachemacro_runtime::CacheSize` by hand",
        note = "of a `Result`, only the `Ok` type is kept, unless `cache_err = true` keeps the error type too"
    )]
    pub trait SizeValue<P> {
        /// The proof.
        fn proof() -> P;
    }

    impl<T: crate::CacheSize> SizeValue<Sizable> for T {
        #[inline(always)]
        fn proof() -> Sizable {
            Sizable(())
        }
    }

    impl<T> SizeValue<Sizable> for T
    where
        Never<T>: Clone,
    {
        fn proof() -> Sizable {
            Sizable(())
        }
    }

    /// Proof that what a function keeps has a [`CacheSize`](crate::CacheSize).
    #[derive(Clone, Copy)]
    pub struct Sizable(());

    impl Sizable {
        /// The in-process cache of a function with `max_bytes`, keeping `R` of its results in
        /// the layout `L`; `cacheable` is the proof that `R` can be cached at all.
        pub fn memory_cache<
            R: crate::CacheSize + Clone + Send + Sync + 'static,
            L: crate::layout::Layout,
        >(
            self,
            cacheable: Cacheable,
            config: FnConfig,
            max_bytes: u64,
        ) -> crate::MemoryCache<R, L> {
            let _ = cacheable;
            crate::MemoryCache::with_max_bytes(config, max_bytes)
        }

        /// As [`Cacheable::and_err`], for `CacheSize` (`cache_err = true`: both types are kept).
        #[inline(always)]
        pub fn and_err<E: ErrorProof<Self>>(self, error: E) -> E::Whole {
            error.whole(self)
        }
    }

    impl ErrorProof<Sizable> for Sizable {
        type Whole = Sizable;
        #[inline(always)]
        fn whole(self, ok: Sizable) -> Sizable {
            ok
        }
    }

    impl Cacheable {
        /// Returns `cache` unchanged, once it is known to be a cache (see [`FunctionCache`]).
        #[inline(always)]
        pub fn pass<C: FunctionCache>(self, cache: C) -> C::Cache {
            cache.cache()
        }

        /// Completes this proof about a `Result`'s `Ok` type with `error`'s about its error type
        /// (`cache_err = true`). Where the error type's proof failed, its type is unknown, and so
        /// is this one's: nothing more is reported.
        #[inline(always)]
        pub fn and_err<E: ErrorProof<Self>>(self, error: E) -> E::Whole {
            error.whole(self)
        }
    }

    /// The `Ok` and error types of a `Result`, named through any alias of it (`io::Result<T>`).
    /// `#[memoize]` knows a `Result` by its name alone, so a type of another kind named `Result`
    /// is reported here, on the return type.
    #[diagnostic::on_unimplemented(
        message = "this return type is named `Result`, but `{Self}` is not `std::result::Result`: `#[memoize]` knows a `Result` by its name, to cache its `Ok` values alone",
        label = "not a `std::result::Result`",
        note = "an alias of `std::result::Result` under that name (`io::Result<T>`, `type Result<T> = std::result::Result<T, MyError>;`) is fine",
        note = "return this type under another name (`type Reply = Result;`), or rename it, to cache it as a plain value"
    )]
    pub trait ResultParts {
        /// The `Ok` type.
        type Ok;
        /// The error type.
        type Err;
    }

    impl<T, E> ResultParts for ::core::result::Result<T, E> {
        type Ok = T;
        type Err = E;
    }

    /// Implemented by every error type a function with `cache_err = true` can cache; its
    /// [`ErrorCacheable`] proof completes the `Ok` type's (see [`Cacheable::and_err`]), so an
    /// error type that cannot be cached is reported once, on itself, with the way out. Two impls,
    /// for the reason given at [`CacheValue`].
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be cached: with `cache_err = true` errors are cached too, so the error type must be `Clone + Send + Sync + 'static`",
        label = "this error type cannot be cached",
        note = "remove `cache_err = true` to cache only `Ok` values: then the error type needs nothing",
        note = "or derive `Clone` for the error type, or return an `Arc` of it"
    )]
    pub trait CachedError<P> {
        /// The proof.
        fn proof() -> P;
    }

    impl<T: Clone + Send + Sync + 'static> CachedError<ErrorCacheable> for T {
        #[inline(always)]
        fn proof() -> ErrorCacheable {
            ErrorCacheable(())
        }
    }

    impl<T> CachedError<ErrorCacheable> for T
    where
        Never<T>: Clone,
    {
        fn proof() -> ErrorCacheable {
            ErrorCacheable(())
        }
    }

    /// Proof that a `Result`'s error type can be cached.
    #[derive(Clone, Copy)]
    pub struct ErrorCacheable(());

    /// A proof about a `Result`'s error type, which makes one about the whole `Result` from the
    /// proof `P` about its `Ok` type.
    pub trait ErrorProof<P> {
        /// The proof about the whole `Result`.
        type Whole;
        /// Makes it.
        fn whole(self, ok: P) -> Self::Whole;
    }

    impl ErrorProof<Cacheable> for ErrorCacheable {
        type Whole = Cacheable;
        #[inline(always)]
        fn whole(self, ok: Cacheable) -> Cacheable {
            ok
        }
    }

    /// Implemented by every type a Redis-backed function can store: the return type, or the `Ok`
    /// type of a `Result` whose errors are not cached. Its [`Storable`] proof unlocks the cache,
    /// so a type without serde is reported once, on the type, like [`CacheValue`] (and with two
    /// impls for the same reason).
    #[cfg(feature = "redis")]
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be stored in Redis: it is not `serde::Serialize + serde::de::DeserializeOwned`",
        label = "a `backend = \"redis\"` function must return a serializable type",
        note = "derive `serde::Serialize` and `serde::Deserialize` for it, or memoize in process (no `backend = \"redis\"`)",
        note = "of a `Result`, only the `Ok` type is stored, unless `cache_err = true` stores the error type too"
    )]
    pub trait StoredValue<P> {
        /// The proof.
        fn proof() -> P;
    }

    #[cfg(feature = "redis")]
    impl<T: serde::Serialize + serde::de::DeserializeOwned> StoredValue<Storable> for T {
        #[inline(always)]
        fn proof() -> Storable {
            Storable(())
        }
    }

    #[cfg(feature = "redis")]
    impl<T> StoredValue<Storable> for T
    where
        Never<T>: Clone,
    {
        fn proof() -> Storable {
            Storable(())
        }
    }

    /// Proof that what a Redis-backed function stores is serializable.
    #[cfg(feature = "redis")]
    #[derive(Clone, Copy)]
    pub struct Storable(());

    #[cfg(feature = "redis")]
    impl Storable {
        /// Returns `cache` unchanged.
        #[inline(always)]
        pub fn pass<C>(self, cache: C) -> C {
            cache
        }

        /// As [`Cacheable::and_err`], for serde.
        #[inline(always)]
        pub fn and_err<E: ErrorProof<Self>>(self, error: E) -> E::Whole {
            error.whole(self)
        }
    }

    /// Implemented by every error type a Redis-backed function with `cache_err = true` can
    /// store: as [`CachedError`], for serde.
    #[cfg(feature = "redis")]
    #[diagnostic::on_unimplemented(
        message = "`{Self}` cannot be stored in Redis: with `cache_err = true` errors are stored too, so the error type must be `serde::Serialize + serde::de::DeserializeOwned`",
        label = "this error type cannot be stored",
        note = "remove `cache_err = true` to store only `Ok` values: then the error type needs no serde",
        note = "or derive `serde::Serialize` and `serde::Deserialize` for the error type"
    )]
    pub trait StoredError<P> {
        /// The proof.
        fn proof() -> P;
    }

    #[cfg(feature = "redis")]
    impl<T: serde::Serialize + serde::de::DeserializeOwned> StoredError<ErrorStorable> for T {
        #[inline(always)]
        fn proof() -> ErrorStorable {
            ErrorStorable(())
        }
    }

    #[cfg(feature = "redis")]
    impl<T> StoredError<ErrorStorable> for T
    where
        Never<T>: Clone,
    {
        fn proof() -> ErrorStorable {
            ErrorStorable(())
        }
    }

    /// Proof that a `Result`'s error type can be stored in Redis.
    #[cfg(feature = "redis")]
    #[derive(Clone, Copy)]
    pub struct ErrorStorable(());

    #[cfg(feature = "redis")]
    impl ErrorProof<Storable> for ErrorStorable {
        type Whole = Storable;
        #[inline(always)]
        fn whole(self, ok: Storable) -> Storable {
            ok
        }
    }

    pub use crate::layout::{OkOnly, Whole};
}
