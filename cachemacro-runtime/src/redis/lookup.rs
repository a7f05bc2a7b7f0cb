//! The Redis protocol of a call: this process' flight, the lookup, the lock, the computation and
//! the write, written once (async) for sync and async callers alike.

use std::sync::Arc;

use ::redis::Cmd;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::connection::{Attempt, Failure};
use super::lock::{Claim, Held};
use super::{RedisCache, Target, envelope};
use crate::Lock;
use crate::layout::{Keep, Layout, kept};
use crate::memo::driver::block_on;
use crate::memo::flight::{Leader, Role};
use crate::reentry;

impl<R, S> RedisCache<R, S>
where
    R: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    S: Layout,
{
    /// The lead of this process' flight on `key`, or the value another caller's flight brought
    /// (a hit). `None` with `lock = "none"` (no flight), and for a call made inside the
    /// computation of `key` that it would wait for: it goes on without the flight, and
    /// [`compute`](Self::compute) runs its body uncached.
    pub(super) async fn lead(&self, key: u128) -> Result<Option<Leader<'_, R>>, R> {
        if self.config.lock == Lock::None {
            return Ok(None);
        }
        loop {
            match self.backend.flights.join(key) {
                Role::Leader(leader) => return Ok(Some(leader)),
                Role::Follower(_) if reentry::computing(self, key) => return Ok(None),
                Role::Follower(flight) => {
                    if let Some(value) = flight.wait_async().await {
                        self.counters.hit();
                        return Err(value);
                    }
                }
            }
        }
    }

    /// The cached value for `key`, or the body's value, computed once in this process (or in
    /// all processes, with `lock = "redis"`) however many callers miss the same key at once.
    #[doc(hidden)]
    pub fn get_or_compute<Ret>(
        &self,
        key: u128,
        cacheable: impl Fn(&Ret) -> bool,
        body: impl FnOnce() -> Ret,
    ) -> Ret
    where
        S: Keep<Ret, Kept = R>,
    {
        block_on(self.look_up(key, cacheable, async move { body() })).value()
    }

    /// The async form of [`get_or_compute`](Self::get_or_compute): waiters await, and a cancelled
    /// computation releases them like a panicking one.
    #[doc(hidden)]
    pub async fn get_or_compute_async<Ret>(
        &self,
        key: u128,
        cacheable: impl Fn(&Ret) -> bool,
        body: impl Future<Output = Ret>,
    ) -> Ret
    where
        S: Keep<Ret, Kept = R>,
    {
        self.look_up(key, cacheable, body).await.value()
    }

    /// [`get_or_compute`](Self::get_or_compute), telling a value found from one computed here.
    pub(super) async fn look_up<Ret>(
        &self,
        key: u128,
        cacheable: impl Fn(&Ret) -> bool,
        body: impl Future<Output = Ret>,
    ) -> Looked<Ret>
    where
        S: Keep<Ret, Kept = R>,
    {
        let leader = match self.lead(key).await {
            Ok(leader) => leader,
            Err(value) => return Looked::Found(S::restore(value)),
        };
        let target = self.target();
        let redis_key = target.redis_key(&self.config, key);
        let fetched = target
            .connection
            .command(Attempt::Routine, target.timeout(), get_command(&redis_key))
            .await;
        let absent = matches!(fetched, Ok(None));
        if let Some(value) = self.read(fetched, &target) {
            self.counters.hit();
            finish(leader, &value);
            return Looked::Found(S::restore(value));
        }
        self.compute(key, leader, &target, &redis_key, absent, cacheable, body)
            .await
    }

    /// After a lookup of `redis_key` that found no value: with `lock = "redis"` and the key
    /// `absent` from Redis, the value another process stores meanwhile; otherwise the body's,
    /// stored if `cacheable`. (A lookup that failed, or found an unreadable value, is not
    /// `absent`: there is nobody to wait for, so the body runs at once.)
    ///
    /// Inside the computation of `key` on this thread (a nested call of the key), the body runs
    /// uncached: it neither claims the lock, which that computation may hold, nor stores. A body
    /// run under this process' flight or the lock runs as the key's computation (see
    /// [`reentry`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn compute<Ret>(
        &self,
        key: u128,
        leader: Option<Leader<'_, R>>,
        target: &Arc<Target>,
        redis_key: &str,
        absent: bool,
        cacheable: impl Fn(&Ret) -> bool,
        body: impl Future<Output = Ret>,
    ) -> Looked<Ret>
    where
        S: Keep<Ret, Kept = R>,
    {
        if reentry::computing(self, key) {
            return Looked::Computed(body.await, false);
        }
        let mut held = None;
        if absent && self.config.lock == Lock::Redis {
            match self.claim(target, redis_key).await {
                Claim::Value(value) => {
                    self.counters.hit();
                    finish(leader, &value);
                    return Looked::Found(S::restore(value));
                }
                Claim::Held(lock) => held = Some(lock),
                Claim::Open => {}
            }
        }
        self.counters.miss();
        // A panic here drops `leader`, which sends the waiters back to look again, and `held`,
        // which releases the lock for the other processes.
        let value = if leader.is_some() || held.is_some() {
            reentry::run_async(self, key, body).await
        } else {
            body.await
        };
        let mut stored = false;
        if let Some(kept) = kept::<Ret, S>(&cacheable, &value) {
            // Released with the write, so whoever takes the lock next finds the value.
            stored = self.write(target, redis_key, kept, &mut held).await;
            finish(leader, kept);
        }
        // Nothing written (an `Err` not cached, a value too large): released before returning
        // all the same, so the others take over at once.
        if let Some(lock) = held {
            lock.release_now().await;
        }
        Looked::Computed(value, stored)
    }

    /// The value in a `GET` reply, if there is a readable one; counts and logs the failures.
    pub(super) fn read(
        &self,
        fetched: Result<Option<Vec<u8>>, Failure>,
        target: &Target,
    ) -> Option<R> {
        let bytes = match fetched {
            Ok(bytes) => bytes?,
            Err(failure) => {
                self.connection_failed("read", failure);
                return None;
            }
        };
        self.decode(&bytes, target)
    }

    /// The value in stored bytes, if they are readable; counts and logs the failure.
    pub(super) fn decode(&self, bytes: &[u8], target: &Target) -> Option<R> {
        match envelope::decode(
            self.backend.type_tag,
            bytes,
            target.settings.max_value_bytes,
        ) {
            Ok(stored) => Some(stored),
            Err(error) => {
                self.failed("decode", &error);
                None
            }
        }
    }

    /// Writes `value` with one `SET ... PX`, or, when this caller holds the entry's `lock`, with
    /// one script that also releases it (taken out of `lock` then); failures are counted and
    /// logged. True if written. A value that cannot be encoded is not written, and leaves the lock
    /// to the caller.
    pub(super) async fn write(
        &self,
        target: &Target,
        redis_key: &str,
        value: &R,
        lock: &mut Option<Held>,
    ) -> bool {
        let Some(bytes) = self.encode(value, target) else {
            return false;
        };
        let written = match lock.take() {
            Some(held) => {
                held.store_release(redis_key, bytes, self.config.ttl_ms)
                    .await
            }
            None => {
                let command = self.set_bytes_command(redis_key, bytes);
                target
                    .connection
                    .command::<()>(Attempt::Routine, target.timeout(), command)
                    .await
            }
        };
        self.written(written)
    }

    fn written(&self, written: Result<(), Failure>) -> bool {
        match written {
            Ok(()) => true,
            Err(failure) => {
                self.connection_failed("write", failure);
                false
            }
        }
    }

    /// `value`'s envelope, or `None` if nothing of it is stored or (counted and logged) it cannot
    /// be encoded within the size limit.
    pub(super) fn encode(&self, value: &R, target: &Target) -> Option<Vec<u8>> {
        match envelope::encode(
            self.backend.type_tag,
            value,
            target.settings.max_value_bytes,
        ) {
            Ok(bytes) => Some(bytes),
            Err(error) => {
                self.failed("encode", &error);
                None
            }
        }
    }

    /// `SET key bytes PX ttl` (no `PX` without a `ttl`).
    pub(super) fn set_bytes_command(&self, redis_key: &str, bytes: Vec<u8>) -> Cmd {
        let mut command = ::redis::cmd("SET");
        command.arg(redis_key).arg(bytes);
        if self.config.ttl_ms > 0 {
            command.arg("PX").arg(self.config.ttl_ms);
        }
        command
    }

    /// Stores `value` under `key` if it is cacheable, replacing any entry (`f_refresh`); true if
    /// it was written.
    #[doc(hidden)]
    pub fn store<Ret>(&self, key: u128, cacheable: impl Fn(&Ret) -> bool, value: &Ret) -> bool
    where
        S: Keep<Ret, Kept = R>,
    {
        block_on(self.store_async(key, cacheable, value))
    }

    /// [`store`](Self::store) for async functions.
    #[doc(hidden)]
    pub async fn store_async<Ret>(
        &self,
        key: u128,
        cacheable: impl Fn(&Ret) -> bool,
        value: &Ret,
    ) -> bool
    where
        S: Keep<Ret, Kept = R>,
    {
        let Some(kept) = kept::<Ret, S>(&cacheable, value) else {
            return false;
        };
        let target = self.target();
        let redis_key = target.redis_key(&self.config, key);
        self.write(&target, &redis_key, kept, &mut None).await
    }
}

/// What a lookup ended with.
pub(super) enum Looked<R> {
    /// A value from Redis, or from another caller's computation.
    Found(R),
    /// The body's value, and whether it was stored.
    Computed(R, bool),
}

impl<R> Looked<R> {
    pub(super) fn value(self) -> R {
        match self {
            Looked::Found(value) | Looked::Computed(value, _) => value,
        }
    }
}

/// Hands `value` to this process' waiters, if there is a flight.
pub(super) fn finish<R: Clone>(leader: Option<Leader<'_, R>>, value: &R) {
    if let Some(leader) = leader {
        leader.finish(value);
    }
}

fn get_command(redis_key: &str) -> Cmd {
    let mut command = ::redis::cmd("GET");
    command.arg(redis_key);
    command
}
