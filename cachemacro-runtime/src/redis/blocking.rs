//! Blocking connections for sync callers' reads: a sync memoized function's `GET` is sent and
//! its reply read on the caller's own thread, without the two thread wake-ups of a command that
//! goes through the background runtime (see [`connection`](super::connection)).
//!
//! Each URL keeps at most [`MAX_CONNECTIONS`] blocking connections, idle or in use: a caller that
//! finds none to spare reads through the multiplexed connection instead, so many threads never
//! open many sockets. The connections are made by the URL's one `redis::Client`, so the password,
//! the database, the user and TLS (`rediss://`) are those of the multiplexed connection. Each
//! operation is bounded by the caller's timeout: connecting (handshake included) within it, then
//! each socket read and write within it (a reply arrives in one read but for large values, so a
//! new connection's first call or a reply dribbled out slowly can take longer than the timeout;
//! the host name is resolved without a deadline, as redis-rs does). A connection whose
//! failure may have left it out of step with the server (an I/O error, a timeout) is dropped, not
//! kept: its socket may hold a late reply; an error reply leaves it in step, and it is kept. An
//! idle connection that the server or a proxy closed meanwhile is replaced by a new one within
//! the same timeout, so it starts no cool-down. A failure that cools the URL down empties the pool
//! too ([`Pool::clear`]), since the other idle connections most likely died with the same server.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ::redis::{Cmd, RedisError, RedisResult};
use parking_lot::Mutex;

use super::failure::Failure;

/// The most blocking connections one URL holds, idle or in use.
pub(crate) const MAX_CONNECTIONS: usize = 8;

/// An idle connection, and the socket timeout it was last given (functions with different
/// timeouts share the pool; setting it costs two system calls, so it is set only on a change).
struct Idle {
    connection: ::redis::Connection,
    timeout: Duration,
}

/// The blocking connections of one URL.
pub(crate) struct Pool {
    client: ::redis::Client,
    idle: Mutex<Vec<Idle>>,
    /// Connections idle or in use (or being made): at most [`MAX_CONNECTIONS`].
    open: AtomicUsize,
}

/// A connection taken from the pool, or the right to make one; gives its place back when
/// dropped, unless [`Pool::keep`] put it back.
struct Taken<'a> {
    pool: &'a Pool,
    idle: Option<Idle>,
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        // Dropped without being kept: a failure, a panic, or a connection never made.
        self.pool.open.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Pool {
    pub(crate) fn new(client: ::redis::Client) -> Self {
        Pool {
            client,
            idle: Mutex::new(Vec::with_capacity(MAX_CONNECTIONS)),
            open: AtomicUsize::new(0),
        }
    }

    /// Sends `command` on a blocking connection and returns its reply within about `timeout`
    /// (see the module docs), or `None` when every connection is in use.
    pub(crate) fn query<T: ::redis::FromRedisValue>(
        &self,
        command: &Cmd,
        timeout: Duration,
    ) -> Option<Result<T, Failure>> {
        let started = Instant::now();
        let mut taken = self.take()?;
        let reused = taken.idle.take();
        let was_reused = reused.is_some();
        let reply = match reused {
            Some(mut idle) => {
                // Functions with different timeouts share the pool.
                if idle.timeout != timeout {
                    if let Err(error) = set_timeouts(&idle.connection, timeout) {
                        return Some(Err(failure(error)));
                    }
                    idle.timeout = timeout;
                }
                self.send(command, taken, idle)
            }
            None => match self.connect(timeout) {
                Ok(idle) => self.send(command, taken, idle),
                Err(error) => return Some(Err(failure(error))),
            },
        };
        match reply {
            // An idle connection that the server (its `timeout` setting, a restart) or a proxy
            // closed meanwhile: not a sign that Redis is down, so one new connection is tried,
            // within what is left of the timeout, before the failure can start a cool-down.
            Err(error) if was_reused && error.is_connection_dropped() && !error.is_timeout() => {
                let left = timeout.checked_sub(started.elapsed())?;
                let taken = self.take()?;
                match self.connect(left) {
                    Ok(idle) => Some(self.send(command, taken, idle).map_err(failure)),
                    Err(error) => Some(Err(failure(error))),
                }
            }
            reply => Some(reply.map_err(failure)),
        }
    }

    /// Sends `command` on `idle` and keeps the connection for the next caller unless the failure
    /// may have left it out of step with the server (an I/O error, a timeout with its reply
    /// still to come); an error reply (`WRONGTYPE`, a refusal) leaves it in step.
    fn send<T: ::redis::FromRedisValue>(
        &self,
        command: &Cmd,
        taken: Taken<'_>,
        mut idle: Idle,
    ) -> RedisResult<T> {
        let reply = command.query(&mut idle.connection);
        match &reply {
            Err(error)
                if error.is_io_error() || error.is_timeout() || error.is_connection_dropped() => {}
            _ => self.keep(taken, idle),
        }
        reply
    }

    /// Drops the idle connections (those in use are dropped when they fail).
    pub(crate) fn clear(&self) {
        let dropped = std::mem::take(&mut *self.idle.lock());
        self.open.fetch_sub(dropped.len(), Ordering::AcqRel);
    }

    /// An idle connection, or the right to make one; `None` when all are in use.
    fn take(&self) -> Option<Taken<'_>> {
        if let Some(idle) = self.idle.lock().pop() {
            // Its place in `open` moves to the `Taken`.
            return Some(Taken {
                pool: self,
                idle: Some(idle),
            });
        }
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < MAX_CONNECTIONS).then_some(open + 1)
            })
            .ok()?;
        Some(Taken {
            pool: self,
            idle: None,
        })
    }

    /// Puts a connection that answered back, keeping its place in `open`.
    fn keep(&self, taken: Taken<'_>, idle: Idle) {
        std::mem::forget(taken);
        self.idle.lock().push(idle);
    }

    /// A new connection, made within `timeout`; its command then gets a whole `timeout` too, as a
    /// call on the multiplexed connection waits for its connection and then for its reply. (Sharing
    /// one deadline between the two made a burst of first calls, connecting at once under load,
    /// time out and run their bodies without the lock: a body ran twice in the lock test.)
    fn connect(&self, timeout: Duration) -> RedisResult<Idle> {
        let connection = self.client.get_connection_with_timeout(timeout)?;
        set_timeouts(&connection, timeout)?;
        Ok(Idle {
            connection,
            timeout,
        })
    }
}

fn set_timeouts(connection: &::redis::Connection, timeout: Duration) -> RedisResult<()> {
    connection.set_read_timeout(Some(timeout))?;
    connection.set_write_timeout(Some(timeout))
}

/// A blocking socket's timeout is a timeout, as the async path's deadline is.
fn failure(error: RedisError) -> Failure {
    if error.is_timeout() {
        Failure::TimedOut
    } else {
        Failure::from(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool for nowhere: taking a place connects nothing.
    fn pool() -> Pool {
        Pool::new(::redis::Client::open("redis://127.0.0.1:1/").unwrap())
    }

    #[test]
    fn at_most_max_connections_are_open_at_once() {
        let pool = pool();
        let taken: Vec<_> = (0..MAX_CONNECTIONS)
            .map(|_| pool.take().expect("a place"))
            .collect();
        assert!(pool.take().is_none(), "all places are taken");
        drop(taken);
        assert_eq!(pool.open.load(Ordering::Acquire), 0);
        assert!(pool.take().is_some(), "a dropped place is free again");
    }

    #[test]
    fn a_failed_connection_gives_its_place_back() {
        let pool = pool();
        let command = ::redis::cmd("GET");
        let reply = pool.query::<Option<Vec<u8>>>(&command, Duration::from_secs(1));
        assert!(matches!(reply, Some(Err(Failure::Connection(_)))));
        assert_eq!(pool.open.load(Ordering::Acquire), 0);
    }
}
