//! The resolved configuration of one memoized function: every default and every policy decision,
//! made once, here. [`valid`](crate::valid) checks the options and returns a [`Config`];
//! [`expand`](crate::expand) reads nothing else (the idea of tokio-macros' `FinalConfig`).

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Expr, Ident};

use crate::attr::Options;
use crate::func::{Func, ResultKind};

/// The backends a function can choose.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Backend {
    Memory,
    Redis,
}

/// Who makes concurrent misses of one key run the body once.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Lock {
    /// Nobody: every caller that misses runs the body.
    None,
    /// One caller per process.
    Process,
    /// One caller among all processes sharing the Redis backend.
    Redis,
}

impl Lock {
    /// The name of the runtime's `__private::Lock` variant.
    pub(crate) fn variant(self) -> Ident {
        let name = match self {
            Lock::None => "None",
            Lock::Process => "Process",
            Lock::Redis => "Redis",
        };
        Ident::new(name, Span::call_site())
    }

    /// As written in the attribute.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Lock::None => "none",
            Lock::Process => "process",
            Lock::Redis => "redis",
        }
    }
}

/// How a function's entries are kept fresh.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Refresh {
    /// Only by expiry (the default).
    None,
    /// Stale hits are served and recomputed in the background pool.
    Background,
}

/// The resolved configuration of one `#[memoize]`.
pub(crate) struct Config {
    /// The runtime crate's path: `crate = "..."`, or `::cachemacro_runtime`.
    pub(crate) krate: TokenStream,
    pub(crate) backend: Backend,
    /// The `"redis"` of `backend = "redis"`: the runtime reports there that it was built without
    /// its `redis` feature.
    pub(crate) redis_span: Option<Span>,
    /// `lock`, or the backend's own: across processes for Redis, in the process for memory.
    pub(crate) lock: Lock,
    /// The Redis lock's expiry in milliseconds; 0 leaves the runtime's `DEFAULT_LOCK_TTL`, so that
    /// the default is written in one place.
    pub(crate) lock_ttl_ms: u64,
    /// In milliseconds; 0 when entries never expire.
    pub(crate) ttl_ms: u64,
    /// With `refresh = "background"`, the age in milliseconds from which a hit schedules a
    /// refresh: `refresh_after`, or half the `ttl`. 0 without background refresh.
    pub(crate) refresh_after_ms: u64,
    /// `capacity`; `None` leaves the runtime's `DEFAULT_CAPACITY`.
    pub(crate) capacity: Option<u64>,
    /// `max_bytes`: the in-process cache's byte budget, beside its capacity.
    pub(crate) max_bytes: Option<u64>,
    /// `near`: the near tier's capacity and its `near_ttl` in milliseconds (0 for the `ttl`).
    pub(crate) near: Option<(u64, u64)>,
    pub(crate) version: u32,
    /// `name = "..."`; `None` names the function by its module path.
    pub(crate) name: Option<String>,
    pub(crate) key: Key,
    pub(crate) stored: Stored,
    pub(crate) cacheable: Cacheable,
    pub(crate) is_async: bool,
}

/// What the key function takes and writes.
pub(crate) struct Key {
    /// The key function borrows `self`.
    pub(crate) takes_self: bool,
    /// The arguments the key function borrows, by position among the function's arguments.
    pub(crate) args: Vec<usize>,
    /// With `key = <expr>`, the expression whose value alone is written (it may use every
    /// argument, so all of them are borrowed); otherwise `self` and the arguments taken are
    /// written, in order.
    pub(crate) expr: Option<Expr>,
}

/// What the cache keeps of a result (the runtime's `layout`).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Stored {
    /// The whole return value.
    Whole,
    /// A `Result` with `cache_err = true`, kept whole; its `Ok` and error types are proved
    /// cacheable apart, so that an error type that cannot be cached is reported on itself.
    WholeResult,
    /// A `Result` whose errors are not cached: the `Ok` value alone, so that the error type
    /// needs neither `Clone` nor serde.
    OkOnly,
}

/// Which results are stored.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Cacheable {
    Every,
    /// `Ok` values only: a `Result` without `cache_err = true`.
    Ok,
    /// `Some` values only: an `Option` with `cache_none = false`.
    Some,
}

impl Config {
    /// Resolves checked `options` for `func`.
    pub(crate) fn resolve(options: &Options, func: &Func) -> Config {
        let backend = options.backend.value().copied().unwrap_or(Backend::Memory);
        let ttl_ms = options.ttl.value().copied().unwrap_or(0);
        let cache_err = options.cache_err.value() == Some(&true);
        let (stored, cacheable) = match func.kind {
            ResultKind::Result if cache_err => (Stored::WholeResult, Cacheable::Every),
            ResultKind::Result => (Stored::OkOnly, Cacheable::Ok),
            ResultKind::Option if options.cache_none.value() == Some(&false) => {
                (Stored::Whole, Cacheable::Some)
            }
            _ => (Stored::Whole, Cacheable::Every),
        };
        Config {
            krate: match options.krate.value() {
                Some(path) => quote!(#path),
                None => quote!(::cachemacro_runtime),
            },
            backend,
            redis_span: options
                .backend
                .get()
                .filter(|set| set.value == Backend::Redis)
                .map(|set| set.value_span),
            // The backend's own lock: across processes for Redis, in the process for memory.
            lock: options.lock.value().copied().unwrap_or(match backend {
                Backend::Memory => Lock::Process,
                Backend::Redis => Lock::Redis,
            }),
            lock_ttl_ms: options.lock_ttl.value().copied().unwrap_or(0),
            ttl_ms,
            refresh_after_ms: match options.refresh.value() {
                Some(Refresh::Background) if ttl_ms > 0 => options
                    .refresh_after
                    .value()
                    .copied()
                    .unwrap_or(ttl_ms / 2)
                    .max(1),
                _ => 0,
            },
            capacity: options.capacity.value().copied(),
            max_bytes: options.max_bytes.value().copied(),
            near: options
                .near
                .value()
                .map(|&capacity| (capacity, options.near_ttl.value().copied().unwrap_or(0))),
            version: options.version.value().copied().unwrap_or(0),
            name: options.name.value().cloned(),
            key: resolve_key(options, func),
            stored,
            cacheable,
            is_async: func.item.sig.asyncness.is_some(),
        }
    }
}

/// The key: every argument not in `ignore` (and `self` unless ignored), in order; or with
/// `key = ...`, the expression's value alone, computed from borrows of every argument and `self`.
fn resolve_key(options: &Options, func: &Func) -> Key {
    let ignored = |name: &str| {
        options
            .ignore
            .value()
            .is_some_and(|names| names.iter().any(|ignored| ignored == name))
    };
    Key {
        takes_self: func.receiver.is_some() && !ignored("self"),
        args: (0..func.args.len())
            .filter(|&i| !ignored(&func.args[i].ident.to_string()))
            .collect(),
        expr: options.key.value().cloned(),
    }
}
