//! The read-mostly lock of the in-process store, and the only unsafe code in it: a table per
//! shard, read by [`Shards::read`] without a lock and without writing shared memory, written by
//! [`Shards::write`] under a mutex.
//!
//! Why not a `RwLock`: a hit writing the lock word pulls that word's cache line from the core that
//! last wrote it, so two threads hitting the same shard did less work than one (`store.rs` has the
//! measurements). Here a reader writes only its own per-thread slot ([`crate::memory::per_thread`]).
//!
//! # The protocol
//!
//! A **reader** (a thread that owns a slot):
//! 1. marks its slot with the shard it reads: `reads += mark(place)`, one SeqCst locked add;
//! 2. loads the shard's `writing` flag (SeqCst); if set, it leaves its mark cleared and reads as a
//!    writer does instead (below);
//! 3. reads the table through `&T`;
//! 4. clears its mark with one plain store (Release) of the value it read in step 1, plus
//!    [`HIT`] if the read was a hit: the mark and the hit count share the word.
//!
//! A **writer** (an insert, a remove, an eviction, `clear`, a miss storing its value, and the
//! reads of threads without a slot or that found `writing` set):
//! 1. takes the shard's mutex;
//! 2. announces itself: `writing = true` (SeqCst store);
//! 3. for every slot handed out so far, waits while that slot holds this shard's mark and has not
//!    changed since first seen (the reader in it finishes the read it is in);
//! 4. reads and writes the table through `&mut T`;
//! 5. withdraws: `writing = false` (Release), then releases the mutex.
//!
//! A **mutex holder** ([`Shards::locked`]: a miss publishing its flight) takes the mutex alone,
//! without announcing itself or waiting: it reads the table through `&T` beside the readers, and
//! writes only the shard's side data, which lives inside the mutex and which readers never see.
//!
//! # The invariants, and why they hold
//!
//! - **Who may touch a table when.** `&T` exists only inside a reader's steps 2-4, inside a
//!   writer's step 4, or while a mutex holder holds the mutex; `&mut T` only inside a writer's
//!   step 4. Writers exclude each other, and mutex holders, by the mutex. A reader and a writer
//!   exclude each other by the next point.
//! - **The SeqCst pairing.** The reader's mark (a store) precedes its load of `writing`; the
//!   writer's announcement (a store) precedes its loads of the marks. All four are SeqCst, so in
//!   their single total order one side's store comes first and the other side's load sees it:
//!   either the reader sees `writing` and keeps out, or the writer sees the mark and waits. With a
//!   weaker ordering on either side both loads may read the old values (store buffering), and
//!   both would be inside. A reader is never waited for past the read it is in: its next read sees
//!   the announcement. The waiting compares the whole word, so a reader that leaves and comes back
//!   with the same mark between two looks has still changed it (its hit count grew) or was let
//!   through by a load of `writing` that came after the announcement.
//! - **One writer of a slot.** A slot's word is written by its owner with plain stores (step 4, and
//!   hit counting), which is sound only while one thread owns it: [`Index`] is not `Send`, and
//!   only [`crate::memory::per_thread::current`] makes one.
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
//!   `Clone`, which the store runs holding [`user_code`]: a scope ([`crate::bypass`]) in which
//!   memoized calls run uncached and a cache's own methods refuse to write (`memory.rs` checks
//!   it, as the hit path checks for a bypass before it reads). Debug builds assert it here.
//! - **Panics.** A panic inside either closure unwinds through guards that clear the mark or the
//!   announcement and the mutex; the table's operations (hashbrown) complete or do nothing, so a
//!   poisoned mutex is taken as it is.
//!
//! The primitives come from `super::sync` (see `sync.rs`); `memory/model.rs` model-checks this file,
//! `per_thread.rs` and `store.rs` with shuttle.

use super::per_thread::{self, HIT, Index, MARK, Slots};
use super::sync::{
    AtomicBool, AtomicU64, Mutex, Ordering, PoisonError, UnsafeCell, in_store_access, spin_loop,
    store_access, yield_now,
};

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
}

/// Aligned so that two shards' flags never share a cache line.
#[repr(align(128))]
struct Shard<T, S> {
    /// Serialises writers and mutex holders; holds the side data.
    lock: Mutex<S>,
    /// A writer is active: readers keep out.
    writing: AtomicBool,
    table: UnsafeCell<T>,
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
                lock: Mutex::new(side),
                writing: AtomicBool::new(false),
                table: UnsafeCell::new(table),
            })
            .collect();
        assert!((1..=MAX_SHARDS).contains(&shards.len()), "1 to 64 shards");
        Shards { shards }
    }

    /// Runs `f` on the table at `place` as the reader whose slot is `index` in `readers`, and
    /// counts a hit there if `f` says so. `None` when this thread has no slot of its own or a
    /// writer is active: then read with [`read_as_writer`](Self::read_as_writer).
    ///
    /// The fallback is the caller's so that it can be a cold function of plain arguments: were
    /// `f` passed to it, `f`'s captures would be kept in memory on the hit path too.
    #[inline(always)]
    pub(crate) fn read<O: Outcome>(
        &self,
        place: usize,
        index: Index,
        readers: &Slots,
        f: impl FnOnce(&T) -> O,
    ) -> Option<O> {
        debug_assert!(!in_store_access(), "a store read inside a store access");
        let shard = &self.shards[place];
        if !index.is_shared() {
            // The shard's mark computed, not loaded: the locked add need not wait for a load.
            let mut mark = ReadMark::enter(&readers.get(index).reads, per_thread::mark(place));
            if !shard.writing.load(Ordering::SeqCst) {
                let out = shard.table.with(|table| {
                    // SAFETY: marked, and no writer announced: writers wait for this mark to
                    // clear before they make a `&mut` (the SeqCst pairing, module documentation).
                    f(unsafe { &*table })
                });
                if out.is_hit() {
                    mark.hit();
                }
                return Some(out);
            }
        }
        None
    }

    /// [`read`](Self::read) as a writer, counting a hit in the slot at `index` if `f` says so.
    pub(crate) fn read_as_writer<O: Outcome>(
        &self,
        place: usize,
        index: Index,
        readers: &Slots,
        f: impl FnOnce(&T) -> O,
    ) -> O {
        let out = self.write(place, readers, |table| f(table));
        if out.is_hit() {
            readers.hit(index);
        }
        out
    }

    /// Runs `f` on the table at `place` alone: no other writer, and no reader inside.
    pub(crate) fn write<O>(&self, place: usize, readers: &Slots, f: impl FnOnce(&mut T) -> O) -> O {
        self.write_with(place, readers, |table, _| f(table))
    }

    /// [`write`](Self::write), with the shard's side data.
    pub(crate) fn write_with<O>(
        &self,
        place: usize,
        readers: &Slots,
        f: impl FnOnce(&mut T, &mut S) -> O,
    ) -> O {
        debug_assert!(!in_store_access(), "a store write inside a store access");
        let shard = &self.shards[place];
        let mut side = shard.lock.lock().unwrap_or_else(PoisonError::into_inner);
        shard.writing.store(true, Ordering::SeqCst);
        // Dropped before `side`: the flag falls, then the mutex is released (also unwinding).
        let _announced = Announced(&shard.writing);
        wait_for_readers(readers, per_thread::mark(place));
        shard.table.with_mut(|table| {
            // SAFETY: this writer holds the mutex, and every reader marked with this shard has
            // left; later ones see the announcement (module documentation).
            f(unsafe { &mut *table }, &mut side)
        })
    }

    /// Runs `f` holding the mutex of the shard at `place`, without announcing a write: the table
    /// read-only beside its readers, and its side data to change. Costs the mutex alone (no
    /// announcement, no wait for readers).
    pub(crate) fn locked<O>(&self, place: usize, f: impl FnOnce(&T, &mut S) -> O) -> O {
        debug_assert!(!in_store_access(), "a store access inside a store access");
        let shard = &self.shards[place];
        let mut side = shard.lock.lock().unwrap_or_else(PoisonError::into_inner);
        shard.table.with(|table| {
            // SAFETY: only a writer makes a `&mut T`, and it holds this mutex to do so (module
            // documentation): none is active while this thread holds it.
            f(unsafe { &*table }, &mut side)
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

/// A writer's announcement, withdrawn on drop.
struct Announced<'a>(&'a AtomicBool);

impl Drop for Announced<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
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
