// Every value of `lock` and `lock_ttl` where it applies; nothing is called, so no Redis is needed.
use cachemacro_runtime::memoize;

#[memoize(ttl = "10m", backend = "redis", lock = "redis", lock_ttl = "30s")]
fn across_processes(id: u64) -> u64 {
    id
}

// `lock = "redis"` is the default with `backend = "redis"`, so `lock_ttl` applies.
#[memoize(backend = "redis", lock_ttl = 2)]
async fn across_processes_async(id: u64) -> u64 {
    id
}

#[memoize(ttl = "10m", refresh = "background", backend = "redis", lock_ttl = "250ms")]
fn refreshed_once(id: u64) -> u64 {
    id
}

#[memoize(backend = "redis", lock = "process")]
fn per_process(id: u64) -> u64 {
    id
}

#[memoize(backend = "redis", lock = "none")]
fn unlocked(id: u64) -> u64 {
    id
}

#[memoize(lock = "process")]
fn in_process(id: u64) -> u64 {
    id
}

#[memoize(lock = "none")]
fn in_process_unlocked(id: u64) -> u64 {
    id
}

fn main() {
    let _ = (across_processes, across_processes_async, refreshed_once, per_process, unlocked);
    assert_eq!(in_process(1), 1);
    assert_eq!(in_process_unlocked(2), 2);
}
