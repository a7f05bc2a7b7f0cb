//! Background refresh: the bounded pool that recomputes stale entries while callers are served
//! the cached value.
//!
//! With `refresh = "background"`, a hit on an entry older than `refresh_after` (and younger than
//! `ttl`) returns the cached value at once and schedules one recomputation of that key; at most one
//! is in flight per key in a process. The pool is bounded by construction:
//!
//! - **Sync functions** share one process-wide pool of at most [`RefreshConfig::workers`]
//!   threads, started on first use, fed by a queue of at most [`RefreshConfig::queue`] pending
//!   refreshes. When the queue is full the refresh is dropped and counted
//!   ([`Stats::refreshes_dropped`](crate::Stats::refreshes_dropped)); the old value keeps being
//!   served and a later hit tries again.
//! - **Async functions** refresh as tasks on the caller's tokio runtime, at most `workers` at once
//!   (a semaphore), with at most `queue` waiting; the same drop rule applies. An async function
//!   polled outside a tokio runtime drops its refreshes (and logs it once).
//!
//! Pool threads never keep a program alive: returning from `main` ends it, refreshes in flight or
//! not.
//!
//! The pool's size is set once, before the first refresh, with [`configure`]:
//!
//! ```
//! use cachemacro_runtime::refresh::{configure, RefreshConfig};
//!
//! configure(RefreshConfig { workers: 8, queue: 4096 }).expect("called before the first refresh");
//! ```

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};

use futures_util::FutureExt;

use crate::fork::PerProcess;

/// The pool's bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshConfig {
    /// The most refreshes running at once: threads for sync functions, tasks for async ones.
    /// Default 4.
    pub workers: usize,
    /// The most refreshes waiting for a worker; more are dropped. Default 1024.
    pub queue: usize,
}

impl Default for RefreshConfig {
    fn default() -> Self {
        RefreshConfig {
            workers: 4,
            queue: 1024,
        }
    }
}

/// [`configure`] was called after the pool had started (or twice); the pool keeps its bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyStarted(pub RefreshConfig);

impl std::fmt::Display for AlreadyStarted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the refresh pool is already configured ({} workers, queue of {})",
            self.0.workers, self.0.queue
        )
    }
}

impl std::error::Error for AlreadyStarted {}

static CONFIG: OnceLock<RefreshConfig> = OnceLock::new();

/// Sets the pool's bounds. Call it at start-up, before the first refresh; later calls fail and
/// change nothing. Zero workers or a zero queue are raised to 1.
pub fn configure(config: RefreshConfig) -> Result<(), AlreadyStarted> {
    let config = RefreshConfig {
        workers: config.workers.max(1),
        queue: config.queue.max(1),
    };
    let mut set = false;
    let current = CONFIG.get_or_init(|| {
        set = true;
        config
    });
    if set {
        Ok(())
    } else {
        Err(AlreadyStarted(*current))
    }
}

fn config() -> RefreshConfig {
    *CONFIG.get_or_init(RefreshConfig::default)
}

/// The configured `workers`, without fixing the configuration (warm-up may run before the
/// program calls [`configure`]).
pub(crate) fn workers() -> usize {
    CONFIG.get().copied().unwrap_or_default().workers
}

/// A refresh that could not be queued: the queue was full or no worker could run it.
#[derive(Debug)]
pub(crate) struct Dropped;

type Job = Box<dyn FnOnce() + Send>;

/// The sync pool: threads started on demand, up to `workers`, sharing one bounded queue.
struct ThreadPool {
    sender: SyncSender<Job>,
    receiver: Arc<Mutex<Receiver<Job>>>,
    started: AtomicUsize,
    workers: usize,
}

/// Per process: a forked child has none of the parent's workers (see [`crate::fork`]).
static THREADS: PerProcess<ThreadPool> = PerProcess::new();

impl ThreadPool {
    fn get() -> &'static ThreadPool {
        THREADS.get(|| {
            let RefreshConfig { workers, queue } = config();
            let (sender, receiver) = sync_channel(queue);
            ThreadPool {
                sender,
                receiver: Arc::new(Mutex::new(receiver)),
                started: AtomicUsize::new(0),
                workers,
            }
        })
    }

    fn submit(&'static self, job: Job) -> Result<(), Dropped> {
        match self.sender.try_send(job) {
            Ok(()) => {
                self.grow();
                Ok(())
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Err(Dropped),
        }
    }

    /// Starts one more worker while there are fewer than `workers`.
    fn grow(&'static self) {
        let claimed = self
            .started
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |started| {
                (started < self.workers).then_some(started + 1)
            });
        if claimed.is_err() {
            return;
        }
        let receiver = self.receiver.clone();
        let spawned = std::thread::Builder::new()
            .name("cachemacro-refresh".into())
            .spawn(move || {
                loop {
                    let job = {
                        let receiver = receiver.lock().unwrap_or_else(|p| p.into_inner());
                        receiver.recv()
                    };
                    match job {
                        // A panic anywhere in a job (the refresh catches its own; this covers
                        // what surrounds it) must not cost the pool a worker.
                        Ok(job) => {
                            let _ = run_caught(job);
                        }
                        Err(_) => return,
                    }
                }
            });
        if let Err(error) = spawned {
            self.started.fetch_sub(1, Ordering::Relaxed);
            tracing::error!(%error, "cachemacro: could not start a refresh thread");
        }
    }
}

/// Runs `job` on the sync pool; `Err` if the queue is full.
pub(crate) fn spawn_blocking(job: impl FnOnce() + Send + 'static) -> Result<(), Dropped> {
    ThreadPool::get().submit(Box::new(job))
}

/// The async pool: tasks on the caller's runtime, `workers` at a time, `queue` more waiting.
struct TaskPool {
    running: tokio::sync::Semaphore,
    admitted: AtomicUsize,
    limit: usize,
}

/// Per process: a forked child's runtime does not run the parent's tasks, whose admissions and
/// permits would never come back (see [`crate::fork`]).
static TASKS: PerProcess<TaskPool> = PerProcess::new();
static NO_RUNTIME_LOGGED: AtomicBool = AtomicBool::new(false);

/// Spawns `refresh` on the current tokio runtime; `Err` if the pool is full or there is no
/// runtime.
pub(crate) fn spawn_task(
    refresh: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Dropped> {
    let pool = TASKS.get(|| {
        let RefreshConfig { workers, queue } = config();
        TaskPool {
            running: tokio::sync::Semaphore::new(workers),
            admitted: AtomicUsize::new(0),
            limit: workers + queue,
        }
    });
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        if !NO_RUNTIME_LOGGED.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "cachemacro: a background refresh of an async function needs a tokio runtime; refreshes are dropped"
            );
        }
        return Err(Dropped);
    };
    if pool.admitted.fetch_add(1, Ordering::AcqRel) >= pool.limit {
        pool.admitted.fetch_sub(1, Ordering::AcqRel);
        return Err(Dropped);
    }
    // Released on drop: also when the runtime shuts down and cancels the task.
    let admission = Admission(pool);
    runtime.spawn(async move {
        let _admission = admission;
        if let Ok(_permit) = pool.running.acquire().await {
            refresh.await;
        }
    });
    Ok(())
}

/// One admitted refresh task, counted until it ends or is cancelled.
struct Admission(&'static TaskPool);

impl Drop for Admission {
    fn drop(&mut self) {
        self.0.admitted.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs `body`, turning a panic into `None`.
pub(crate) fn run_caught<R>(body: impl FnOnce() -> R) -> Option<R> {
    catch_unwind(AssertUnwindSafe(body)).ok()
}

/// Awaits `body`, turning a panic into `None`.
pub(crate) async fn await_caught<F: Future>(body: F) -> Option<F::Output> {
    AssertUnwindSafe(body).catch_unwind().await.ok()
}
