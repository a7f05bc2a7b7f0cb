//! Lua scripts, each one step on Redis that sees and changes several keys at once: the lock's
//! (`lock.rs`) and the refresh's renewal (`refresh.rs`).

use std::sync::LazyLock;

use ::redis::aio::ConnectionManager;
use ::redis::{FromRedisValue, Script};

use super::Target;
use super::connection::{Attempt, Failure};

/// A script's `KEYS` and `ARGV`.
pub(super) type Arguments = (Vec<String>, Vec<Vec<u8>>);

/// A Lua script, run with `EVALSHA` by redis-rs' [`Script`], which loads it again whenever Redis
/// has forgotten it (a restart, `SCRIPT FLUSH`, another server). Its SHA1 is computed once.
pub(super) struct LuaScript(pub(super) LazyLock<Script>);

impl LuaScript {
    /// Runs the script on `target`'s connection within its timeout.
    pub(super) async fn call<T: FromRedisValue + Send + 'static>(
        &'static self,
        target: &Target,
        attempt: Attempt,
        arguments: Arguments,
    ) -> Result<T, Failure> {
        self.call_with(target, attempt, || arguments).await
    }

    /// [`call`](Self::call) with arguments built once the connection is at hand, just before the
    /// script is sent (a write's estimate of when its computation began, see `marks.rs`).
    pub(super) async fn call_with<T: FromRedisValue + Send + 'static>(
        &'static self,
        target: &Target,
        attempt: Attempt,
        arguments: impl FnOnce() -> Arguments,
    ) -> Result<T, Failure> {
        target
            .connection
            .run(attempt, target.timeout(), move |manager| {
                let (keys, args) = arguments();
                self.run(manager, keys, args)
            })
            .await
    }

    /// Runs the script. Runs on the background runtime.
    pub(super) async fn run<T: FromRedisValue>(
        &'static self,
        mut manager: ConnectionManager,
        keys: Vec<String>,
        args: Vec<Vec<u8>>,
    ) -> Result<T, Failure> {
        let mut invocation = self.0.prepare_invoke();
        for key in keys {
            invocation.key(key);
        }
        for arg in args {
            invocation.arg(arg);
        }
        let reply: ::redis::RedisResult<T> = invocation.invoke_async(&mut manager).await;
        reply.map_err(Failure::from)
    }
}
