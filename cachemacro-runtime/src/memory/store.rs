//! The in-process table: shards of a hash table with an exact capacity and a scan-resistant,
//! frequency-aware eviction policy (S3-FIFO with a sketch-gated ghost queue, below), and the
//! keys being computed right now (for single-flight), each shard behind the read-mostly lock of
//! [`crate::memory::read_lock`], which lets hits run in parallel without writing shared memory.
//!
//! Written by hand because the hit path is the product, and measured:
//! - quick_cache: a hit cost ~40 ns against an 8 ns `HashMap` baseline;
//! - a spin lock per shard: ~17 ns, but two threads over a shared working set did less work than
//!   one, because every hit's lock write pulled the shard's cache line from the other core.
//!
//! So hits take no lock: a reader marks its own per-thread slot, a writer announces itself on the
//! shard and waits for the marked readers (the protocol, its invariants and all of the store's
//! unsafe code are in `read_lock.rs`). This file is safe code over that lock's `read`, `locked`
//! and `write`. Writes are rare next to hits: a miss writes once (its value), a hit never (it
//! bumps its entry's counter, see below, and stops once the count is of no further use).
//!
//! A hit pays at most one fence: the locked add of its read mark, or none on a *biased* shard (one
//! that served many reads with no write between), whose readers mark with a plain store and whose
//! next writer pays one `membarrier` instead (`read_lock.rs`).
//!
//! # Flights
//!
//! The keys being computed are kept apart from the entries, in a list per shard (indexed past a
//! few, see `flights.rs`) inside the shard's mutex, which hits never take: publishing a flight takes
//! that mutex alone, without announcing a write or waiting for readers (the lock's "mutex
//! holder"), so a miss pays for a write once, to store its value, and removes its flight in that
//! same write. A flight is an entry without a [`Flight`] until a second caller comes to wait for
//! it: a miss nobody waits for allocates nothing (once the shard's list has room) and wakes
//! nobody. A caller finding no flight looks at the table under the same mutex before leading, so
//! it sees the value of any flight that ended before. An expired
//! entry stays until that value replaces it (and counts as expired then), or the hand meets it.
//! A sync caller computing on its own stack marks the flight as its thread's: a call of the same
//! key made inside that computation finds the mark and runs its body uncached instead of waiting
//! for itself, which spares the computation the `reentry` listing.
//!
//! A flight ends in the write that stores its value, and its waiters get that value from the
//! flight, not from the table: another write may evict it before they look. A write of the key
//! meanwhile (`remove`, `replace`, `clear`: an invalidation, `f_refresh`, `clear()`) detaches the
//! flight:
//! its waiters look again at once, later calls lead a new flight, and the detached one stores
//! nothing when it ends, since its value may predate that write. Each flight has an id, so
//! that a detached leader ends only its own flight.
//!
//! # Eviction
//!
//! Per shard, under its writer lock: a small FIFO (3% of the shard to start), a main FIFO, a
//! ghost queue of the keys either dropped (up to twice the shard) and a count-min sketch of
//! recent accesses ([`crate::memory::evict`]). A hit only bumps its entry's `hits` counter
//! (relaxed, saturating, and not past [`BUMPS`] above what the hand has consumed, so a hot
//! entry's line stays clean). A new key enters the small FIFO; leaving it, an entry hit meanwhile
//! moves to main (see below), one never hit is dropped and remembered in the ghost queue. Main
//! is CLOCK with a frequency up to 5: the hand spares an entry hit since it last passed, once
//! per hit up to 5, and counts the hits it consumes in the sketch. A key back from the ghost
//! queue moves the small FIFO's share as ARC would ([`Table::adapt`]); while the share is at or
//! above its start, a key back soon, or hit in the small FIFO, goes to main, and otherwise only
//! if the sketch rates it above main's next victim ([`Table::recent`],
//! [`Table::outranks_victim`]), a key back by its accesses before this one. Expired entries go
//! whenever the hand meets them. Chosen by measurement: `benches/hit_ratio.rs`.
//!
//! The model checker (`memory/model.rs`) compiles this file again over shuttle's primitives, hence
//! the `super::` paths.

use std::collections::VecDeque;
use std::sync::Arc;

use hashbrown::HashTable;

use super::per_thread::{Index, Slots};
use super::read_lock::{self, MAX_SHARDS, Outcome, Shards};
use super::sync::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use crate::flight::Flight;
use crate::memory::budget::{self, MAX_CHARGE, Sizer};
use crate::memory::evict::{Ghost, Return, Sketch};
use crate::memory::flights::{Flights, Flying, NO_OWNER};

/// The most hits main's hand credits an entry with: it spares it that many passes.
const MAX_FREQ: u8 = 5;

/// The unit of the small FIFO's target share ([`Table::small_share`]): 1/1024 of an entry, so
/// that ARC's adaptation can move it by a fraction of an entry.
const SHARE_UNIT: usize = 1024;

/// ARC's adaptation moves the small FIFO's target by a tenth of an entry, times how many more
/// keys the other queue dropped lately than the one that dropped the key back (at least 1).
const ADAPT_STEP: usize = SHARE_UNIT / 10;

/// How far a reader's bumps may run ahead of what the hand consumed: past it, a hit writes
/// nothing (a hot entry's cache line stays clean on every core). Above [`MAX_FREQ`] so that the
/// sketch, folding an entry's hits when it leaves, still tells hot entries apart (it saturates at
/// 15).
const BUMPS: u8 = 16;

/// One slot of the table.
struct Entry<R> {
    key: u128,
    value: R,
    /// Which store of this key this is: a refresh lands only on the entry it was scheduled for.
    generation: u64,
    /// On the coarse clock; `u64::MAX` for no expiry.
    expires_at: u64,
    /// On the coarse clock: when the value was stored or last refreshed.
    stored_at: u64,
    /// A background refresh of this entry is scheduled or running. Readers set it.
    refreshing: AtomicBool,
    /// Hits since insertion, bumped by readers, up to `seen + BUMPS`.
    /// `seen` stays below 128 (see [`Entry::take_freq`]), so this never overflows.
    hits: AtomicU8,
    /// The writer's: the part of `hits` the hand has consumed. The entry's frequency is
    /// `min(hits - seen, MAX_FREQ)`.
    seen: u8,
    /// In the main FIFO (else the small one).
    main: bool,
    /// Tells this entry's slot in a queue from a stale one left by an earlier entry of its key.
    id: u32,
    /// Its part of the shard's `bytes` (0 without `max_bytes`): fits in the entry's padding.
    charge: u32,
}

impl<R> Entry<R> {
    /// Hits since insertion (since the last rebase of a hot entry's counter: past 64 either way).
    fn hits(&self) -> u8 {
        self.hits.load(Ordering::Relaxed)
    }

    /// Consumes one hit, if the entry has one to spare (the hand then spares it): how many of
    /// its hits that consumed, for the sketch to count (more than one when hits beyond
    /// [`MAX_FREQ`] go with it); 0 if it had none to spare.
    fn take_freq(&mut self) -> u8 {
        let mut hits = self.hits.load(Ordering::Relaxed);
        if hits >= 128 {
            // Rebased long before the counter could saturate; the estimate gains nothing above
            // 15 anyway.
            hits -= 64;
            self.seen = self.seen.saturating_sub(64);
            self.hits.store(hits, Ordering::Relaxed);
        }
        let freq = hits.saturating_sub(self.seen).min(MAX_FREQ);
        if freq == 0 {
            return 0;
        }
        let before = self.seen;
        self.seen = hits - freq + 1;
        self.seen - before
    }

    /// Hits the hand has not consumed: not yet counted in the sketch.
    fn unconsumed(&self) -> u8 {
        self.hits().saturating_sub(self.seen)
    }
}

/// What a read found without taking a lock.
pub(crate) enum Read<R> {
    /// A live value, and the entry's generation when this caller must schedule its refresh (it is
    /// old enough and no refresh is in flight: from now on one is).
    Hit(R, Option<u64>),
    /// No live value: take the miss path, [`Store::lead_or_wait_as`].
    Miss,
}

/// What the miss path found.
pub(crate) enum Probe<R> {
    /// A live value after all (stored since the read), counted as a hit.
    Hit(R),
    /// Another caller is computing this key: wait for its value (or, if it lands none, look
    /// again).
    Wait(Arc<Flight<R>>),
    /// Nobody is: compute it, then [`Store::finish`] the flight with this id.
    Lead(u64),
}

/// What ending a flight came to ([`Store::finish`]).
pub(crate) struct Finished<R> {
    /// What the store took out to make room, for the caller to count and drop.
    pub(crate) removed: Removed<R>,
    /// The value is in the table.
    pub(crate) stored: bool,
    /// The callers waiting for the value stored: the leader hands each a clone, outside the
    /// shard's lock. They do not look for it in the table, where a write since may have evicted
    /// it, which would make one of them compute the key again.
    pub(crate) waiters: Option<Arc<Flight<R>>>,
}

/// Clones a value: user code, run inside the lock's guard against re-entry.
#[inline]
fn clone_value<R: Clone>(value: &R) -> R {
    let _scope = read_lock::user_code();
    value.clone()
}

/// What a write took out of the table: counted, and dropped after the lock is released.
pub(crate) struct Removed<R> {
    pub(crate) evicted: Option<R>,
    pub(crate) expired: Option<R>,
    pub(crate) replaced: Option<R>,
    /// What only a byte budget leaves, boxed: the miss of a store without one moves one word
    /// more, and allocates nothing.
    extra: Option<Box<Extra<R>>>,
}

/// What a write took out of a byte-bounded table beyond one entry.
struct Extra<R> {
    /// Entries taken out beyond the first `evicted` or `expired` (a byte budget can need
    /// several for one value), with whether each had expired.
    more: Vec<(R, bool)>,
    /// The value was not stored: charged more than its shard's byte budget.
    oversized: bool,
    /// That value, until it is handed to the flight's waiters.
    rejected: Option<R>,
}

impl<R> Default for Removed<R> {
    fn default() -> Self {
        Removed {
            evicted: None,
            expired: None,
            replaced: None,
            extra: None,
        }
    }
}

impl<R> Removed<R> {
    /// Entries evicted (live) and expired.
    pub(crate) fn counts(&self) -> (u64, u64) {
        let (mut evicted, mut expired) = (
            u64::from(self.evicted.is_some()),
            u64::from(self.expired.is_some()),
        );
        if let Some(extra) = &self.extra {
            for (_, was_expired) in &extra.more {
                *if *was_expired {
                    &mut expired
                } else {
                    &mut evicted
                } += 1;
            }
        }
        (evicted, expired)
    }

    /// Whether the value was not stored: charged more than its shard's byte budget.
    pub(crate) fn oversized(&self) -> bool {
        self.extra.as_ref().is_some_and(|extra| extra.oversized)
    }

    fn extra(&mut self) -> &mut Extra<R> {
        self.extra.get_or_insert_with(|| {
            Box::new(Extra {
                more: Vec::new(),
                oversized: false,
                rejected: None,
            })
        })
    }

    /// Keeps a value taken out to make room.
    fn taken(&mut self, value: R, expired: bool) {
        let first = if expired {
            &mut self.expired
        } else {
            &mut self.evicted
        };
        match first {
            None => *first = Some(value),
            Some(_) => self.extra().more.push((value, expired)),
        }
    }

    /// Records `value` as not stored.
    fn reject(&mut self, value: R) {
        let extra = self.extra();
        extra.oversized = true;
        extra.rejected = Some(value);
    }
}

pub(crate) struct Store<R> {
    /// Each shard's table, and the keys being computed there (see "Flights" above).
    tables: Shards<Table<R>, Flights<R>>,
    /// Entries held and bytes charged per shard, kept by writers so that counting takes no lock.
    lens: Box<[Lens]>,
    capacity: u64,
    /// With `max_bytes`: how values are charged.
    sizer: Option<Sizer<R>>,
}

struct Table<R> {
    entries: HashTable<Entry<R>>,
    /// The small and main FIFOs, oldest first. A removed entry leaves a stale slot, skipped
    /// when met.
    small: VecDeque<Slot>,
    main: VecDeque<Slot>,
    /// Live entries in each FIFO.
    small_len: usize,
    main_len: usize,
    /// The small FIFO's target, in entries: `small_share` rounded down, at least 1, kept beside
    /// it by [`Table::set_share`] (each eviction reads it; deriving it there cost a miss 10
    /// instructions).
    small_target: usize,
    /// The small FIFO's target in [`SHARE_UNIT`]s, moved by ARC's adaptation between 1% and 50%
    /// of the shard ([`Table::adapt`]), starting at 3%.
    small_share: usize,
    small_start: usize,
    /// Keys the small FIFO and main dropped into the ghost queue lately: both halved once they
    /// add up to the ghost's window, so their ratio tells the ghost's make-up roughly (keys back
    /// from it are not taken off; ARC's `|B1|` and `|B2|` are exact).
    drops: [usize; 2],
    ghost: Ghost,
    sketch: Sketch,
    /// The last entry's id.
    ids: u32,
    capacity: usize,
    /// The next entry's generation.
    generations: u64,
    /// The entries' charges, and the most they may add up to (`usize::MAX` without `max_bytes`).
    bytes: usize,
    max_bytes: usize,
    /// The keys of the shard's last invalidations.
    invalidated: Invalidated,
}

/// The keys of a shard's last [`RECENT`] invalidations, by their count (`Lens::invalidations`).
/// A computation that began before them is judged by its key alone; one that began before more
/// is taken to be out of date.
#[derive(Default)]
struct Invalidated {
    /// The key of invalidation `n` at `n % RECENT`; `None`: every key (`clear`).
    keys: [Option<u128>; RECENT],
}

/// How many invalidations a shard remembers the keys of.
const RECENT: usize = 16;

impl Invalidated {
    fn note(&mut self, count: u64, key: Option<u128>) {
        if let Some(slot) = self.keys.get_mut(count as usize % RECENT) {
            *slot = key;
        }
    }

    /// Whether an invalidation after number `since`, up to `now`, was of `key` (or of every key,
    /// or is forgotten).
    fn since(&self, since: u64, now: u64, key: u128) -> bool {
        let count = now.wrapping_sub(since);
        if count > RECENT as u64 {
            return true;
        }
        (1..=count).any(|back| {
            let n = since.wrapping_add(back) as usize % RECENT;
            self.keys
                .get(n)
                .is_none_or(|noted| noted.is_none_or(|noted| noted == key))
        })
    }
}

/// A shard's entries and charges, as of its last write, and its count of invalidations.
#[derive(Default)]
struct Lens {
    entries: AtomicUsize,
    bytes: AtomicUsize,
    /// Writes of the shard that make a computation in progress out of date (`remove`,
    /// `replace`, `clear`), counted under its lock: a computation without a flight (`lock =
    /// "none"`, `f_refresh`) is stored only if none of its key came since it began
    /// ([`Store::replace`], [`Store::insert_unflown`]; the table remembers the last keys:
    /// [`Invalidated`]).
    invalidations: AtomicU64,
}

/// An entry's place in a queue: its key's hash (the low half of the key) and its id, 16 bytes.
#[derive(Clone, Copy)]
struct Slot(u64, u32);

impl Slot {
    /// Whether `entry` is the one this slot was made for (else the slot is stale).
    fn holds<R>(self, entry: &Entry<R>) -> bool {
        entry.id == self.1 && hash(entry.key) == self.0
    }
}

/// A power of two: enough shards that writers rarely meet on one, and at least 32 entries per
/// shard so that each shard's eviction order stays close to the whole table's.
fn shard_count(capacity: u64) -> u64 {
    let threads = std::thread::available_parallelism().map_or(4, |n| n.get()) as u64;
    let mut shards = (threads * 8).next_power_of_two().min(MAX_SHARDS as u64);
    while shards > 1 && capacity / shards < 32 {
        shards /= 2;
    }
    shards
}

/// A key's hash in a shard's tables: its low half (the high half picks the shard).
#[inline]
pub(crate) fn hash(key: u128) -> u64 {
    key as u64
}

impl<R> Outcome for Read<R> {
    #[inline(always)]
    fn is_hit(&self) -> bool {
        matches!(self, Read::Hit(..))
    }
}

// Building a store needs nothing of `R`, so that a cache's `static` holds no bound that the
// function's proofs should report (`memory/cell.rs`).
impl<R> Store<R> {
    /// A store for at most `capacity` entries (at least 1): the near tier's, and the tests'.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn new(capacity: u64) -> Self {
        Self::bounded(capacity, None)
    }

    /// A store for at most `capacity` entries (at least 1) and, with a `sizer`, at most its
    /// `max_bytes` (at least 1) in charges.
    pub(crate) fn bounded(capacity: u64, sizer: Option<Sizer<R>>) -> Self {
        let capacity = capacity.max(1);
        let sizer = sizer.map(|sizer| Sizer {
            max_bytes: sizer.max_bytes.max(1),
            ..sizer
        });
        let mut shards = shard_count(capacity);
        if let Some(sizer) = &sizer {
            shards = budget::fewer_shards(shards, sizer.max_bytes);
        }
        // Split the bounds exactly: the shards' bounds add up to `capacity` and `max_bytes`.
        let tables = Shards::new((0..shards).map(|i| {
            let max_bytes = sizer.map_or(usize::MAX, |sizer| {
                usize::try_from(budget::share(sizer.max_bytes, shards, i)).unwrap_or(usize::MAX)
            });
            let table = Table::new(budget::share(capacity, shards, i) as usize, max_bytes);
            (table, Flights::new())
        }));
        Store {
            lens: (0..tables.len()).map(|_| Lens::default()).collect(),
            tables,
            capacity,
            sizer,
        }
    }
}

impl<R: Clone> Store<R> {
    pub(crate) fn capacity(&self) -> u64 {
        self.capacity
    }

    /// `max_bytes`, if the store has one.
    pub(crate) fn max_bytes(&self) -> Option<u64> {
        self.sizer.map(|sizer| sizer.max_bytes)
    }

    /// The charges held now (as of each shard's last write), if the store has `max_bytes`.
    pub(crate) fn bytes(&self) -> Option<u64> {
        self.sizer?;
        Some(
            self.lens
                .iter()
                .map(|lens| lens.bytes.load(Ordering::Relaxed) as u64)
                .sum(),
        )
    }

    /// What storing `value` costs: 0 without `max_bytes`. Computed before the lock is taken.
    fn charge(&self, value: &R) -> usize {
        match &self.sizer {
            Some(sizer) => sizer.charge(value),
            None => 0,
        }
    }

    /// Runs `f` on the table of `key`'s shard as a writer, then keeps its length for [`len`].
    ///
    /// [`len`]: Self::len
    fn write<O>(&self, key: u128, readers: &Slots, f: impl FnOnce(&mut Table<R>) -> O) -> O {
        self.write_at(self.place(key), readers, |table, _| f(table))
    }

    /// [`write`](Self::write) on the shard at `place`, with its flights.
    fn write_at<O>(
        &self,
        place: usize,
        readers: &Slots,
        f: impl FnOnce(&mut Table<R>, &mut Flights<R>) -> O,
    ) -> O {
        self.tables.write_with(place, readers, |table, flights| {
            let out = f(table, flights);
            if let Some(lens) = self.lens.get(place) {
                lens.entries.store(table.entries.len(), Ordering::Relaxed);
                lens.bytes.store(table.bytes, Ordering::Relaxed);
            }
            out
        })
    }

    /// The place of `key`'s shard, from the high half of the key.
    #[inline(always)]
    fn place(&self, key: u128) -> usize {
        self.tables.place((key >> 64) as u64)
    }

    /// The hit path: the live value under `key`, read without a lock by a thread that owns slot
    /// `index`, and counted there as a hit. `refresh_after` (0 for never) is the age from which a
    /// hit asks for a refresh.
    #[inline(always)]
    pub(crate) fn read(
        &self,
        key: u128,
        now: u64,
        refresh_after: u64,
        index: Index,
        readers: &Slots,
    ) -> Read<R> {
        match self
            .tables
            .read((key >> 64) as u64, index, readers, move |table| {
                Self::read_entry(table, key, now, refresh_after)
            }) {
            Some(read) => read,
            None => self.read_locked(key, now, refresh_after, index, readers),
        }
    }

    /// [`read`](Self::read) as a writer: while a writer is active, or for a thread without a
    /// slot of its own to mark. Out of line, so that the hit path stays small.
    #[cold]
    #[inline(never)]
    fn read_locked(
        &self,
        key: u128,
        now: u64,
        refresh_after: u64,
        index: Index,
        readers: &Slots,
    ) -> Read<R> {
        self.tables
            .read_under_mutex(self.place(key), index, readers, |table| {
                Self::read_entry(table, key, now, refresh_after)
            })
    }

    #[inline(always)]
    fn read_entry(table: &Table<R>, key: u128, now: u64, refresh_after: u64) -> Read<R> {
        let Some(entry) = table.entries.find(hash(key), |e| e.key == key) else {
            return Read::Miss;
        };
        if entry.expires_at <= now {
            return Read::Miss;
        }
        // Write only what the hand will use: a hot entry's cache line stays clean. A bump lost
        // to a race with another reader costs only a count.
        let hits = entry.hits.load(Ordering::Relaxed);
        if hits.wrapping_sub(entry.seen) < BUMPS {
            entry.hits.store(hits.wrapping_add(1), Ordering::Relaxed);
        }
        // Cloned before the refresh is claimed: a panicking clone leaves no claim behind.
        let value = clone_value(&entry.value);
        let due = refresh_after > 0
            && now.saturating_sub(entry.stored_at) >= refresh_after
            && !entry.refreshing.load(Ordering::Relaxed)
            && !entry.refreshing.swap(true, Ordering::Relaxed);
        Read::Hit(value, due.then_some(entry.generation))
    }

    /// The miss path: the value if it was stored meanwhile (counted as a hit in the slot at
    /// `index`), else the flight to wait for or to lead. Takes the shard's mutex alone: see
    /// "Flights".
    #[cfg(test)]
    pub(crate) fn lead_or_wait(
        &self,
        key: u128,
        now: u64,
        index: Index,
        readers: &Slots,
    ) -> Probe<R> {
        let probe = self.lead_or_wait_as(key, now, index, readers, NO_OWNER, false);
        probe.expect("a flight of no thread is never its own")
    }

    /// `lead_or_wait` by the thread `me` (an address only it has while it
    /// lives), which owns the flight it leads if `own`: it computes the key on its own stack, so
    /// that the flight ends before the thread does. `None`: `me` owns this key's flight, and
    /// this call, made inside that computation, must not wait for it (a re-entrant call; see
    /// `reentry`: owning replaces listing for a sync caller's computation).
    pub(crate) fn lead_or_wait_as(
        &self,
        key: u128,
        now: u64,
        index: Index,
        readers: &Slots,
        me: usize,
        own: bool,
    ) -> Option<Probe<R>> {
        self.tables.locked(self.place(key), |table, flights| {
            if let Some(flying) = flights.find_mut(key) {
                if flying.owner == me && me != NO_OWNER {
                    return None;
                }
                // The first waiter makes the flight; its leader lands it.
                let flight = flying.flight.get_or_insert_with(|| Arc::new(Flight::new()));
                return Some(Probe::Wait(flight.clone()));
            }
            // No flight: any flight of this key ended in a write that stored its value first
            // (or stored nothing: detached, or no value), under this mutex, so this look finds
            // what there is.
            if let Read::Hit(value, _) = Self::read_entry(table, key, now, 0) {
                readers.hit(index);
                return Some(Probe::Hit(value));
            }
            let owner = if own { me } else { NO_OWNER };
            let id = flights.next_id();
            flights.insert(Flying {
                key,
                owner,
                flight: None,
                id,
            });
            Some(Probe::Lead(id))
        })
    }

    /// Ends this caller's flight `id` on `key` (from [`lead_or_wait_as`](Self::lead_or_wait_as)),
    /// storing `value` in the same write if there is one. Without a value, its waiters look
    /// again; with one, the caller hands them the value ([`Finished::waiters`]). A flight that
    /// an invalidation, `clear` or a newer value detached meanwhile ([`replace`](Self::replace),
    /// [`remove`](Self::remove)) stores nothing: its value predates that write.
    pub(crate) fn finish(
        &self,
        key: u128,
        id: u64,
        value: Option<(R, u64)>,
        now: u64,
        readers: &Slots,
    ) -> Finished<R> {
        let place = self.place(key);
        let unstored = |removed| Finished {
            removed,
            stored: false,
            waiters: None,
        };
        let Some((value, expires_at)) = value else {
            if let Ok(Some(flight)) = self.tables.locked(place, |_, flights| flights.end(key, id)) {
                flight.land();
            }
            return unstored(Removed::default());
        };
        let charge = self.charge(&value);
        let ended = self.write_at(place, readers, |table, flights| {
            match flights.end(key, id) {
                Ok(flight) => Ok((table.insert(key, value, expires_at, now, charge), flight)),
                Err(()) => Err(value),
            }
        });
        // Dropped here, outside the lock: a value's `Drop` is user code.
        let (mut removed, flight) = match ended {
            Ok(ended) => ended,
            Err(out_of_date) => {
                drop(out_of_date);
                return unstored(Removed::default());
            }
        };
        // A value too large to store still reaches the flight's waiters.
        match removed
            .extra
            .as_mut()
            .and_then(|extra| extra.rejected.take())
        {
            Some(rejected) => {
                if let Some(flight) = flight {
                    flight.land_value(rejected);
                }
                unstored(removed)
            }
            None => Finished {
                removed,
                stored: true,
                waiters: flight,
            },
        }
    }

    /// Stores `value` under `key`, replacing any entry: a value newer than any computation of
    /// the key in progress, which it supersedes (see [`replace`](Self::replace)).
    // The near tier's (and the tests'): a memoized function's store goes through `finish`,
    // `replace` or `insert_unflown`.
    #[cfg(any(test, feature = "redis"))]
    #[inline]
    pub(crate) fn insert(
        &self,
        key: u128,
        value: R,
        expires_at: u64,
        now: u64,
        readers: &Slots,
    ) -> Removed<R> {
        let replaced = self.replace(key, value, expires_at, now, None, readers);
        replaced.unwrap_or_default()
    }

    /// Stores `value` under `key`, replacing any entry, and supersedes the computations of the
    /// key in progress: they store nothing, and its flight is detached (even one whose body
    /// began after this value's: a refresh, asked for explicitly, wins). With `since` (an
    /// `f_refresh`, whose body began when the shard had seen that many invalidations): `None`,
    /// nothing stored, if one of them since was of `key`.
    pub(crate) fn replace(
        &self,
        key: u128,
        value: R,
        expires_at: u64,
        now: u64,
        since: Option<u64>,
        readers: &Slots,
    ) -> Option<Removed<R>> {
        let charge = self.charge(&value);
        let place = self.place(key);
        let landed = self.write_at(place, readers, |table, flights| {
            if since.is_some_and(|since| self.invalidated_since(place, table, key, since)) {
                return Err(value);
            }
            let detached = self.supersede(place, table, flights, key);
            Ok((table.insert(key, value, expires_at, now, charge), detached))
        });
        // An out-of-date value is dropped here, outside the lock.
        let (removed, detached) = landed.ok()?;
        if let Some(flight) = detached {
            flight.land();
        }
        Some(removed)
    }

    /// Stores the value of a computation without a flight (`lock = "none"`), which began when its
    /// shard had seen `since` invalidations: `None` (nothing stored) if one of them since was of
    /// `key` (or of every key, or more came than the shard remembers: [`Invalidated`]), since
    /// the value may predate it. It supersedes nothing: a miss's value is no news to the
    /// computations beside it. Apart from [`replace`](Self::replace), which could do this with
    /// a flag, because this is every miss's store: that way cost it 25 instructions more.
    #[inline]
    pub(crate) fn insert_unflown(
        &self,
        key: u128,
        value: R,
        expires_at: u64,
        now: u64,
        since: u64,
        readers: &Slots,
    ) -> Option<Removed<R>> {
        let charge = self.charge(&value);
        let place = self.place(key);
        let landed = self.write_at(place, readers, |table, _| {
            if self.invalidated_since(place, table, key, since) {
                return Err(value);
            }
            Ok(table.insert(key, value, expires_at, now, charge))
        });
        // An out-of-date value is dropped here, outside the lock.
        landed.ok()
    }

    /// The invalidations of `key`'s shard so far (see `Lens::invalidations`): taken before a
    /// computation without a flight, and given back when it stores its value.
    #[inline]
    pub(crate) fn invalidations(&self, key: u128) -> u64 {
        self.lens
            .get(self.place(key))
            .map_or(0, |lens| lens.invalidations.load(Ordering::Acquire))
    }

    /// A write of `key` in the shard at `place` makes its computations in progress out of date:
    /// counts it, and detaches the key's flight, whose `Flight` the caller ends (outside the
    /// lock). Under the shard's lock.
    fn supersede(
        &self,
        place: usize,
        table: &mut Table<R>,
        flights: &mut Flights<R>,
        key: u128,
    ) -> Option<Arc<Flight<R>>> {
        self.invalidate(place, table, Some(key));
        flights.remove(key).flatten()
    }

    /// Counts a write of `key` (every key: `None`) in the shard at `place` that makes its
    /// computations in progress out of date, and notes which key it was. Under the shard's lock.
    fn invalidate(&self, place: usize, table: &mut Table<R>, key: Option<u128>) {
        if let Some(lens) = self.lens.get(place) {
            let count = lens.invalidations.load(Ordering::Relaxed).wrapping_add(1);
            table.invalidated.note(count, key);
            lens.invalidations.store(count, Ordering::Release);
        }
    }

    /// Whether `key`'s shard (at `place`) saw an invalidation of `key` since it had counted
    /// `since` of them: true also if it saw more than [`Invalidated`] remembers. Under the
    /// shard's lock.
    fn invalidated_since(&self, place: usize, table: &Table<R>, key: u128, since: u64) -> bool {
        let now = self
            .lens
            .get(place)
            .map_or(since, |lens| lens.invalidations.load(Ordering::Relaxed));
        now != since && table.invalidated.since(since, now, key)
    }

    /// Ends the refresh of generation `generation` of `key`: stores `value` (with a new age) if
    /// there is one, or keeps the old value. Hands back what was taken out (`replaced`: the old
    /// value, if a new one came); `None` if that entry is gone (evicted, invalidated or replaced
    /// meanwhile), in which case nothing is stored. A value that does not fit the entry's byte
    /// budget in place is stored as a new entry, evicting as needed, or not at all (the old one
    /// is removed in either case: it is out of date).
    pub(crate) fn refreshed(
        &self,
        key: u128,
        generation: u64,
        value: Option<(R, u64)>,
        now: u64,
        readers: &Slots,
    ) -> Option<Removed<R>> {
        let charge = value.as_ref().map_or(0, |(value, _)| self.charge(value));
        let landed = self.write(key, readers, |table| {
            let (bytes, max_bytes) = (table.bytes, table.max_bytes);
            let Some(entry) = table
                .entries
                .find_mut(hash(key), |e| e.key == key && e.generation == generation)
            else {
                // Handed back, to be dropped outside the lock: a value's `Drop` is user code.
                return Err(value);
            };
            entry.refreshing.store(false, Ordering::Relaxed);
            let Some((value, expires_at)) = value else {
                return Ok(Removed::default());
            };
            let held = bytes - entry.charge as usize;
            if charge <= MAX_CHARGE && held + charge <= max_bytes {
                entry.expires_at = expires_at;
                entry.stored_at = now;
                entry.charge = charge as u32;
                table.bytes = held + charge;
                let replaced = std::mem::replace(&mut entry.value, value);
                return Ok(Removed {
                    replaced: Some(replaced),
                    ..Removed::default()
                });
            }
            let old = table.remove(key);
            let mut removed = table.insert(key, value, expires_at, now, charge);
            removed.replaced = old;
            Ok(removed)
        });
        landed.ok()
    }

    /// Removes the entry under `key`; its value and whether it was live.
    ///
    /// A flight of the key in progress is detached: its value may predate what made the caller
    /// invalidate, so it is not stored when it lands, and a call from now on computes the key
    /// anew. Its waiters look again now.
    pub(crate) fn remove(&self, key: u128, now: u64, readers: &Slots) -> Option<(R, bool)> {
        let place = self.place(key);
        let (removed, detached) = self.write_at(place, readers, |table, flights| {
            let detached = self.supersede(place, table, flights, key);
            let live = table
                .entries
                .find(hash(key), |e| e.key == key)
                .map(|e| e.expires_at > now);
            let removed = live.and_then(|live| table.remove(key).map(|value| (value, live)));
            (removed, detached)
        });
        if let Some(flight) = detached {
            flight.land();
        }
        removed
    }

    /// Empties every shard, and detaches the flights in progress, as [`remove`](Self::remove)
    /// does: they store nothing when they land. Returns what it took out, for the caller to drop
    /// (user code: outside any lock of its own).
    #[must_use = "the entries taken out, to be dropped outside the caller's locks"]
    pub(crate) fn clear(&self, readers: &Slots) -> Vec<impl Sized> {
        let mut taken = Vec::with_capacity(self.tables.len());
        for place in 0..self.tables.len() {
            let (old, detached) = self.write_at(place, readers, |table, flights| {
                self.invalidate(place, table, None);
                table.small.clear();
                table.main.clear();
                table.small_len = 0;
                table.main_len = 0;
                table.ghost.clear();
                table.sketch.clear();
                table.set_share(table.small_start);
                table.drops = [0; 2];
                table.bytes = 0;
                (std::mem::take(&mut table.entries), flights.clear())
            });
            taken.push(old);
            for flight in detached {
                flight.land();
            }
        }
        taken
    }

    /// Entries held now (as of each shard's last write).
    pub(crate) fn len(&self) -> usize {
        self.lens
            .iter()
            .map(|lens| lens.entries.load(Ordering::Relaxed))
            .sum()
    }
}

impl<R> Table<R> {
    fn new(capacity: usize, max_bytes: usize) -> Self {
        let small_target = (capacity / 100 * 3 + capacity % 100 * 3 / 100).max(1);
        Table {
            entries: HashTable::new(),
            small: VecDeque::new(),
            main: VecDeque::new(),
            small_len: 0,
            main_len: 0,
            small_target,
            small_share: small_target.saturating_mul(SHARE_UNIT),
            small_start: small_target.saturating_mul(SHARE_UNIT),
            drops: [0; 2],
            ghost: Ghost::new(capacity.saturating_mul(2)),
            sketch: Sketch::new(capacity),
            ids: 0,
            capacity,
            generations: 0,
            bytes: 0,
            max_bytes,
            invalidated: Invalidated::default(),
        }
    }

    /// The most one entry may be charged: `max_bytes`, or less (see [`MAX_CHARGE`]).
    fn max_charge(&self) -> usize {
        self.max_bytes.min(MAX_CHARGE)
    }

    fn remove(&mut self, key: u128) -> Option<R> {
        let entry = self
            .entries
            .find_entry(hash(key), |e| e.key == key)
            .ok()?
            .remove()
            .0;
        self.unqueue(&entry);
        Some(entry.value)
    }

    /// Accounts for `entry` having left the table (its queue slot goes stale).
    fn unqueue(&mut self, entry: &Entry<R>) {
        self.bytes -= entry.charge as usize;
        if entry.main {
            self.main_len -= 1;
        } else {
            self.small_len -= 1;
        }
    }

    /// Stores `value`, charged `charge` bytes (0 without a byte budget), evicting until both the
    /// entry count and the charges fit. A value charged more than the whole budget is handed
    /// back in `rejected`, and the key's old entry, out of date, is removed.
    fn insert(
        &mut self,
        key: u128,
        value: R,
        expires_at: u64,
        now: u64,
        charge: usize,
    ) -> Removed<R> {
        let mut removed = Removed::default();
        if charge > self.max_charge() {
            // The old entry goes, counted as an expiration if it had expired (as when replaced).
            let expired = self
                .entries
                .find(hash(key), |e| e.key == key)
                .is_some_and(|e| e.expires_at <= now);
            let old = self.remove(key);
            if expired {
                removed.expired = old;
            } else {
                removed.replaced = old;
            }
            removed.reject(value);
            return removed;
        }
        self.generations += 1;
        let generation = self.generations;
        let bytes = self.bytes;
        if let Some(entry) = self.entries.find_mut(hash(key), |e| e.key == key) {
            let held = bytes - entry.charge as usize;
            let expired = entry.expires_at <= now;
            if held + charge <= self.max_bytes {
                // A new value is a new entry: a refresh scheduled for the old one does not land.
                entry.stored_at = now;
                entry.generation = generation;
                entry.charge = charge as u32;
                entry.refreshing.store(false, Ordering::Relaxed);
                self.bytes = held + charge;
                let old = Some(std::mem::replace(&mut entry.value, value));
                // A miss on an expired entry replaces it here: that is its expiry.
                if expired {
                    removed.expired = old;
                } else {
                    removed.replaced = old;
                }
                entry.expires_at = expires_at;
                return removed;
            }
            // Larger than its place: stored anew, making room like any new key.
            let old = self.remove(key);
            if expired {
                removed.expired = old;
            } else {
                removed.replaced = old;
            }
        }
        self.sketch.fit(self.entries.len() + 1);
        // The regime as the shard stands when the key comes: its return moves the share (the
        // evictions below do not), and both decisions read the regime before that step. In the
        // frequency regime, a key back is weighed by its accesses before this one: the victim
        // it would displace is one whose access of this round has not come yet (the hand stops
        // at an entry not hit since its last pass), so counting this access first would let
        // every key of a loop larger than the cache displace another by one. In the recency
        // regime the access counts first.
        let recent = self.recent();
        if recent {
            self.record(key, 1);
        }
        while self.entries.len() >= self.capacity || self.bytes + charge > self.max_bytes {
            let Some((value, expired)) = self.evict(now) else {
                break;
            };
            removed.taken(value, expired);
        }
        // A key dropped lately is back. It goes to main if it came back soon (within half the
        // shard's capacity of drops) while the workload rewards recency (`recent`, as the
        // simulator decides), or if the sketch rates it above what main would give up for it
        // (frequency; a tie keeps the incumbent, so that a loop larger than the cache keeps a
        // stable part of itself). Otherwise (and for a key seen for the first time) it starts
        // in the small FIFO, where a scan's keys stay and go.
        let to_main = self.ghost.remove(hash(key)).is_some_and(|back| {
            self.adapt(back);
            recent && 2 * (back.age as usize) < self.capacity || self.outranks_victim(key, now)
        });
        if !recent {
            self.record(key, 1);
        }
        self.ids = self.ids.wrapping_add(1);
        let id = self.ids;
        if to_main {
            self.main.push_back(Slot(hash(key), id));
            self.main_len += 1;
        } else {
            self.small.push_back(Slot(hash(key), id));
            self.small_len += 1;
        }
        self.entries.insert_unique(
            hash(key),
            Entry {
                key,
                value,
                generation,
                expires_at,
                stored_at: now,
                refreshing: AtomicBool::new(false),
                hits: AtomicU8::new(0),
                seen: 0,
                main: to_main,
                id,
                charge: charge as u32,
            },
            |e| hash(e.key),
        );
        self.bytes += charge;
        self.compact();
        removed
    }

    /// Counts `times` accesses of `key` in the sketch.
    #[inline]
    fn record(&mut self, key: u128, times: u8) {
        // Most entries leave unhit: nothing to count, and no call.
        if times > 0 {
            self.sketch.add(key, times);
        }
    }

    /// ARC's adaptation (Megiddo and Modha, FAST 2003) of the small FIFO's share, for a key
    /// back from the ghost queue: a key the small FIFO dropped would have hit in a larger one,
    /// so it grows; a key main dropped, in a larger main, so it shrinks. The step is a tenth of
    /// an entry, times the ratio of the other queue's drops to this one's when above 1 (ARC's
    /// `|B2| / |B1|`), so the share settles where both kinds come back equally.
    fn adapt(&mut self, back: Return) {
        let [small, main] = self.drops.map(|d| d.max(1));
        let (this, other) = if back.from_main {
            (main, small)
        } else {
            (small, main)
        };
        let step = ADAPT_STEP.saturating_mul(this.max(other)) / this;
        // 1% and 50%, stretched to take in the start (at a capacity of 1, 50% is below it).
        let (low, high) = (
            (self.capacity.saturating_mul(SHARE_UNIT / 4) / 25).min(self.small_start),
            self.capacity
                .saturating_mul(SHARE_UNIT / 2)
                .max(self.small_start),
        );
        self.set_share(if back.from_main {
            self.small_share.saturating_sub(step).max(low)
        } else {
            self.small_share.saturating_add(step).min(high)
        });
    }

    /// Sets the small FIFO's target share (in [`SHARE_UNIT`]s), and its count of entries.
    fn set_share(&mut self, share: usize) {
        self.small_share = share;
        self.small_target = (share / SHARE_UNIT).max(1);
    }

    /// Remembers `key`, just dropped by the small FIFO or by main, in the ghost queue.
    fn haunt(&mut self, key: u64, from_main: bool) {
        self.ghost.insert(key, from_main);
        self.drops[usize::from(from_main)] += 1;
        if self.drops[0] + self.drops[1] >= self.ghost.window() {
            self.drops = self.drops.map(|d| d / 2);
        }
    }

    /// How popular `key` is lately: the sketch's count. A resident's hits reach the sketch as
    /// the hand consumes them (sparing it, or promoting it from the small FIFO), and the rest
    /// when it leaves.
    fn estimate(&self, key: u128) -> u32 {
        u32::from(self.sketch.estimate(key))
    }

    /// The live entry of the queue slot `slot`.
    fn live(&mut self, slot: Slot) -> Option<&mut Entry<R>> {
        self.entries.find_mut(slot.0, |e| slot.holds(e))
    }

    /// Runs main's hand up to the entry it would give up: the first expired one or one without
    /// a hit to spare, left at the front. Its key, and whether it has expired. Each pass consumes
    /// a hit, so this ends within `MAX_FREQ + 1` turns.
    fn main_victim(&mut self, now: u64) -> Option<(u128, bool)> {
        loop {
            let slot = *self.main.front()?;
            let Some(entry) = self.live(slot) else {
                self.main.pop_front();
                continue;
            };
            let (key, expired) = (entry.key, entry.expires_at <= now);
            let taken = if expired { 0 } else { entry.take_freq() };
            if taken > 0 {
                // Spared: the hits it consumed reach the sketch now, so that an entry kept for
                // its hits is rated by them against the keys that missed meanwhile.
                self.record(key, taken);
                self.main.rotate_left(1);
                continue;
            }
            return Some((key, expired));
        }
    }

    /// Takes one entry out: its value, and whether it had expired. `None` only if the table
    /// is empty.
    fn evict(&mut self, now: u64) -> Option<(R, bool)> {
        loop {
            if self.small_len >= self.small_target || self.main_len == 0 {
                let slot = self.small.pop_front()?;
                let Ok(mut found) = self.entries.find_entry(slot.0, |e| slot.holds(e)) else {
                    continue;
                };
                let entry = found.get_mut();
                let (key, expired) = (entry.key, entry.expires_at <= now);
                let taken = if expired { 0 } else { entry.take_freq() };
                if taken == 0 {
                    // Left unhit (most do): dropped, with the one probe that found it.
                    let entry = found.remove().0;
                    return Some(self.drop_small(entry, expired, 0));
                }
                if self.promotes(key, now) {
                    // Hit while in the small FIFO: promoted, one hit consumed (and counted).
                    // Still there: the hand only moves main's slots and consumes their hits.
                    if let Some(entry) = self.live(slot) {
                        entry.main = true;
                        self.small_len -= 1;
                        self.main_len += 1;
                        self.main.push_back(slot);
                        self.record(key, taken);
                    }
                    continue;
                }
                let Ok(found) = self.entries.find_entry(slot.0, |e| slot.holds(e)) else {
                    continue;
                };
                let entry = found.remove().0;
                return Some(self.drop_small(entry, false, taken));
            }
            let Some((victim, _)) = self.main_victim(now) else {
                // Only stale slots were left in main: its count says otherwise, so trust the
                // queue.
                self.main_len = 0;
                continue;
            };
            self.main.pop_front();
            let Ok(found) = self.entries.find_entry(hash(victim), |e| e.key == victim) else {
                continue;
            };
            let entry = found.remove().0;
            self.unqueue(&entry);
            let expired = entry.expires_at <= now;
            if !expired {
                self.haunt(hash(victim), true);
            }
            self.record(victim, entry.unconsumed());
            return Some((entry.value, expired));
        }
    }

    /// Accounts for `entry`, just taken out of the small FIFO, leaving the table: remembered in
    /// the ghost queue unless `expired`, its hits (`taken` of them consumed) counted.
    fn drop_small(&mut self, entry: Entry<R>, expired: bool, taken: u8) -> (R, bool) {
        self.small_len -= 1;
        self.bytes -= entry.charge as usize;
        if !expired {
            self.haunt(hash(entry.key), false);
        }
        self.record(entry.key, entry.unconsumed().saturating_add(taken));
        (entry.value, expired)
    }

    /// Whether the workload rewards recency as ARC's adaptation reads it: the small FIFO is at
    /// or above its starting share. Then a key hit in the small FIFO, or back from the ghost
    /// soon, goes to main; below it (frequency), only if it outranks main's victim.
    fn recent(&self) -> bool {
        self.small_share >= self.small_start
    }

    /// Whether `key`, hit while in the small FIFO, moves to main: see [`Table::recent`]. It is
    /// rated as a key back from the ghost is, by the sketch's count of its misses: its hits
    /// reach the sketch once it is promoted, or when it leaves (as the simulator measured it).
    fn promotes(&mut self, key: u128, now: u64) -> bool {
        self.recent() || self.outranks_victim(key, now)
    }

    /// Whether `key` takes the place of main's next victim (there is none in an empty main):
    /// the frequency regime's condition for a key back from the ghost or hit in the small FIFO.
    /// It does if the sketch rates it above the victim, or the victim has none (the sketch never
    /// saw it, or forgot it), or the victim has expired.
    fn outranks_victim(&mut self, key: u128, now: u64) -> bool {
        self.main_len == 0
            || self.main_victim(now).is_none_or(|(victim, expired)| {
                let incumbent = self.estimate(victim);
                expired || incumbent == 0 || self.estimate(key) > incumbent
            })
    }

    /// Sweeps stale slots (left by removals) out of the queues once they outnumber live ones,
    /// so that the queues stay within twice the entries held.
    fn compact(&mut self) {
        if self.small.len() + self.main.len() <= 2 * self.entries.len() + 32 {
            return;
        }
        let entries = &self.entries;
        let live = |slot: &Slot| entries.find(slot.0, |e| slot.holds(e)).is_some();
        self.small.retain(live);
        self.main.retain(live);
    }
}

// The model checker compiles this file again: these tests run in the std build only.
super::sync::std_only! {
#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::flights::FEW;

    fn readers() -> Slots {
        Slots::default()
    }

    fn read(store: &Store<u64>, key: u128, now: u64, refresh_after: u64) -> Option<(u64, bool)> {
        let slots = readers();
        let index = crate::memory::per_thread::current();
        match store.read(key, now, refresh_after, index, &slots) {
            Read::Hit(value, due) => Some((value, due.is_some())),
            Read::Miss => None,
        }
    }

    fn fill(store: &Store<u64>, keys: impl IntoIterator<Item = u128>) {
        for key in keys {
            store.insert(key, key as u64, u64::MAX, 0, &readers());
        }
    }

    /// A store whose values are charged their own number of bytes.
    fn sized(capacity: u64, max_bytes: u64) -> Store<u64> {
        let size: fn(&u64) -> usize = |value| *value as usize;
        Store::bounded(capacity, Some(Sizer { size, max_bytes }))
    }

    /// The shard of `key`: its charges as the entries record them, as the shard counts them,
    /// and its budget. Each entry's charge is checked against its value (`sized` charges a
    /// value its own number of bytes).
    fn shard_bytes(store: &Store<u64>, key: u128) -> (usize, usize, usize) {
        store.write(key, &readers(), |table| {
            for entry in table.entries.iter() {
                assert_eq!(
                    entry.charge as usize,
                    entry.value as usize + budget::ENTRY_OVERHEAD
                );
            }
            let recorded = table.entries.iter().map(|e| e.charge as usize).sum();
            (recorded, table.bytes, table.max_bytes)
        })
    }

    #[test]
    fn byte_budgets_are_split_exactly_and_fewer_shards_hold_small_budgets() {
        for max_bytes in [1u64, 1000, (2 << 20) - 1, 2 << 20, 100 << 20, (1 << 40) + 3] {
            let store = sized(1 << 20, max_bytes);
            let mut total = 0;
            for place in 0..store.tables.len() {
                total += store.write_at(place, &readers(), |table, _| table.max_bytes as u64);
            }
            assert_eq!(total, max_bytes);
            let shards = store.tables.len() as u64;
            assert!(shards == 1 || max_bytes / shards >= budget::MIN_SHARD_BYTES);
            if max_bytes < 2 << 20 {
                assert_eq!(shards, 1, "{max_bytes}");
            }
        }
    }

    #[test]
    fn the_charges_held_never_exceed_the_byte_budget_under_churn() {
        for (capacity, max_bytes) in [(1_000u64, 20_000u64), (100_000, 64 << 20)] {
            let store = sized(capacity, max_bytes);
            let slots = readers();
            let mut state = 0x2545_f491_4f6c_dd1du64;
            let mut oversized = 0;
            for round in 0..20_000u64 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let key = spread(state % 3_000);
                // Up to a third of a shard's budget, and now and then more than all of it.
                let size = match state % 64 {
                    0 => max_bytes + 1,
                    _ => (state >> 20) % (max_bytes / store.tables.len() as u64 / 3),
                };
                match state >> 61 {
                    0 => drop(store.remove(key, round, &slots)),
                    1 => {
                        let index = crate::memory::per_thread::current();
                        if let Probe::Lead(id) = store.lead_or_wait(key, round, index, &slots) {
                            let finished =
                                store.finish(key, id, Some((size, u64::MAX)), round, &slots);
                            oversized += u32::from(finished.removed.oversized());
                        }
                    }
                    2 => {
                        let generation = store.write(key, &slots, |table| {
                            table.entries.find(hash(key), |e| e.key == key).map(|e| e.generation)
                        });
                        if let Some(generation) = generation {
                            let value = Some((size, u64::MAX));
                            store.refreshed(key, generation, value, round, &slots);
                        }
                    }
                    // Hits, so that entries move to the main FIFO and leave it too.
                    3 => drop(read(&store, key, round, 0)),
                    _ => {
                        let removed = store.insert(key, size, u64::MAX, round, &slots);
                        oversized += u32::from(removed.oversized());
                    }
                }
                let (recorded, counted, budget) = shard_bytes(&store, key);
                assert_eq!(recorded, counted);
                assert!(counted <= budget, "{counted} > {budget}");
                assert!(store.bytes().unwrap() <= max_bytes);
                assert!(store.len() as u64 <= capacity);
            }
            assert!(oversized > 0);
        }
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn the_charge_takes_no_room_in_an_entry() {
        // The entry as it was before `charge` (which then had a second `u8`, the hits' discount
        // of an earlier policy): the hit reads entries no larger than then.
        #[allow(dead_code)]
        struct Before<R>(u128, R, u64, u64, u64, AtomicBool, AtomicU8, u8, u8, bool, u32);
        for (with, without) in [
            (size_of::<Entry<u64>>(), size_of::<Before<u64>>()),
            (size_of::<Entry<String>>(), size_of::<Before<String>>()),
            (size_of::<Entry<std::sync::Arc<str>>>(), size_of::<Before<std::sync::Arc<str>>>()),
            (size_of::<Entry<()>>(), size_of::<Before<()>>()),
        ] {
            assert_eq!(with, without);
        }
        assert_eq!(size_of::<Entry<u64>>(), 64);
    }

    #[test]
    fn shard_bounds_add_up_to_the_capacity() {
        for capacity in [1u64, 3, 7, 100, 1000, 10_001] {
            let store = Store::<u64>::new(capacity);
            fill(
                &store,
                (0..capacity as u128 * 4)
                    .map(|k| k.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)),
            );
            assert!(store.len() as u64 <= capacity);
            assert_eq!(store.capacity(), capacity);
        }
    }

    /// A key spread over the shards as the store's own keys are (both halves hashed).
    fn spread(k: u64) -> u128 {
        let mix = |mut z: u64| {
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        u128::from(mix(k.wrapping_add(0x9e37_79b9_7f4a_7c15))) << 64
            | u128::from(mix(k ^ 0x5851_f42d_4c95_7f2d))
    }

    /// The memoized call's way: a read, and on a miss an insertion. Whether it hit.
    fn access(store: &Store<u64>, key: u128) -> bool {
        if read(store, key, 0, 0).is_some() {
            return true;
        }
        store.insert(key, key as u64, u64::MAX, 0, &readers());
        false
    }

    /// [`access`]es each of `keys` in turn, `rounds` times over.
    fn access_rounds(store: &Store<u64>, keys: &[u128], rounds: usize) {
        for _ in 0..rounds {
            for &key in keys {
                access(store, key);
            }
        }
    }

    #[test]
    fn a_scan_of_one_off_keys_leaves_the_hot_set_in_place() {
        let store = Store::<u64>::new(1_000);
        let hot: Vec<u128> = (0..100).map(spread).collect();
        access_rounds(&store, &hot, 5);
        for k in 1_000..11_000 {
            access(&store, spread(k));
        }
        let hits = hot.iter().filter(|&&key| access(&store, key)).count();
        assert!(hits >= 90, "{hits} of the 100 hot keys survived the scan");
    }

    /// A store of one shard (under 64 entries: the order of events is exact), full, its sketch
    /// grown to its size (growing starts the counts afresh) before the test's keys come.
    fn one_full_shard() -> Store<u64> {
        let store = Store::<u64>::new(40);
        for key in 1_000..1_040 {
            access(&store, spread(key));
        }
        store
    }

    #[test]
    fn a_key_back_from_the_ghost_does_not_displace_a_more_popular_one() {
        let store = one_full_shard();
        let hot: Vec<u128> = (0..30).map(spread).collect();
        access_rounds(&store, &hot, 10);
        // One-off keys: they pass through the small FIFO, and those dropped are remembered in
        // the ghost queue.
        for key in 100..180 {
            access(&store, spread(key));
        }
        // Back once: seen once before (weighed before this access) and never hit, against hot
        // keys whose hits the hand has folded into the sketch. A collision in the sketch (sized
        // for 40 keys, it has seen more) could rate a few of them as high as a hot key; a sketch
        // that knew none of them (every estimate 0) would let all 30 into main.
        let mut in_main = 0;
        for key in (140..170).map(spread) {
            assert!(!access(&store, key));
            let main = store.write(key, &readers(), |table| {
                table.entries.find(hash(key), |e| e.key == key).map(|e| e.main)
            });
            in_main += usize::from(main.expect("stored"));
        }
        assert!(in_main <= 10, "{in_main} of 30 keys went to main");
        let hits = hot.iter().filter(|&&key| access(&store, key)).count();
        assert_eq!(hits, 30);
    }

    #[test]
    fn keys_popular_now_take_the_places_of_keys_popular_before() {
        let store = one_full_shard();
        let before: Vec<u128> = (0..30).map(spread).collect();
        access_rounds(&store, &before, 20);
        // Popularity moves: the old keys are never asked for again. Their many hits must not
        // keep them in main against keys asked for in every round since.
        let now: Vec<u128> = (100..130).map(spread).collect();
        let mut hits = Vec::new();
        for _ in 0..10 {
            hits.push(now.iter().filter(|&&key| access(&store, key)).count());
        }
        assert!(hits[9] >= 27, "hits of the 30 new keys, round by round: {hits:?}");
    }

    /// A shard's table of `capacity` entries, on its own (the policy's order of events exact).
    fn table(capacity: usize) -> Table<u64> {
        Table::new(capacity, usize::MAX)
    }

    /// [`access`] on a table: a reader's hit, else an insertion. Whether it hit.
    fn touch(table: &mut Table<u64>, key: u128) -> bool {
        if Store::read_entry(table, key, 0, 0).is_hit() {
            return true;
        }
        table.insert(key, 0, u64::MAX, 0, 0);
        false
    }

    /// Whether `key` is held in main (`None`: not held).
    fn in_main(table: &Table<u64>, key: u128) -> Option<bool> {
        table.entries.find(hash(key), |e| e.key == key).map(|e| e.main)
    }

    #[test]
    fn the_small_fifo_grows_while_keys_it_dropped_come_back() {
        let mut table = table(1_000);
        assert_eq!(table.small_target, 30, "3% to start");
        // Each new key asked twice, 100 keys apart: the small FIFO (30) drops it unhit, and
        // it comes back. A larger small FIFO would have kept it: ARC grows it.
        for t in 0..20_000u64 {
            touch(&mut table, spread(t));
            if t >= 100 {
                touch(&mut table, spread(t - 100));
            }
        }
        let grown = table.small_target;
        assert!(grown >= 90, "the small FIFO grew to {grown} entries of 1,000");
    }

    #[test]
    fn the_small_fifo_shrinks_while_keys_main_dropped_come_back() {
        let mut table = table(1_000);
        table.set_share(400 * SHARE_UNIT);
        // Skewed popularity over 2,000 keys: main, at 600 entries, drops keys that come back.
        // A larger main would have kept them: ARC shrinks the small FIFO.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..120_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let u = (x % 10_000) as f64 / 10_000.0;
            touch(&mut table, spread((2_000.0 * u * u * u) as u64));
        }
        let shrunk = table.small_share / SHARE_UNIT;
        assert!(shrunk <= 250, "the small FIFO shrank to {shrunk} entries, from 400");
        assert_eq!(table.small_target, shrunk);
    }

    #[test]
    fn the_small_fifo_moves_by_a_tenth_of_an_entry_times_arcs_ratio_within_1_and_50_percent() {
        let mut table = table(1_000);
        let start = table.small_share;
        let (small, main) = (
            Return {
                from_main: false,
                age: 0,
            },
            Return {
                from_main: true,
                age: 0,
            },
        );
        table.drops = [300, 100];
        table.adapt(small);
        assert_eq!(table.small_share, start + ADAPT_STEP, "a tenth of an entry");
        table.adapt(main);
        assert_eq!(table.small_share, start + ADAPT_STEP - 3 * ADAPT_STEP, "three tenths");
        for _ in 0..1_000 {
            table.adapt(main);
        }
        assert_eq!(table.small_target, 10, "1% at the least");
        for _ in 0..10_000 {
            table.adapt(small);
        }
        assert_eq!(table.small_target, 500, "50% at the most");
        // Tiny shards: the bounds take in the start, so a key back from the small FIFO never
        // shrinks it.
        for capacity in 1..4 {
            let mut tiny = self::table(capacity);
            let start = tiny.small_share;
            tiny.adapt(small);
            assert!(tiny.small_share >= start, "capacity {capacity}");
            assert!(tiny.recent(), "capacity {capacity}");
        }
    }

    /// [`touch`]es each of `keys` in turn, `rounds` times over; the hits of the last round.
    fn access_table_rounds(table: &mut Table<u64>, keys: &[u128], rounds: usize) -> usize {
        let mut hits = 0;
        for _ in 0..rounds {
            hits = keys.iter().filter(|&&key| touch(table, key)).count();
        }
        hits
    }

    #[test]
    fn a_loop_larger_than_the_cache_keeps_a_part_of_itself() {
        // Every key of the loop is as popular as any other. A key back from the ghost is weighed
        // by its accesses before this one, and a tie with main's victim keeps the victim; the
        // residents' hits reach the sketch as the hand consumes them: the loop does not churn
        // through main, and the keys that hold their places hit round after round. Mean hits a
        // round over rounds 11 to 30 (of at most about 970: the small FIFO holds the rest):
        // 941, 729 and 767 for these loops; counting the access before weighing it gives 529
        // and 487 for the first two, ties to the newcomer 404, 343 and 504, and no folding 460
        // for the last.
        for (keys, least) in [(1_100, 800), (1_500, 600), (2_000, 650)] {
            let mut table = table(1_000);
            let looping: Vec<u128> = (0..keys).map(spread).collect();
            access_table_rounds(&mut table, &looping, 10);
            let hits: Vec<usize> = (0..20)
                .map(|_| access_table_rounds(&mut table, &looping, 1))
                .collect();
            let mean = hits.iter().sum::<usize>() / hits.len();
            assert!(
                mean >= least,
                "{mean} of {keys} hit a round on average: {hits:?}"
            );
        }
    }

    #[test]
    fn a_key_back_soon_goes_to_main_and_one_back_late_must_outrank_its_victim() {
        let mut table = table(1_000);
        // Main full of keys hit often: each outranks a key seen twice.
        let hot: Vec<u128> = (0..1_000).map(spread).collect();
        access_table_rounds(&mut table, &hot, 4);
        let (soon, late) = (spread(5_000), spread(5_001));
        touch(&mut table, late);
        for key in 6_000..6_100 {
            touch(&mut table, spread(key));
        }
        touch(&mut table, soon);
        // Dropped unhit by the small FIFO; `soon` comes back after 130 drops (under half the
        // capacity), `late` after 700 (within the ghost's 2,000, over half the capacity).
        for key in 7_000..7_130 {
            touch(&mut table, spread(key));
        }
        assert_eq!((in_main(&table, soon), in_main(&table, late)), (None, None));
        assert!(!touch(&mut table, soon));
        assert_eq!(in_main(&table, soon), Some(true), "back soon: to main");
        for key in 8_000..8_570 {
            touch(&mut table, spread(key));
        }
        assert!(!touch(&mut table, late));
        assert_eq!(in_main(&table, late), Some(false), "back late, outranked: small");
    }

    #[test]
    fn an_expired_victim_gives_way_to_a_key_back_from_the_ghost() {
        let mut table = table(1_000);
        // Main full of entries the sketch rates highly, which expire at 10.
        let hot: Vec<u128> = (0..1_000).map(spread).collect();
        for &key in &hot {
            table.insert(key, 0, 10, 0, 0);
        }
        // After the insertions: the sketch, grown to the entries, starts its counts afresh.
        for &key in &hot {
            table.sketch.add(key, 10);
            assert!(Store::read_entry(&table, key, 0, 0).is_hit());
        }
        // New keys push them from the small FIFO into main.
        for key in 6_000..6_050 {
            table.insert(spread(key), 0, u64::MAX, 0, 0);
        }
        let in_main_now = hot.iter().filter(|&&key| in_main(&table, key) == Some(true));
        assert!(in_main_now.count() >= 900);
        let late = spread(5_000);
        table.insert(late, 0, u64::MAX, 0, 0);
        for key in 8_000..8_700 {
            table.insert(spread(key), 0, u64::MAX, 0, 0);
        }
        assert_eq!(in_main(&table, late), None, "dropped into the ghost");
        // Back late (not soon), rated far below main's victim, which has expired meanwhile.
        table.insert(late, 0, u64::MAX, 20, 0);
        assert_eq!(in_main(&table, late), Some(true));
    }

    #[test]
    fn while_the_small_fifo_is_below_its_start_a_hit_in_it_must_outrank_mains_victim() {
        let mut table = table(1_000);
        let hot: Vec<u128> = (0..1_000).map(spread).collect();
        access_table_rounds(&mut table, &hot, 8);
        let key = spread(5_000);
        let once = |table: &mut Table<u64>, new: std::ops::Range<u64>| {
            touch(table, key);
            assert!(touch(table, key), "hit in the small FIFO");
            // New keys push it out of the small FIFO.
            for k in new {
                touch(table, spread(k));
            }
        };
        once(&mut table, 6_000..6_100);
        assert_eq!(in_main(&table, key), Some(true), "at the start: promoted");
        table.remove(key);
        table.set_share(table.small_start - 1);
        once(&mut table, 7_000..7_100);
        assert_eq!(in_main(&table, key), None, "below it: outranked, dropped");
    }

    #[test]
    fn a_key_back_soon_is_judged_by_the_regime_it_came_back_in() {
        // A key dropped a moment ago comes back to a shard whose main's victim outranks it.
        // Its return moves the share across the start; where it goes follows the regime it
        // came back in, before that step.
        let back = |share: usize, from_main: bool| {
            let mut table = table(1_000);
            let hot: Vec<u128> = (0..1_000).map(spread).collect();
            access_table_rounds(&mut table, &hot, 8);
            table.set_share(share);
            let key = spread(5_000);
            table.ghost.insert(hash(key), from_main);
            touch(&mut table, key);
            (table.recent(), in_main(&table, key))
        };
        let start = table(1_000).small_start;
        // Main dropped it, at the start exactly (recency): to main, though the step took the
        // share below the start.
        assert_eq!(back(start, true), (false, Some(true)));
        // The small FIFO dropped it, just below the start (frequency): it must outrank main's
        // victim, and does not, though the step lifted the share to the start.
        assert_eq!(back(start - 1, false), (true, Some(false)));
    }

    #[test]
    fn the_capacity_is_exact_and_the_queues_bounded_under_churn() {
        for capacity in [1u64, 2, 40, 1_000] {
            let store = Store::<u64>::new(capacity);
            let slots = readers();
            let mut state = 0x2545_f491_4f6c_dd1du64;
            for round in 0..30_000u64 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let key = spread(state % (capacity * 3));
                match state >> 60 {
                    0..=1 => drop(store.remove(key, round, &slots)),
                    2..=3 => drop(store.insert(key, 0, round + state % 50, round, &slots)),
                    _ => drop(access(&store, key)),
                }
                assert!(store.len() as u64 <= capacity, "{} > {capacity}", store.len());
            }
            // Removals below the capacity: nothing is evicted, stale queue slots pile up.
            for round in 0..5_000 {
                let key = spread(round % 7);
                store.insert(key, 0, u64::MAX, 0, &slots);
                store.remove(key, 0, &slots);
            }
            for place in 0..store.tables.len() {
                store.write_at(place, &slots, |table, _| {
                    let queued = table.small.len() + table.main.len();
                    assert!(queued <= 2 * table.entries.len() + 33, "{queued} queued");
                    assert_eq!(table.small_len + table.main_len, table.entries.len());
                });
            }
        }
    }

    #[test]
    fn an_expired_entry_goes_before_a_frequent_one_in_main() {
        let store = Store::<u64>::new(4);
        let slots = readers();
        store.insert(1, 1, u64::MAX, 0, &slots);
        store.insert(2, 2, 10, 0, &slots);
        store.insert(3, 3, u64::MAX, 0, &slots);
        store.insert(4, 4, u64::MAX, 0, &slots);
        for key in [1, 2] {
            read(&store, key, 0, 0);
        }
        // 1 and 2 move to main, hit; 3 leaves the small FIFO unhit.
        assert_eq!(store.insert(5, 5, u64::MAX, 0, &slots).evicted, Some(3));
        for key in [1, 2, 4, 5] {
            read(&store, key, 0, 0);
        }
        // 4 and 5 move to main too, which then gives up an entry: the expired one, though hit
        // since the hand last passed (4 is not).
        let removed = store.insert(6, 6, u64::MAX, 20, &slots);
        assert_eq!((removed.expired, removed.evicted), (Some(2), None));
        assert_eq!(read(&store, 1, 20, 0), Some((1, false)));
    }

    #[test]
    fn a_hit_in_the_small_fifo_promotes_the_entry() {
        let store = Store::<u64>::new(3);
        fill(&store, [1, 2, 3]);
        assert_eq!(read(&store, 1, 0, 0), Some((1, false)));
        let removed = store.insert(4, 4, u64::MAX, 0, &readers());
        assert_eq!(removed.evicted, Some(2));
        assert_eq!(store.len(), 3);
    }

    #[test]
    fn one_hit_at_a_time_is_asked_to_refresh() {
        let store = Store::<u64>::new(10);
        let slots = readers();
        store.insert(1, 1, u64::MAX, 0, &slots);
        assert_eq!(read(&store, 1, 99, 100), Some((1, false)), "young");
        assert_eq!(read(&store, 1, 100, 100), Some((1, true)), "old: refresh");
        assert_eq!(read(&store, 1, 101, 100), Some((1, false)), "one in flight");
        assert_eq!(
            store.refreshed(1, 2, Some((2, u64::MAX)), 150, &slots).map(|r| r.replaced),
            None,
            "not that entry"
        );
        assert_eq!(
            store.refreshed(1, 1, Some((2, u64::MAX)), 150, &slots).map(|r| r.replaced),
            Some(Some(1))
        );
        assert_eq!(read(&store, 1, 249, 100), Some((2, false)), "renewed");
        assert_eq!(read(&store, 1, 250, 100), Some((2, true)));
        assert_eq!(
            store.refreshed(1, 1, None, 260, &slots).map(|r| r.replaced),
            Some(None),
            "failed: kept"
        );
        assert_eq!(read(&store, 1, 261, 100), Some((2, true)), "and retried");
    }

    #[test]
    fn the_hand_takes_expired_entries_even_if_referenced() {
        let store = Store::<u64>::new(2);
        store.insert(1, 1, u64::MAX, 0, &readers());
        store.insert(2, 2, 10, 0, &readers());
        assert_eq!(read(&store, 1, 0, 0), Some((1, false)));
        assert_eq!(read(&store, 2, 0, 0), Some((2, false)));
        let removed = store.insert(3, 3, u64::MAX, 20, &readers());
        assert_eq!(removed.expired, Some(2));
        assert_eq!(removed.evicted, None);
    }

    #[test]
    fn a_computation_is_out_of_date_after_its_keys_invalidation_or_too_many() {
        let mut invalidated = Invalidated::default();
        for count in 1..=10 {
            invalidated.note(count, Some(u128::from(count) * 100));
        }
        // Began after 3 invalidations: 4 to 10 came since.
        assert!(invalidated.since(3, 10, 500), "key 500's came since");
        assert!(!invalidated.since(3, 10, 300), "key 300's came before");
        assert!(!invalidated.since(10, 10, 500), "none since");
        invalidated.note(11, None);
        assert!(invalidated.since(10, 11, 7), "clear: every key");
        for count in 12..=40 {
            invalidated.note(count, Some(1));
        }
        assert!(invalidated.since(40 - RECENT as u64 - 1, 40, 7), "more than it remembers");
        assert!(!invalidated.since(40 - RECENT as u64, 40, 7));
    }

    #[test]
    fn a_flight_is_made_only_once_a_caller_waits_for_it() {
        let store = Store::<u64>::new(10);
        let slots = readers();
        let index = crate::memory::per_thread::current();
        let made = |store: &Store<u64>| {
            store.tables.locked(store.place(1), |_, flights| {
                flights.counts()
            })
        };
        let Probe::Lead(id) = store.lead_or_wait(1, 0, index, &slots) else {
            panic!("the first caller leads")
        };
        assert_eq!(made(&store), (1, 0), "a leader alone: published, no flight made");
        let Probe::Wait(first) = store.lead_or_wait(1, 0, index, &slots) else {
            panic!("a second caller waits")
        };
        let Probe::Wait(second) = store.lead_or_wait(1, 0, index, &slots) else {
            panic!("a third caller waits")
        };
        assert!(Arc::ptr_eq(&first, &second), "waiters share one flight");
        let finished = store.finish(1, id, Some((7, u64::MAX)), 0, &slots);
        assert!(finished.stored && finished.waiters.is_some_and(|w| Arc::ptr_eq(&w, &first)));
        first.land_value(7);
        assert_eq!(made(&store), (0, 0));
        let mut waiting = std::pin::pin!(first.wait_async());
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(waiting.as_mut().poll(&mut context).is_ready(), "the flight ended");
        assert!(matches!(store.lead_or_wait(1, 0, index, &slots), Probe::Hit(7)));
    }

    #[test]
    fn many_flights_in_one_shard_each_have_one_leader_and_end_once() {
        // More keys in flight in one shard (the same high half) than its list holds.
        let store = Store::<u64>::new(1_000);
        let slots = readers();
        let index = crate::memory::per_thread::current();
        let keys: Vec<u128> = (0..3 * FEW as u128).map(|k| 5 << 64 | k).collect();
        let ids: Vec<u64> = keys
            .iter()
            .map(|&key| match store.lead_or_wait(key, 0, index, &slots) {
                Probe::Lead(id) => id,
                _ => panic!("the first caller of {key} leads"),
            })
            .collect();
        let waits: Vec<Arc<Flight<u64>>> = keys
            .iter()
            .map(|&key| match store.lead_or_wait(key, 0, index, &slots) {
                Probe::Wait(flight) => flight,
                _ => panic!("a second caller of {key} waits"),
            })
            .collect();
        let context = &mut std::task::Context::from_waker(std::task::Waker::noop());
        let ended = |flight: &Arc<Flight<u64>>, context: &mut std::task::Context<'_>| {
            std::pin::pin!(flight.wait_async()).poll(context).is_ready()
        };
        // Ended out of order: every other key first, then the rest from the last.
        let order = (0..keys.len()).step_by(2).chain((1..keys.len()).step_by(2).rev());
        for (done, i) in order.enumerate() {
            assert!(!ended(&waits[i], context), "key {i} ended before its leader landed");
            let finished = store.finish(keys[i], ids[i], Some((i as u64, u64::MAX)), 0, &slots);
            let waiters = finished.waiters.expect("a caller waits");
            assert!(Arc::ptr_eq(&waiters, &waits[i]));
            waiters.land_value(i as u64);
            assert!(ended(&waits[i], context), "key {i}'s flight ended");
            let left = store.tables.locked(store.place(keys[i]), |_, f| f.counts().0);
            assert_eq!(left, keys.len() - done - 1);
        }
        for (i, &key) in keys.iter().enumerate() {
            assert!(matches!(store.lead_or_wait(key, 0, index, &slots), Probe::Hit(v) if v == i as u64));
        }
    }

    #[test]
    fn readers_and_writers_exclude_each_other() {
        // Many readers and a writer replacing values: a reader sees a whole value, never a
        // half-written one (each value is a pair that must stay equal). The clone reads the two
        // halves far apart, so a writer let in during a read is caught.
        #[derive(Debug, PartialEq)]
        struct Pair(u64, u64);
        impl Clone for Pair {
            fn clone(&self) -> Self {
                let first = self.0;
                for _ in 0..200 {
                    std::hint::spin_loop();
                }
                // SAFETY: a plain read of a field of `self`; volatile only so that it is made
                // after the pause.
                let second = unsafe { std::ptr::read_volatile(&self.1) };
                Pair(first, second)
            }
        }
        let store = Store::<Pair>::new(64);
        let slots = Slots::default();
        for key in 0..64u128 {
            store.insert(key << 64 | key, Pair(0, 0), u64::MAX, 0, &slots);
        }
        std::thread::scope(|scope| {
            for _ in 0..3 {
                scope.spawn(|| {
                    for round in 0..20_000u128 {
                        let key = (round % 64) << 64 | (round % 64);
                        let index = crate::memory::per_thread::current();
                        if let Read::Hit(Pair(a, b), _) = store.read(key, 0, 0, index, &slots) {
                            assert_eq!(a, b);
                        }
                    }
                });
            }
            scope.spawn(|| {
                for round in 0..20_000u64 {
                    let key = u128::from(round % 64);
                    store.insert(key << 64 | key, Pair(round, round), u64::MAX, 0, &slots);
                }
            });
        });
    }
}
}
