//! Where the Redis backend connects, how it names its keys and how long it waits: [`RedisConfig`]
//! and the process-wide [`configure`].

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

/// The URL used when neither [`configure`] nor `CACHEMACRO_REDIS_URL` gives one.
pub const DEFAULT_URL: &str = "redis://127.0.0.1:6379/";
/// The key namespace used when neither [`configure`] nor `CACHEMACRO_REDIS_NAMESPACE` gives one.
pub const DEFAULT_NAMESPACE: &str = "cachemacro";
/// How long one Redis operation may take before the call gives up on Redis and runs the body.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_millis(200);
/// The largest stored value (envelope included) that is written or decoded: 8 MiB.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 8 << 20;
/// The environment variable read for the URL.
pub const URL_VAR: &str = "CACHEMACRO_REDIS_URL";
/// The environment variable read for the namespace.
pub const NAMESPACE_VAR: &str = "CACHEMACRO_REDIS_NAMESPACE";

/// How the Redis backend reaches Redis and lays out its keys.
///
/// [`RedisConfig::new`] starts from the environment (`CACHEMACRO_REDIS_URL`,
/// `CACHEMACRO_REDIS_NAMESPACE`) and the defaults; the builder methods override single fields.
/// Give the result to [`configure`] once at start-up for every Redis-backed function, or to
/// [`RedisCache::configure`](super::RedisCache::configure) for one function.
///
/// ```
/// use std::time::Duration;
/// use cachemacro_runtime::redis::{self, RedisConfig};
///
/// redis::configure(
///     RedisConfig::new()
///         .url("redis://:secret@cache.internal:6379/2")
///         .namespace("billing")
///         .timeout(Duration::from_millis(50)),
/// )
/// .expect("configured before the first Redis-backed call");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RedisConfig {
    pub(crate) url: String,
    pub(crate) namespace: String,
    pub(crate) timeout: Duration,
    pub(crate) max_value_bytes: usize,
}

impl RedisConfig {
    /// The environment's URL and namespace if set, else [`DEFAULT_URL`] and [`DEFAULT_NAMESPACE`];
    /// [`DEFAULT_TIMEOUT`] and [`DEFAULT_MAX_VALUE_BYTES`].
    pub fn new() -> Self {
        let from_env = |var: &str, default: &str| {
            std::env::var(var)
                .ok()
                .filter(|value| !value.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        RedisConfig {
            url: from_env(URL_VAR, DEFAULT_URL),
            namespace: from_env(NAMESPACE_VAR, DEFAULT_NAMESPACE),
            timeout: DEFAULT_TIMEOUT,
            max_value_bytes: DEFAULT_MAX_VALUE_BYTES,
        }
    }

    /// The server: `redis://[[user]:password@]host[:port][/db]`, or `rediss://...` for TLS (cargo
    /// feature `tls`). Functions whose configurations name the same URL share one connection.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = url.into();
        self
    }

    /// The first segment of every key, so that applications sharing one Redis never collide.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// How long one Redis operation (a read, a write, a delete, one page of `clear()`) may take
    /// before the call runs the body instead.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest stored value, in bytes: a larger result is not written, and a larger stored
    /// value is treated as a miss without being decoded.
    pub fn max_value_bytes(mut self, limit: usize) -> Self {
        self.max_value_bytes = limit;
        self
    }

    /// The URL without its password, for logs.
    pub(crate) fn redacted_url(&self) -> String {
        redact(&self.url)
    }
}

impl Default for RedisConfig {
    /// Same as [`RedisConfig::new`].
    fn default() -> Self {
        RedisConfig::new()
    }
}

impl fmt::Debug for RedisConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisConfig")
            .field("url", &self.redacted_url())
            .field("namespace", &self.namespace)
            .field("timeout", &self.timeout)
            .field("max_value_bytes", &self.max_value_bytes)
            .finish()
    }
}

/// `scheme://user:password@host...` with the password replaced, so URLs can be logged; also the
/// value of a `pass` or `password` query parameter (unix sockets take it there). Errs towards
/// hiding more: the user part ends at the last `@`, since a password may hold a `/` or `@` that
/// was not percent-encoded, and such a URL is invalid, which is when it gets logged.
fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let mut out = match url[scheme_end..].rfind('@').map(|i| scheme_end + i) {
        Some(at) => match url[scheme_end..at].find(':').map(|i| scheme_end + i) {
            Some(colon) => format!("{}:***{}", &url[..colon], &url[at..]),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    };
    if let Some(query) = out.find('?') {
        let mut redacted = out[..=query].to_owned();
        let pairs: Vec<String> = out[query + 1..]
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((name, _)) if name == "pass" || name == "password" => format!("{name}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        redacted.push_str(&pairs.join("&"));
        out = redacted;
    }
    out
}

static PROCESS_CONFIG: OnceLock<RedisConfig> = OnceLock::new();

/// Sets the configuration of every Redis-backed function that has no
/// [own](super::RedisCache::configure). Call it once, at start-up: it fails once the configuration
/// is fixed, by an earlier call or by the first Redis-backed call (which fixes
/// [`RedisConfig::new`]).
pub fn configure(config: RedisConfig) -> Result<(), AlreadyConfigured> {
    PROCESS_CONFIG.set(config).map_err(|_| AlreadyConfigured)
}

/// The process-wide configuration, fixing it from the environment if [`configure`] was not called.
pub(crate) fn process_config() -> &'static RedisConfig {
    PROCESS_CONFIG.get_or_init(RedisConfig::new)
}

/// [`configure`] was called after the process-wide configuration was fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyConfigured;

impl fmt::Display for AlreadyConfigured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the Redis configuration is already fixed: call configure() once, before the first \
             Redis-backed call",
        )
    }
}

impl std::error::Error for AlreadyConfigured {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_only_the_password() {
        assert_eq!(
            redact("redis://user:pw@host:6379/2"),
            "redis://user:***@host:6379/2"
        );
        assert_eq!(redact("rediss://:pw@host/"), "rediss://:***@host/");
        assert_eq!(redact("redis://host:6379/"), "redis://host:6379/");
        assert_eq!(redact("redis://user@host/"), "redis://user@host/");
        assert_eq!(redact("not a url"), "not a url");
    }

    #[test]
    fn redaction_hides_passwords_that_hold_url_delimiters() {
        // Not percent-encoded, so the URL is invalid: the case in which it is logged.
        assert_eq!(
            redact("redis://:s3cr/t+pw@cache.internal:6379/0"),
            "redis://:***@cache.internal:6379/0"
        );
        assert_eq!(
            redact("redis://user:a@b/c?d@host/1"),
            "redis://user:***@host/1"
        );
        assert_eq!(
            redact("redis+unix:///run/redis.sock?db=1&pass=s3cret"),
            "redis+unix:///run/redis.sock?db=1&pass=***"
        );
        assert_eq!(
            redact("redis://:pw@host/0?password=x&protocol=resp3"),
            "redis://:***@host/0?password=***&protocol=resp3"
        );
    }
}
