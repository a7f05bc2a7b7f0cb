//! A value read from Redis is kept in the near tier for what is left of its life there (its
//! envelope carries its expiry), not for the whole `ttl` from the read: Redis deletes an expired
//! key, which announces it to the tier, only when it finds it, which can take minutes on a
//! server with many keys.
//!
//! The entry's expiry is set by rewriting its envelope (bytes 11 to 19: milliseconds since the
//! Unix epoch, little-endian; `envelope.rs`), while Redis keeps it for a minute. The near tier's
//! clock is the crate's controllable clock, paused here (its own binary: the clock is
//! process-wide).

#[path = "support/redis_server.rs"]
mod redis_server;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cachemacro_runtime::key::{format_key, key_hash};
use cachemacro_runtime::{RedisConfig, clock, memoize};
use redis::Commands;
use redis_server::{RedisServer, eventually};

const NAMESPACE: &str = "near_ttl";
const DEADLINE: Duration = Duration::from_secs(5);

static RUNS: AtomicU64 = AtomicU64::new(0);

#[memoize(ttl = 60, backend = "redis", near = 100, name = "near_ttl::aged")]
fn aged(id: u64) -> u64 {
    RUNS.fetch_add(1, Ordering::SeqCst);
    id * 10
}

/// The same function in "another process": same name, same entries, no near tier.
#[memoize(ttl = 60, backend = "redis", name = "near_ttl::aged")]
fn aged_elsewhere(id: u64) -> u64 {
    id * 10
}

fn redis_key(id: u64) -> String {
    format!(
        "{NAMESPACE}:{}",
        format_key("near_ttl::aged", 0, key_hash(&id))
    )
}

/// Stores `id`'s entry (through "another process"), its envelope rewritten to expire
/// `from_now_ms` from now by the wall clock; Redis keeps it for a minute.
fn store_expiring(admin: &mut redis::Connection, id: u64, from_now_ms: i64) {
    assert_eq!(aged_elsewhere_refresh(id), id * 10);
    let mut bytes: Vec<u8> = admin.get(redis_key(id)).expect("the entry");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let expires_at = (now.as_millis() as i64 + from_now_ms) as u64;
    bytes[11..19].copy_from_slice(&expires_at.to_le_bytes());
    let _: () = redis::cmd("SET")
        .arg(redis_key(id))
        .arg(bytes)
        .arg("PX")
        .arg(60_000)
        .query(admin)
        .expect("SET");
}

/// A call of `aged(id)`: whether it was a near hit.
fn near_hit(id: u64) -> bool {
    let before = aged_cache().stats().near_hits;
    assert_eq!(aged(id), id * 10);
    aged_cache().stats().near_hits > before
}

#[test]
fn a_value_read_from_redis_is_kept_near_no_longer_than_its_life_left_there() {
    let Some(server) = RedisServer::start() else {
        return;
    };
    aged_cache().configure(RedisConfig::new().url(server.url()).namespace(NAMESPACE));
    aged_elsewhere_cache().configure(RedisConfig::new().url(server.url()).namespace(NAMESPACE));
    clock::pause();
    let mut admin = server.client();
    // The tier is tracking once a key read from Redis becomes a near hit.
    assert_eq!(aged_elsewhere(1), 10);
    assert!(eventually(DEADLINE, || near_hit(1)), "tracking is up");

    // An entry with 30 s left in Redis (by its envelope): kept near for those 30 s, not 60.
    store_expiring(&mut admin, 2, 30_000);
    assert!(eventually(DEADLINE, || {
        aged(2);
        near_hit(2)
    }));
    clock::advance(Duration::from_secs(25));
    assert!(near_hit(2), "25 s later: still near");
    clock::advance(Duration::from_secs(6));
    assert!(
        !near_hit(2),
        "31 s later: read from Redis again, not served near"
    );

    // An entry expired by this process' clock (Redis has not deleted it): served, not kept.
    store_expiring(&mut admin, 3, -1_000);
    assert!(!near_hit(3));
    assert!(!near_hit(3), "not kept near");
    assert_eq!(
        RUNS.load(Ordering::SeqCst),
        0,
        "every value came from Redis"
    );
}
