//! Background refresh of Redis entries (`refresh = "background"`): an entry's age is read from
//! Redis with its value, and a refresh that finds the value unchanged renews the age alone.
//!
//! Redis keeps no write time, so the age is derived from the remaining TTL that every process
//! sees: `age = ttl - PTTL`. Only functions with background refresh pay for it: their lookups send
//! `GET` and `PTTL` in one pipeline (one round trip); every other function sends a bare `GET`.
//!
//! A finished refresh compares the encoded bytes of its value with those it was scheduled for.
//! Equal, it sends `PEXPIRE key ttl`: the value is not rewritten, and the entry is young again for
//! every process. Different, it sends `SET key value PX ttl XX`. Both leave a key that is gone
//! (invalidated, cleared or expired meanwhile) gone, as the in-process backend does. A refresh
//! that fails (an `Err` that is not cached, a panic) sends nothing: the old value is served until
//! a later stale hit tries again, or until `ttl`.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;

use ::redis::Cmd;
use ::redis::aio::ConnectionManager;
use parking_lot::Mutex;

use super::connection::{Attempt, Failure, query_pipeline};
use super::{RedisCache, Storage, Target};
use crate::refresh;
use crate::stats::Counters;

/// The keys of one function with a refresh queued or running in this process.
#[derive(Default)]
pub(super) struct InFlight {
    keys: Mutex<HashSet<u128>>,
}

/// A key's place in [`InFlight`]; dropping it (refresh done, dropped by a full queue, or its task
/// dropped by a runtime shutting down) lets the next stale hit schedule another.
struct Slot<R: 'static, S: 'static> {
    cache: &'static RedisCache<R, S>,
    key: u128,
}

impl<R, S> Drop for Slot<R, S> {
    fn drop(&mut self) {
        self.cache.refreshing.keys.lock().remove(&self.key);
    }
}

/// A stale entry whose refresh is scheduled: where it lives and the bytes it held.
struct Stale<R: 'static, S: 'static> {
    /// Held, not read: the key stays in flight until the refresh is done with.
    _slot: Slot<R, S>,
    target: Arc<Target>,
    redis_key: String,
    bytes: Vec<u8>,
}

/// What a finished refresh renews: the age alone (`PEXPIRE`), or the value (`SET ... XX`).
#[derive(Clone, Copy)]
enum Renewal {
    Unchanged,
    Updated,
}

/// A readable entry and whether it is old enough to refresh.
struct Aged<R> {
    value: R,
    bytes: Vec<u8>,
    stale: bool,
}

impl<R, S> RedisCache<R, S>
where
    R: Clone + Send + Sync + 'static,
    S: Storage<R>,
{
    /// [`get_or_compute`](Self::get_or_compute) with background refresh: a hit on an entry older
    /// than `refresh_after` is served, and `refresh()` builds the recomputation the pool runs.
    #[doc(hidden)]
    pub fn get_or_compute_refreshing<A, C, J>(
        &'static self,
        key: u128,
        cacheable: C,
        args: A,
        body: impl FnOnce(A) -> R,
        refresh: impl FnOnce(&A) -> J,
    ) -> R
    where
        C: Fn(&R) -> bool + Copy + Send + 'static,
        J: FnOnce() -> R + Send + 'static,
    {
        let leader = match self.lead(key) {
            Ok(leader) => leader,
            Err(value) => return value,
        };
        let target = self.target();
        let redis_key = target.redis_key(&self.config, key);
        let fetch_key = redis_key.clone();
        let fetched =
            target
                .connection
                .run_blocking(Attempt::Routine, target.timeout(), |manager| {
                    get_with_pttl(manager, fetch_key)
                });
        if let Some(entry) = self.read_aged(fetched, &target) {
            self.counters.hit();
            leader.finish(&entry.value);
            if entry.stale
                && let Some(slot) = self.refresh_slot(key)
            {
                let job = refresh(&args);
                let stale = Stale {
                    _slot: slot,
                    target,
                    redis_key,
                    bytes: entry.bytes,
                };
                let scheduled = refresh::spawn_blocking(move || {
                    Counters::count(&self.counters.refreshes.started);
                    let outcome = refresh::run_caught(job);
                    if let Some((stale, command, renewal)) = self.renewal(stale, cacheable, outcome)
                    {
                        let sent = stale.target.connection.command_blocking(
                            Attempt::Routine,
                            stale.target.timeout(),
                            command,
                        );
                        self.refresh_done(stale, renewal, sent);
                    }
                });
                if scheduled.is_err() {
                    self.refresh_dropped();
                }
            }
            return entry.value;
        }
        self.counters.miss();
        let value = body(args);
        if cacheable(&value) {
            self.write_blocking(&target, &redis_key, &value);
            leader.finish(&value);
        }
        value
    }

    /// The async form of [`get_or_compute_refreshing`](Self::get_or_compute_refreshing):
    /// refreshes run as tasks on the caller's tokio runtime.
    #[doc(hidden)]
    pub async fn get_or_compute_refreshing_async<A, C, F, J>(
        &'static self,
        key: u128,
        cacheable: C,
        args: A,
        body: impl FnOnce(A) -> F,
        refresh: impl FnOnce(&A) -> J,
    ) -> R
    where
        C: Fn(&R) -> bool + Copy + Send + 'static,
        F: Future<Output = R>,
        J: Future<Output = R> + Send + 'static,
    {
        let leader = match self.lead_async(key).await {
            Ok(leader) => leader,
            Err(value) => return value,
        };
        let target = self.target();
        let redis_key = target.redis_key(&self.config, key);
        let fetch_key = redis_key.clone();
        let fetched = target
            .connection
            .run(Attempt::Routine, target.timeout(), |manager| {
                get_with_pttl(manager, fetch_key)
            })
            .await;
        if let Some(entry) = self.read_aged(fetched, &target) {
            self.counters.hit();
            leader.finish(&entry.value);
            if entry.stale
                && let Some(slot) = self.refresh_slot(key)
            {
                let job = refresh(&args);
                let stale = Stale {
                    _slot: slot,
                    target,
                    redis_key,
                    bytes: entry.bytes,
                };
                let scheduled = refresh::spawn_task(async move {
                    Counters::count(&self.counters.refreshes.started);
                    let outcome = refresh::await_caught(job).await;
                    if let Some((stale, command, renewal)) = self.renewal(stale, cacheable, outcome)
                    {
                        let sent = stale
                            .target
                            .connection
                            .command(Attempt::Routine, stale.target.timeout(), command)
                            .await;
                        self.refresh_done(stale, renewal, sent);
                    }
                });
                if scheduled.is_err() {
                    self.refresh_dropped();
                }
            }
            return entry.value;
        }
        self.counters.miss();
        let value = body(args).await;
        if cacheable(&value) {
            self.write(&target, &redis_key, &value).await;
            leader.finish(&value);
        }
        value
    }

    /// The entry in a `GET` + `PTTL` reply, if there is a readable one; counts and logs the
    /// failures.
    fn read_aged(
        &self,
        fetched: Result<(Option<Vec<u8>>, i64), Failure>,
        target: &Target,
    ) -> Option<Aged<R>> {
        let (bytes, pttl) = match fetched {
            Ok((bytes, pttl)) => (bytes?, pttl),
            Err(failure) => {
                self.connection_failed("read", failure);
                return None;
            }
        };
        let value = self.decode(&bytes, target)?;
        // `PTTL` is negative for a key without expiry (written by something else: refreshing
        // gives it one) or one that expired between the two commands (the refresh then finds
        // it gone and writes nothing).
        let stale = match u64::try_from(pttl) {
            Ok(remaining) => {
                self.config.ttl_ms.saturating_sub(remaining) >= self.config.refresh_after_ms
            }
            Err(_) => true,
        };
        Some(Aged {
            value,
            bytes,
            stale,
        })
    }

    /// The key's place in the refreshes in flight, unless one is queued or running already.
    fn refresh_slot(&'static self, key: u128) -> Option<Slot<R, S>> {
        // Not `then_some`: a `Slot` built for nothing would drop, and unlock its key, right here.
        let vacant = self.refreshing.keys.lock().insert(key);
        vacant.then(|| Slot { cache: self, key })
    }

    /// What a finished refresh sends to Redis. `None`, and nothing sent, when the refresh failed
    /// (`outcome` is `None` after a panic, or its value is not cached: counted as a failed
    /// refresh and logged) or its value cannot be encoded (counted as an error and logged).
    fn renewal(
        &self,
        stale: Stale<R, S>,
        cacheable: impl Fn(&R) -> bool,
        outcome: Option<R>,
    ) -> Option<(Stale<R, S>, Cmd, Renewal)> {
        let panicked = outcome.is_none();
        let Some(value) = outcome.filter(|value| cacheable(value)) else {
            drop(stale);
            Counters::count(&self.counters.refreshes.failed);
            tracing::warn!(
                function = self.config.name,
                panicked,
                "cachemacro: background refresh failed; the cached value is kept"
            );
            return None;
        };
        let bytes = self.encode(&value, &stale.target)?;
        let (command, renewal) = if bytes == stale.bytes {
            let mut command = ::redis::cmd("PEXPIRE");
            command.arg(&stale.redis_key).arg(self.config.ttl_ms);
            (command, Renewal::Unchanged)
        } else {
            let mut command = self.set_bytes_command(&stale.redis_key, bytes);
            command.arg("XX");
            (command, Renewal::Updated)
        };
        Some((stale, command, renewal))
    }

    /// Counts what Redis made of a refresh's command. The key leaves the refreshes in flight
    /// before the outcome is counted, so whoever sees the count can schedule the next refresh.
    fn refresh_done(&self, stale: Stale<R, S>, renewal: Renewal, sent: Result<bool, Failure>) {
        drop(stale);
        let refreshes = &self.counters.refreshes;
        match (sent, renewal) {
            (Ok(true), Renewal::Unchanged) => Counters::count(&refreshes.unchanged),
            (Ok(true), Renewal::Updated) => Counters::count(&refreshes.updated),
            // The key is gone: invalidated, cleared or expired while the refresh ran.
            (Ok(false), _) => {}
            (Err(failure), _) => self.connection_failed("refresh", failure),
        }
    }

    #[cold]
    fn refresh_dropped(&self) {
        Counters::count(&self.counters.refreshes.dropped);
    }
}

/// `GET` and `PTTL` of `redis_key` in one round trip. Runs on the background runtime.
async fn get_with_pttl(
    mut manager: ConnectionManager,
    redis_key: String,
) -> Result<(Option<Vec<u8>>, i64), Failure> {
    let mut pipeline = ::redis::pipe();
    pipeline
        .cmd("GET")
        .arg(&redis_key)
        .cmd("PTTL")
        .arg(&redis_key);
    query_pipeline(&mut manager, &pipeline).await
}
