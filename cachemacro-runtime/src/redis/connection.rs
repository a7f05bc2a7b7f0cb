//! The one shared connection per Redis URL, the background runtime that drives it, and the
//! deadline and back-off around every operation.
//!
//! Every Redis operation runs in the context of a small tokio runtime owned by this crate (one
//! worker thread, started on first use), whatever the caller is: a plain thread, a task on a
//! current-thread runtime without timers, or a task on a runtime that is about to shut down.
//! redis-rs spawns its reconnection work and arms its timers on the runtime it runs on, so running
//! it on ours keeps that work alive and keeps sync callers from needing (or tripping over) a
//! runtime of their own. Every caller polls the operation itself (a task in its own task, a
//! thread in the blocking driver), but inside our runtime's context (see [`in_context`]): the
//! reply comes from our runtime's thread, which wakes the caller, so no operation changes thread.
//! Still, the command is written and its reply read by that thread: two thread wake-ups per
//! operation, which a sync caller's read avoids by using a blocking connection of its own thread
//! ([`Connection::command_now`], see [`blocking`](super::blocking)) under the same cool-down.
//!
//! After a connection failure, a timeout, or a reply saying that Redis refuses this connection's
//! commands (a wrong password, a read-only replica: see [`failure`](super::failure)), the
//! connection cools down for [`COOL_DOWN`]: routine reads and writes skip Redis and run the body
//! at once, so a stalled or misconfigured Redis costs one attempt per cool-down rather than one per
//! call. The first call after the cool-down tries again: redis-rs' connection manager reconnects
//! after an I/O error, and a connection whose handshake or commands were refused is replaced by a
//! new one, so a configuration fixed meanwhile is seen.

use std::collections::HashMap;
use std::future::Future;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Cmd, FromRedisValue, RedisResult};
use arc_swap::ArcSwapOption;
use parking_lot::Mutex;
use tokio::runtime::Runtime;

use super::blocking::Pool;
use super::config::RedisConfig;
pub(crate) use super::failure::Failure;
use crate::clock::real_ms;
use crate::fork::{self, PerProcess};

/// How long Redis is left alone after it failed or timed out.
pub const COOL_DOWN: Duration = Duration::from_secs(1);

/// How long establishing a connection may take; each operation has its own, shorter deadline on
/// top, so this only bounds a connection attempt that outlives the calls waiting for it.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Whether an operation is skipped while Redis cools down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Attempt {
    /// Reading and writing entries: during a cool-down the call just runs the body.
    Routine,
    /// Deleting what the caller asked to delete (`f_invalidate`, `clear()`) or counting: always
    /// tried, since skipping it would leave the caller's intent undone.
    Explicit,
}

/// One multiplexed, auto-reconnecting connection, shared by every function configured with its URL.
pub(crate) struct Connection {
    managed: Result<Managed, Arc<str>>,
    /// Milliseconds of real time (`clock::real_ms`: a paused test clock does not hold a
    /// cool-down) before which Redis is not tried; 0 when healthy.
    retry_at_ms: AtomicU64,
    /// The process generation this connection was made in (see [`fork`]): a forked child uses
    /// one of its own, made from `config` (see [`Connection::here`]).
    forks: u64,
    config: RedisConfig,
}

/// The connection manager in use, and the client that makes its replacements.
struct Managed {
    client: ::redis::Client,
    /// The manager made with the connection, in use until a refusal replaces it: read as a plain
    /// field, since loading `replacement` on every operation measurably slowed 32 concurrent hits.
    /// (Once replaced, it keeps its idle socket, if the server left it one.)
    first: ConnectionManager,
    /// The manager in use once `replaced` is set.
    replacement: ArcSwapOption<ConnectionManager>,
    replaced: AtomicBool,
    /// Blocking connections for sync callers' reads, made by `client` too.
    blocking: Pool,
}

impl Managed {
    /// The manager in use.
    fn current(&self) -> ConnectionManager {
        if self.replaced.load(Ordering::Acquire)
            && let Some(manager) = &*self.replacement.load()
        {
            return ConnectionManager::clone(manager);
        }
        self.first.clone()
    }

    /// Puts a new manager in use.
    fn replace(&self, fresh: ConnectionManager) {
        self.replacement.store(Some(Arc::new(fresh)));
        self.replaced.store(true, Ordering::Release);
    }

    /// A manager that connects on first use; its helper task runs on our runtime.
    fn manager(client: &::redis::Client, runtime: &Runtime) -> RedisResult<ConnectionManager> {
        let options = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            // Deadlines are per operation (see `within`), so functions with different
            // timeouts can share the connection.
            .set_response_timeout(None)
            // Reconnection is driven by the calls (after the cool-down), not by a retry loop.
            .set_number_of_retries(0);
        // The manager spawns its helper task on the runtime it is created in: ours.
        let _entered = runtime.enter();
        ConnectionManager::new_lazy_with_config(client.clone(), options)
    }
}

/// This process' background runtime, started on first use. A forked child starts its own: the
/// parent's worker thread is not in the child, and the parent's runtime is never dropped there
/// (dropping it would wait for that worker, and take the parent's sockets out of the epoll
/// instance the two processes share: see [`fork`]).
pub(super) fn runtime() -> Result<&'static Runtime, Arc<str>> {
    static RUNTIME: PerProcess<Result<Runtime, Arc<str>>> = PerProcess::new();
    RUNTIME.get(start_runtime).as_ref().map_err(Arc::clone)
}

fn start_runtime() -> Result<Runtime, Arc<str>> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("cachemacro-redis")
        .enable_all()
        .build()
        .map_err(|error| format!("could not start the Redis runtime: {error}").into())
}

static CONNECTIONS: LazyLock<Mutex<HashMap<String, Arc<Connection>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The connection for `config`'s URL, created (without connecting) on first request.
pub(crate) fn shared(config: &RedisConfig) -> Arc<Connection> {
    CONNECTIONS
        .lock()
        .entry(config.url.clone())
        .or_insert_with(|| Arc::new(Connection::new(config)))
        .clone()
}

impl Connection {
    fn new(config: &RedisConfig) -> Self {
        #[cfg(feature = "tls")]
        {
            // rustls cannot pick a crypto provider by itself when none or two of its provider
            // features are enabled; install ring unless the application installed one.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let managed = runtime().and_then(|runtime| {
            let client = ::redis::Client::open(config.url.as_str()).map_err(|error| {
                Arc::<str>::from(format!(
                    "invalid Redis URL {}: {error}",
                    config.redacted_url()
                ))
            })?;
            let manager = Managed::manager(&client, runtime).map_err(|error| {
                Arc::<str>::from(format!(
                    "could not set up Redis at {}: {error}",
                    config.redacted_url()
                ))
            })?;
            Ok(Managed {
                blocking: Pool::new(client.clone()),
                client,
                first: manager,
                replacement: ArcSwapOption::empty(),
                replaced: AtomicBool::new(false),
            })
        });
        Connection {
            managed,
            retry_at_ms: AtomicU64::new(0),
            forks: fork::generation(),
            config: config.clone(),
        }
    }

    /// This connection, or in a process forked since it was made, that process' own for the same
    /// URL: the parent's sockets are driven by a thread the child does not have, and are the
    /// parent's to read.
    #[inline(always)]
    fn here(&self) -> &Connection {
        if fork::generation() == self.forks {
            self
        } else {
            self.forked()
        }
    }

    /// This process' connection for this URL, made on first use and never dropped (nor is the
    /// parent's, whose state the child leaves alone).
    #[cold]
    fn forked(&self) -> &'static Connection {
        static FORKED: PerProcess<Mutex<HashMap<String, &'static Connection>>> = PerProcess::new();
        FORKED
            .get(Mutex::default)
            .lock()
            .entry(self.config.url.clone())
            .or_insert_with(|| Box::leak(Box::new(Connection::new(&self.config))))
    }

    /// The manager and the runtime, unless Redis is cooling down (for routine operations) or was
    /// never usable.
    fn ready(&self, attempt: Attempt) -> Result<(ConnectionManager, &'static Runtime), Failure> {
        let managed = self.usable(attempt)?;
        let runtime = runtime().map_err(Failure::Setup)?;
        Ok((managed.current(), runtime))
    }

    /// The connections, unless Redis is cooling down (for routine operations) or was never
    /// usable.
    fn usable(&self, attempt: Attempt) -> Result<&Managed, Failure> {
        let retry_at = self.retry_at_ms.load(Ordering::Relaxed);
        if attempt == Attempt::Routine && retry_at != 0 && real_ms() < retry_at {
            return Err(Failure::CoolingDown);
        }
        self.managed
            .as_ref()
            .map_err(|why| Failure::Setup(why.clone()))
    }

    /// Sends `command`, a routine read, on a blocking connection of the caller's thread (see
    /// [`blocking`](super::blocking)) within `deadline`; `None` when every blocking connection is
    /// in use (the caller then sends it with [`command`](Self::command)). Cool-downs and failures
    /// are those of [`command`](Self::command).
    pub(crate) fn command_now<T: FromRedisValue>(
        &self,
        deadline: Duration,
        command: &Cmd,
    ) -> Option<Result<T, Failure>> {
        let this = self.here();
        let managed = match this.usable(Attempt::Routine) {
            Ok(managed) => managed,
            Err(failure) => return Some(Err(failure)),
        };
        let reply = managed.blocking.query(command, deadline)?;
        Some(this.note(reply))
    }

    /// Records how an operation went: a connection failure, a timeout or a refusal starts a
    /// cool-down (and a refusal a new connection); an answer ends a cool-down that is over.
    fn note<T>(&self, result: Result<T, Failure>) -> Result<T, Failure> {
        match &result {
            Err(failure) if failure.cools_down() => {
                let until = real_ms().saturating_add(COOL_DOWN.as_millis() as u64);
                self.retry_at_ms.store(until.max(1), Ordering::Relaxed);
                // The idle blocking connections most likely share the fate of the one that
                // failed (a dead or frozen server, a changed password): the next attempt makes
                // a new one rather than spending one cool-down per dead socket.
                if let Ok(managed) = &self.managed {
                    managed.blocking.clear();
                }
                if failure.needs_new_connection() {
                    self.reconnect();
                }
            }
            Err(Failure::CoolingDown | Failure::Setup(_)) => {}
            Ok(_) | Err(_) => {
                // Read first: a store on every call would bounce the line between all callers.
                let retry_at = self.retry_at_ms.load(Ordering::Relaxed);
                // A cool-down that is running stands: on a read-only replica reads succeed while
                // claims and writes are refused, and the release sent after a refused claim
                // succeeds too. Only a cool-down that this exact value started is ended, not one
                // that a concurrent failure has just started.
                if retry_at != 0 && real_ms() >= retry_at {
                    let _ = self.retry_at_ms.compare_exchange(
                        retry_at,
                        0,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    );
                }
            }
        }
        result
    }

    /// Replaces the connection manager with a new one, which connects on its next use (after the
    /// cool-down). Operations in flight finish on the old one.
    fn reconnect(&self) {
        let (Ok(managed), Ok(runtime)) = (&self.managed, runtime()) else {
            return;
        };
        if let Ok(fresh) = Managed::manager(&managed.client, runtime) {
            managed.replace(fresh);
        }
    }

    /// Sends one command within `deadline`.
    pub(crate) async fn command<T>(
        &self,
        attempt: Attempt,
        deadline: Duration,
        command: Cmd,
    ) -> Result<T, Failure>
    where
        T: FromRedisValue + Send + 'static,
    {
        self.run(attempt, deadline, move |mut manager| async move {
            query(&mut manager, &command).await
        })
        .await
    }

    /// Runs `op` within `deadline`, on any executor (a sync caller's is the blocking driver,
    /// `memo::driver`): `op` runs in the caller's task or thread (no hop to another thread),
    /// inside the background runtime's context. The deadline is a timer of that runtime, whose
    /// one worker runs nothing but redis-rs' connection tasks, so it fires on time.
    pub(crate) async fn run<T, Op, Fut>(
        &self,
        attempt: Attempt,
        deadline: Duration,
        op: Op,
    ) -> Result<T, Failure>
    where
        Op: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let this = self.here();
        let (manager, runtime) = this.ready(attempt)?;
        let result = in_context(runtime, within(deadline, op(manager))).await;
        this.note(result)
    }

    /// Starts `op` on the background runtime and returns at once; its failure only counts
    /// towards a cool-down. For clean-up that cannot wait for Redis: a lock released from `Drop`.
    pub(crate) fn spawn<T, Op, Fut>(self: &Arc<Self>, attempt: Attempt, deadline: Duration, op: Op)
    where
        Op: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, Failure>> + Send + 'static,
        T: Send + 'static,
    {
        if fork::generation() == self.forks {
            Self::spawn_on(Arc::clone(self), attempt, deadline, op);
        } else {
            Self::spawn_on(self.forked(), attempt, deadline, op);
        }
    }

    /// [`spawn`](Self::spawn) on `connection`, which the task keeps until it ends.
    fn spawn_on<T, Op, Fut>(
        connection: impl Deref<Target = Connection> + Send + 'static,
        attempt: Attempt,
        deadline: Duration,
        op: Op,
    ) where
        Op: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, Failure>> + Send + 'static,
        T: Send + 'static,
    {
        let Ok((manager, runtime)) = connection.ready(attempt) else {
            return;
        };
        let work = op(manager);
        runtime.spawn(async move {
            let _ = connection.note(within(deadline, work).await);
        });
    }
}

/// Waits `duration` without blocking the caller's thread, on the background runtime's timer: the
/// caller's runtime may have none. Returns at once if that runtime could not start (then no
/// Redis operation can run either).
pub(crate) async fn pause(duration: Duration) {
    if let Ok(runtime) = runtime() {
        // A `Sleep` binds to the timer of the runtime it is made in.
        let sleep = {
            let _entered = runtime.enter();
            tokio::time::sleep(duration)
        };
        in_context(runtime, sleep).await;
    }
}

/// Polls `future` inside `runtime`'s context, whichever executor polls it: the timers it arms,
/// the sockets it opens and the tasks it spawns (redis-rs reconnecting) belong to `runtime`,
/// which outlives any caller's runtime and always has its time and I/O drivers.
async fn in_context<F: Future>(runtime: &Runtime, future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    std::future::poll_fn(|cx| {
        let _entered = runtime.enter();
        future.as_mut().poll(cx)
    })
    .await
}

/// `work`, or [`Failure::TimedOut`] after `deadline`. Runs on the background runtime.
pub(crate) async fn within<T>(
    deadline: Duration,
    work: impl Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    tokio::time::timeout(deadline, work)
        .await
        .unwrap_or(Err(Failure::TimedOut))
}

/// Sends `command` and converts the reply. Runs on the background runtime.
pub(crate) async fn query<T: FromRedisValue>(
    manager: &mut ConnectionManager,
    command: &Cmd,
) -> Result<T, Failure> {
    let reply: RedisResult<T> = command.query_async(manager).await;
    reply.map_err(Failure::from)
}

/// Sends `pipeline` (one round trip) and converts the replies. Runs on the background runtime.
pub(crate) async fn query_pipeline<T: FromRedisValue>(
    manager: &mut ConnectionManager,
    pipeline: &::redis::Pipeline,
) -> Result<T, Failure> {
    let reply: RedisResult<T> = pipeline.query_async(manager).await;
    reply.map_err(Failure::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A connection to nowhere: nothing connects until an operation runs, and none does here.
    fn idle() -> Connection {
        Connection::new(&RedisConfig::new().url("redis://127.0.0.1:1/"))
    }

    fn cooling(connection: &Connection) -> bool {
        matches!(
            connection.ready(Attempt::Routine),
            Err(Failure::CoolingDown)
        )
    }

    /// The replacement manager in use, if any.
    fn replacement(connection: &Connection) -> Option<Arc<ConnectionManager>> {
        connection.managed.as_ref().unwrap().replacement.load_full()
    }

    fn refusal() -> Failure {
        let value = ::redis::parse_redis_value(b"-READONLY You can't write against a replica.\r\n")
            .unwrap();
        Failure::from(value.extract_error().unwrap_err())
    }

    #[test]
    fn a_refusal_cools_down_and_replaces_the_connection() {
        let connection = idle();
        assert!(replacement(&connection).is_none());
        assert!(connection.note::<()>(Err(refusal())).is_err());
        assert!(cooling(&connection));
        assert!(
            connection.ready(Attempt::Explicit).is_ok(),
            "explicit operations are still tried"
        );
        let first = replacement(&connection).expect("a new manager");
        let _ = connection.note::<()>(Err(refusal()));
        let second = replacement(&connection).expect("a new manager");
        assert!(
            !Arc::ptr_eq(&first, &second),
            "and another after each refusal"
        );
    }

    #[test]
    fn a_timeout_cools_down_on_the_same_connection() {
        let connection = idle();
        let _ = connection.note::<()>(Err(Failure::TimedOut));
        assert!(cooling(&connection));
        assert!(replacement(&connection).is_none());
    }

    #[test]
    fn a_refused_command_does_not_cool_down() {
        let connection = idle();
        let value = ::redis::parse_redis_value(b"-WRONGTYPE Operation against a key\r\n").unwrap();
        let _ = connection.note::<()>(Err(Failure::from(value.extract_error().unwrap_err())));
        assert!(!cooling(&connection));
    }

    #[test]
    fn an_answer_ends_a_cool_down_only_once_it_is_over() {
        let connection = idle();
        let _ = connection.note::<()>(Err(refusal()));
        // A read that succeeds on a read-only replica, or a release after a refused claim.
        let _ = connection.note(Ok(()));
        assert!(cooling(&connection), "the cool-down stands");
        // As if the cool-down had run out.
        connection.retry_at_ms.store(real_ms(), Ordering::Relaxed);
        let _ = connection.note(Ok(()));
        assert_eq!(connection.retry_at_ms.load(Ordering::Relaxed), 0);
        assert!(!cooling(&connection));
    }

    /// Cool-downs are real time: a test that pauses the entries' clock still sees Redis tried
    /// again after [`COOL_DOWN`]. (No other unit test of this crate reads the paused clock.)
    #[test]
    fn a_cool_down_ends_in_real_time_while_the_clock_is_paused() {
        crate::clock::pause();
        let connection = idle();
        let _ = connection.note::<()>(Err(Failure::TimedOut));
        assert!(cooling(&connection));
        let deadline = std::time::Instant::now() + COOL_DOWN * 10;
        while cooling(&connection) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let over = !cooling(&connection);
        crate::clock::resume();
        assert!(over, "the cool-down ended although the clock is paused");
    }
}
