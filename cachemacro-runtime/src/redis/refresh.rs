//! Background refresh of Redis entries (`refresh = "background"`): an entry's age is read from
//! Redis with its value, and a refresh that finds the value unchanged renews the age alone.
//!
//! Redis keeps no write time, so the age is derived from the remaining TTL that every process
//! sees: `age = ttl - PTTL`. Only functions with background refresh pay for it: their lookups send
//! `GET` and `PTTL` in one pipeline (one round trip); every other function sends a bare `GET`.
//!
//! With `lock = "redis"`, a refresh first claims the key's lock (see [`lock`](super::lock)) and
//! reads the entry's `PTTL` in the same script: if another process holds the lock, or the entry
//! is young again (another process refreshed it since it was found stale here), the refresh is
//! skipped and counted in `refreshes_skipped`. The lock is released before the outcome is
//! counted.
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
use super::lock::Turn;
use super::lookup::finish;
use super::{RedisCache, Target};
use crate::layout::{Keep, Layout, kept};
use crate::memo::driver::block_on;
use crate::stats::Counters;
use crate::{reentry, refresh};
use serde::Serialize;
use serde::de::DeserializeOwned;

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
        self.cache.backend.refreshing.keys.lock().remove(&self.key);
    }
}

/// A stale entry whose refresh is scheduled: where it lives and the bytes it held.
pub(super) struct Stale<R: 'static, S: 'static> {
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

/// How a refresh ended.
enum Landed {
    /// An `Err` that is not cached, or a panic: nothing was sent.
    Failed { panicked: bool },
    /// The value could not be encoded (counted as an error): nothing was sent.
    NotEncoded,
    /// Redis' answer to the renewal: whether the key was still there.
    Sent(Renewal, Result<bool, Failure>),
}

/// A readable entry and whether it is old enough to refresh.
struct Aged<R> {
    value: R,
    bytes: Vec<u8>,
    stale: bool,
}

impl<R, S> RedisCache<R, S>
where
    R: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    S: Layout,
{
    /// [`get_or_compute`](Self::get_or_compute) with background refresh: a hit on an entry older
    /// than `refresh_after` is served, and `refresh()` builds the recomputation the pool runs.
    #[doc(hidden)]
    pub fn get_or_compute_refreshing<Ret, A, C, J>(
        &'static self,
        key: u128,
        cacheable: C,
        args: A,
        body: impl FnOnce(A) -> Ret,
        refresh: impl FnOnce(&A) -> J,
    ) -> Ret
    where
        S: Keep<Ret, Kept = R>,
        C: Fn(&Ret) -> bool + Copy + Send + 'static,
        J: FnOnce() -> Ret + Send + 'static,
    {
        let schedule = |args: &A, stale| {
            let job = refresh(args);
            refresh::spawn_blocking(move || {
                block_on(self.refresh_now(key, stale, cacheable, async move { job() }));
            })
        };
        let body = |args| async move { body(args) };
        block_on(self.look_up_aged(key, cacheable, args, body, schedule))
    }

    /// The async form of [`get_or_compute_refreshing`](Self::get_or_compute_refreshing):
    /// refreshes run as tasks on the caller's tokio runtime.
    #[doc(hidden)]
    pub async fn get_or_compute_refreshing_async<Ret, A, C, F, J>(
        &'static self,
        key: u128,
        cacheable: C,
        args: A,
        body: impl FnOnce(A) -> F,
        refresh: impl FnOnce(&A) -> J,
    ) -> Ret
    where
        S: Keep<Ret, Kept = R>,
        C: Fn(&Ret) -> bool + Copy + Send + 'static,
        F: Future<Output = Ret>,
        J: Future<Output = Ret> + Send + 'static,
    {
        let schedule = |args: &A, stale| {
            let job = refresh(args);
            refresh::spawn_task(async move { self.refresh_now(key, stale, cacheable, job).await })
        };
        self.look_up_aged(key, cacheable, args, body, schedule)
            .await
    }

    /// The lookup of a function with background refresh: reads the entry with its age, serves a
    /// stale one and hands its refresh to `schedule` (unless one is queued or running already).
    async fn look_up_aged<Ret, A, F>(
        &'static self,
        key: u128,
        cacheable: impl Fn(&Ret) -> bool,
        args: A,
        body: impl FnOnce(A) -> F,
        schedule: impl FnOnce(&A, Stale<R, S>) -> Result<(), refresh::Dropped>,
    ) -> Ret
    where
        S: Keep<Ret, Kept = R>,
        F: Future<Output = Ret>,
    {
        let leader = match self.lead(key).await {
            Ok(leader) => leader,
            Err(value) => return S::restore(value),
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
        let absent = matches!(fetched, Ok((None, _)));
        if let Some(entry) = self.read_aged(fetched, &target) {
            self.counters.hit();
            finish(leader, &entry.value);
            if entry.stale
                && let Some(slot) = self.refresh_slot(key)
            {
                let stale = Stale {
                    _slot: slot,
                    target,
                    redis_key,
                    bytes: entry.bytes,
                };
                if schedule(&args, stale).is_err() {
                    self.refresh_dropped();
                }
            }
            return S::restore(entry.value);
        }
        self.compute(
            key,
            leader,
            &target,
            &redis_key,
            absent,
            cacheable,
            body(args),
        )
        .await
        .value()
    }

    /// Runs a scheduled refresh on the pool: takes its turn (the lock, with `lock = "redis"`),
    /// runs `job`, and renews the entry.
    async fn refresh_now<Ret>(
        &'static self,
        key: u128,
        stale: Stale<R, S>,
        cacheable: impl Fn(&Ret) -> bool,
        job: impl Future<Output = Ret>,
    ) where
        S: Keep<Ret, Kept = R>,
    {
        let lock = match self.refresh_turn(&stale.target, &stale.redis_key).await {
            Turn::Run(lock) => lock,
            Turn::Skip => return self.refresh_skipped(stale),
        };
        Counters::count(&self.counters.refreshes.started);
        // Holding the lock, it is the key's computation: a call of the key in its body must not
        // wait for that lock.
        let outcome = match lock {
            Some(_) => reentry::run_async(self, key, refresh::await_caught(job)).await,
            None => refresh::await_caught(job).await,
        };
        let landed = match self.renewal(&stale, cacheable, outcome) {
            Ok((command, renewal)) => Landed::Sent(
                renewal,
                stale
                    .target
                    .connection
                    .command(Attempt::Routine, stale.target.timeout(), command)
                    .await,
            ),
            Err(landed) => landed,
        };
        if let Some(lock) = lock {
            lock.release();
        }
        self.refresh_done(stale, landed);
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
        let vacant = self.backend.refreshing.keys.lock().insert(key);
        vacant.then(|| Slot { cache: self, key })
    }

    /// What a finished refresh sends to Redis, or (`Err`) how it ended without sending anything:
    /// it failed (`outcome` is `None` after a panic, or its value is not cached), or its value
    /// cannot be encoded (counted as an error and logged).
    fn renewal<Ret>(
        &self,
        stale: &Stale<R, S>,
        cacheable: impl Fn(&Ret) -> bool,
        outcome: Option<Ret>,
    ) -> Result<(Cmd, Renewal), Landed>
    where
        S: Keep<Ret, Kept = R>,
    {
        let panicked = outcome.is_none();
        let Some(value) = outcome
            .as_ref()
            .and_then(|value| kept::<Ret, S>(&cacheable, value))
        else {
            return Err(Landed::Failed { panicked });
        };
        let Some(bytes) = self.encode(value, &stale.target) else {
            return Err(Landed::NotEncoded);
        };
        Ok(if bytes == stale.bytes {
            let mut command = ::redis::cmd("PEXPIRE");
            command.arg(&stale.redis_key).arg(self.config.ttl_ms);
            (command, Renewal::Unchanged)
        } else {
            let mut command = self.set_bytes_command(&stale.redis_key, bytes);
            command.arg("XX");
            (command, Renewal::Updated)
        })
    }

    /// Counts how a refresh ended. The key leaves the refreshes in flight (and its Redis lock is
    /// released) before the outcome is counted, so whoever sees the count can schedule the next
    /// refresh.
    fn refresh_done(&self, stale: Stale<R, S>, landed: Landed) {
        drop(stale);
        let refreshes = &self.counters.refreshes;
        match landed {
            Landed::Failed { panicked } => {
                Counters::count(&refreshes.failed);
                tracing::warn!(
                    function = self.config.name,
                    panicked,
                    "cachemacro: background refresh failed; the cached value is kept"
                );
            }
            Landed::NotEncoded => {}
            Landed::Sent(Renewal::Unchanged, Ok(true)) => Counters::count(&refreshes.unchanged),
            Landed::Sent(Renewal::Updated, Ok(true)) => Counters::count(&refreshes.updated),
            // The key is gone: invalidated, cleared or expired while the refresh ran.
            Landed::Sent(_, Ok(false)) => {}
            Landed::Sent(_, Err(failure)) => self.connection_failed("refresh", failure),
        }
    }

    /// Counts a refresh that another process made unnecessary.
    fn refresh_skipped(&self, stale: Stale<R, S>) {
        drop(stale);
        Counters::count(&self.counters.refreshes.skipped);
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
