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
//! A finished refresh compares the encoded bytes of its value with those it was scheduled for
//! (but for the expiry they carry). Equal, it sends a script that runs `PEXPIRE key ttl` and
//! writes the new expiry into the envelope (`SETRANGE`, 8 bytes): the value is not rewritten, and
//! the entry is young again for every process. Different, it sends `SET key value PX ttl XX`,
//! in a script that stores nothing if the key was invalidated since the refresh began (see
//! [`marks`](super::marks)). Both leave a key that is gone (invalidated, cleared or expired
//! meanwhile) gone, as the in-process backend does; the renewal also leaves an entry that another
//! format's writer rewrote meanwhile as it is. A refresh
//! that fails (an `Err` that is not cached, a panic) sends nothing: the old value is served until
//! a later stale hit tries again, or until `ttl`.

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, LazyLock};

use ::redis::Script;
use ::redis::aio::ConnectionManager;
use parking_lot::Mutex;

use super::connection::{Attempt, Failure, query_pipeline};
use super::lock::{Held, Turn};
use super::lookup::{Stored, get_command};
use super::marks::{Began, Write};
use super::script::{Arguments, LuaScript};
use super::{RedisCache, Target, envelope};
use crate::layout::{Keep, Layout, kept};
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
pub(super) struct Slot {
    in_flight: Arc<InFlight>,
    key: u128,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.in_flight.keys.lock().remove(&self.key);
    }
}

/// A stale entry whose refresh a hit claimed: where it lives and the bytes it held.
pub struct Stale {
    /// Held, not read: the key stays in flight until the refresh is done with.
    pub(super) _slot: Slot,
    pub(super) target: Arc<Target>,
    pub(super) redis_key: String,
    pub(super) bytes: Vec<u8>,
}

/// `KEYS`: an entry. `ARGV`: its ttl in ms, the envelope's header up to its expiry field (magic,
/// format, type tag), and the new expiry field. Renews the entry's age and that field if the
/// entry is still there with that header (not rewritten meanwhile by a process writing another
/// format): replies 1, or 0.
static RENEW: LuaScript = LuaScript(LazyLock::new(|| {
    Script::new(
        r"local head = ARGV[2]
if redis.call('GETRANGE', KEYS[1], 0, #head - 1) ~= head then return 0 end
if redis.call('PEXPIRE', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('SETRANGE', KEYS[1], #head, ARGV[3])
return 1",
    )
}));

/// What a finished refresh sends: [`RENEW`]'s arguments, or the value (`SET ... XX`, see
/// [`Write::Refresh`]).
enum Renew {
    Age(Arguments),
    Value(Vec<u8>),
}

/// What a finished refresh renews: the age alone (`PEXPIRE`, and the expiry in the envelope), or
/// the value (`SET ... XX`).
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
    stored: Stored<R>,
    bytes: Vec<u8>,
    stale: bool,
}

impl<R, S> RedisCache<R, S>
where
    R: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    S: Layout,
{
    /// Reads the entry under `redis_key`: with its age (`GET` and `PTTL` in one round trip) for a
    /// function with background refresh, then also the key's place in the refreshes in flight
    /// when it is stale and none is queued or running. Also whether the key is absent.
    #[allow(clippy::type_complexity)]
    pub(super) async fn fetch(
        &self,
        key: u128,
        target: &Target,
        redis_key: &str,
    ) -> (Option<(Stored<R>, Option<(Slot, Vec<u8>)>)>, bool) {
        if self.config.refresh_after_ms == 0 {
            let fetched = target
                .connection
                .command(Attempt::Routine, target.timeout(), get_command(redis_key))
                .await;
            let absent = matches!(fetched, Ok(None));
            return (
                self.read(fetched, target).map(|stored| (stored, None)),
                absent,
            );
        }
        let fetch_key = redis_key.to_owned();
        let fetched = target
            .connection
            .run(Attempt::Routine, target.timeout(), |manager| {
                get_with_pttl(manager, fetch_key)
            })
            .await;
        let absent = matches!(fetched, Ok((None, _)));
        let entry = self.read_aged(fetched, target).map(|entry| {
            let stale = entry
                .stale
                .then(|| self.refresh_slot(key))
                .flatten()
                .map(|slot| (slot, entry.bytes));
            (entry.stored, stale)
        });
        (entry, absent)
    }

    /// Runs a scheduled refresh on the pool: takes its turn (the lock, with `lock = "redis"`),
    /// runs `job`, and renews the entry.
    pub(super) async fn refresh_now<Ret>(
        &'static self,
        key: u128,
        stale: Stale,
        cacheable: impl Fn(&Ret) -> bool,
        job: impl Future<Output = Ret>,
    ) where
        S: Keep<Ret, Kept = R>,
    {
        let lock = match self.refresh_turn(&stale.target, &stale.redis_key).await {
            Turn::Run(lock) => lock,
            Turn::Skip => return self.refresh_skipped(stale),
        };
        // Redis' time when the lock was taken, or read now (off the callers' path).
        let began = match lock.as_ref().and_then(Held::taken_at) {
            Some(at) => Began::At(at),
            None => self.now(&stale.target).await,
        };
        Counters::count(&self.counters.refreshes.started);
        // Holding the lock, it is the key's computation: a call of the key in its body must not
        // wait for that lock.
        let outcome = match lock {
            Some(_) => reentry::run_async(self, key, refresh::await_caught(job)).await,
            None => refresh::await_caught(job).await,
        };
        let target = &stale.target;
        let landed = match self.renewal(&stale, cacheable, outcome) {
            Ok(Renew::Age(arguments)) => Landed::Sent(
                Renewal::Unchanged,
                RENEW.call(target, Attempt::Routine, arguments).await,
            ),
            // Not stored if the key was invalidated since the refresh began (see `marks`): its
            // value may predate that write.
            Ok(Renew::Value(bytes)) => Landed::Sent(
                Renewal::Updated,
                self.store_bytes(target, &stale.redis_key, bytes, None, began, Write::Refresh)
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
        let stored = self.decode(&bytes, target)?;
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
            stored,
            bytes,
            stale,
        })
    }

    /// The key's place in the refreshes in flight, unless one is queued or running already.
    fn refresh_slot(&self, key: u128) -> Option<Slot> {
        // Not `then_some`: a `Slot` built for nothing would drop, and unlock its key, right here.
        let vacant = self.backend.refreshing.keys.lock().insert(key);
        vacant.then(|| Slot {
            in_flight: Arc::clone(&self.backend.refreshing),
            key,
        })
    }

    /// What a finished refresh sends to Redis, or (`Err`) how it ended without sending anything:
    /// it failed (`outcome` is `None` after a panic, or its value is not cached), or its value
    /// cannot be encoded (counted as an error and logged).
    fn renewal<Ret>(
        &self,
        stale: &Stale,
        cacheable: impl Fn(&Ret) -> bool,
        outcome: Option<Ret>,
    ) -> Result<Renew, Landed>
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
        Ok(if envelope::same_value(&bytes, &stale.bytes) {
            // The age renewed, and with it the expiry the envelope carries (which near tiers
            // read), without sending the value again.
            let expiry = envelope::EXPIRY_BYTES;
            Renew::Age((
                vec![stale.redis_key.clone()],
                vec![
                    self.config.ttl_ms.to_string().into_bytes(),
                    bytes[..expiry.start].to_vec(),
                    bytes[expiry].to_vec(),
                ],
            ))
        } else {
            Renew::Value(bytes)
        })
    }

    /// Counts how a refresh ended. The key leaves the refreshes in flight (and its Redis lock is
    /// released) before the outcome is counted, so whoever sees the count can schedule the next
    /// refresh.
    fn refresh_done(&self, stale: Stale, landed: Landed) {
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
    fn refresh_skipped(&self, stale: Stale) {
        drop(stale);
        Counters::count(&self.counters.refreshes.skipped);
    }

    #[cold]
    pub(super) fn refresh_dropped(&self) {
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
