//! Every option of `#[memoize(...)]`: its type, its default, what it does, and an example.
//!
//! Options are written `name = value` and separated by commas, in any order:
//! `#[memoize(ttl = "5m", capacity = 1_000, ignore = [logger])]`. All of them are checked at
//! compile time: an unknown option (with the closest valid name suggested), an option set twice, a
//! value of the wrong kind or out of range, or an option that does not fit the function is a
//! compile error on the offending token, and every such mistake is reported in the same build.
//!
//! | option | type | default | meaning |
//! |---|---|---|---|
//! | [`ttl`](#ttl) | whole seconds, or a string with a unit; at most 100,000 days | no expiry | entries older than this are never served |
//! | [`capacity`](#capacity) | integer, 1 to 4294967295 | 10,000 | at most this many entries are kept |
//! | [`max_bytes`](#max_bytes) | whole bytes, or a string with a unit (`"64MiB"`) | none | at most this many bytes of entries are kept |
//! | [`name`](#name) | string | `module::path::fn_name` | the function's identity in its keys |
//! | [`version`](#version) | integer, `u32` | 0 | bump it to drop the entries of older versions |
//! | [`ignore`](#ignore) | list of argument names | `[]` | arguments left out of the key |
//! | [`key`](#key) | an expression over the arguments | every argument not in `ignore` | the key is this expression's value |
//! | [`cache_err`](#cache_err) | `bool` | `false` | also cache the `Err` of a `Result` |
//! | [`cache_none`](#cache_none) | `bool` | `true` | cache the `None` of an `Option` |
//! | [`backend`](#backend) | `"memory"` or `"redis"` | `"memory"` | where the entries live |
//! | [`refresh`](#refresh) | `"background"` or `"none"` | `"none"` | serve stale hits and recompute them in a pool |
//! | [`refresh_after`](#refresh_after) | whole seconds, or a string with a unit | half the `ttl` | the age from which a hit schedules a refresh |
//! | [`lock`](#lock) | `"redis"`, `"process"` or `"none"` | `"redis"` with `backend = "redis"`, else `"process"` | who computes a missing entry while the other callers wait |
//! | [`lock_ttl`](#lock_ttl) | whole seconds, or a string with a unit | 10 s | how long a Redis lock lasts, so how long a crashed holder stalls the others |
//! | [`near`](#near) | integer, 1 to 4294967295 (with `backend = "redis"`) | none | an in-process tier of at most this many entries in front of Redis, kept coherent |
//! | [`near_ttl`](#near_ttl) | whole seconds, or a string with a unit; at most the `ttl` | the `ttl` | the longest an entry stays in the near tier |
//! | [`crate`](#crate) | path as a string | `cachemacro_runtime` | the runtime crate, if renamed |
//!
//! # `ttl`
//!
//! **Type:** a whole number of seconds (`ttl = 60`), or a string of digits and one unit, `ms`, `s`,
//! `m`, `h` or `d` (`ttl = "250ms"`, `"90s"`, `"5m"`, `"1h"`, `"1d"`). **Default:** none; entries
//! never expire (they still leave when the cache is full).
//!
//! An entry older than `ttl` is never served: the next call runs the body and stores a fresh value.
//! A `ttl` of zero is rejected (leave `ttl` out to keep entries), and so is one over 100,000 days
//! (Redis takes no longer expiry; the same bound holds for `refresh_after`, `lock_ttl` and
//! `near_ttl`).
//!
//! ```
//! use cachemacro_runtime::memoize;
//!
//! #[memoize(ttl = 60)]
//! fn exchange_rate(currency: &str) -> f64 {
//!     if currency == "EUR" { 1.08 } else { 1.0 }
//! }
//!
//! #[memoize(ttl = "250ms")]
//! fn queue_depth(queue: &str) -> usize {
//!     queue.len()
//! }
//!
//! assert_eq!(exchange_rate("EUR"), 1.08);
//! assert_eq!(queue_depth("jobs"), 4);
//! ```
//!
//! # `capacity`
//!
//! **Type:** a whole number from 1 to 4294967295. **Default:** 10,000
//! ([`DEFAULT_CAPACITY`](crate::memory::DEFAULT_CAPACITY)).
//!
//! The most entries the function's in-process cache holds; when it is full, inserting evicts an
//! entry (see [`memory`](crate::memory) for the order).
//!
//! ```
//! use cachemacro_runtime::memoize;
//!
//! #[memoize(capacity = 2)]
//! fn square(x: u64) -> u64 {
//!     x * x
//! }
//!
//! for x in 0..10 {
//!     square(x);
//! }
//! assert!(matches!(square_cache().len(), Some(n) if n <= 2));
//! assert_eq!(square_cache().capacity(), Some(2));
//! ```
//!
//! # `max_bytes`
//!
//! **Type:** a whole number of bytes (`max_bytes = 1_000_000`), or a string of digits and one
//! unit, `B`, `KB`, `KiB`, `MB`, `MiB`, `GB` or `GiB` (`max_bytes = "64MiB"`; `KB` is 1000 bytes,
//! `KiB` 1024). **Default:** none; only `capacity` bounds the cache. In process only: with
//! `backend = "redis"` it is a compile error (Redis' `maxmemory` bounds Redis).
//!
//! The most bytes the function's in-process cache holds: each entry is charged its value's
//! [`CacheSize`](crate::CacheSize) plus [`ENTRY_OVERHEAD`](crate::memory::ENTRY_OVERHEAD) (64
//! bytes), and the charges held never exceed `max_bytes`; storing a value evicts entries (in the
//! usual order, see [`memory`](crate::memory)) until it fits. `capacity` still holds beside it,
//! with its default of 10,000 when not given: both bounds hold at once. What is kept (the return
//! type, or the `Ok` type of a `Result` without `cache_err`) must implement
//! [`CacheSize`](crate::CacheSize): `#[derive(CacheSize)]` gives your types one, and a type
//! without one is a compile error on the return type.
//!
//! A value charged more than the budget it would share is returned to its caller, and to the
//! callers waiting for it, but not stored (counted in [`Stats::oversized`](crate::Stats)); the
//! budget is split over the cache's shards, so that bound is `max_bytes` below 2 MiB and at least
//! `max_bytes / 64` above (see [`memory::budget`](crate::memory::budget)). A zero `max_bytes`, an
//! unknown unit and a size that overflows a `u64` are compile errors.
//!
//! ```
//! use cachemacro_runtime::{CacheSize, memoize};
//!
//! #[derive(Clone, CacheSize)]
//! struct Report {
//!     day: u32,
//!     lines: Vec<String>,
//! }
//!
//! #[memoize(max_bytes = "64KiB")]
//! fn report(day: u32) -> Report {
//!     Report { day, lines: vec!["x".repeat(1000); 4] }
//! }
//!
//! #[memoize(max_bytes = "64KiB", capacity = 100)]
//! fn page(n: usize) -> Vec<u8> {
//!     vec![0; n]
//! }
//!
//! for day in 0..100 {
//!     report(day);
//! }
//! let cache = report_cache();
//! assert!(cache.bytes().unwrap() <= 64 * 1024);
//! assert_eq!(cache.max_bytes(), Some(64 * 1024));
//!
//! page(100_000); // larger than the budget: returned, not cached
//! assert_eq!(page_cache().len(), Some(0));
//! assert_eq!(page_cache().stats().oversized, 1);
//! ```
//!
//! # `name`
//!
//! **Type:** a non-empty string without control characters. **Default:** the function's module
//! path and name, as in `my_app::users::user_name`.
//!
//! The function's identity, the first part of every key it writes (see [`key`](crate::key)). Give
//! one when the identity must outlive a move or a rename of the function, or to tell apart two
//! methods of the same name in one module that share a Redis backend.
//!
//! ```
//! use cachemacro_runtime::memoize;
//!
//! #[memoize(name = "users::by_id")]
//! fn user(id: u32) -> String {
//!     format!("user {id}")
//! }
//!
//! assert_eq!(user(1), "user 1");
//! assert_eq!(user_cache().name(), "users::by_id");
//! ```
//!
//! # `version`
//!
//! **Type:** a whole number that fits in a `u32`. **Default:** 0.
//!
//! Part of every key: bump it when the function's results change meaning, so entries written by
//! the previous version (in a shared backend, by processes still running it) are never read.
//!
//! ```
//! use cachemacro_runtime::memoize;
//!
//! #[memoize(version = 2)]
//! fn price_in_cents(sku: u32) -> u64 {
//!     u64::from(sku) * 100
//! }
//!
//! assert_eq!(price_in_cents(3), 300);
//! assert_eq!(price_in_cents_cache().version(), 2);
//! ```
//!
//! # `ignore`
//!
//! **Type:** a list of the function's argument names, `self` included. **Default:** `[]`; every
//! argument is part of the key.
//!
//! The listed arguments are left out of the key: calls that differ only in them share an entry.
//! Use it for arguments that do not change the result (a logger, a connection pool, a `&self` with
//! no state that matters), and for arguments whose type does not implement
//! [`CacheKey`](crate::CacheKey). Each name must be an argument, listed once. To key on part of
//! an argument, use [`key`](#key) instead.
//!
//! ```
//! use cachemacro_runtime::memoize;
//!
//! struct Logger;
//! struct Repo;
//!
//! impl Repo {
//!     #[memoize(ignore = [self, log])]
//!     fn count(&self, table: &str, log: &Logger) -> usize {
//!         let _ = log;
//!         table.len()
//!     }
//! }
//!
//! assert_eq!(Repo.count("users", &Logger), 5);
//! assert_eq!(Repo.count("users", &Logger), 5); // the same key: a hit
//! assert_eq!(Repo::count_cache().stats().hits, 1);
//! ```
//!
//! # `key`
//!
//! **Type:** an expression over the arguments (and `self`). **Default:** none: the key is every
//! argument not in `ignore`. **Not with:** `ignore`.
//!
//! The key is the expression's value instead of the arguments: key on what decides the result
//! (an id, a normalized query) when an argument has no key, or carries data that does not change
//! the result. The expression's type must implement [`CacheKey`](crate::CacheKey); the arguments
//! it does not use need not.
//!
//! In the expression the arguments are borrowed: an argument `x: T` is a `&T` there (fields and
//! methods see through it, `*page` copies a `Copy` value), and `self` is `&Self`. It runs once per
//! call, before the lookup, and cannot `.await`; every companion (`f_refresh`, `f_invalidate`,
//! `f_warm`) computes the key with it too. With `refresh = "background"` the key is computed at
//! the call and the refresh gets copies of the arguments, as without `key`. Keep it cheap and
//! deterministic: equal inputs must give equal keys in every process.
//!
//! A lowercase name in it that is neither an argument nor bound in the expression itself (a
//! closure's parameter, a `let`, a `match` arm) is a compile error that suggests the closest
//! argument. Constants, paths (`Self::LIMIT`, `crate::x`) and called functions are left to the
//! compiler; write a lowercase `static` used as a value by its path (`self::name`).
//!
//! ```
//! use cachemacro_runtime::memoize;
//!
//! struct Db; // a connection: no key, and not part of one
//!
//! struct User {
//!     id: u64,
//!     name: String,
//! }
//!
//! #[memoize(key = (user.id, page))]
//! fn feed(db: &Db, user: &User, page: u32) -> Vec<String> {
//!     let _ = db;
//!     vec![format!("{} page {page}", user.name)]
//! }
//!
//! let ada = User { id: 7, name: "ada".into() };
//! assert_eq!(feed(&Db, &ada, 1), ["ada page 1"]);
//! let renamed = User { id: 7, name: "ada l.".into() };
//! assert_eq!(feed(&Db, &renamed, 1), ["ada page 1"]); // the same id and page: a hit
//! assert_eq!(feed_cache().stats().hits, 1);
//! ```
//!
//! # `cache_err`
//!
//! **Type:** `bool`. **Default:** `false`. Only for a function returning a `Result` (any type
//! whose path ends in `Result`, such as `io::Result<T>`).
//!
//! By default only `Ok` results are cached, so a failure is retried on the next call, and only
//! the `Ok` value is kept: the error type needs neither `Clone` nor serde, so `io::Result<T>` or
//! `Result<T, Box<dyn Error + Send + Sync>>` can be memoized as they are.
//!
//! ```
//! use cachemacro_runtime::memoize;
//!
//! #[memoize]
//! fn read_conf(path: &str) -> std::io::Result<String> {
//!     std::fs::read_to_string(path) // `io::Error` is not `Clone`: it is never cached
//! }
//!
//! assert!(read_conf("/no/such/file").is_err());
//! assert_eq!(read_conf_cache().len(), Some(0));
//! ```
//!
//! With `cache_err = true` errors are cached too, for as long as a value would be: use it for
//! errors that will not go away (a "not found" that is a normal answer). The error type must then
//! be `Clone` (and serde on Redis); if it is not, the compile error is on the error type.
//!
//! ```
//! use cachemacro_runtime::memoize;
//!
//! #[memoize(cache_err = true)]
//! fn parse_port(text: &str) -> Result<u16, String> {
//!     text.parse().map_err(|_| format!("not a port: {text}"))
//! }
//!
//! assert!(parse_port("http").is_err());
//! assert!(parse_port("http").is_err()); // served from the cache
//! assert_eq!(parse_port_cache().stats().hits, 1);
//! ```
//!
//! # `cache_none`
//!
//! **Type:** `bool`. **Default:** `true`. Only for a function returning an `Option` (any type
//! whose path ends in `Option`).
//!
//! By default `None` is cached like any other value. With `cache_none = false` it is not, so a
//! lookup that found nothing is retried on the next call: use it when the value may appear later.
//!
//! ```
//! use cachemacro_runtime::memoize;
//!
//! #[memoize(cache_none = false)]
//! fn find_order(id: u32) -> Option<String> {
//!     (id % 2 == 0).then(|| format!("order {id}"))
//! }
//!
//! assert_eq!(find_order(1), None);
//! assert_eq!(find_order(2).as_deref(), Some("order 2"));
//! assert_eq!(find_order_cache().len(), Some(1)); // only the `Some`
//! ```
//!
//! # `backend`
//!
//! **Type:** a string, `"memory"` or `"redis"`. **Default:** `"memory"`.
//!
//! Where the entries live. `"memory"` keeps them in the process, in a
//! [`MemoryCache`](crate::MemoryCache). `"redis"` keeps them in Redis, shared by every process
//! that runs the function; its return type must also be serializable, and this crate's cargo
//! feature `redis` must be on (without it, `backend = "redis"` is a compile error on `"redis"` that
//! names the feature). Any other string is rejected with the list of backends, and a close
//! misspelling with the backend meant.
//!
//! ```
//! use cachemacro_runtime::memoize;
//!
//! #[memoize(backend = "memory")]
//! fn greeting(name: &str) -> String {
//!     format!("hello, {name}")
//! }
//!
//! assert_eq!(greeting("ada"), "hello, ada");
//! ```
//!
//! # `refresh`
//!
//! **Type:** a string, `"background"` or `"none"`. **Default:** `"none"`. **Needs:** `ttl`.
//!
//! With `"background"`, a hit on an entry older than [`refresh_after`](#refresh_after) (and younger
//! than `ttl`) returns the cached value at once and schedules one recomputation of that key in the
//! bounded [refresh pool](crate::refresh); at most one refresh per key is in flight in a process.
//! When it lands, the new value replaces the old one with a full `ttl`; a failed refresh (an `Err`
//! that is not cached, or a panic) keeps the old value and is counted in
//! [`Stats::refreshes_failed`](crate::Stats::refreshes_failed). An entry older than `ttl` is never
//! served: that call computes inline, as for any miss.
//!
//! The refresh runs later, on another thread, so it takes owned copies of the arguments: values
//! must be `Clone`, references must point to `ToOwned` types (`&str` becomes a `String`), and a
//! method's `self` must be `Clone`. Without a `ttl`, or with another string, the build fails.
//!
//! ```
//! use cachemacro_runtime::memoize;
//!
//! #[memoize(ttl = "10m", refresh = "background")]
//! fn servers(region: &str) -> Vec<String> {
//!     vec![format!("{region}-1"), format!("{region}-2")] // imagine 5 s of network calls
//! }
//!
//! assert_eq!(servers("eu").len(), 2);
//! ```
//!
//! # `refresh_after`
//!
//! **Type:** whole seconds (`30`) or a string with a unit, like `ttl`. **Default:** half the `ttl`.
//! **Needs:** `refresh = "background"`, and must be shorter than `ttl`.
//!
//! The age from which a hit schedules a background refresh. Younger entries are ordinary hits.
//!
//! ```
//! use cachemacro_runtime::memoize;
//!
//! #[memoize(ttl = "10m", refresh = "background", refresh_after = "30s")]
//! fn price(listing: u64) -> u64 {
//!     listing * 100
//! }
//!
//! assert_eq!(price(2), 200);
//! ```
//!
//! # `lock`
//!
//! **Type:** a string, `"redis"`, `"process"` or `"none"`. **Default:** `"redis"` with
//! `backend = "redis"`, `"process"` otherwise.
//!
//! Who makes concurrent misses of one key run the body once:
//!
//! - `"process"`: one caller per process runs the body; the others in the process wait for its
//!   value (threads block, tasks await). Processes sharing a Redis backend may each run it.
//! - `"redis"` (only with `backend = "redis"`): one caller among all the processes sharing the
//!   backend runs the body. The first to miss takes a per-key lock in Redis; callers in other
//!   processes wait for the value and are served it as a hit. If the holder dies, or its body
//!   runs longer than [`lock_ttl`](#lock_ttl), one waiter takes the lock over and runs the body;
//!   if it returns a value that is not cached (an `Err`), the lock is released and the waiters
//!   compete again. With `refresh = "background"`, one process at a time refreshes a key: the
//!   others skip their refresh
//!   ([`Stats::refreshes_skipped`](crate::Stats::refreshes_skipped)). If Redis fails during the
//!   lock, the call runs the body without it. See [the Redis backend][redis-locks].
//! - `"none"`: every caller that misses runs the body, with no waiting: for bodies so cheap that
//!   waiting costs more than computing.
//!
//! `lock = "redis"` without `backend = "redis"` is rejected, as is any other string.
//!
//! ```no_run
//! use cachemacro_runtime::memoize;
//!
//! // One process computes a missing report; the others wait for it.
//! #[memoize(ttl = "1h", backend = "redis")]
//! fn daily_report(day: u32) -> String {
//!     format!("report {day}") // imagine a minute of queries
//! }
//!
//! // One computation per process, none across processes.
//! #[memoize(ttl = "1m", backend = "redis", lock = "process")]
//! fn feature_flags(team: u32) -> Vec<String> {
//!     vec![format!("team-{team}")]
//! }
//!
//! // Cheap: every caller that misses computes, and nobody waits.
//! #[memoize(ttl = "1m", backend = "redis", lock = "none")]
//! fn shard_of(user: u64) -> u64 {
//!     user % 16
//! }
//!
//! assert_eq!(daily_report(1), "report 1");
//! assert_eq!(feature_flags(2), ["team-2"]);
//! assert_eq!(shard_of(17), 1);
//! ```
//!
//! # `lock_ttl`
//!
//! **Type:** whole seconds (`10`) or a string with a unit, like `ttl`. **Default:** 10 s
//! ([`DEFAULT_LOCK_TTL`][default-lock-ttl]). **Needs:** `lock = "redis"` (the
//! default with `backend = "redis"`).
//!
//! How long a Redis lock lasts. It is not renewed while the body runs, so set it above the body's
//! slowest normal run: past it, one waiting process takes over and runs the body as well. It is
//! also the longest the other processes wait after a holder crashed, and the longest this
//! function waits for any one holder: a lock another deployment set with a longer `lock_ttl`, or
//! one left by hand, is taken over after this function's own. Zero is rejected, and so is
//! a `lock_ttl` with `lock = "process"` or `"none"`, or with the in-process backend.
//!
//! It is also how long the mark of an invalidation lives in Redis (see the `redis` module's
//! "Invalidation"): a computation that began before `f_invalidate`,
//! `f_refresh` or `clear()` stores nothing if it ends within `lock_ttl` of it (10 s with the other
//! locks).
//!
//! ```no_run
//! use cachemacro_runtime::memoize;
//!
//! #[memoize(ttl = "1d", backend = "redis", lock_ttl = "2m")]
//! fn monthly_invoice(customer: u64) -> u64 {
//!     customer * 100 // imagine a minute of work
//! }
//!
//! assert_eq!(monthly_invoice(3), 300);
//! ```
//!
//! # `near`
//!
//! **Type:** a whole number of entries, 1 to 4294967295. **Default:** none (every call asks
//! Redis). **Needs:** `backend = "redis"`.
//!
//! Keeps an in-process tier of at most this many entries in front of Redis: a call looks there
//! first (a hit there costs about what an in-process hit costs and sends nothing to Redis), then in
//! Redis, then computes as without it. A value read from Redis or computed here enters the tier.
//! The tier is coherent: when an entry changes or disappears in Redis, by any process or by hand,
//! every process drops it from its tier, through Redis' client-side caching (one extra connection
//! per function; see [`redis`][redis-near-tier] for the exact guarantees).
//! [`Stats::near_hits`](crate::Stats::near_hits) counts the hits served by the tier (they are also
//! counted in `hits`). A near hit schedules no background refresh: refreshes are scheduled by the
//! calls that reach Redis.
//!
//! ```no_run
//! use cachemacro_runtime::memoize;
//!
//! #[memoize(ttl = "10m", backend = "redis", near = 10_000)]
//! fn display_name(user: u64) -> String {
//!     format!("user {user}") // imagine a database query
//! }
//!
//! assert_eq!(display_name(7), "user 7");
//! ```
//!
//! # `near_ttl`
//!
//! **Type:** whole seconds or a string with a unit, like `ttl`. **Default:** the `ttl` (no bound
//! without one). **Needs:** `near`.
//!
//! The longest an entry stays in the near tier, counted from when it entered; never longer than
//! the `ttl` (a longer `near_ttl` is a compile error). It bounds how long a process could serve a
//! value whose invalidation it missed for a reason Redis does not report.
//!
//! ```no_run
//! use cachemacro_runtime::memoize;
//!
//! #[memoize(ttl = "10m", backend = "redis", near = 1_000, near_ttl = "30s")]
//! fn price(item: u64) -> u64 {
//!     item * 3
//! }
//!
//! assert_eq!(price(2), 6);
//! ```
//!
//! # `crate`
//!
//! **Type:** the path of the runtime crate, as a string. **Default:** `cachemacro_runtime`.
//!
//! The generated code names the runtime by an absolute path. If your `Cargo.toml` renames the
//! dependency (`cache = { package = "cachemacro-runtime", ... }`), or you reach it through a
//! re-export, say where it is. A single name means a crate (`"cache"` becomes `::cache`), but
//! for `crate`, `self` and `super`; a longer path is used as written (`"crate::deps::cache"`).
//!
//! ```
//! extern crate cachemacro_runtime as cache;
//!
//! #[cache::memoize(crate = "cache")]
//! fn double(x: u32) -> u32 {
//!     x * 2
//! }
//!
//! fn main() {
//!     assert_eq!(double(21), 42);
//! }
//! ```
// Links to the `redis` module, which exists with the feature only: without it they point at the
// `backend` option, which says how to enable it.
#![cfg_attr(
    feature = "redis",
    doc = "\n[redis-locks]: crate::redis#locks\n[default-lock-ttl]: crate::redis::DEFAULT_LOCK_TTL\n[redis-near-tier]: crate::redis#near-tier"
)]
#![cfg_attr(
    not(feature = "redis"),
    doc = "\n[redis-locks]: crate::options#backend\n[default-lock-ttl]: crate::options#backend\n[redis-near-tier]: crate::options#backend"
)]
