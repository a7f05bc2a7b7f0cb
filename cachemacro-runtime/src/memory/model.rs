//! Model checking of the store's read-mostly lock with shuttle: `per_thread.rs`, `read_lock.rs`
//! and `store.rs` compiled a second time, beside a `sync` module of shuttle's primitives
//! (`memory/model/sync.rs`) in place of std's (`sync.rs`), so that shuttle controls every atomic access,
//! lock, thread-local and spin, and tries many interleavings of the threads in a test. The cell
//! holding each table checks that no write overlaps another access, so a test fails on the first
//! schedule in which the lock lets one through, wherever the threads are.
//!
//! This runs in a plain `cargo test` (no feature flag, no `cfg` in the checked code); each test
//! runs a fixed number of random schedules, so the whole takes seconds.
//!
//! Each of these breaks of the lock fails every test below, within its schedules: a reader that
//! does not mark its slot; a writer that does not wait for marked readers, or does not announce
//! itself, or scans all slots but the last handed out; a reader that ignores the announcement; a
//! writer announcing with a Release store instead of SeqCst (through the store buffers of
//! `memory/model/sync.rs`). The slot bookkeeping has its own tests: a slot handed to two live threads
//! or not given back on exit fails `a_slot_recycled_while_a_writer_waits`; threads on the shared
//! slot marking it fail `threads_beyond_the_owned_slots_share_one_and_read_under_the_mutex`. The
//! flights (a miss's, under the shard's mutex alone): a leader ending its flight before the write
//! that stores its value, or a caller looking at the table before it holds the mutex, lets a
//! second caller lead and fails `of_callers_missing_one_key_at_once_one_leads_and_the_others_get_its_value`. The
//! biased marks (`membarrier` is a drain of every thread's store buffer there): a revoking writer
//! that skips `membarrier` fails `a_writer_revokes_the_bias_while_a_biased_reader_is_inside` and
//! `biasing_at_a_checkpoint_races_a_writer`; a biased reader that does not look at the state
//! again after its plain mark fails the first of them; one that looks only for a writer, and so
//! does not fence when the bias fell between its two looks, fails
//! `a_whole_write_between_a_biased_readers_two_looks` (which runs 4 times the schedules: the
//! others catch it about 4 runs in 5). A weakened unbiased reader side (its locked add, or its
//! load of the state) is right on x86 and beyond the model; the re-entrancy guard runs user
//! code, so the std tests (`tests/concurrency.rs`) check it.

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
