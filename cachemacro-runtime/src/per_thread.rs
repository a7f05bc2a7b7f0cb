//! Per-thread slots: each thread gets a small index of its own, and each cache an array indexed by
//! it, so that a hit writes only memory that no other thread writes.
//!
//! A write to a cache line that another core also writes (a shared counter, a lock word) costs a
//! transfer of the line between cores on nearly every hit once two threads share a working set:
//! measured, two threads then did less work than one. A slot holds a thread's hit and miss counts
//! and its reader mark for the store's read-mostly lock (one word with the hits), all written by
//! the owning thread only.
//!
//! The first [`SLOTS`] threads alive at once own a slot each; slots are taken back when a thread
//! exits. Further threads share one more slot, counted with atomic adds, and read the store under
//! its writer lock.

use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Threads with a slot of their own.
pub(crate) const SLOTS: usize = 64;
/// The index of the slot shared by threads that have none of their own.
pub(crate) const SHARED: usize = SLOTS;

/// One thread's slot in one cache. 128 bytes: the adjacent-line prefetcher pairs 64-byte lines.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct Slot {
    /// The hits counted here times [`HIT`], plus, while the owner reads the store, the mark of
    /// the shard it reads (below [`HIT`]): a hit marks its read, and counts itself as it clears
    /// the mark, with one locked add and one plain store.
    pub(crate) reads: AtomicU64,
    pub(crate) misses: AtomicU64,
}

/// What [`Slot::reads`] grows by per hit; the shard marks ([`mark`]: 1 to 64) fit below it.
pub(crate) const HIT: u64 = 256;
/// The part of [`Slot::reads`] that holds the mark of the shard being read (0: none).
const MARK: u64 = HIT - 1;

/// The mark of the shard at `place` (below 64).
#[inline(always)]
pub(crate) fn mark(place: usize) -> u64 {
    place as u64 + 1
}

/// A cache's slots: one per owned index, plus the shared one.
pub(crate) struct Slots {
    /// An array, not a slice: an index clamped to [`SHARED`] needs no bounds check on a hit.
    slots: Box<[Slot; SLOTS + 1]>,
}

impl Default for Slots {
    fn default() -> Self {
        Slots {
            slots: Box::new(std::array::from_fn(|_| Slot::default())),
        }
    }
}

impl Slots {
    #[inline]
    pub(crate) fn get(&self, index: usize) -> &Slot {
        &self.slots[index.min(SHARED)]
    }

    /// Counts a hit in the slot at `index`.
    #[inline]
    pub(crate) fn hit(&self, index: usize) {
        Slots::add(index, &self.get(index).reads, HIT);
    }

    /// Counts a miss in the slot at `index`.
    #[inline]
    pub(crate) fn miss(&self, index: usize) {
        Slots::add(index, &self.get(index).misses, 1);
    }

    /// Adds `amount` to `counter` of the slot at `index`.
    #[inline]
    fn add(index: usize, counter: &AtomicU64, amount: u64) {
        if index == SHARED {
            counter.fetch_add(amount, Ordering::Relaxed);
        } else {
            // Only the owner writes this counter: a plain load and store, no atomic add.
            counter.store(counter.load(Ordering::Relaxed) + amount, Ordering::Relaxed);
        }
    }

    /// The sums of every slot's hits and misses.
    pub(crate) fn totals(&self) -> (u64, u64) {
        self.slots.iter().fold((0, 0), |(hits, misses), slot| {
            (
                hits + slot.reads.load(Ordering::Relaxed) / HIT,
                misses + slot.misses.load(Ordering::Relaxed),
            )
        })
    }

    /// Waits until every owner of a slot that is reading the shard marked `mark` has finished
    /// that read. The caller has already announced its write on that shard (a SeqCst store), so
    /// reads of it that start later see the announcement and keep out: a reader is not waited for
    /// past the read it is in.
    pub(crate) fn wait_for_readers(&self, mark: u64) {
        for slot in &self.slots[..claimed()] {
            let seen = slot.reads.load(Ordering::SeqCst);
            if seen & MARK != mark {
                continue;
            }
            let mut spins = 0u32;
            while slot.reads.load(Ordering::SeqCst) == seen {
                // A read is a probe and a clone; a reader that takes longer was likely preempted.
                if spins < 100 {
                    spins += 1;
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
    }
}

/// Slots no live thread owns.
static FREE: Mutex<Vec<usize>> = Mutex::new(Vec::new());
/// Slots ever handed out; SeqCst, so a writer's scan includes every slot a reader could mark.
static NEXT: AtomicUsize = AtomicUsize::new(0);
const UNCLAIMED: usize = usize::MAX;

/// Gives the slot back when the thread exits.
struct Release(usize);

impl Drop for Release {
    fn drop(&mut self) {
        let _ = INDEX.try_with(|index| index.set(SHARED));
        if self.0 != SHARED {
            // The mutex orders this thread's last writes before the next owner's first.
            let mut free = FREE.lock().unwrap_or_else(|poison| poison.into_inner());
            free.push(self.0);
        }
    }
}

thread_local! {
    // Const-initialised: reading it on the hit path is one load, with no lazy-init check.
    static INDEX: Cell<usize> = const { Cell::new(UNCLAIMED) };
    static RELEASE: Cell<Option<Release>> = const { Cell::new(None) };
}

/// The current thread's slot index: its own (below [`SLOTS`]) or [`SHARED`].
#[inline]
pub(crate) fn current() -> usize {
    match INDEX.try_with(Cell::get) {
        Ok(UNCLAIMED) => claim(),
        Ok(index) => index,
        Err(_) => SHARED,
    }
}

/// How many owned slots have ever been handed out: the ones a writer must look at.
fn claimed() -> usize {
    NEXT.load(Ordering::SeqCst).min(SLOTS)
}

#[cold]
fn claim() -> usize {
    let index = {
        let mut free = FREE.lock().unwrap_or_else(|poison| poison.into_inner());
        free.pop().unwrap_or_else(|| {
            let next = NEXT.fetch_add(1, Ordering::SeqCst);
            if next < SLOTS { next } else { SHARED }
        })
    };
    // A thread already being torn down cannot register the release: give the slot back.
    if RELEASE
        .try_with(|release| release.set(Some(Release(index))))
        .is_err()
    {
        drop(Release(index));
        return SHARED;
    }
    let _ = INDEX.try_with(|cell| cell.set(index));
    index
}
