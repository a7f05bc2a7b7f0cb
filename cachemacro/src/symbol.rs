//! The option names, written once.

pub(crate) const TTL: &str = "ttl";
pub(crate) const CAPACITY: &str = "capacity";
pub(crate) const MAX_BYTES: &str = "max_bytes";
pub(crate) const NAME: &str = "name";
pub(crate) const VERSION: &str = "version";
pub(crate) const IGNORE: &str = "ignore";
pub(crate) const KEY: &str = "key";
pub(crate) const CACHE_ERR: &str = "cache_err";
pub(crate) const CACHE_NONE: &str = "cache_none";
pub(crate) const BACKEND: &str = "backend";
pub(crate) const REFRESH: &str = "refresh";
pub(crate) const REFRESH_AFTER: &str = "refresh_after";
pub(crate) const LOCK: &str = "lock";
pub(crate) const LOCK_TTL: &str = "lock_ttl";
pub(crate) const NEAR: &str = "near";
pub(crate) const NEAR_TTL: &str = "near_ttl";
pub(crate) const CRATE: &str = "crate";

/// Every option, in the order the error messages list them.
pub(crate) const ALL: &[&str] = &[
    TTL,
    CAPACITY,
    MAX_BYTES,
    NAME,
    VERSION,
    IGNORE,
    KEY,
    CACHE_ERR,
    CACHE_NONE,
    BACKEND,
    REFRESH,
    REFRESH_AFTER,
    LOCK,
    LOCK_TTL,
    NEAR,
    NEAR_TTL,
    CRATE,
];
