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
//! its writer lock. The lock's use of the slots, and why it is sound, is in [`crate::memory::read_lock`].
//!
//! The primitives come from `super::sync` (see `sync.rs`): the model checker compiles this file
//! again over shuttle's.

use std::cell::Cell;
use std::marker::PhantomData;

use super::sync::{self, AtomicU64, AtomicUsize, Mutex, Ordering, PoisonError, thread_local};

/// Threads with a slot of their own.
pub(crate) const SLOTS: usize = sync::SLOTS;
/// The index of the slot shared by threads that have none of their own.
const SHARED: usize = SLOTS;

/// One thread's slot in one cache. 128 bytes: the adjacent-line prefetcher pairs 64-byte lines.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct Slot {
    /// The hits counted here times [`HIT`], plus, while the owner reads the store, the mark of
    /// the shard it reads (below [`HIT`]): a hit marks its read, and counts itself as it clears
    /// the mark, with one locked add (a plain store on a biased shard) and one plain store.
    pub(crate) reads: AtomicU64,
    pub(crate) misses: AtomicU64,
    /// Entries this thread's writes evicted: counted here rather than in one shared counter, which
    /// every evicting miss of every thread would write with a locked add.
    pub(crate) evictions: AtomicU64,
}

/// What [`Slot::reads`] grows by per hit; the shard marks ([`mark`]: 1 to 64) fit below it.
pub(crate) const HIT: u64 = 256;
/// The part of [`Slot::reads`] that holds the mark of the shard being read (0: none).
pub(crate) const MARK: u64 = HIT - 1;

/// The mark of the shard at `place` (below 64).
#[inline(always)]
pub(crate) fn mark(place: usize) -> u64 {
    place as u64 + 1
}

/// The current thread's slot index, from [`current`]: its own slot's, or the shared one's.
///
/// Not `Send`: an index is only ever used by the thread it was handed to, which is what lets the
/// owner write its slot with plain stores.
///
/// Always at most [`SHARED`]: only this module makes one, and only from [`SHARED`] or a slot
/// below [`SLOTS`]: [`claim`] takes one from the free list (which only gets back slots that
/// `claim` handed out) or the counter (below [`SLOTS`], else [`SHARED`]), and [`current`] from
/// `INDEX`, which holds only `UNCLAIMED` (not made into an index), [`SHARED`] or what `claim`
/// stored. [`Slots::get`] relies on it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Index(usize, PhantomData<*const ()>);

impl Index {
    const SHARED: Index = Index(SHARED, PhantomData);

    /// True for a thread that owns no slot: it shares [`SHARED`] with others.
    #[inline(always)]
    pub(crate) fn is_shared(self) -> bool {
        self.0 == SHARED
    }
    /// The slot's number, which may leave the thread (for the model's checks).
    #[cfg(test)]
    #[allow(dead_code)] // The std build's tests have no use for it.
    pub(crate) fn number(self) -> usize {
        self.0
    }
}

/// A cache's slots: one per owned index, plus the shared one.
pub(crate) struct Slots {
    /// One per index: [`SLOTS`] owned and the [`SHARED`] one.
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
    pub(crate) fn get(&self, index: Index) -> &Slot {
        debug_assert!(index.0 <= SHARED);
        // SAFETY: an `Index` is at most `SHARED` (its documentation), and there are
        // `SHARED + 1` slots. Unchecked because the clamp it replaced (`min(SHARED)`) was 2 of
        // the hit's instructions (BENCHMARKS.md, "The hit's read protocol").
        unsafe { self.slots.get_unchecked(index.0) }
    }

    /// The slots that owners may have marked: every one handed out so far.
    #[inline]
    pub(crate) fn owned(&self) -> &[Slot] {
        &self.slots[..claimed()]
    }

    /// Counts a hit in the slot at `index`.
    #[inline]
    pub(crate) fn hit(&self, index: Index) {
        Slots::add(index, &self.get(index).reads, HIT);
    }

    /// Counts a miss in the slot at `index`.
    #[inline]
    pub(crate) fn miss(&self, index: Index) {
        Slots::add(index, &self.get(index).misses, 1);
    }

    /// Counts `count` evictions in the slot at `index`.
    #[inline]
    pub(crate) fn evicted(&self, index: Index, count: u64) {
        Slots::add(index, &self.get(index).evictions, count);
    }

    /// The evictions counted in every slot.
    pub(crate) fn evictions(&self) -> u64 {
        self.slots
            .iter()
            .map(|slot| slot.evictions.load(Ordering::Relaxed))
            .sum()
    }

    /// Adds `amount` to `counter` of the slot at `index`.
    #[inline]
    fn add(index: Index, counter: &AtomicU64, amount: u64) {
        if index.is_shared() {
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
}

/// Which slots are handed out: one for the whole process (slot indices are per thread, and index
/// every cache's [`Slots`]).
struct Registry {
    /// Slots no live thread owns.
    free: Mutex<Vec<usize>>,
    /// Slots ever handed out; SeqCst, so a writer's scan includes every slot a reader could mark.
    next: AtomicUsize,
}

sync::global! {
    static REGISTRY: Registry = Registry {
        free: Mutex::new(Vec::new()),
        next: AtomicUsize::new(0),
    };
}

const UNCLAIMED: usize = usize::MAX;

/// Gives the slot back when the thread exits.
struct Release(usize);

impl Drop for Release {
    fn drop(&mut self) {
        let _ = INDEX.try_with(|index| index.set(SHARED));
        if self.0 != SHARED {
            // The mutex orders this thread's last writes before the next owner's first.
            let mut free = REGISTRY.free.lock().unwrap_or_else(PoisonError::into_inner);
            free.push(self.0);
        }
    }
}

thread_local! {
    // Const-initialised: reading it on the hit path is one load, with no lazy-init check.
    static INDEX: Cell<usize> = const { Cell::new(UNCLAIMED) };
    static RELEASE: Cell<Option<Release>> = const { Cell::new(None) };
}

/// The current thread's slot index: its own (below [`SLOTS`]) or the shared one.
#[inline]
pub(crate) fn current() -> Index {
    match INDEX.try_with(Cell::get) {
        Ok(UNCLAIMED) => claim(),
        Ok(index) => Index(index, PhantomData),
        Err(_) => Index::SHARED,
    }
}

/// How many owned slots have ever been handed out: the ones a writer must look at.
fn claimed() -> usize {
    REGISTRY.next.load(Ordering::SeqCst).min(SLOTS)
}

#[cold]
fn claim() -> Index {
    let index = {
        let mut free = REGISTRY.free.lock().unwrap_or_else(PoisonError::into_inner);
        free.pop().unwrap_or_else(|| {
            let next = REGISTRY.next.fetch_add(1, Ordering::SeqCst);
            if next < SLOTS { next } else { SHARED }
        })
    };
    // A thread already being torn down cannot register the release: give the slot back.
    if RELEASE
        .try_with(|release| release.set(Some(Release(index))))
        .is_err()
    {
        drop(Release(index));
        return Index::SHARED;
    }
    let _ = INDEX.try_with(|cell| cell.set(index));
    Index(index, PhantomData)
}
