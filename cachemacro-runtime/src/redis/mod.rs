//! The shared backend: `#[memoize(backend = "redis")]` keeps entries in Redis, so every process
//! that memoizes the same function with the same arguments finds the same entry.
//!
//! ```no_run
//! use cachemacro_runtime::memoize;
//! # #[derive(Clone, serde::Serialize, serde::Deserialize)] struct Server;
//!
//! #[memoize(ttl = "10m", backend = "redis")]
//! fn servers(region: &str) -> Vec<Server> {
//!     vec![] // imagine an inventory query
//! }
//!
//! let here = servers("eu-west"); // computed here, or by any other process, within 10 minutes
//! println!("{:?}", servers_cache().stats());
//! ```
//!
//! # Configuration
//!
//! A function's [`RedisConfig`] is, in order of preference: the one given to its own
//! [`RedisCache::configure`]; the one given to [`configure`] at start-up; or
//! [`RedisConfig::new`]: the environment variables `CACHEMACRO_REDIS_URL` and
//! `CACHEMACRO_REDIS_NAMESPACE`, else `redis://127.0.0.1:6379/` and the namespace `cachemacro`, a
//! timeout of 200 ms per operation and values of at most 8 MiB. `rediss://` URLs need the cargo
//! feature `tls`. Nothing connects until the first call; all functions configured with one URL
//! share one multiplexed, auto-reconnecting connection (redis-rs' connection manager), driven by a
//! one-thread tokio runtime of this crate's own. A sync function's lookup (without background
//! refresh) sends its `GET` on a blocking connection of its own thread instead, taken from a pool
//! of at most 8 per URL (a caller that finds all 8 in use reads through the multiplexed one), so
//! that a hit costs about what a blocking `GET` costs; its timeout bounds connecting and each
//! socket read and write. The rest of a miss (the lock, the write) goes through the multiplexed
//! connection.
//!
//! # Keys and values
//!
//! An entry's key is `{namespace}:` followed by [`format_key`](crate::key::format_key): for example
//! `cachemacro:app::servers@v0:6a09e667f3bcc908b2fb1366ea957d3e`. Arguments appear only as their
//! hash. The value is the result serialized with postcard inside a small
//! [`envelope`] that names the format and the return type, written with `SET key value PX ttl`
//! (no `PX` without a `ttl`) inside a script (`EVALSHA`) that first checks that the key was not
//! invalidated since its computation began (see [Invalidation](#invalidation)). Of a `Result`
//! whose errors are not cached (`cache_err = false`, the default), only the `Ok` value is
//! stored, so the error type needs no serde; entries of the two layouts have different type tags,
//! so flipping `cache_err` makes old entries misses. What is stored must be `Clone`, `serde::Serialize` and
//! `serde::de::DeserializeOwned`; types that serde can only read self-describing formats into
//! (`#[serde(flatten)]`, untagged enums, `serde_json::Value`) do not round-trip through postcard.
//! Change the function's `version` when a type's fields change. A type that is not serializable
//! is rejected at compile time, once, on the type:
//!
//! ```compile_fail
//! # use cachemacro_runtime::memoize;
//! #[derive(Clone)]
//! struct Handle(u32); // no serde derives
//!
//! #[memoize(backend = "redis")]
//! fn open(path: &str) -> Handle { // error: `Handle` cannot be stored in Redis
//!     Handle(3)
//! }
//! ```
//!
//! # Failures
//!
//! The cache never makes a call fail. When Redis is unreachable, refuses a command or does not
//! answer within the timeout, or a stored value cannot be read (another type, another format,
//! corrupt, larger than the limit), the call runs the body and returns its value; the error is
//! counted in [`Stats::errors`](crate::Stats::errors) and logged through `tracing` (`WARN`, with Redis' reply) at most
//! once per [`LOG_INTERVAL`] (10 s) per function, and an unreadable value is overwritten by the
//! new one. After a connection failure, a timeout, or a reply that retrying will not change,
//! Redis is left alone for [`COOL_DOWN`] (1 s): calls run the body straight away (these skipped
//! calls are misses, not errors), then the next call tries again and caching resumes by itself.
//! The replies that retrying will not change are those refusing every command of the connection:
//! a wrong or missing password (`WRONGPASS`, `NOAUTH`), an ACL that forbids the backend's
//! commands or keys (`NOPERM`; an ACL that refuses only some keys also cools the whole URL down,
//! so give a function whose keys it refuses a URL or ACL user of its own), a database that does not exist (`SELECT` fails), a read-only replica
//! (`READONLY`) or a server that cannot persist (`MISCONF`), and a server loading its data
//! (`LOADING`), blocked by a script (`BUSY`) or a replica without its primary (`MASTERDOWN`).
//! So a misconfigured Redis costs one attempt (about one error) per second, not two errors per
//! call; the attempt after a refusal is made on a new connection, so a configuration fixed
//! meanwhile (a password, a promoted replica) is picked up. A refusal of one command or key
//! (`WRONGTYPE`, an unknown command, `OOM` on a write) is one call's error, with no cool-down.
//! `f_invalidate`, `clear()` and `len()` are tried even during a cool-down, once per call; when
//! they fail, `f_invalidate` returns `false`, `len()` returns `None`, and the error is counted and
//! logged.
//!
//! # Invalidation
//!
//! `f_invalidate`, `f_refresh` and `clear()` hold across processes for computations already
//! running: a value whose body began before Redis handled the invalidation is returned to its
//! callers but not stored, in any process, so it cannot undo the invalidation. For that, an
//! invalidation leaves a mark (`{entry key}:invalidated`, or
//! `{namespace}:{function}@v{version}:cleared` for `clear()`), holding Redis' time and expiring
//! after the function's `lock_ttl`; every write of a computed value is a script that reads the
//! marks. A value stored more than `lock_ttl` (10 s unless set; always 10 s with `lock =
//! "process"` or `"none"`, which take no `lock_ttl`) after the invalidation outlives its mark, and
//! is stored as before; so is one whose mark Redis evicted (a `maxmemory` policy of
//! `volatile-ttl` evicts marks and locks first). Under the lock, a computation's start is Redis'
//! time when it took the lock; with `lock = "process"` or `"none"` it is estimated with this
//! process' clock: Redis' time at the write minus how long ago the lookup was sent. The lookup's
//! round trip makes that early; a write that waits longer than it before Redis runs it (a
//! reconnection, a script reloaded after a restart) can miss an invalidation made that soon after
//! the body began. `f_refresh`, and a background refresh without the lock, read Redis' time
//! before the body runs. Within a process, a call made after the invalidation computes anew
//! rather than wait for a computation that began before it. Marks are not entries: `len()` does
//! not count them. Of two `f_refresh` calls of one key, the value of the one that began last is
//! kept, whichever lands first (within `lock_ttl` of each other). Marks hold Redis' wall-clock
//! time: a server clock stepped back (or a failover to a primary whose clock is behind) can let
//! a value that began before an invalidation be stored.
//!
//! # Forked processes
//!
//! A process forked after it used the backend (a pre-fork server that forks its workers) gets its
//! own background runtime, connections and near-tier trackers on first use in the child: the
//! parent's threads are not in the child, and the parent's sockets stay the parent's. Entries in
//! Redis are shared as between any two processes; a near tier starts empty in the child, since
//! no tracker of the child saw the changes made since the fork. Forks are counted by a
//! `pthread_atfork` handler (on Unix); see the crate's limits for what a fork cannot carry over.
//!
//! # Locks
//!
//! Concurrent misses on one key run the body once in all the processes sharing the backend
//! (`lock = "redis"`, the default here). Within a process, one caller looks the key up and the
//! others wait for it, as with the in-process backend (sync callers read the key first, each on
//! its own connection, and join the wait only when they miss). When that caller misses, it claims
//! the key's lock in Redis, `{entry key}:lock` (for example
//! `cachemacro:app::servers@v0:6a09e667f3bcc908b2fb1366ea957d3e:lock`), holding a random token
//! and expiring after `lock_ttl` ([`DEFAULT_LOCK_TTL`], 10 s, unless the function sets it). The
//! holder runs the body, stores the value, then deletes the lock if it still holds its token.
//! A process that finds the key locked waits: it asks again after 5 ms, then after doubling
//! pauses up to [`MAX_BACKOFF`] (100 ms), until the value is there (a hit) or the lock is free,
//! and then takes it over and runs the body itself. That happens when the holder's result was
//! not cached (an `Err`), or the holder panicked, was cancelled or died (its lock expires), or
//! its body ran longer than `lock_ttl` (the lock is not renewed: set `lock_ttl` above the body's
//! slowest normal run). A process waits for one holder at most its own `lock_ttl`, whatever the
//! lock's own expiry: a lock set with a longer one by another deployment or by hand (or with
//! none) is then taken over as if it had expired. Each step is one Lua script (`EVALSHA`) that
//! reads the entry and the lock at one instant, so one process takes over, and none runs the body
//! once the value is stored.
//! Threads block while they wait; tasks await, without blocking their runtime's thread.
//! [`Stats`](crate::Stats) counts the waits (`lock_waits`) and takeovers (`lock_takeovers`).
//!
//! A call made inside the body that computes its own key (on the same thread, or in the same
//! task) does not wait for that computation: it reads the entry like any call, and when there is
//! none it runs the body uncached, neither joining this process' flight nor claiming the lock
//! that the outer call holds (it would wait for it until `lock_ttl`), and stores nothing. The
//! same holds in the body of a background refresh, which holds the key's lock while it runs.
//!
//! A result that is not cached (an `Err`) is not shared either: the next waiter takes the lock
//! over and runs the body in its turn, so while a key keeps failing, the processes waiting for
//! it run the body one after another (as callers in one process do), each within `lock_ttl`.
//!
//! Locks are not entries: `len()` does not count them. `f_invalidate` deletes the key's lock with
//! the key, and `clear()` every lock of the function: a holder that took its lock before will
//! not store its value, so the next caller computes at once (while the holder may still be
//! computing).
//! A lock and its entry are two keys, which Redis Cluster may place in different slots: the
//! backend speaks to one Redis server (or a primary with replicas), not to a cluster.
//! When Redis fails while a call claims or waits for a lock, the call runs the body at once (fail
//! open), and the failure is counted and logged as above. `lock = "process"` coalesces within
//! each process only (two processes may both run the body), and `lock = "none"` not at all:
//! every caller that misses runs the body.
//!
//! # Background refresh
//!
//! With `refresh = "background"`, an entry's age is Redis' own, `ttl - PTTL`, so every process
//! sees the same age: lookups of such a function send `GET` and `PTTL` in one round trip (other
//! functions send a bare `GET`). A stale hit is served at once and schedules one refresh of the
//! key per process. With `lock = "redis"`, a refresh runs only if it takes the key's lock and
//! finds the entry still stale: a process whose refresh another process is running, or has just
//! landed, skips its own (counted in `refreshes_skipped`), so a key is refreshed once, not once
//! per process. A refresh whose encoded value is unchanged renews the entry's age with
//! `PEXPIRE` (and the expiry its envelope carries, in one script: an ACL must allow scripting,
//! as the lock's scripts need) and writes no value; a changed value is written with a full `ttl`;
//! a failed one (an uncached `Err`, a panic) keeps the old value and its age. Refreshes are
//! counted in [`Stats`](crate::Stats)' `refreshes_*` fields.
//!
//! # Near tier
//!
//! With `near = N`, a function keeps up to `N` entries in process in front of Redis (see
//! [`options`](crate::options#near)). A near hit sends nothing to Redis. The tier's coherence:
//!
//! - Each such function holds one more connection to its Redis, a RESP3 connection with
//!   `CLIENT TRACKING ON BCAST PREFIX {namespace}:{name}@v{version}:`, on which Redis pushes an
//!   invalidation whenever one of the function's keys is written, deleted, expires, is evicted,
//!   or the database is flushed, by any client. An invalidation drops the key from the tier (a
//!   flush drops every key). So a change made anywhere (`f_invalidate`, `f_refresh`, a background
//!   refresh that wrote a new value, `clear()`, `redis-cli DEL`/`SET`) leaves a process' tier as
//!   soon as Redis' message reaches it; a process' own `f_invalidate`, `f_refresh` and `clear()`
//!   drop its own entries before they return.
//! - A value read from Redis enters the tier only if no invalidation of the function's keys
//!   arrived, and the tracking connection did not change, between the moment before the read was
//!   sent and the moment the value would enter; otherwise it is returned but not kept. An
//!   invalidation handled after a value entered removes it. So once the invalidation of a write
//!   has been handled, no call in this process returns the value that write replaced.
//! - Nothing is served from the tier until the tracking connection is established and tracking,
//!   nor from the moment its loss is noticed (redis-rs reports the closed socket) until it is
//!   back; the tier is emptied each time, since invalidations may have been missed meanwhile.
//!   Calls meanwhile read Redis as without a tier. The tracker reconnects after a 100 ms
//!   pause, doubled after each attempt that fails in a row (the server down, or refusing
//!   `CLIENT TRACKING` to this user) up to 10 s; a lasting refusal is logged once per 10 s.
//! - Entries stay at most `near_ttl` (default: the `ttl`) from when they entered, and a value
//!   read from Redis at most what is left of its life there: each stored value carries its expiry
//!   (by the writer's clock; see `envelope.rs`), so no near hit serves a value older than its
//!   `ttl`, to within the skew between the processes' clocks. (Redis announces an expired key
//!   only once it deletes it, which on a server with many keys can take minutes.)
//! - What is not covered: a tracking connection that is silently cut (no FIN or RST reaches this
//!   process) keeps the tier serving until the operating system reports the socket dead, bounded
//!   by `near_ttl`; and `configure()` after the first call keeps the tier tracking the first
//!   server (configure before the first call).
//!
//! Redis being down changes nothing else: calls run the body (fail open), and the tier, whose
//! tracking connection is then down too, serves nothing.

mod blocking;
mod config;
mod connection;
mod depth;
pub mod envelope;
mod failure;
mod lock;
mod lookup;
mod marks;
mod near;
mod refresh;
mod report;
mod scan;
mod script;

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;

#[doc(hidden)]
pub use self::lookup::RedisLead;
#[doc(hidden)]
pub use self::marks::Began;
#[doc(hidden)]
pub use self::refresh::Stale;
pub use config::{
    AlreadyConfigured, DEFAULT_MAX_VALUE_BYTES, DEFAULT_NAMESPACE, DEFAULT_TIMEOUT, DEFAULT_URL,
    NAMESPACE_VAR, RedisConfig, URL_VAR, configure,
};
pub use connection::COOL_DOWN;
pub use lock::{DEFAULT_LOCK_TTL, MAX_BACKOFF};
pub use report::LOG_INTERVAL;

use self::connection::{Attempt, Connection, Failure};
use self::report::ErrorLog;
use self::scan::{clear_matching, count_matching, escape_glob};
use crate::FnConfig;
use crate::cache::{Backend, Cache};

use crate::layout::{Layout, Whole};
use crate::memo::flight::Flights;
use crate::stats::Counters;

/// The cache of one memoized function on the Redis backend, returned by `f_cache()`: a
/// [`Cache`] (see there for its methods), with [`configure`](Cache::configure) and
/// [`config`](Cache::config) besides.
///
/// `R` is what is stored of a result in the layout `S` (see [`crate::layout`]): the return type
/// itself, or the `Ok` type (`S` = `OkOnly`) for a `Result` whose errors are not cached.
pub type RedisCache<R, S = Whole> = Cache<R, S, Redis<R>>;

/// The Redis backend of a [`Cache`]: where the function's entries live, and this process' share
/// of the work on them.
pub struct Redis<R> {
    type_tag: u64,
    /// Resolved on first use, so that building the cache (in a static) neither reads the
    /// configuration nor connects.
    target: ArcSwapOption<Target>,
    flights: Flights<R>,
    /// Keys whose background refresh is queued or running in this process: at most one each.
    refreshing: Arc<refresh::InFlight>,
    log: ErrorLog,
    /// The near tier (`near = N`), if the function has one.
    near: Option<near::Near<R>>,
}

/// Where this function's entries live.
struct Target {
    settings: RedisConfig,
    connection: Arc<Connection>,
}

impl Target {
    fn new(settings: RedisConfig) -> Self {
        Target {
            connection: connection::shared(&settings),
            settings,
        }
    }

    fn timeout(&self) -> Duration {
        self.settings.timeout
    }

    fn redis_key(&self, function: &FnConfig, hash: u128) -> String {
        use std::fmt::Write;
        // `format_key`'s layout, written into one allocation: every lookup builds its key (the
        // unit test below holds the two together).
        let namespace = &self.settings.namespace;
        let mut key = String::with_capacity(namespace.len() + function.name.len() + 48);
        let _ = write!(key, "{namespace}:{}@v{}:", function.name, function.version);
        // `{hash:032x}` by hand: `fmt`'s `u128` formatting showed in the sync hit's profile.
        for digit in (0..32).rev() {
            key.push(char::from(
                b"0123456789abcdef"[(hash >> (digit * 4)) as usize & 0xf],
            ));
        }
        key
    }

    /// What every entry key of `function`'s current version begins with.
    fn prefix(&self, function: &FnConfig) -> String {
        // `format_key` ends with the hash as 32 ASCII hex digits; the rest is common to all keys.
        let mut key = self.redis_key(function, 0);
        key.truncate(key.len().saturating_sub(32));
        key
    }

    /// The `SCAN MATCH` pattern of every entry of `function`'s current version: not their locks.
    fn pattern(&self, function: &FnConfig) -> String {
        let mut pattern = escape_glob(&self.prefix(function));
        for _ in 0..32 {
            pattern.push_str("[0-9a-f]");
        }
        pattern
    }
}

impl<R, S: Layout> RedisCache<R, S> {
    #[doc(hidden)]
    pub fn new(config: FnConfig) -> Self {
        let backend = Redis {
            type_tag: envelope::type_tag(&format!("{}{}", S::TAG_PREFIX, config.ret_type)),
            target: ArcSwapOption::empty(),
            flights: Flights::new(),
            refreshing: Arc::default(),
            log: ErrorLog::default(),
            near: None,
        };
        Cache::with_backend(config, backend)
    }
}

impl<R: Clone + Send + Sync + 'static, S: Layout> RedisCache<R, S> {
    /// A cache with a near tier of at most `capacity` entries, each kept at most `near_ttl_ms`
    /// (0: the function's `ttl` alone).
    #[doc(hidden)]
    pub fn new_near(config: FnConfig, capacity: u64, near_ttl_ms: u64) -> Self {
        let function_ttl_ms = config.ttl_ms;
        let mut cache = Self::new(config);
        cache.backend.near = Some(near::Near::new(capacity, near_ttl_ms, function_ttl_ms));
        cache
    }

    /// The near tier, with its tracking started on `target` (once).
    fn near(&self, target: &Target) -> Option<&near::Near<R>> {
        let near = self.backend.near.as_ref()?;
        near.start(&target.settings.url, target.prefix(&self.config));
        Some(near)
    }
}

impl<R, S> RedisCache<R, S> {
    /// The hasher for this cache's keys: the stable one, the same in every process.
    #[doc(hidden)]
    #[inline]
    pub fn key_hasher(&self) -> crate::key::StableHasher {
        crate::key::StableHasher::new()
    }

    /// Points this function at its own Redis, namespace, timeout or size limit, overriding the
    /// process-wide configuration from the next call on (calls in progress finish with the old
    /// one). Typically called once at start-up; tests use it to give each function its own
    /// server.
    pub fn configure(&self, config: RedisConfig) {
        self.backend
            .target
            .store(Some(Arc::new(Target::new(config))));
    }

    /// This function's configuration (fixing it from the process-wide one if it was not yet).
    pub fn config(&self) -> RedisConfig {
        self.target().settings.clone()
    }

    fn target(&self) -> Arc<Target> {
        if let Some(target) = self.backend.target.load_full() {
            return target;
        }
        let fresh = Arc::new(Target::new(config::process_config().clone()));
        // A concurrent first call or `configure` may have got there first: theirs wins.
        let previous = self
            .backend
            .target
            .compare_and_swap(&None::<Arc<Target>>, Some(fresh.clone()));
        match &*previous {
            Some(theirs) => theirs.clone(),
            None => fresh,
        }
    }

    /// Counts and logs an error.
    fn failed(&self, operation: &str, error: &dyn std::fmt::Display) {
        Counters::count(&self.counters.errors);
        self.backend.log.report(self.config.name, operation, error);
    }

    /// [`failed`](Self::failed) for Redis operations; a call skipped during a cool-down is not
    /// an error of its own.
    fn connection_failed(&self, operation: &str, failure: Failure) {
        if !matches!(failure, Failure::CoolingDown) {
            self.failed(operation, &failure);
        }
    }
}

/// Operations that never read or write a value, so need no serde bound.
impl<R: Clone + Send + Sync + 'static, S> RedisCache<R, S> {
    /// The lock's expiry: the function's `lock_ttl`, or [`DEFAULT_LOCK_TTL`]. Also how long an
    /// invalidation's mark lives (see [`marks`]).
    pub(super) fn lock_ttl_ms(&self) -> u64 {
        match self.config.lock_ttl_ms {
            0 => DEFAULT_LOCK_TTL.as_millis() as u64,
            ms => ms,
        }
    }

    /// Deletes the entry under `key`; true if there was one (`f_invalidate`). False, and an
    /// error counted, when Redis cannot be reached.
    ///
    /// The entry is marked in the same script, so that a computation of it in progress (in any
    /// process) stores nothing (see [`marks`]), and its lock deleted; in this process, later calls
    /// lead a new flight rather than wait for one that began before.
    async fn remove(&self, key: u128) -> bool {
        let target = self.target();
        let redis_key = target.redis_key(&self.config, key);
        let (mark, lock) = (marks::mark_key(&redis_key), lock::lock_key(&redis_key));
        let keys = vec![redis_key, mark, lock];
        let arguments = marks::mark_arguments(keys, self.lock_ttl_ms());
        let removed = marks::INVALIDATE
            .call::<u64>(&target, Attempt::Explicit, arguments)
            .await;
        self.backend.flights.detach(key);
        if let Some(near) = &self.backend.near {
            near.forget(key);
        }
        self.removed(removed)
    }

    fn removed(&self, removed: Result<u64, Failure>) -> bool {
        match removed {
            Ok(count) => count > 0,
            Err(failure) => {
                self.connection_failed("invalidate", failure);
                false
            }
        }
    }
}

impl<R: Clone + Send + Sync + 'static> Backend<R> for Redis<R> {
    const NAME: &'static str = "RedisCache";

    fn entries(&self) -> Option<u64> {
        None
    }

    fn capacity(&self) -> Option<u64> {
        None
    }

    fn near_hits(&self) -> u64 {
        self.near.as_ref().map_or(0, near::Near::hits)
    }

    async fn count<S>(cache: &Cache<R, S, Self>) -> Option<u64> {
        let target = cache.target();
        let (pattern, page_timeout) = (target.pattern(&cache.config), target.timeout());
        let counted = target
            .connection
            .run(Attempt::Explicit, Duration::MAX, move |manager| {
                count_matching(manager, pattern, page_timeout)
            })
            .await;
        match counted {
            Ok(count) => Some(count),
            Err(failure) => {
                cache.connection_failed("len", failure);
                None
            }
        }
    }

    /// Marks every entry of the function first, so that computations in progress (in any
    /// process) store nothing (see [`marks`]), then deletes the entries and their locks.
    async fn clear<S>(cache: &Cache<R, S, Self>) {
        let target = cache.target();
        let mark = marks::mark_all_key(&target.prefix(&cache.config));
        let arguments = marks::mark_arguments(vec![mark], cache.lock_ttl_ms());
        let marked = marks::MARK_ALL
            .call::<i64>(&target, Attempt::Explicit, arguments)
            .await;
        cache.backend.flights.detach_all();
        let pattern = target.pattern(&cache.config);
        // The entries, then the locks of computations that began before (and will store
        // nothing), so that the calls from now on compute at once, as after `f_invalidate`.
        let mut cleared = marked.map(drop);
        for pattern in [pattern.clone(), lock::lock_key(&pattern)] {
            if cleared.is_err() {
                break;
            }
            let page_timeout = target.timeout();
            cleared = target
                .connection
                .run(Attempt::Explicit, Duration::MAX, move |manager| {
                    clear_matching(manager, pattern, page_timeout)
                })
                .await
                .map(drop);
        }
        if let Some(near) = &cache.backend.near {
            near.forget_all();
        }
        if let Err(failure) = cleared {
            cache.connection_failed("clear", failure);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::format_key;

    #[test]
    fn keys_are_namespaced_stable_keys() {
        let target = Target {
            settings: RedisConfig::new()
                .url("redis://127.0.0.1:1/")
                .namespace("ns"),
            connection: connection::shared(&RedisConfig::new().url("redis://127.0.0.1:1/")),
        };
        let function = FnConfig {
            name: "app::f",
            version: 3,
            ttl_ms: 0,
            capacity: 0,
            refresh_after_ms: 0,
            ret_type: "u64",
            lock: crate::Lock::Process,
            lock_ttl_ms: 0,
        };
        assert_eq!(
            target.redis_key(&function, 0xab),
            "ns:app::f@v3:000000000000000000000000000000ab"
        );
        let hash = 0x0123_4567_89ab_cdef_0011_2233_4455_6677;
        assert_eq!(
            target.redis_key(&function, hash),
            format!("ns:{}", format_key("app::f", 3, hash))
        );
        let pattern = target.pattern(&function);
        assert_eq!(
            pattern,
            format!("ns:app::f@v3:{}", "[0-9a-f]".repeat(32)),
            "entries alone: not `...:lock`"
        );
    }
}
