//! Single-flight across processes (`lock = "redis"`): a per-key lock in Redis that lets one
//! process compute a missing entry (or refresh a stale one) while the others wait or skip.
//!
//! The lock of the entry `K` is the string key `K:lock`, holding a random token of its holder and
//! expiring after `lock_ttl`. Every step is one Lua script (`EVALSHA`), so it sees the entry and
//! the lock at one instant. A script takes the lock with `SETNX` then `PEXPIRE`: inside a script
//! that is as atomic as `SET NX PX`, and it leaves `SET` to value writes alone, so Redis' own
//! command statistics (`cmdstat_set`) keep counting just those.
//!
//! - **claim** (after a miss): the entry if it is there now; else the lock if it is free; else
//!   the lock's remaining `PTTL` and its holder's token. The holder computes, stores the entry,
//!   then releases, so a process that finds the lock free also finds the value if one was
//!   stored. A waiter claims again after a back-off (5 ms, doubling up to [`MAX_BACKOFF`], never
//!   past the lock's expiry nor past its own patience) until it gets the value or the lock: the
//!   holder died (its lock expired), ran past `lock_ttl`, or released without storing (an `Err`
//!   that is not cached). Taking over is the same claim, so one waiter wins.
//! - **claim, overdue**: a waiter waits for one holder at most its own `lock_ttl` from when it
//!   first found that holder's token in the lock, whatever the lock's `PTTL` says: a lock left by
//!   another deployment with a longer `lock_ttl`, or by hand with a long expiry or none, holds a
//!   function back no longer than its own `lock_ttl`. Then its claim names the token it waited
//!   for, and the script replaces the lock only if it still holds that token. So of the waiters
//!   that have waited out one holder, the first to claim takes over; the others find its token
//!   instead of the one they waited for, and wait for it afresh. A lock of the same function
//!   (the same `lock_ttl`) expires before a waiter's patience runs out, so for it this changes
//!   nothing.
//! - **claim for a refresh**: the lock if it is free, with the entry's `PTTL`, so a refresh whose
//!   entry another process renewed meanwhile is skipped too.
//! - **release**: `DEL` only if the lock still holds the caller's token, so a holder that outran
//!   its `lock_ttl` cannot delete its successor's lock. A holder that stores a value releases in
//!   the same script as the write (**store and release**, [`marks::STORE`](super::marks::STORE),
//!   which also stores nothing after an invalidation): one round trip, done before its call
//!   returns, so a process that exits right after its call leaves no lock behind. A holder with
//!   nothing to store (an `Err` that is not cached, a value too large) releases before its call
//!   returns too. The releases nobody waits for (a refresh's, a panicking or cancelled holder's,
//!   a claim's whose reply is lost, one whose reply did not come in time) are sent in the
//!   background. All are tried even while the connection cools down after a failure.
//!
//! A lock's ttl is not renewed while the body runs: a body slower than `lock_ttl` (or than a
//! waiter's, if that is shorter) lets one waiter take over and run it again. When Redis fails
//! during any step, the caller goes on without the lock (fail open) and the failure is counted
//! and logged like any other.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use ::redis::Script;

use super::connection::{Attempt, Failure, pause};
use super::lookup::Stored;
use super::script::{Arguments, LuaScript};
use super::{RedisCache, Target};
use crate::layout::Layout;
use crate::stats::Counters;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// How long a lock is held when the function sets no `lock_ttl`: longer than a normal body runs
/// (a query, a remote call), short enough that the other processes do not stall for long after
/// a holder crashed. Neither the entry's `ttl` (minutes to days) nor the Redis timeout
/// (milliseconds) says anything about how long the body runs, so neither is used.
pub const DEFAULT_LOCK_TTL: Duration = Duration::from_secs(10);

/// The first wait between two claims of a locked key.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);

/// The longest wait between two claims of a locked key: the most a waiter is late after the
/// value lands.
pub const MAX_BACKOFF: Duration = Duration::from_millis(100);

/// `KEYS`: the entry, its lock. `ARGV`: the caller's token, the lock's ttl in ms, and (only once
/// the caller has waited out a holder) that holder's token: a lock still holding it is taken
/// over. Replies `{0, 0, value, false}` (the entry is there), `{1, now, false, false}` (the lock
/// is the caller's; `now`: Redis' time in µs, when its computation begins, see `marks.rs`) or
/// `{0, pttl, false, token}` (another holds it; `pttl` is -1 for a lock without expiry).
static CLAIM: LuaScript = LuaScript(LazyLock::new(|| {
    Script::new(
        r"local value = redis.call('GET', KEYS[1])
if value then return {0, 0, value, false} end
if ARGV[3] and redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
if redis.call('SETNX', KEYS[2], ARGV[1]) == 1 then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  local time = redis.call('TIME')
  return {1, time[1] * 1000000 + time[2], false, false}
end
return {0, redis.call('PTTL', KEYS[2]), false, redis.call('GET', KEYS[2])}",
    )
}));

/// `KEYS` and `ARGV` as for [`CLAIM`]. Replies the entry's `PTTL` and Redis' time in µs if the
/// lock is the caller's now, else nil.
static CLAIM_REFRESH: LuaScript = LuaScript(LazyLock::new(|| {
    Script::new(
        r"if redis.call('SETNX', KEYS[2], ARGV[1]) == 1 then
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  local time = redis.call('TIME')
  return {redis.call('PTTL', KEYS[1]), time[1] * 1000000 + time[2]}
end
return false",
    )
}));

/// `KEYS`: the lock. `ARGV`: the caller's token. Replies 1 if it deleted the lock.
static RELEASE: LuaScript = LuaScript(LazyLock::new(|| {
    Script::new(
        r"if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0",
    )
}));

/// [`CLAIM`]'s reply: taken (1 or 0), the lock's `PTTL`, the entry, the holder's token.
type ClaimReply = (i64, i64, Option<Vec<u8>>, Option<Vec<u8>>);

/// The lock key of the entry `redis_key`. Entries end with 32 hex digits, so no entry is named
/// like a lock, and `clear()` and `len()` match entries alone.
pub(super) fn lock_key(redis_key: &str) -> String {
    format!("{redis_key}:lock")
}

/// A token no other holder's lock has: a random number drawn once per process, mixed with the
/// process id at every use (a child forked after the draw keeps the number, not the id), and a
/// counter.
fn token() -> String {
    // `RandomState` is seeded from the operating system's randomness.
    static PROCESS: LazyLock<u64> = LazyLock::new(|| {
        std::collections::hash_map::RandomState::new().hash_one(std::process::id())
    });
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{:016x}{:016x}",
        *PROCESS ^ u64::from(std::process::id()),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// What claiming a missing entry came to.
pub(super) enum Claim<R> {
    /// Another process stored it: a hit.
    Value(Stored<R>),
    /// The lock is this caller's: compute, store, then [`release_now`](Held::release_now).
    Held(Held),
    /// Redis failed, or the entry cannot be waited for: compute without the lock.
    Open,
}

/// What a background refresh of a stale entry may do.
pub(super) enum Turn {
    /// Refresh, holding the lock if there is one (none without `lock = "redis"`, or when Redis
    /// failed: fail open).
    Run(Option<Held>),
    /// Another process is refreshing the key, or has just refreshed it: skip (a lock taken by
    /// the claim is released already).
    Skip,
}

/// A lock this process holds, or may hold: armed before a claim is sent, so that a claim whose
/// reply is lost (a timeout, a cancelled future) still releases what it may have taken. Dropped,
/// it releases the lock in the background if it still holds the caller's token;
/// [`release_now`](Held::release_now) releases
/// it before it returns (in the background if that fails); [`disarm`](Held::disarm)ed, it does
/// nothing (the claim took no lock, or a store-and-release script released it).
///
/// Releases are sent as explicit operations, tried even while the connection cools down after a
/// failure: a holder that skipped its release would leave every other process waiting out the
/// lock's ttl.
pub(super) struct Held {
    target: Arc<Target>,
    lock_key: String,
    token: String,
    /// How long the release may take: after the lock's ttl there is nothing left to release.
    deadline: Duration,
    armed: bool,
    /// Redis' time in µs when the claim took the lock: when the computation begins.
    taken_at: Option<u64>,
}

impl Held {
    /// Releases the lock in the background (a refresh, which runs off the callers' path).
    pub(super) fn release(self) {
        drop(self);
    }

    /// Releases the lock before returning, so that a process that exits right after its call
    /// leaves no lock behind; in the background if Redis does not answer.
    pub(super) async fn release_now(self) {
        let reply = RELEASE
            .call::<i64>(&self.target, Attempt::Explicit, self.release_arguments())
            .await;
        self.settle(reply.is_ok());
    }

    /// The lock's key and the caller's token, for a script that stores the value and releases
    /// the lock in one round trip ([`STORE`](super::marks::STORE)); [`settle`](Held::settle)
    /// after it.
    pub(super) fn key_and_token(&self) -> (&str, &str) {
        (&self.lock_key, &self.token)
    }

    /// Redis' time in µs when the claim took the lock.
    pub(super) fn taken_at(&self) -> Option<u64> {
        self.taken_at
    }

    fn taken(mut self, at: i64) -> Self {
        self.taken_at = u64::try_from(at).ok();
        self
    }

    /// The `KEYS` and `ARGV` of [`RELEASE`].
    fn release_arguments(&self) -> Arguments {
        (
            vec![self.lock_key.clone()],
            vec![self.token.clone().into_bytes()],
        )
    }

    /// After a script that releases the lock: disarmed if it ran, else dropped armed, which
    /// tries again in the background.
    pub(super) fn settle(self, released: bool) {
        if released {
            self.disarm();
        }
    }

    /// Forgets the lock: the claim did not take it.
    fn disarm(mut self) {
        self.armed = false;
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.armed {
            let (keys, args) = self.release_arguments();
            self.target
                .connection
                .spawn(Attempt::Explicit, self.deadline, move |manager| {
                    RELEASE.run::<i64>(manager, keys, args)
                });
        }
    }
}

/// One caller's claims on one entry: the same token each time, so a lock it took is recognised.
struct Claiming {
    target: Arc<Target>,
    redis_key: String,
    lock_key: String,
    token: String,
    lock_ttl: Duration,
    backoff: Duration,
    waited: bool,
    /// The holder this caller waits for, and since when.
    holder: Option<(Vec<u8>, Instant)>,
}

/// What the caller does after a claim.
enum Step<R> {
    Done(Claim<R>),
    /// The key is locked by another process: claim again after this long.
    Retry(Duration),
}

impl Claiming {
    fn new(target: &Arc<Target>, redis_key: &str, lock_ttl_ms: u64) -> Self {
        Claiming {
            target: Arc::clone(target),
            redis_key: redis_key.to_owned(),
            lock_key: lock_key(redis_key),
            token: token(),
            lock_ttl: Duration::from_millis(lock_ttl_ms),
            backoff: FIRST_BACKOFF,
            waited: false,
            holder: None,
        }
    }

    /// The `KEYS` and `ARGV` of [`CLAIM`]: with the holder's token once this caller has waited
    /// `lock_ttl` for it, which takes its lock over. (Absent rather than empty otherwise: a lock
    /// set by hand may hold the empty string.)
    fn claim_arguments(&self) -> Arguments {
        let (keys, mut args) = self.arguments();
        if let Some((token, since)) = &self.holder
            && since.elapsed() >= self.lock_ttl
        {
            args.push(token.clone());
        }
        (keys, args)
    }

    /// How much longer this caller waits for `holder`: its own `lock_ttl` from when it first
    /// found `holder` in the lock, however long that lock lives. Another holder (the lock
    /// expired, or another waiter took it over) is waited for afresh.
    fn patience(&mut self, holder: Vec<u8>) -> Duration {
        let since = match &self.holder {
            Some((waited_for, since)) if *waited_for == holder => *since,
            _ => {
                let now = Instant::now();
                self.holder = Some((holder, now));
                now
            }
        };
        self.lock_ttl.saturating_sub(since.elapsed())
    }

    /// The `KEYS` and `ARGV` of [`CLAIM`] and [`CLAIM_REFRESH`].
    fn arguments(&self) -> Arguments {
        (
            vec![self.redis_key.clone(), self.lock_key.clone()],
            vec![
                self.token.clone().into_bytes(),
                self.lock_ttl.as_millis().to_string().into_bytes(),
            ],
        )
    }

    /// A guard for the lock this caller's next claim may take.
    fn held(&self) -> Held {
        Held {
            target: Arc::clone(&self.target),
            lock_key: self.lock_key.clone(),
            token: self.token.clone(),
            deadline: self.lock_ttl,
            armed: true,
            taken_at: None,
        }
    }
}

impl<R, S> RedisCache<R, S>
where
    R: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    S: Layout,
{
    /// After a miss: the value another process stores meanwhile, or this process' turn to
    /// compute (with the lock, or without it when Redis fails). Waiting awaits (a thread blocks in
    /// the driver meanwhile).
    pub(super) async fn claim(&self, target: &Arc<Target>, redis_key: &str) -> Claim<R> {
        let mut claiming = Claiming::new(target, redis_key, self.lock_ttl_ms());
        loop {
            // Dropped with this future if it is cancelled while the claim is on its way.
            let held = claiming.held();
            let reply = CLAIM
                .call(target, Attempt::Routine, claiming.claim_arguments())
                .await;
            match self.step(&mut claiming, held, reply) {
                Step::Done(claim) => return claim,
                Step::Retry(after) => pause(after).await,
            }
        }
    }

    fn step(
        &self,
        claiming: &mut Claiming,
        held: Held,
        reply: Result<ClaimReply, Failure>,
    ) -> Step<R> {
        let (taken, pttl, holder) = match reply {
            Ok((_, _, Some(bytes), _)) => {
                held.disarm();
                // Unreadable (another type, corrupt): counted; computed and overwritten here.
                return Step::Done(match self.decode(&bytes, &claiming.target) {
                    Some(stored) => Claim::Value(stored),
                    None => Claim::Open,
                });
            }
            Ok((taken, pttl, None, holder)) => (taken == 1, pttl, holder.unwrap_or_default()),
            Err(failure) => {
                // The claim may have taken the lock all the same: `held` releases it.
                drop(held);
                self.connection_failed("lock", failure);
                return Step::Done(Claim::Open);
            }
        };
        if taken {
            if claiming.waited {
                Counters::count(&self.counters.locks.takeovers);
            }
            // `pttl` holds Redis' time when the lock is taken.
            return Step::Done(Claim::Held(held.taken(pttl)));
        }
        held.disarm();
        if !claiming.waited {
            claiming.waited = true;
            Counters::count(&self.counters.locks.waits);
        }
        // Claim again as the lock expires, or as this caller's patience runs out (then the claim
        // takes the lock over), rather than up to a back-off later. A lock without expiry (set
        // by something else: ours always expire) is waited for as long as patience lasts.
        let mut after = claiming.backoff.min(claiming.patience(holder));
        if let Ok(remaining) = u64::try_from(pttl) {
            after = after.min(Duration::from_millis(remaining.saturating_add(1)));
        }
        claiming.backoff = (claiming.backoff * 2).min(MAX_BACKOFF);
        Step::Retry(after)
    }

    /// Whether a background refresh of `redis_key` runs now (see [`Turn`]).
    pub(super) async fn refresh_turn(&self, target: &Arc<Target>, redis_key: &str) -> Turn {
        if self.config.lock != crate::Lock::Redis {
            return Turn::Run(None);
        }
        let claiming = Claiming::new(target, redis_key, self.lock_ttl_ms());
        let held = claiming.held();
        let reply = CLAIM_REFRESH
            .call(target, Attempt::Routine, claiming.arguments())
            .await;
        self.turn(held, reply)
    }

    fn turn(&self, held: Held, reply: Result<Option<(i64, i64)>, Failure>) -> Turn {
        match reply {
            Err(failure) => {
                drop(held); // The claim may have taken the lock all the same.
                self.connection_failed("lock", failure);
                Turn::Run(None)
            }
            Ok(None) => {
                held.disarm();
                Turn::Skip
            }
            // Younger than `refresh_after`: another process refreshed it since it was found
            // stale here. (A key that is gone or has no expiry is refreshed as before.)
            Ok(Some((pttl, _)))
                if u64::try_from(pttl).is_ok_and(|remaining| {
                    self.config.ttl_ms.saturating_sub(remaining) < self.config.refresh_after_ms
                }) =>
            {
                drop(held); // Released: the refresh is skipped.
                Turn::Skip
            }
            Ok(Some((_, now))) => Turn::Run(Some(held.taken(now))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_differ() {
        assert_ne!(token(), token());
        assert_eq!(token().len(), 32);
    }

    #[test]
    fn lock_keys_follow_their_entry() {
        assert_eq!(
            lock_key("ns:app::f@v3:000000000000000000000000000000ab"),
            "ns:app::f@v3:000000000000000000000000000000ab:lock"
        );
    }
}
