//! The near tier (`near = N`): an in-process store in front of a Redis function, kept coherent
//! with Redis by server-assisted client-side caching.
//!
//! A tracker task (on the crate's runtime) holds a RESP3 connection of its own with
//! `CLIENT TRACKING ON BCAST PREFIX {namespace}:{function}@v{version}:`, so Redis pushes an
//! invalidation for every change of one of the function's keys, whoever made it (a write, a
//! delete, an expiry, an eviction, `FLUSHDB`). Tracking is in broadcast mode: the connection that
//! reads the entries needs no tracking of its own.
//!
//! The tier is served only while that connection is established: `live` is false before it is
//! and from the moment it drops, and the tier is emptied each time it changes, since
//! invalidations may have been missed meanwhile.
//!
//! The in-flight read: a value fetched from Redis enters the tier only if no invalidation of the
//! function's keys (and no change of the tracking connection) was handled between the moment
//! before the read was sent and the fill. `gate` counts those events; the fill and each
//! invalidation hold it, so an invalidation either precedes the fill (which then sees the count
//! changed and keeps nothing) or follows it (and removes what it kept).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::time::Duration;

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, ProtocolVersion, PushInfo, PushKind, Value};
use parking_lot::Mutex;
use tokio::sync::Notify;

use super::connection;
use crate::clock;
use crate::fork;
use crate::memory::per_thread::{self, Slots};
use crate::memory::store::{Read, Store};

/// [`Near::tracked`] before the first tracker starts.
const UNTRACKED: u64 = u64::MAX;

/// How long the tracker waits before connecting again after its connection failed or dropped;
/// doubled after each attempt that fails in a row (the server down, or refusing `CLIENT
/// TRACKING` to this user), up to [`MAX_RECONNECT_PAUSE`].
const RECONNECT_PAUSE: Duration = Duration::from_millis(100);

/// The longest pause between two attempts: also how often a lasting refusal is logged.
const MAX_RECONNECT_PAUSE: Duration = Duration::from_secs(10);

/// The near tier of one function.
pub(crate) struct Near<R> {
    /// The state of the process that built the tier; kept alive here.
    first: Arc<Shared<R>>,
    /// The state of this process: `first`'s, or in a forked child the one
    /// [`start_here`](Self::start_here) made for it (leaked: never freed), since the inherited
    /// one may be locked by a thread the child does not have, and its tracker's wake-up is the
    /// parent's. Published before [`tracked`](Self::tracked).
    current: AtomicPtr<Shared<R>>,
    capacity: u64,
    /// The `near_ttl` in milliseconds; 0 for the function's `ttl` alone.
    ttl_ms: u64,
    /// Whether entries expire at all (a `ttl` or a `near_ttl`): if not, a hit reads no clock.
    ages: bool,
    /// The process generation (see [`fork`]) whose tracker was started; [`UNTRACKED`] before the
    /// first. A forked child's tracker stayed in the parent: the child starts its own.
    tracked: AtomicU64,
    /// Held while a tracker is started.
    starting: Mutex<()>,
}

struct Shared<R> {
    store: Store<R>,
    /// Reader marks and near-hit counts: the tier's own, so that its hits are told apart.
    readers: Slots,
    /// True while the tracking connection is established and tracking.
    live: AtomicBool,
    /// The count of invalidations and tracking changes handled.
    gate: Mutex<u64>,
    /// Signalled when the tracking connection drops.
    dropped: Notify,
}

/// A moment before a read from Redis: what a fill checks.
#[derive(Clone, Copy)]
pub(crate) struct Ticket(u64);

impl<R: Clone + Send + Sync + 'static> Near<R> {
    /// A tier of at most `capacity` entries, kept at most `ttl_ms` (0: no bound of its own) for
    /// a function whose entries live `function_ttl_ms` in Redis (0: forever).
    pub(crate) fn new(capacity: u64, ttl_ms: u64, function_ttl_ms: u64) -> Self {
        let first = Arc::new(Shared::new(capacity));
        Near {
            current: AtomicPtr::new(Arc::as_ptr(&first).cast_mut()),
            first,
            capacity,
            ttl_ms,
            ages: ttl_ms > 0 || function_ttl_ms > 0,
            tracked: AtomicU64::new(UNTRACKED),
            starting: Mutex::new(()),
        }
    }

    /// The hit path: the value under `key`, counted as a near hit. It reads no flag of the
    /// tier: the store is empty while the tier is not live (it is emptied, under `gate`, as the
    /// tier goes down, and values enter only under `gate` while it is live). It does compare the
    /// tracker's generation with the process': a forked child finds nothing until
    /// [`start`](Self::start) has given it a state and a tracker of its own (see [`fork`]).
    #[inline(always)]
    pub(crate) fn hit(&self, key: u128) -> Option<R> {
        if !self.tracking_here() {
            return None;
        }
        let shared = self.shared();
        let now = if self.ages { clock::now_ms() } else { 0 };
        match shared
            .store
            .read(key, now, 0, per_thread::current(), &shared.readers)
        {
            Read::Hit(value, _) => Some(value),
            Read::Miss => None,
        }
    }

    /// This process' state (see [`current`](Self::current)).
    #[inline(always)]
    fn shared(&self) -> &Shared<R> {
        // SAFETY: `current` points at `first`, which `self` keeps alive, or at a `Shared` whose
        // `Arc` was leaked (`start_here`): never freed while `self` lives.
        unsafe { &*self.current.load(Ordering::Acquire) }
    }

    /// Near hits so far: in a forked child, the parent's until the fork and the child's own.
    pub(crate) fn hits(&self) -> u64 {
        let first = self.first.readers.totals().0;
        let current = self.shared();
        if std::ptr::eq(current, &*self.first) {
            first
        } else {
            first + current.readers.totals().0
        }
    }

    /// Starts tracking `url`'s keys under `prefix`, once per process: later calls do nothing.
    pub(crate) fn start(&self, url: &str, prefix: String) {
        if !self.tracking_here() {
            self.start_here(url, prefix);
        }
    }

    #[cold]
    fn start_here(&self, url: &str, prefix: String) {
        let _starting = self.starting.lock();
        let tracked = fork::generation();
        let before = self.tracked.load(Ordering::Acquire);
        if before == tracked {
            return;
        }
        let shared = if before == UNTRACKED {
            Arc::clone(&self.first)
        } else {
            // Forked: the parent's tracker is not here, and invalidations since the fork were
            // missed. This process starts with a state of its own, empty, served once its
            // tracker is live; the inherited one is left alone (see `current`).
            let fresh = Arc::new(Shared::new(self.capacity));
            let leaked = Arc::into_raw(Arc::clone(&fresh));
            self.current.store(leaked.cast_mut(), Ordering::Release);
            fresh
        };
        self.spawn(url, prefix, shared);
        self.tracked.store(tracked, Ordering::Release);
    }

    fn spawn(&self, url: &str, prefix: String, shared: Arc<Shared<R>>) {
        let Ok(runtime) = connection::runtime() else {
            return;
        };
        let client = match tracking_client(url) {
            Ok(client) => client,
            Err(error) => {
                tracing::warn!(%error, "cachemacro: the near tier cannot track this Redis URL");
                return;
            }
        };
        runtime.spawn(track(shared, client, prefix));
    }

    /// The moment before a read: `None` while the tier is not live (nothing will be kept).
    pub(crate) fn ticket(&self) -> Option<Ticket> {
        let shared = self.shared();
        let gate = shared.gate.lock();
        shared.live.load(Ordering::Acquire).then_some(Ticket(*gate))
    }

    /// Keeps `value` under `key` if nothing was invalidated since `ticket`, for at most
    /// `ttl_ms` (the function's `ttl`, 0 for none) and the `near_ttl`.
    pub(crate) fn fill(&self, ticket: Option<Ticket>, key: u128, value: &R, ttl_ms: u64) {
        let Some(Ticket(seen)) = ticket else { return };
        let shared = self.shared();
        let now = clock::now_ms();
        let ttl = match (ttl_ms, self.ttl_ms) {
            (0, 0) => u64::MAX,
            (0, near) | (near, 0) => near,
            (ttl, near) => ttl.min(near),
        };
        // Cloned before the gate is taken, and dropped (if not kept) after it is released: a
        // value's `Clone` and `Drop` are user code, which may call this function.
        let value = value.clone();
        let gate = shared.gate.lock();
        let kept = if *gate == seen && shared.live.load(Ordering::Acquire) {
            let expires_at = now.saturating_add(ttl);
            Ok(shared
                .store
                .insert(key, value, expires_at, now, &shared.readers))
        } else {
            Err(value)
        };
        drop(gate);
        drop(kept);
    }

    /// Drops `key` from the tier at once (this process' own change; the others hear of it
    /// from Redis).
    pub(crate) fn forget(&self, key: u128) {
        if self.tracking_here() {
            self.shared().forget(Some(key));
        }
    }

    /// Empties the tier at once.
    pub(crate) fn forget_all(&self) {
        if self.tracking_here() {
            self.shared().forget(None);
        }
    }

    /// Whether this process' tracker was started. Before, the tier holds nothing this process
    /// serves (a forked child's inherited state is replaced, not read: see `current`).
    fn tracking_here(&self) -> bool {
        self.tracked.load(Ordering::Acquire) == fork::generation()
    }
}

impl<R: Clone> Shared<R> {
    fn new(capacity: u64) -> Self {
        Shared {
            store: Store::new(capacity),
            readers: Slots::default(),
            live: AtomicBool::new(false),
            gate: Mutex::new(0),
            dropped: Notify::new(),
        }
    }

    /// Counts an invalidation and drops `key` (every key: `None`). The values go after the gate
    /// is released: a value's `Drop` is user code, which may call this function.
    fn forget(&self, key: Option<u128>) {
        let mut gate = self.gate.lock();
        *gate += 1;
        let now = clock::now_ms();
        let (removed, cleared) = match key {
            Some(key) => (self.store.remove(key, now, &self.readers), Vec::new()),
            None => (None, self.store.clear(&self.readers)),
        };
        drop(gate);
        drop((removed, cleared));
    }

    /// Marks the tracking connection up or down; the tier starts empty either way.
    fn set_live(&self, live: bool) {
        let mut gate = self.gate.lock();
        *gate += 1;
        self.live.store(live, Ordering::Release);
        let cleared = self.store.clear(&self.readers);
        drop(gate);
        drop(cleared);
    }

    /// Handles one push message of the tracking connection.
    fn pushed(&self, prefix: &str, info: PushInfo) {
        match info.kind {
            PushKind::Disconnection => {
                self.set_live(false);
                self.dropped.notify_one();
            }
            PushKind::Invalidate => match info.data.first() {
                // A flush of the whole database.
                Some(Value::Nil) | None => self.forget(None),
                Some(Value::Array(keys)) => {
                    for key in keys {
                        if let Some(hash) = hash_of(prefix, key) {
                            self.forget(Some(hash));
                        }
                    }
                }
                Some(_) => self.forget(None),
            },
            _ => {}
        }
    }
}

/// The hash of an entry key `{prefix}{32 hex digits}`; `None` for other keys (locks).
fn hash_of(prefix: &str, key: &Value) -> Option<u128> {
    let bytes = match key {
        Value::BulkString(bytes) => bytes.as_slice(),
        Value::SimpleString(text) => text.as_bytes(),
        _ => return None,
    };
    let hex = bytes.strip_prefix(prefix.as_bytes())?;
    if hex.len() != 32 {
        return None;
    }
    u128::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
}

fn tracking_client(url: &str) -> Result<::redis::Client, ::redis::RedisError> {
    let info = ::redis::Client::open(url)?.get_connection_info().clone();
    let settings = info
        .redis_settings()
        .clone()
        .set_protocol(ProtocolVersion::RESP3);
    ::redis::Client::open(info.set_redis_settings(settings))
}

/// The tracker: connects, turns tracking on, serves the tier until the connection drops, and
/// starts again. Runs for the life of the process.
async fn track<R: Clone + Send + Sync + 'static>(
    shared: Arc<Shared<R>>,
    client: ::redis::Client,
    prefix: String,
) {
    let mut pause = RECONNECT_PAUSE;
    loop {
        // Logged at the first failure of a run, then once per longest pause.
        let loud = pause == RECONNECT_PAUSE || pause == MAX_RECONNECT_PAUSE;
        if let Some(connection) = establish(&shared, &client, &prefix, loud).await {
            pause = RECONNECT_PAUSE;
            shared.set_live(true);
            shared.dropped.notified().await;
            shared.set_live(false);
            drop(connection);
            tokio::time::sleep(pause).await;
        } else {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(MAX_RECONNECT_PAUSE);
        }
    }
}

/// A connection tracking `prefix`, or `None` (logged as a warning if `loud`, else at debug level).
async fn establish<R: Clone + Send + Sync + 'static>(
    shared: &Arc<Shared<R>>,
    client: &::redis::Client,
    prefix: &str,
    loud: bool,
) -> Option<MultiplexedConnection> {
    let sink = Arc::clone(shared);
    let sink_prefix = prefix.to_owned();
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(1)))
        .set_response_timeout(Some(Duration::from_secs(1)))
        .set_push_sender(move |info: PushInfo| {
            sink.pushed(&sink_prefix, info);
            Ok::<(), ()>(())
        });
    let mut connection = match client
        .get_multiplexed_async_connection_with_config(&config)
        .await
    {
        Ok(connection) => connection,
        Err(error) => {
            tracing::debug!(%error, "cachemacro: near tier: tracking connection failed");
            return None;
        }
    };
    let mut command = ::redis::cmd("CLIENT");
    command
        .arg("TRACKING")
        .arg("ON")
        .arg("BCAST")
        .arg("PREFIX")
        .arg(prefix);
    match command.query_async::<()>(&mut connection).await {
        Ok(()) => Some(connection),
        Err(error) => {
            if loud {
                tracing::warn!(%error, "cachemacro: near tier: CLIENT TRACKING refused");
            } else {
                tracing::debug!(%error, "cachemacro: near tier: CLIENT TRACKING refused");
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "ns:f@v0:";

    fn invalidation(key: u128) -> PushInfo {
        let name = format!("{PREFIX}{key:032x}");
        PushInfo {
            kind: PushKind::Invalidate,
            data: vec![Value::Array(vec![Value::BulkString(name.into_bytes())])],
        }
    }

    fn disconnection() -> PushInfo {
        PushInfo {
            kind: PushKind::Disconnection,
            data: vec![],
        }
    }

    fn live<R: Clone + Send + Sync + 'static>() -> Near<R> {
        let near = Near::new(10, 0, 0);
        // As if this process' tracker had started and connected.
        near.tracked.store(fork::generation(), Ordering::Relaxed);
        near.first.set_live(true);
        near
    }

    /// The in-flight read: the reply of a `GET` sent before the key changed arrives after the
    /// invalidation. The old value must not be kept.
    #[test]
    fn a_value_read_before_an_invalidation_is_not_kept() {
        let near = live();
        let ticket = near.ticket();
        near.first.pushed(PREFIX, invalidation(7));
        near.fill(ticket, 7, &1, 0);
        assert_eq!(near.hit(7), None);
    }

    /// The invalidation arrives after the fill: it removes what was kept.
    #[test]
    fn an_invalidation_after_the_fill_removes_it() {
        let near = live();
        near.fill(near.ticket(), 7, &1, 0);
        near.fill(near.ticket(), 8, &2, 0);
        assert_eq!(near.hit(7), Some(1));
        near.first.pushed(PREFIX, invalidation(7));
        assert_eq!(near.hit(7), None);
        assert_eq!(near.hit(8), Some(2), "other keys stay");
        // Locks and other functions' keys are not entries.
        near.first.pushed(
            PREFIX,
            PushInfo {
                kind: PushKind::Invalidate,
                data: vec![Value::Array(vec![Value::BulkString(
                    format!("{PREFIX}{:032x}:lock", 8u128).into_bytes(),
                )])],
            },
        );
        assert_eq!(near.hit(8), Some(2));
        // A flush drops everything.
        near.first.pushed(
            PREFIX,
            PushInfo {
                kind: PushKind::Invalidate,
                data: vec![Value::Nil],
            },
        );
        assert_eq!(near.hit(8), None);
    }

    /// A value whose `Drop` asks the tier for a ticket (as a memoized call's miss does), which
    /// takes the gate: values leave the tier after the gate is released, or this would wait
    /// for itself.
    #[test]
    fn values_dropped_by_invalidations_may_call_the_tier() {
        use std::sync::OnceLock;
        use std::sync::atomic::AtomicUsize;

        #[derive(Clone)]
        struct CallsBack;
        static TIER: OnceLock<Near<CallsBack>> = OnceLock::new();
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        impl Drop for CallsBack {
            fn drop(&mut self) {
                if let Some(near) = TIER.get() {
                    assert!(near.ticket().is_some());
                    DROPS.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let near = TIER.get_or_init(live);
            for key in [7, 8, 9] {
                near.fill(near.ticket(), key, &CallsBack, 0);
            }
            let kept = DROPS.load(Ordering::SeqCst);
            near.first.pushed(PREFIX, invalidation(7));
            near.forget(8);
            near.forget_all();
            let _ = done.send(DROPS.load(Ordering::SeqCst) - kept);
        });
        let drops = finished.recv_timeout(Duration::from_secs(10));
        assert_eq!(drops.ok(), Some(3), "the three values kept, dropped");
    }

    /// A value whose `Clone` asks the tier for a ticket (as a memoized call's miss does): the
    /// fill clones it before taking the gate, or this would wait for itself.
    #[test]
    fn values_kept_near_may_call_the_tier_as_they_are_cloned() {
        use std::sync::OnceLock;

        struct ClonesBack(u64);
        static TIER: OnceLock<Near<ClonesBack>> = OnceLock::new();
        impl Clone for ClonesBack {
            fn clone(&self) -> Self {
                if let Some(near) = TIER.get() {
                    assert!(near.ticket().is_some());
                }
                ClonesBack(self.0)
            }
        }
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let near = TIER.get_or_init(live);
            near.fill(near.ticket(), 7, &ClonesBack(70), 0);
            let _ = done.send(near.hit(7).map(|value| value.0));
        });
        let kept = finished.recv_timeout(Duration::from_secs(10));
        assert_eq!(kept.ok(), Some(Some(70)));
    }

    /// A reconnect between the read and the fill: invalidations may have been missed.
    #[test]
    fn a_value_read_across_a_reconnect_is_not_kept() {
        let near = live();
        let ticket = near.ticket();
        near.first.pushed(PREFIX, disconnection());
        assert_eq!(near.ticket().map(|_| ()), None, "no ticket while down");
        near.fill(ticket, 7, &1, 0);
        near.first.set_live(true);
        assert_eq!(near.hit(7), None);
    }

    /// Down: nothing is served, and the tier comes back empty.
    #[test]
    fn nothing_is_served_while_down() {
        let near = live();
        near.fill(near.ticket(), 7, &1, 0);
        assert_eq!(near.hit(7), Some(1));
        near.first.pushed(PREFIX, disconnection());
        assert_eq!(near.hit(7), None);
        near.first.set_live(true);
        assert_eq!(near.hit(7), None, "empty after reconnecting");
        assert_eq!(near.hits(), 1);
    }

    #[test]
    fn near_ttl_and_ttl_bound_the_stay() {
        crate::clock::pause();
        let near = Near::new(10, 500, 200);
        near.tracked.store(fork::generation(), Ordering::Relaxed);
        near.first.set_live(true);
        near.fill(near.ticket(), 1, &1, 0);
        near.fill(near.ticket(), 2, &2, 200);
        crate::clock::advance(Duration::from_millis(300));
        assert_eq!(near.hit(1), Some(1));
        assert_eq!(near.hit(2), None, "never longer than the ttl");
        crate::clock::advance(Duration::from_millis(300));
        assert_eq!(near.hit(1), None, "never longer than near_ttl");
        crate::clock::resume();
    }
}
