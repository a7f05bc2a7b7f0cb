//! The Redis backend's steps of the protocol (`memo::protocol`): this process' flight, the
//! lookup (with the entry's age for functions with background refresh), the lock, and the
//! landing of a computed value (the write, or store-and-release under the lock).

use std::sync::Arc;
use std::time::Instant;

use ::redis::Cmd;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::connection::{Attempt, Failure};
use super::lock::{Claim, Held};
use super::marks::{Began, STORE, Store, Write, mark_all_key};
use super::near::{Near, Ticket};
use super::refresh::{Slot, Stale};
use super::{Redis, RedisCache, Target, envelope};
use crate::Lock;
use crate::layout::{Keep, Layout};
use crate::memo::driver::block_on;
use crate::memo::flight::{Leader, Role};
use crate::memo::protocol::{Aging, Found, Protocol};
use crate::reentry;

impl<R, S> RedisCache<R, S>
where
    R: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    S: Layout,
{
    /// The lead of this process' flight on `key`, or the value another caller's flight brought
    /// (a hit). `None` with `lock = "none"` (no flight), and for a call made inside the
    /// computation of `key` that it would wait for: it goes on without the flight, and its body
    /// runs uncached.
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

    /// [`lead`](Self::lead) without waiting: `None` when another caller's flight has the key
    /// (the caller then waits in [`lead`](Self::lead)).
    fn lead_now(&self, key: u128) -> Option<Option<Leader<'_, R>>> {
        if self.config.lock == Lock::None {
            return Some(None);
        }
        match self.backend.flights.join(key) {
            Role::Leader(leader) => Some(Some(leader)),
            Role::Follower(_) if reentry::computing(self, key) => Some(None),
            Role::Follower(_) => None,
        }
    }

    /// Where a lookup of `key` reads, and the near tier's moment before the read.
    fn looking(&self, key: u128) -> Looking<'_, R> {
        let target = self.target();
        let redis_key = target.redis_key(&self.config, key);
        let near = self.near(&target);
        // Taken before the read: a value read while its key changes is not kept near.
        let ticket = near.and_then(Near::ticket);
        Looking {
            key,
            target,
            redis_key,
            near,
            ticket,
            // Under the lock a miss's start is Redis' time, read by the claim: a hit need not
            // read the clock then.
            sent: (self.config.lock != Lock::Redis).then(Instant::now),
        }
    }

    /// After the read: with `lock = "redis"` and the key absent from Redis, the value another
    /// process stores meanwhile, else this caller's turn. (A lookup that failed, or found an
    /// unreadable value, is not absent: there is nobody to wait for, so the body runs at once.)
    #[allow(clippy::type_complexity)]
    async fn settle<'a>(
        &'a self,
        looking: Looking<'a, R>,
        leader: Option<Leader<'a, R>>,
        entry: Option<(Stored<R>, Option<(Slot, Vec<u8>)>)>,
        absent: bool,
    ) -> Found<R, RedisLead<'a, R>, Stale> {
        if let Some((stored, stale)) = entry {
            return self.found(looking, leader, stored, stale);
        }
        let Looking {
            key,
            target,
            redis_key,
            near,
            ticket,
            sent,
        } = looking;
        if reentry::computing(self, key) {
            return Found::Return;
        }
        let mut held = None;
        if absent && self.config.lock == Lock::Redis {
            match self.claim(&target, &redis_key).await {
                Claim::Value(stored) => {
                    self.counters.hit();
                    if let Some(near) = near {
                        self.keep_near(near, ticket, key, &stored);
                    }
                    finish(leader, &stored.value);
                    return Found::Value(stored.value, None);
                }
                Claim::Held(lock) => held = Some(lock),
                Claim::Open => {}
            }
        }
        self.counters.miss();
        let listed = leader.is_some() || held.is_some();
        // Redis' time when the lock was taken; else estimated from when the lookup was sent.
        let began = match (held.as_ref().and_then(Held::taken_at), sent) {
            (Some(at), _) => Began::At(at),
            (None, Some(sent)) => Began::Since(sent),
            // Under the lock, but without it (Redis failed): the write likely fails too.
            (None, None) => Began::Since(Instant::now()),
        };
        Found::Compute {
            lead: RedisLead {
                leader,
                held,
                target,
                redis_key,
                key,
                ticket,
                began,
            },
            listed,
        }
    }

    /// A hit: counted, kept near, handed to this process' waiters.
    fn found<'a>(
        &'a self,
        looking: Looking<'a, R>,
        leader: Option<Leader<'a, R>>,
        stored: Stored<R>,
        stale: Option<(Slot, Vec<u8>)>,
    ) -> Found<R, RedisLead<'a, R>, Stale> {
        self.counters.hit();
        if let Some(near) = looking.near {
            self.keep_near(near, looking.ticket, looking.key, &stored);
        }
        let value = stored.value;
        finish(leader, &value);
        let stale = stale.map(|(slot, bytes)| Stale {
            _slot: slot,
            target: looking.target,
            redis_key: looking.redis_key,
            bytes,
        });
        Found::Value(value, stale)
    }

    /// Keeps a value read from Redis in the near tier for what is left of its life there: its
    /// expiry, written in the envelope, bounds it (Redis deletes an expired key, which sends the
    /// tier an invalidation, only when it finds it). A value expired by this process' clock is
    /// returned but not kept.
    fn keep_near(&self, near: &Near<R>, ticket: Option<Ticket>, key: u128, stored: &Stored<R>) {
        match envelope::remaining(stored.expires_at) {
            None => near.fill(ticket, key, &stored.value, self.config.ttl_ms),
            Some(0) => {}
            Some(left) => near.fill(ticket, key, &stored.value, left),
        }
    }

    /// The value in a `GET` reply, if there is a readable one; counts and logs the failures.
    pub(super) fn read(
        &self,
        fetched: Result<Option<Vec<u8>>, Failure>,
        target: &Target,
    ) -> Option<Stored<R>> {
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
    pub(super) fn decode(&self, bytes: &[u8], target: &Target) -> Option<Stored<R>> {
        match envelope::decode(
            self.backend.type_tag,
            bytes,
            target.settings.max_value_bytes,
        ) {
            Ok((value, expires_at)) => Some(Stored { value, expires_at }),
            Err(error) => {
                self.failed("decode", &error);
                None
            }
        }
    }

    /// Writes `value` under `redis_key` (see [`Write`]) with one script, which also releases the
    /// entry's `lock` if this caller holds it (taken out of `lock` then), and stores nothing if
    /// the key was invalidated since `began` (see [`marks`](super::marks)); failures are counted
    /// and logged. True if written. A value that cannot be encoded is not written, and leaves the
    /// lock to the caller.
    pub(super) async fn write(
        &self,
        target: &Target,
        redis_key: &str,
        value: &R,
        lock: &mut Option<Held>,
        began: Began,
        write: Write,
    ) -> bool {
        let Some(bytes) = self.encode(value, target) else {
            return false;
        };
        let held = lock.take();
        let written = self
            .store_bytes(target, redis_key, bytes, held.as_ref(), began, write)
            .await;
        if let Some(held) = held {
            // Not run (a timeout, a lost connection): released in the background.
            held.settle(written.is_ok());
        }
        self.written(written)
    }

    fn written(&self, written: Result<bool, Failure>) -> bool {
        match written {
            Ok(stored) => stored,
            Err(failure) => {
                self.connection_failed("write", failure);
                false
            }
        }
    }

    /// Redis' time, for a computation about to begin ([`Began::At`]); this process' instant if
    /// Redis does not answer (the write will likely fail too).
    pub(super) async fn now(&self, target: &Target) -> Began {
        let since = Instant::now();
        let time = (target.connection)
            .command::<(u64, u64)>(Attempt::Routine, target.timeout(), ::redis::cmd("TIME"))
            .await;
        // The scripts' reading of `TIME`, in µs.
        time.map_or(Began::Since(since), |(seconds, micros)| {
            Began::At(seconds * 1_000_000 + micros)
        })
    }

    /// Writes `bytes` under `redis_key` with [`STORE`] (see [`write`](Self::write)): whether
    /// stored. Shared by misses, `f_refresh` and background refreshes, which count failures
    /// each their own way.
    pub(super) async fn store_bytes(
        &self,
        target: &Target,
        redis_key: &str,
        bytes: Vec<u8>,
        held: Option<&Held>,
        began: Began,
        write: Write,
    ) -> Result<bool, Failure> {
        let store = Store {
            redis_key,
            all_key: mark_all_key(&target.prefix(&self.config)),
            bytes,
            ttl_ms: self.config.ttl_ms,
            began,
            write,
            mark_ttl_ms: self.lock_ttl_ms(),
            lock: held.map(Held::key_and_token),
        };
        let stored = STORE
            .call_with::<i64>(target, Attempt::Routine, || store.arguments())
            .await;
        stored.map(|stored| stored == 1)
    }

    /// `value`'s envelope, or `None` if nothing of it is stored or (counted and logged) it cannot
    /// be encoded within the size limit.
    pub(super) fn encode(&self, value: &R, target: &Target) -> Option<Vec<u8>> {
        match envelope::encode(
            self.backend.type_tag,
            value,
            envelope::expiry(self.config.ttl_ms),
            target.settings.max_value_bytes,
        ) {
            Ok(bytes) => Some(bytes),
            Err(error) => {
                self.failed("encode", &error);
                None
            }
        }
    }
}

/// A value read from Redis, and when it expires there ([`envelope::remaining`]).
pub(super) struct Stored<R> {
    pub(super) value: R,
    pub(super) expires_at: u64,
}

/// Hands `value` to this process' waiters, if there is a flight.
pub(super) fn finish<R: Clone>(leader: Option<Leader<'_, R>>, value: &R) {
    if let Some(leader) = leader {
        leader.finish(value);
    }
}

pub(super) fn get_command(redis_key: &str) -> Cmd {
    let mut command = ::redis::cmd("GET");
    command.arg(redis_key);
    command
}

/// Where a lookup reads (see [`RedisCache::looking`]).
struct Looking<'a, R> {
    key: u128,
    target: Arc<Target>,
    redis_key: String,
    near: Option<&'a Near<R>>,
    ticket: Option<Ticket>,
    /// Before the lookup was sent: a computation's start when Redis' is not known (without the
    /// Redis lock).
    sent: Option<Instant>,
}

/// What lands a value computed on Redis.
pub struct RedisLead<'a, R> {
    /// This process' flight, whose waiters get the value.
    leader: Option<Leader<'a, R>>,
    /// The key's lock in Redis, released with the write.
    held: Option<Held>,
    target: Arc<Target>,
    redis_key: String,
    key: u128,
    /// The near tier's moment before the lookup: the computed value is kept near only if the
    /// key did not change since.
    ticket: Option<Ticket>,
    /// When the body began: the value is not stored if the key was invalidated since.
    began: Began,
}

impl<R, S> Protocol<R, S> for Redis<R>
where
    R: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    S: Layout,
{
    type Lead<'a>
        = RedisLead<'a, R>
    where
        R: 'a,
        S: 'a;
    type Stale = Stale;
    type Claim = Stale;
    type Before = Began;

    /// The near tier's hit, if the function has one (never a refresh's claim: a near entry
    /// lives at most its `near_ttl`, and the lookups that reach Redis schedule refreshes).
    // Inlined in optimized builds only (see `Memory::hit`).
    #[cfg_attr(not(debug_assertions), inline(always))]
    #[cfg_attr(debug_assertions, inline)]
    fn hit(cache: &RedisCache<R, S>, key: u128, _: Aging) -> Option<(R, Option<Stale>)> {
        let near = cache.backend.near.as_ref()?;
        if crate::bypass::active() {
            return None;
        }
        near.hit(key).map(|value| (value, None))
    }

    /// The near tier, this process' flight (waiting for another caller's), the read, then
    /// [`settle`](RedisCache::settle): a hit, the lock, or this caller's turn.
    ///
    /// Inside the computation of `key` on this thread or task (a nested call of the key), the
    /// body runs uncached: it neither claims the lock, which that computation may hold, nor
    /// stores.
    async fn find(
        cache: &RedisCache<R, S>,
        key: u128,
        after_hit: bool,
    ) -> Found<R, RedisLead<'_, R>, Stale> {
        // Async calls come here first: the near tier's hit is theirs too.
        if !after_hit && let Some((value, _)) = Self::hit(cache, key, Aging::of(&cache.config)) {
            return Found::Value(value, None);
        }
        let leader = match cache.lead(key).await {
            Ok(leader) => leader,
            Err(value) => return Found::Value(value, None),
        };
        let looking = cache.looking(key);
        let (entry, absent) = cache.fetch(key, &looking.target, &looking.redis_key).await;
        cache.settle(looking, leader, entry, absent).await
    }

    /// The lookup of a sync caller, on its own thread: the `GET` on a blocking connection (see
    /// [`blocking`](super::blocking)), without the hop to the background runtime. A hit returns
    /// at once and joins no flight (concurrent sync hits of a key each read it). A miss then
    /// leads this process' flight as [`find`](Self::find) does, and goes on from the reply it
    /// has (the lock's claim under the blocking driver), so it sends no second `GET`, unless a
    /// flight of this function ended since the read (it may have landed the value): then, as
    /// when another caller's flight has the key, `None`, for [`find`](Self::find) under the
    /// blocking driver, which reads again or waits.
    ///
    /// `None` too for functions with background refresh, whose lookup reads the entry's age.
    fn find_now(
        cache: &RedisCache<R, S>,
        key: u128,
        after_hit: bool,
    ) -> Option<Found<R, RedisLead<'_, R>, Stale>> {
        if cache.config.refresh_after_ms != 0 {
            return None;
        }
        if !after_hit && let Some((value, _)) = Self::hit(cache, key, Aging::of(&cache.config)) {
            return Some(Found::Value(value, None));
        }
        let looking = cache.looking(key);
        let ended = cache.backend.flights.ended();
        let target = &looking.target;
        let command = get_command(&looking.redis_key);
        // Every blocking connection in use: the lookup of every other caller (`find`), which joins
        // a flight of this key before it reads, so that a burst of callers sends one `GET` on the
        // multiplexed connection rather than one each.
        let fetched = target.connection.command_now(target.timeout(), &command)?;
        let absent = matches!(fetched, Ok(None));
        if let Some(stored) = cache.read(fetched, target) {
            return Some(cache.found(looking, None, stored, None));
        }
        let leader = cache.lead_now(key)?;
        if cache.backend.flights.ended() != ended {
            return None;
        }
        // With `lock = "redis"` and the key absent, the claim is sent from here.
        Some(block_on(cache.settle(looking, leader, None, absent)))
    }

    async fn land<'a>(
        cache: &'a RedisCache<R, S>,
        lead: RedisLead<'a, R>,
        kept: Option<&R>,
    ) -> bool {
        let RedisLead {
            leader,
            mut held,
            target,
            redis_key,
            key,
            ticket,
            began,
        } = lead;
        let mut stored = false;
        if let Some(kept) = kept {
            // Released with the write, so whoever takes the lock next finds the value.
            stored = cache
                .write(&target, &redis_key, kept, &mut held, began, Write::Miss)
                .await;
            if stored && let Some(near) = &cache.backend.near {
                near.fill(ticket, key, kept, cache.config.ttl_ms);
            }
            finish(leader, kept);
        }
        // Nothing written (an `Err` not cached, a value too large): released before returning
        // all the same, so the others take over at once.
        if let Some(lock) = held {
            lock.release_now().await;
        }
        stored
    }

    /// Redis' time before the body runs (one `TIME`; this process' instant if that fails).
    async fn before_put(cache: &RedisCache<R, S>, _: u128) -> Began {
        cache.now(&cache.target()).await
    }

    async fn put(cache: &RedisCache<R, S>, key: u128, kept: &R, began: Began) -> bool {
        let target = cache.target();
        let redis_key = target.redis_key(&cache.config, key);
        let written = cache
            .write(&target, &redis_key, kept, &mut None, began, Write::Put)
            .await;
        // Callers from now on compute anew rather than wait for a computation that began before.
        cache.backend.flights.detach(key);
        // The old value goes at once here; the other processes hear of it from Redis.
        if let Some(near) = &cache.backend.near {
            near.forget(key);
        }
        written
    }

    async fn remove(cache: &RedisCache<R, S>, key: u128) -> bool {
        cache.remove(key).await
    }

    fn claim(_: &'static RedisCache<R, S>, _: u128, stale: Stale) -> Stale {
        stale
    }

    /// Dropping the claim frees the key's place in the refreshes in flight.
    fn decline(_: &RedisCache<R, S>, _: u128, stale: Stale) {
        drop(stale);
    }

    fn refresh<Ret>(
        cache: &'static RedisCache<R, S>,
        key: u128,
        stale: Stale,
        cacheable: impl Fn(&Ret) -> bool + Send,
        job: impl Future<Output = Ret> + Send,
    ) -> impl Future<Output = ()> + Send
    where
        S: Keep<Ret, Kept = R>,
    {
        cache.refresh_now(key, stale, cacheable, job)
    }

    fn refused(cache: &RedisCache<R, S>) {
        cache.refresh_dropped();
    }
}
