//! Model checking of the store's read-mostly lock with shuttle: `per_thread.rs`, `read_lock.rs`
//! and `store.rs` compiled a second time, beside a `sync` module of shuttle's primitives
//! (`model/sync.rs`) in place of std's (`sync.rs`), so that shuttle controls every atomic access,
//! lock, thread-local and spin, and tries many interleavings of the threads in a test. The cell
//! holding each table checks that no write overlaps another access, so a test fails on the first
//! schedule in which the lock lets one through, wherever the threads are.
//!
//! This runs in a plain `cargo test` (no feature flag, no `cfg` in the checked code); each test
//! runs a fixed number of random schedules, so the whole takes seconds.

// The copies carry what only the std build uses; loading the files twice is the point.
#![allow(dead_code, clippy::duplicate_mod)]

mod sync;

#[path = "per_thread.rs"]
mod per_thread;
#[path = "read_lock.rs"]
mod read_lock;
#[path = "store.rs"]
mod store;

mod tests;
