//! The read-mostly lock of the in-process store, and the only unsafe code in it: a table per
//! shard, read by [`Shards::read`] without a lock and without writing shared memory, written by
//! [`Shards::write_with`] under a mutex.
//!
//! Why not a `RwLock`: a hit writing the lock word pulls that word's cache line from the core that
//! last wrote it, so two threads hitting the same shard did less work than one (`store.rs` has the
//! measurements). Here a reader writes only its own per-thread slot ([`crate::memory::per_thread`]).
//!
//! Why a biased mode: marking a read with a locked add (a full fence) cost about a quarter of the
//! hit on an Intel Xeon (`BENCHMARKS.md`, issue 13). A shard that has served many reads with no
//! write between is *biased*: its readers mark with a plain store, and the next writer pays for
//! both sides with one process-wide `membarrier` (an asymmetric fence) and takes the bias back.
//!
//! # The protocol
//!
//! A shard's `state` is one byte: `WRITING` (a writer is active), `BIASED`, or neither; the two
//! are never set together. Below, "`writing`" and "`biased`" name those two bits of it.
//!
//! A **reader** (a thread that owns a slot) of a shard:
//! 1. loads the shard's state (SeqCst), then marks its slot with the shard it reads:
//!    `reads += mark(place)`,
//!    - unbiased: one SeqCst locked add;
//!    - biased: a plain load and a plain (Relaxed) store, which only its owner writes, then a
//!      compiler fence, then loads the state again (SeqCst); if it is still `BIASED`, that load
//!      is also step 2's, and found no writer; else (the bias fell meanwhile) a SeqCst fence,
//!      which makes the mark as good as the locked add;
//! 2. loads the state (SeqCst), unless step 1's second load did; if `writing` is set, it leaves
//!    its mark cleared and reads as a mutex holder instead (below);
//! 3. reads the table through `&T`;
//! 4. clears its mark with one plain store (Release) of the value it read in step 1, plus
//!    [`HIT`] if the read was a hit: the mark and the hit count share the word;
//! 5. after an unbiased hit that brings its slot's hits to a multiple of [`REBIAS_HITS`], a
//!    checkpoint: if it gets the shard's mutex without waiting, and no write took the mutex since
//!    the previous checkpoint, it sets `biased` (where `membarrier` works, else never).
//!
//! A **writer** (an insert, a remove, an eviction, `clear`, a miss storing its value):
//! 1. takes the shard's mutex, and counts its write there;
//! 2. announces itself and drops the bias in one SeqCst store: `state = WRITING`;
//! 3. if the shard was biased, revokes the bias: one
//!    `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`: before it returns every thread of the
//!    process has run a full fence (a running one by an interrupt, a sleeping one by the
//!    context switch that took it off its CPU);
//! 4. for every slot handed out so far, waits while that slot holds this shard's mark and has not
//!    changed since first seen (the reader in it finishes the read it is in);
//! 5. reads and writes the table through `&mut T`;
//! 6. withdraws: `state = 0` (Release), then releases the mutex.
//!
//! A **mutex holder** ([`Shards::locked`]: a miss publishing its flight; and
//! [`Shards::read_under_mutex`]: a read by a thread without a slot, or one that found `writing`
//! set) takes the mutex alone,
//! without announcing itself, revoking or waiting: it reads the table through `&T` beside the
//! readers, and writes only the shard's side data, which lives inside the mutex and which readers
//! never see.
//!
//! # The invariants, and why they hold
//!
//! - **Who may touch a table when.** `&T` exists only inside a reader's steps 2-4, inside a
//!   writer's step 5, or while a mutex holder holds the mutex; `&mut T` only inside a writer's
//!   step 5. Writers exclude each other, and mutex holders, by the mutex. A reader and a writer
//!   exclude each other by the next two points.
//! - **The SeqCst pairing (unbiased reads).** The reader's mark (a locked add, or a plain store
//!   followed by a SeqCst fence) precedes its load of `writing`; the writer's announcement (a
//!   store) precedes its loads of the marks. All are SeqCst, so in their single total order one
//!   side's store (or fence) comes first and the other side's load sees it: either the reader sees
//!   `writing` and keeps out, or the writer sees the mark and waits. With a weaker ordering on
//!   either side both loads may read the old values (store buffering), and both would be inside.
//!   A reader is never waited for past the read it is in: its next read sees the announcement.
//!   The waiting compares the whole word, so a reader that leaves and comes back with the same
//!   mark between two looks has still changed it (its hit count grew) or was let through by a
//!   load of `writing` that came after the announcement.
//! - **The asymmetric pairing (biased reads).** A biased reader's mark is a plain store with only
//!   a compiler fence before its load of the state: the CPU may still hold the mark in its store
//!   buffer while it loads. The writer that finds the shard biased stores `state = WRITING`
//!   (`biased` fallen, `writing` set, in one store), then runs `membarrier`, which runs a full
//!   fence on the reader's CPU at some point P. If the reader's load came before P, so did its
//!   mark (program order holds across the compiler fence, and the fence at P drains the store):
//!   the writer's scan, after `membarrier` returns, sees the mark (or its clearing: the read is
//!   over). If it came after P, it sees that store or a later one: `biased` fallen (`WRITING`,
//!   or 0 once the writer is done), so the reader fences as an unbiased one does (that pairing
//!   holds from then on) and loads the state again, which shows `writing` while this writer is
//!   inside, so it keeps out of this write; or `BIASED` set again at a later checkpoint, and then
//!   the next writer revokes, and the look came before that writer's P. So a
//!   read let through with a plain mark saw `biased` after its mark; then either its mark is
//!   visible to every later scan, or no revocation has happened since it saw `biased`, and the
//!   next writer (mutex order) finds the shard biased and runs `membarrier` before its scan.
//!   `biased` changes only under the mutex (revoked by a writer, set at a checkpoint), so a writer
//!   reads it exactly. Without `membarrier` (not Linux, an old kernel, a seccomp filter: the
//!   process registers and runs it once before it biases any shard) no shard is ever biased.
//!   Should it fail later, the writer retries (registering again, for a forked child) and falls
//!   back to `MEMBARRIER_CMD_GLOBAL`; should that fail too (a seccomp filter installed since), no
//!   writer could proceed soundly past a biased shard, and the process aborts.
//! - **What a revocation costs, and its bound.** `membarrier` took 9.3 us here with a second
//!   thread running (it interrupts every CPU that runs a thread of the process); a biased read
//!   saves a few ns. A shard is biased again only at a checkpoint that finds no write since the
//!   previous one, and its slot owners checkpoint once per [`REBIAS_HITS`] of a thread's hits (on
//!   an unbiased one), so a cache's revocations are at most about one per `REBIAS_HITS` of its
//!   hits, in aggregate (under 0.2 ns a hit), and a steady stream of misses, each a write between
//!   checkpoints, keeps its shard unbiased: its writes pay one load of the flag. The price is in
//!   the latency of rare writes: a write to a biased shard (a miss or an invalidation after a
//!   long run of hits alone) takes the membarrier's ~10 us instead of ~0.5 us, and `clear()` may
//!   pay one per shard.
//! - **One writer of a slot.** A slot's word is written by its owner with plain stores (steps 1
//!   and 4, and hit counting), which is sound only while one thread owns it: [`Index`] is not
//!   `Send`, and only [`crate::memory::per_thread::current`] makes one.
//! - **Slot recycling on thread exit.** An exiting thread gives its slot back under the slot
//!   registry's mutex after its last read (its mark is clear), and the next owner takes it under
//!   the same mutex, so the old owner's last store precedes the new owner's first. A writer scans
//!   every slot ever handed out (that count only grows, SeqCst), so it also sees a new owner's
//!   mark; and a mark seen on a slot whose owner then exits changes when it is cleared.
//! - **The shared slot for threads beyond the first [`SLOTS`](crate::memory::per_thread::SLOTS).** Many
//!   threads use it, so it can hold no mark: their reads take the writer's path (and count their
//!   hits with atomic adds).
//! - **No re-entry.** A read or write must not start inside another on the same thread: a nested
//!   read would clear the outer read's mark early, a nested write would wait for this thread's own
//!   mark, or its own mutex, forever. The only code that runs inside is the store's and a value's
//!   `Clone`, which the store runs holding [`user_code`]: a scope ([`crate::bypass()`]) in which
//!   memoized calls run uncached and a cache's own methods refuse to write (`memory.rs` checks
//!   it, as the hit path checks for a bypass before it reads). Debug builds assert it here. A
//!   checkpoint runs after its read, and only tries the mutex.
//! - **Panics.** A panic inside either closure unwinds through guards that clear the mark or the
//!   announcement and the mutex; the table's operations (hashbrown) complete or do nothing, so a
//!   poisoned mutex is taken as it is.
//!
//! The primitives come from `super::sync` (see `sync.rs`); `memory/model.rs` model-checks this file,
//! `per_thread.rs` and `store.rs` with shuttle, `membarrier` included (as a drain of every
//! thread's store buffer).

use super::per_thread::{self, HIT, Index, MARK, Slots};
use super::sync::{
    self, AtomicU8, AtomicU64, Mutex, Ordering, PoisonError, TryLockError, UnsafeCell, fence,
    heavy_fence, heavy_fence_available, in_store_access, light_fence, spin_loop, store_access,
    yield_now,
};

/// A thread checkpoints a shard (protocol, step 5) once per this many of its hits in a cache.
pub(crate) const REBIAS_HITS: u64 = sync::REBIAS_HITS;
/// A shard's [`Shard::state`]: a writer is active, and readers keep out.
const WRITING: u8 = 1;
/// A shard's [`Shard::state`]: readers mark with a plain store; a writer must revoke this first.
const BIASED: u8 = 2;

/// The bits of a slot's word that are zero when its hits are a multiple of [`REBIAS_HITS`].
const CHECKPOINT: u64 = REBIAS_HITS * HIT - 1;

/// The most shards: their marks (1 to 64) must fit below [`HIT`].
pub(crate) const MAX_SHARDS: usize = 64;
const _: () = assert!(MAX_SHARDS as u64 <= MARK);

/// What a read's closure returns: whether the read counts as a hit in the reader's slot.
pub(crate) trait Outcome {
    fn is_hit(&self) -> bool;
}

/// One table per shard, each behind the read-mostly lock, and beside it side data `S` that only
/// the mutex guards (readers never see it).
pub(crate) struct Shards<T, S = ()> {
    shards: Box<[Shard<T, S>]>,
    /// The number of shards (a power of two) less one: [`place`](Self::place) is at most this.
    mask: usize,
}

/// Aligned so that two shards' states never share a cache line.
#[repr(align(128))]
struct Shard<T, S> {
    /// Serialises writers, mutex holders and checkpoints; holds the side data.
    lock: Mutex<Guarded<S>>,
    /// [`WRITING`], [`BIASED`] or neither, in one byte so that a biased reader's look after its
    /// mark reads both. Changed under `lock` only.
    state: AtomicU8,
    table: UnsafeCell<T>,
}

/// What a shard's mutex guards.
struct Guarded<S> {
    side: S,
    /// Writes so far (wrapping).
    writes: u64,
    /// `writes` at the last checkpoint; `None` before the first.
    checked: Option<u64>,
}

// SAFETY: the table is shared (`&T`) between readers on several threads, hence `T: Sync`, and
// handed (`&mut T`) from writer to writer across threads, hence `T: Send`; the protocol above
// keeps `&mut T` apart from every other access.
unsafe impl<T: Send + Sync, S: Send> Sync for Shard<T, S> {}

impl<T, S> Shards<T, S> {
    /// One shard per table and its side data, at most [`MAX_SHARDS`].
    pub(crate) fn new(tables: impl IntoIterator<Item = (T, S)>) -> Self {
        let shards: Box<[Shard<T, S>]> = tables
            .into_iter()
            .map(|(table, side)| Shard {
                lock: Mutex::new(Guarded {
                    side,
                    writes: 0,
                    checked: None,
                }),
                state: AtomicU8::new(0),
                table: UnsafeCell::new(table),
            })
            .collect();
        assert!(
            (1..=MAX_SHARDS).contains(&shards.len()) && shards.len().is_power_of_two(),
            "1 to 64 shards, a power of two"
        );
        let mask = shards.len() - 1;
        Shards { shards, mask }
    }

    /// The shard of a key whose hash is `hash`: its low bits.
    #[inline(always)]
    pub(crate) fn place(&self, hash: u64) -> usize {
        hash as usize & self.mask
    }

    /// Runs `f` on the table of `hash`'s [`place`](Self::place) as the reader whose slot is
    /// `index` in `readers`, and counts a hit there if `f` says so. `None` when this thread has
    /// no slot of its own or a writer is active: then read with
    /// [`read_under_mutex`](Self::read_under_mutex).
    ///
    /// The fallback is the caller's so that it can be a cold function of plain arguments: were
    /// `f` passed to it, `f`'s captures would be kept in memory on the hit path too.
    #[inline(always)]
    pub(crate) fn read<O: Outcome>(
        &self,
        hash: u64,
        index: Index,
        readers: &Slots,
        f: impl FnOnce(&T) -> O,
    ) -> Option<O> {
        debug_assert!(!in_store_access(), "a store read inside a store access");
        let place = self.place(hash);
        // SAFETY: `place` is masked by `mask`, the number of shards less one (`new`). Unchecked
        // because the bounds check is 3 of the hit's instructions (a load, a compare, a branch):
        // measured with the other changes of its round, BENCHMARKS.md, "The hit's read protocol".
        let shard = unsafe { self.shards.get_unchecked(place) };
        if index.is_shared() {
            return None;
        }
        let reads = &readers.get(index).reads;
        // The shard's mark computed, not loaded: the locked add need not wait for a load.
        let biased = shard.state.load(Ordering::SeqCst) == BIASED;
        // `still_biased`: the biased reader's look after its mark found the bias in place.
        let (mut mark, still_biased) = if biased {
            ReadMark::enter_biased(reads, per_thread::mark(place), &shard.state)
        } else {
            (ReadMark::enter(reads, per_thread::mark(place)), false)
        };
        // Still biased after the mark: no writer either (the two are never set together).
        if !still_biased && shard.state.load(Ordering::SeqCst) & WRITING != 0 {
            return None;
        }
        let out = shard.table.with(|table| {
            // SAFETY: marked, and no writer announced: writers wait for this mark to clear
            // before they make a `&mut` (the two pairings, module documentation).
            f(unsafe { &*table })
        });
        if out.is_hit() {
            mark.hit();
            if !biased {
                self.unbiased_hit(mark, place);
            }
        }
        Some(out)
    }

    /// Ends an unbiased hit: clears `mark`, then checkpoints if due. Out of line, so that the
    /// biased hit (the steady state) carries neither the test nor the call (BENCHMARKS.md, "The
    /// hit's read protocol"); the unbiased hit, with its locked add, measured the same with it.
    #[cold]
    #[inline(never)]
    fn unbiased_hit(&self, mark: ReadMark<'_>, place: usize) {
        let checkpoint = mark.after & CHECKPOINT == 0;
        drop(mark);
        if checkpoint {
            self.checkpoint(place);
        }
    }

    /// Biases the shard at `place` if no write took its mutex since the last checkpoint and
    /// `membarrier` works here (protocol, step 5). Never waits: a busy mutex skips this one.
    #[cold]
    #[inline(never)]
    fn checkpoint(&self, place: usize) {
        // First, outside the mutex: the first call registers, which waits for an RCU grace
        // period (about 10 ms here) that the shard's writers should not wait for.
        if !heavy_fence_available() {
            return;
        }
        let shard = &self.shards[place];
        let mut guarded = match shard.lock.try_lock() {
            Ok(guarded) => guarded,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return,
        };
        if guarded.checked == Some(guarded.writes) {
            // Under the mutex: the next writer reads it there, and revokes. Release, so that a
            // reader that sees it also sees the last writer's withdrawal (x86 and ARMv8 order
            // them anyway, through the mutex; the language does not).
            shard.state.store(BIASED, Ordering::Release);
        } else {
            guarded.checked = Some(guarded.writes);
        }
    }

    /// [`read`](Self::read) under the shard's mutex, as a mutex holder does (no announcement,
    /// no revocation, no wait for readers: a write would stop a biased shard's fast reads, and
    /// count against its next bias), counting a hit in the slot at `index` if `f` says so.
    pub(crate) fn read_under_mutex<O: Outcome>(
        &self,
        place: usize,
        index: Index,
        readers: &Slots,
        f: impl FnOnce(&T) -> O,
    ) -> O {
        let out = self.locked(place, |table, _| f(table));
        if out.is_hit() {
            readers.hit(index);
        }
        out
    }

    /// Runs `f` on the table at `place` alone: no other writer, and no reader inside.
    #[cfg(test)]
    pub(crate) fn write<O>(&self, place: usize, readers: &Slots, f: impl FnOnce(&mut T) -> O) -> O {
        self.write_with(place, readers, |table, _| f(table))
    }

    /// Runs `f` on the table at `place` alone (no other writer, and no reader inside), with the
    /// shard's side data.
    pub(crate) fn write_with<O>(
        &self,
        place: usize,
        readers: &Slots,
        f: impl FnOnce(&mut T, &mut S) -> O,
    ) -> O {
        debug_assert!(!in_store_access(), "a store write inside a store access");
        let shard = &self.shards[place];
        let mut guarded = shard.lock.lock().unwrap_or_else(PoisonError::into_inner);
        guarded.writes = guarded.writes.wrapping_add(1);
        // Read exactly: only mutex holders change it.
        let was_biased = shard.state.load(Ordering::Relaxed) == BIASED;
        // Announces the write and drops the bias in one store.
        shard.state.store(WRITING, Ordering::SeqCst);
        // Dropped before `guarded`: the state clears, then the mutex is released (also unwinding).
        let _announced = Announced(&shard.state);
        if was_biased {
            revoke();
        }
        wait_for_readers(readers, per_thread::mark(place));
        shard.table.with_mut(|table| {
            // SAFETY: this writer holds the mutex, and every reader marked with this shard has
            // left; later ones see the announcement (module documentation).
            f(unsafe { &mut *table }, &mut guarded.side)
        })
    }

    /// Runs `f` holding the mutex of the shard at `place`, without announcing a write: the table
    /// read-only beside its readers, and its side data to change. Costs the mutex alone (no
    /// announcement, no wait for readers).
    pub(crate) fn locked<O>(&self, place: usize, f: impl FnOnce(&T, &mut S) -> O) -> O {
        debug_assert!(!in_store_access(), "a store access inside a store access");
        let shard = &self.shards[place];
        let mut guarded = shard.lock.lock().unwrap_or_else(PoisonError::into_inner);
        shard.table.with(|table| {
            // SAFETY: only a writer makes a `&mut T`, and it holds this mutex to do so (module
            // documentation): none is active while this thread holds it.
            f(unsafe { &*table }, &mut guarded.side)
        })
    }

    /// How many shards there are.
    pub(crate) fn len(&self) -> usize {
        self.shards.len()
    }
}

/// Marks this thread, until dropped, as running user code (a value's `Clone`) inside a read's or
/// a write's closure: memoized calls made meanwhile run uncached, and a cache's own methods refuse
/// to write (the re-entrancy invariant).
///
/// The closures hold it around the user code alone, not the whole closure: then a `Clone` that
/// is a plain copy leaves no trace on the hit path (the scope's two writes cancel out).
#[inline(always)]
pub(crate) fn user_code() -> impl Drop {
    store_access()
}

/// Waits until every owner of a slot that is reading the shard marked `mark` has finished that
/// read. The caller has already announced its write on that shard (a SeqCst store), so reads of
/// it that start later see the announcement and keep out.
fn wait_for_readers(readers: &Slots, mark: u64) {
    for slot in readers.owned() {
        let seen = slot.reads.load(Ordering::SeqCst);
        if seen & MARK != mark {
            continue;
        }
        let mut spins = 0u32;
        while slot.reads.load(Ordering::SeqCst) == seen {
            // A read is a probe and a clone; a reader that takes longer was likely preempted.
            if spins < 100 {
                spins += 1;
                spin_loop();
            } else {
                yield_now();
            }
        }
    }
}

/// Takes the bias of a shard back (protocol, step 3): after this, every biased reader's mark is
/// visible to the caller's scan, or that reader sees the announcement, with the bias fallen.
#[cold]
#[inline(never)]
fn revoke() {
    if !heavy_fence() {
        // The process ran `membarrier` before it biased this shard; if the kernel now refuses it
        // every way (a seccomp filter installed since), no write can proceed soundly: a biased
        // reader's mark may still be in its CPU's store buffer. Not through `tracing`: this thread
        // holds the shard's mutex, and a subscriber could call into this cache.
        eprintln!("cachemacro: membarrier(2) failed after it had worked in this process; aborting");
        std::process::abort();
    }
    #[cfg(test)]
    counts::REVOCATIONS.with(|count| count.set(count.get() + 1));
}

/// A writer's announcement, withdrawn on drop.
struct Announced<'a>(&'a AtomicU8);

impl Drop for Announced<'_> {
    fn drop(&mut self) {
        self.0.store(0, Ordering::Release);
    }
}

/// A reader's mark on its slot, cleared on drop (also when `f` panics), counting a hit if
/// [`hit`](ReadMark::hit) said so.
struct ReadMark<'a> {
    reads: &'a AtomicU64,
    /// What the slot holds once the mark is cleared.
    after: u64,
}

impl<'a> ReadMark<'a> {
    #[inline(always)]
    fn enter(reads: &'a AtomicU64, mark: u64) -> Self {
        let before = reads.fetch_add(mark, Ordering::SeqCst);
        ReadMark {
            reads,
            after: before,
        }
    }

    /// The biased mark: a plain store, then only a compiler fence, unless the bias fell meanwhile
    /// (the asymmetric pairing, module documentation). Also returns whether the look after the
    /// mark found the shard still `BIASED`, which means no writer either.
    #[inline(always)]
    fn enter_biased(reads: &'a AtomicU64, mark: u64, state: &AtomicU8) -> (Self, bool) {
        // Only this thread writes its slot (one writer of a slot): no read-modify-write needed.
        let before = reads.load(Ordering::Relaxed);
        reads.store(before + mark, Ordering::Relaxed);
        light_fence();
        let still_biased = state.load(Ordering::SeqCst) == BIASED;
        if still_biased {
            #[cfg(test)]
            counts::FAST_READS.with(|count| count.set(count.get() + 1));
        } else {
            // Revoked since the first look: a revoking writer may have scanned before the mark
            // was visible, and later writers do not fence for it.
            fence(Ordering::SeqCst);
        }
        let mark = ReadMark {
            reads,
            after: before,
        };
        (mark, still_biased)
    }

    #[inline(always)]
    fn hit(&mut self) {
        self.after += HIT;
    }
}

impl Drop for ReadMark<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.reads.store(self.after, Ordering::Release);
    }
}

/// Per-thread counts of the biased path's events, for tests (std threads count their own; a
/// model's threads share one OS thread, whose counts they add to).
#[cfg(test)]
pub(crate) mod counts {
    use std::cell::Cell;

    std::thread_local! {
        pub(crate) static FAST_READS: Cell<u64> = const { Cell::new(0) };
        pub(crate) static REVOCATIONS: Cell<u64> = const { Cell::new(0) };
    }

    /// Reads this thread let through with a plain mark, and revocations it made.
    pub(crate) fn get() -> (u64, u64) {
        (FAST_READS.with(Cell::get), REVOCATIONS.with(Cell::get))
    }
}

super::sync::std_only! {
#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool as Flag;
    use std::time::{Duration, Instant};

    use super::*;

    /// A read's result: every lane of a value holds the same version of its key.
    struct Found(Option<[u64; 4]>);

    impl Outcome for Found {
        fn is_hit(&self) -> bool {
            self.0.is_some()
        }
    }

    type Table = HashMap<u64, [u64; 4]>;

    fn value(k: u64, version: u64) -> [u64; 4] {
        [k * 1_000_000 + version; 4]
    }

    /// A hit as the store makes it: the lock-free read, or the writer's path when it says so.
    fn read(shards: &Shards<Table>, slots: &Slots, k: u64) -> Option<[u64; 4]> {
        let index = per_thread::current();
        let find = |table: &Table| Found(table.get(&k).copied());
        let found = match shards.read(0, index, slots, find) {
            Some(found) => found,
            None => shards.read_under_mutex(0, index, slots, find),
        };
        found.0
    }

    #[test]
    fn biased_readers_and_revoking_writers_on_one_shard_never_overlap() {
        // Two threads hit keys 0..16 of one shard, checking each value is one whole version of
        // its key, while this thread replaces those values and inserts and removes 512 more
        // keys (the table grows and shrinks, moving every entry), each time after the readers
        // have hit often enough for a checkpoint to bias the shard again: so reads go both
        // ways, and writes revoke.
        const KEYS: u64 = 16;
        let shards = Arc::new(Shards::new([(
            (0..KEYS).map(|k| (k, value(k, 0))).collect::<Table>(),
            (),
        )]));
        let slots = Arc::new(Slots::default());
        let stop = Arc::new(Flag::new(false));
        let hits = Arc::new(AtomicU64::new(0));
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (shards, slots) = (shards.clone(), slots.clone());
                let (stop, hits) = (stop.clone(), hits.clone());
                std::thread::spawn(move || {
                    let mut k = 0;
                    while !stop.load(Ordering::Relaxed) {
                        k = (k + 1) % KEYS;
                        let found = read(&shards, &slots, k).expect("a key of the table missing");
                        let version = found[0] - k * 1_000_000;
                        assert!(version < 1_000_000, "key {k} read another key's value");
                        assert_eq!(found, value(k, version), "a torn value of key {k}");
                        hits.fetch_add(1, Ordering::Relaxed);
                    }
                    counts::get().0
                })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(30);
        for version in 1..=20 {
            // Enough hits between two writes for two checkpoints of one reader.
            let seen = hits.load(Ordering::Relaxed);
            while hits.load(Ordering::Relaxed) < seen + 3 * REBIAS_HITS {
                assert!(Instant::now() < deadline, "the readers stalled");
                std::thread::yield_now();
            }
            shards.write(0, &slots, |table| {
                for k in 0..KEYS {
                    table.insert(k, value(k, version));
                }
                if version % 2 == 1 {
                    table.extend((KEYS..KEYS + 512).map(|k| (k, value(k, version))));
                } else {
                    table.retain(|&k, _| k < KEYS);
                    table.shrink_to_fit();
                }
            });
        }
        stop.store(true, Ordering::Relaxed);
        let fast: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
        let (_, revoked) = counts::get();
        // Without `membarrier` here (a seccomp filter, an old kernel) no shard is ever biased.
        if crate::memory::membarrier::available() {
            assert!(fast > 0, "no read took the biased path");
            assert!(revoked > 0, "no write revoked a bias");
        }
    }
}
}
