//! What keeps a value computed before an invalidation from being stored after it.
//!
//! A computation reads its data, then stores its value; an invalidation (`f_invalidate`, the
//! value of an `f_refresh`, `clear()`) that Redis handles in between must not be undone by that
//! store. So an invalidation leaves a **mark**: `{entry}:invalidated` (or, for `clear()`, the
//! function's `{prefix}cleared`) holding Redis' own time (`TIME`, in µs), and expiring after the
//! function's `lock_ttl`. Every store of a computed value is one script that reads both marks,
//! and stores nothing if a mark is as young as the computation ([`Began`]): Redis' time when the
//! computation took the key's lock (`lock = "redis"`, read by the claim) or before it ran
//! (`f_refresh`, a background refresh without the lock: one `TIME`). A miss with `lock =
//! "process"` or `"none"` reads no time before its body (its lookup is the bare `GET` that a hit
//! sends), so its start is estimated: Redis' time at the script minus how long ago, by this
//! process' clock, the lookup was sent. Each duration is measured by one clock, so the processes'
//! clocks need not agree, and the lookup's own round trip makes the estimate early, which errs
//! towards storing nothing; but a write that waits longer than that round trip before Redis runs
//! it (a reconnection, a script reloaded after a restart) misses an invalidation made within that
//! wait of the body's start. Marks are not entries: their names end in letters, not in the 32 hex
//! digits that `len()` and `clear()` match.
//!
//! A mark lives `lock_ttl`, the bound the lock already puts on a body's run: a computation
//! slower than that is not held back by an invalidation older than `lock_ttl`. A `maxmemory`
//! policy that evicts keys with the shortest ttl first (`volatile-ttl`) evicts marks (and locks)
//! before entries. Only values written through [`STORE`] read marks: a refresh that finds its
//! value unchanged renews the entry's age (which is fresher than the refresh anyway), and the
//! lock's claims read none.

use std::sync::LazyLock;
use std::time::Instant;

use ::redis::Script;

use super::script::{Arguments, LuaScript};

/// When a computation began, as [`STORE`] compares it with the marks.
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub enum Began {
    /// Redis' time, in µs, read before the body ran.
    At(u64),
    /// This process' instant before the lookup was sent: Redis' time is estimated at the
    /// script.
    Since(Instant),
}

impl Began {
    /// [`STORE`]'s argument: `@` and the time, or how many µs ago, measured now.
    fn argument(self) -> Vec<u8> {
        match self {
            Began::At(us) => format!("@{us}").into_bytes(),
            Began::Since(instant) => u64::try_from(instant.elapsed().as_micros())
                .unwrap_or(u64::MAX)
                .to_string()
                .into_bytes(),
        }
    }
}

/// How a computed value is written.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Write {
    /// After a miss: `SET`.
    Miss,
    /// A background refresh: `SET ... XX`, so a key gone meanwhile stays gone.
    Refresh,
    /// `f_refresh`: `SET`, then a mark, so a computation that began before it does not replace
    /// its value.
    Put,
}

impl Write {
    fn argument(self) -> &'static [u8] {
        match self {
            Write::Miss => b"miss",
            Write::Refresh => b"refresh",
            Write::Put => b"put",
        }
    }
}

/// `KEYS`: the entry, its mark, the function's mark, and (if the caller holds it) the entry's
/// lock. `ARGV`: the value, the entry's ttl in ms (`0` for none), when the computation began
/// ([`Began`]), the [`Write`], the marks' ttl in ms, and the caller's lock token. Stores the value
/// unless a mark is as young as the computation; an `f_refresh`'s value then marks the key with
/// its own start (never moving a mark back), so that a computation that began before it does not
/// replace it, and one that began after it does. Then releases the lock if it still holds the
/// token. Replies 1 if it stored the value.
///
/// Marks are written with `PSETEX`, so Redis' count of `SET` commands counts values alone.
/// `string.format`: Lua would print a time in µs in exponent notation.
pub(super) static STORE: LuaScript = LuaScript(LazyLock::new(|| {
    Script::new(
        r"local time = redis.call('TIME')
local now = time[1] * 1000000 + time[2]
local began
if string.sub(ARGV[3], 1, 1) == '@' then began = tonumber(string.sub(ARGV[3], 2))
else began = now - tonumber(ARGV[3]) end
local function marked(key)
  local at = tonumber(redis.call('GET', key))
  return at ~= nil and at >= began
end
local stored = 0
if not (marked(KEYS[2]) or marked(KEYS[3])) then
  local set = {'SET', KEYS[1], ARGV[1]}
  if ARGV[2] ~= '0' then set[#set + 1] = 'PX'; set[#set + 1] = ARGV[2] end
  if ARGV[4] == 'refresh' then set[#set + 1] = 'XX' end
  if redis.call(unpack(set)) then stored = 1 end
  -- Its own mark, older than `began` (it is not marked), moves forward only.
  if ARGV[4] == 'put' then redis.call('PSETEX', KEYS[2], ARGV[5], string.format('%.0f', began)) end
end
if KEYS[4] and redis.call('GET', KEYS[4]) == ARGV[6] then redis.call('DEL', KEYS[4]) end
return stored",
    )
}));

/// `KEYS`: the entry, its mark, its lock. `ARGV`: the mark's ttl in ms. Deletes the entry
/// (`UNLINK`) and its lock, and marks it: a computation holding the lock began before, and will
/// store nothing, so the next caller (in any process) computes at once rather than wait for it.
/// Replies how many entries it deleted (0 or 1).
pub(super) static INVALIDATE: LuaScript = LuaScript(LazyLock::new(|| {
    Script::new(
        r"local removed = redis.call('UNLINK', KEYS[1])
redis.call('DEL', KEYS[3])
local time = redis.call('TIME')
redis.call('PSETEX', KEYS[2], ARGV[1], string.format('%.0f', time[1] * 1000000 + time[2]))
return removed",
    )
}));

/// `KEYS`: the function's mark. `ARGV`: its ttl in ms. Marks every entry of the function, before
/// `clear()` deletes them. Replies 1.
pub(super) static MARK_ALL: LuaScript = LuaScript(LazyLock::new(|| {
    Script::new(
        r"local time = redis.call('TIME')
redis.call('PSETEX', KEYS[1], ARGV[1], string.format('%.0f', time[1] * 1000000 + time[2]))
return 1",
    )
}));

/// The mark of the entry `redis_key`.
pub(super) fn mark_key(redis_key: &str) -> String {
    format!("{redis_key}:invalidated")
}

/// The mark of every entry of a function, from its keys' common `prefix` (ending in `:`).
pub(super) fn mark_all_key(prefix: &str) -> String {
    format!("{prefix}cleared")
}

/// [`STORE`]'s arguments.
pub(super) struct Store<'a> {
    pub(super) redis_key: &'a str,
    pub(super) all_key: String,
    pub(super) bytes: Vec<u8>,
    pub(super) ttl_ms: u64,
    pub(super) began: Began,
    pub(super) write: Write,
    pub(super) mark_ttl_ms: u64,
    /// The entry's lock and the caller's token, if it holds the lock.
    pub(super) lock: Option<(&'a str, &'a str)>,
}

impl Store<'_> {
    /// Built once the connection is at hand (see [`LuaScript::call_with`]): for a
    /// [`Began::Since`], the time left unmeasured makes the start look later than it was.
    pub(super) fn arguments(self) -> Arguments {
        let mut keys = vec![
            self.redis_key.to_owned(),
            mark_key(self.redis_key),
            self.all_key,
        ];
        let mut args = vec![
            self.bytes,
            self.ttl_ms.to_string().into_bytes(),
            self.began.argument(),
            self.write.argument().to_vec(),
            self.mark_ttl_ms.to_string().into_bytes(),
        ];
        if let Some((lock_key, token)) = self.lock {
            keys.push(lock_key.to_owned());
            args.push(token.as_bytes().to_vec());
        }
        (keys, args)
    }
}

/// [`INVALIDATE`]'s or [`MARK_ALL`]'s arguments: `keys`, and the mark's ttl.
pub(super) fn mark_arguments(keys: Vec<String>, mark_ttl_ms: u64) -> Arguments {
    (keys, vec![mark_ttl_ms.to_string().into_bytes()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_not_named_like_entries() {
        let entry = "ns:app::f@v3:000000000000000000000000000000ab";
        assert_eq!(
            mark_key(entry),
            "ns:app::f@v3:000000000000000000000000000000ab:invalidated"
        );
        assert_eq!(mark_all_key("ns:app::f@v3:"), "ns:app::f@v3:cleared");
    }
}
