//! Why a Redis operation did not complete, and which failures say that Redis would answer the
//! next call the same way: those make the connection cool down (see
//! [`connection`](super::connection)).
//!
//! Redis' replies are sorted in [`Failure::from`], the one place that reads them:
//!
//! - **Refused**: every command of this connection is refused, until someone changes the
//!   configuration or the server leaves its state. Retrying at once only sends the same commands
//!   for the same error replies, twice per call. See [`refuses_connection`] for the list.
//! - **Reply**: this command, key or value is refused (`WRONGTYPE`, an unexpected reply type, a
//!   script Redis has forgotten): the next call, on another key, may well succeed.

use std::fmt;
use std::sync::Arc;

use ::redis::{ErrorKind, RedisError, ServerErrorKind};

/// Why an operation did not complete.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Redis failed recently; it was not tried.
    CoolingDown,
    TimedOut,
    /// No connection: refused, reset, not resolvable...
    Connection(RedisError),
    /// Redis refuses this connection's commands, whatever they are (a wrong password, a database
    /// that does not exist, a read-only replica...).
    Refused(RedisError),
    /// Redis answered with an error about this command or key (e.g. `WRONGTYPE`).
    Reply(RedisError),
    /// The URL is invalid or the background runtime could not start.
    Setup(Arc<str>),
}

impl Failure {
    /// Whether the connection cools down after this failure: Redis is unreachable, slow, or would
    /// refuse the next call too.
    pub(crate) fn cools_down(&self) -> bool {
        matches!(
            self,
            Failure::TimedOut | Failure::Connection(_) | Failure::Refused(_)
        )
    }

    /// Whether the connection must be made anew before Redis is tried again. redis-rs' connection
    /// manager reconnects after an I/O error by itself, but keeps any other failure of its
    /// handshake (a wrong password, `SELECT` of a database that does not exist, a reply it cannot
    /// parse) for good, answering every later command with it without asking Redis: then a fixed
    /// configuration would never be seen. A timeout is not one: the connection may be sound, and
    /// a frozen server would collect a new one per cool-down.
    pub(crate) fn needs_new_connection(&self) -> bool {
        match self {
            Failure::Refused(_) => true,
            Failure::Connection(error) => !error.is_io_error(),
            _ => false,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::CoolingDown => f.write_str("Redis failed recently; cooling down"),
            Failure::TimedOut => f.write_str("Redis did not answer in time"),
            Failure::Connection(error) => write!(f, "no connection to Redis: {error}"),
            Failure::Refused(error) => write!(
                f,
                "Redis refuses this connection's commands, and is tried again once per cool-down: \
                 {error}"
            ),
            Failure::Reply(error) => write!(f, "Redis refused the command: {error}"),
            Failure::Setup(why) => f.write_str(why),
        }
    }
}

impl From<RedisError> for Failure {
    fn from(error: RedisError) -> Self {
        if refuses_connection(&error) {
            Failure::Refused(error)
        } else if error.code().is_some() || error.kind() == ErrorKind::UnexpectedReturnType {
            // A reply with an error code (`WRONGTYPE ...`, `OOM ...`) comes from a working server.
            Failure::Reply(error)
        } else {
            Failure::Connection(error)
        }
    }
}

/// Whether Redis would refuse any command of this connection for a while, whatever the key: the
/// cool-down then costs nothing (nothing would be served meanwhile, or, on a replica, nothing
/// written), and retrying at once costs round trips and errors on every call.
///
/// Until someone changes the configuration:
/// - the password: `AUTH` failed in the handshake (`WRONGPASS`; redis-rs reports
///   [`ErrorKind::AuthenticationFailed`]), or none was given to a server that wants one
///   (`NOAUTH`);
/// - the ACL user may not run the backend's commands, or touch its keys (`NOPERM`; an ACL that
///   refuses only some keys cools the whole URL down too: the documented price of keeping one
///   refused function from costing two errors per call);
/// - the database does not exist (`SELECT` in the handshake: `DB index is out of range`);
/// - the server is a read-only replica (`READONLY`) or cannot persist and refuses writes
///   (`MISCONF`): reads would succeed, but every miss fails to claim and to write.
///
/// Until the server leaves its state, which takes seconds at least, every command (reads too)
/// being refused meanwhile: loading its data set (`LOADING`), running a script past its time limit
/// (`BUSY`), a replica without its primary (`MASTERDOWN`).
///
/// Not so (one call's failure, as before): `WRONGTYPE` (one key), an unexpected reply type (one
/// value), `NOSCRIPT` (the script is loaded again at once), an unknown command (that command
/// alone: a Redis without `UNLINK` still serves `GET`), `OOM` (writes until memory is freed by
/// expiry or eviction, while reads are still served), and cluster redirections and
/// `TRYAGAIN` (one key; the backend does not speak cluster).
fn refuses_connection(error: &RedisError) -> bool {
    match error.kind() {
        ErrorKind::AuthenticationFailed => true,
        ErrorKind::Server(kind) => match kind {
            ServerErrorKind::ReadOnly
            | ServerErrorKind::NoPerm
            | ServerErrorKind::BusyLoading
            | ServerErrorKind::MasterDown => true,
            // `ERR` says nothing by itself; `SELECT`'s refusal is recognised by its text (redis-rs
            // reports it as `Redis server refused to switch database` with Redis' own words).
            ServerErrorKind::ResponseError => {
                let text = error.to_string();
                text.contains("refused to switch database")
                    || text.contains("DB index is out of range")
                    || text.contains("invalid DB index")
            }
            _ => false,
        },
        // Codes redis-rs has no kind for.
        ErrorKind::Extension => matches!(
            error.code(),
            Some("NOAUTH" | "WRONGPASS" | "MISCONF" | "BUSY")
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error redis-rs makes of an error reply, as Redis sends it.
    fn reply(line: &str) -> RedisError {
        let value = ::redis::parse_redis_value(format!("-{line}\r\n").as_bytes())
            .expect("an error reply parses");
        value
            .extract_error()
            .expect_err("an error reply is an error")
    }

    fn class(error: RedisError) -> &'static str {
        match Failure::from(error) {
            Failure::Refused(_) => "refused",
            Failure::Reply(_) => "reply",
            Failure::Connection(_) => "connection",
            _ => "other",
        }
    }

    #[test]
    fn replies_that_retrying_will_not_change_are_refusals() {
        let refusals = [
            "NOAUTH Authentication required.",
            "WRONGPASS invalid username-password pair or user is disabled.",
            "NOPERM User cache has no permissions to run the 'evalsha' command",
            "READONLY You can't write against a read only replica.",
            "READONLY You can't write against a read only replica. script: 4b1f, on \
             @user_script:3.",
            "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to \
             persist to disk.",
            "ERR DB index is out of range",
            "ERR invalid DB index",
            "LOADING Redis is loading the dataset in memory",
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
        ];
        for line in refusals {
            assert_eq!(class(reply(line)), "refused", "{line}");
        }
        // What the handshake makes of a failed `AUTH` and a failed `SELECT`.
        let auth = RedisError::from((
            ErrorKind::AuthenticationFailed,
            "Password authentication failed",
        ));
        assert_eq!(class(auth), "refused");
        let select = RedisError::from((
            ErrorKind::from(ServerErrorKind::ResponseError),
            "Redis server refused to switch database",
            "DB index is out of range".to_owned(),
        ));
        assert_eq!(class(select), "refused");
        let select_without_detail = RedisError::from((
            ErrorKind::from(ServerErrorKind::ResponseError),
            "Redis server refused to switch database",
        ));
        assert_eq!(class(select_without_detail), "refused");
    }

    #[test]
    fn replies_about_one_command_or_key_are_not() {
        let replies = [
            "WRONGTYPE Operation against a key holding the wrong kind of value",
            "NOSCRIPT No matching script. Please use EVAL.",
            "ERR unknown command 'UNLINK', with args beginning with: 'k' ",
            "ERR value is not an integer or out of range",
            "OOM command not allowed when used memory > 'maxmemory'.",
            "TRYAGAIN Multiple keys request during rehashing of slot",
            "MOVED 3999 127.0.0.1:6381",
            "EXECABORT Transaction discarded because of previous errors.",
        ];
        for line in replies {
            assert_eq!(class(reply(line)), "reply", "{line}");
        }
        let not_a_string = RedisError::from((ErrorKind::UnexpectedReturnType, "not a bulk string"));
        assert_eq!(class(not_a_string), "reply");
    }

    #[test]
    fn no_answer_is_a_connection_failure_that_redis_rs_reconnects_by_itself() {
        let refused = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        let failure = Failure::from(refused);
        assert!(matches!(failure, Failure::Connection(_)));
        assert!(failure.cools_down());
        assert!(!failure.needs_new_connection());

        let refusal = Failure::from(reply("NOAUTH Authentication required."));
        assert!(refusal.cools_down() && refusal.needs_new_connection());
        let garbage = Failure::from(RedisError::from((ErrorKind::Parse, "not RESP")));
        assert!(garbage.cools_down() && garbage.needs_new_connection());
        assert!(!Failure::from(reply("WRONGTYPE x")).cools_down());
        assert!(!Failure::TimedOut.needs_new_connection());
    }
}
