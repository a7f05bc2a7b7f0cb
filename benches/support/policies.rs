//! Single-threaded simulators of eviction policies for `benches/hit_ratio.rs`.
//!
//! Each one keeps at most its capacity in entries, exactly. Those that could go into the
//! in-process store keep to its constraints: a hit only bumps a small per-entry counter (no
//! queue moves), and insertion and eviction are the writer's work. [`Sharded`] splits the
//! capacity across shards the way the store does, since per-shard queues change hit ratios.

use std::collections::{HashMap, VecDeque};

/// The map of the simulators: a fixed hasher, so every run replays the same way.
pub type Map<V> = HashMap<u64, V, foldhash::fast::FixedState>;

fn map<V>(capacity: usize) -> Map<V> {
    HashMap::with_capacity_and_hasher(capacity, foldhash::fast::FixedState::default())
}

/// A cache that answers whether a request hit, inserting the key on a miss.
pub trait Policy {
    /// Replays one request: `true` on a hit; on a miss the key is inserted.
    fn access(&mut self, key: u64) -> bool;
}

/// The store's split of a capacity: as many shards as `shard_count` in
/// `cachemacro-runtime/src/store.rs` gives for `threads` (up to 64, at least 32 entries each),
/// with the capacity divided exactly.
pub fn shard_capacities(capacity: usize, threads: usize) -> Vec<usize> {
    let mut shards = (threads * 8).next_power_of_two().min(64);
    // `HIT_RATIO_MIN_SHARD`: another least share, for a sweep (`benches/hit_ratio.rs`).
    let least: usize = std::env::var("HIT_RATIO_MIN_SHARD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32);
    while shards > 1 && capacity / shards < least {
        shards /= 2;
    }
    let (base, extra) = (capacity / shards, capacity % shards);
    (0..shards).map(|i| base + usize::from(i < extra)).collect()
}

/// Mixes a key the way a 128-bit key hash would: shards are picked by well-spread bits.
fn mix(key: u64) -> u64 {
    let mut z = key.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One policy per shard, a key's shard chosen by its hash.
pub struct Sharded<P> {
    shards: Vec<P>,
}

impl<P: Policy> Sharded<P> {
    /// Builds `make(shard_capacity)` for each of the store's shards.
    pub fn new(capacity: usize, threads: usize, make: impl Fn(usize) -> P) -> Self {
        let shards = shard_capacities(capacity, threads)
            .into_iter()
            .map(make)
            .collect();
        Sharded { shards }
    }
}

impl<P> Sharded<P> {
    /// The shard of `key`.
    fn index(&self, key: u64) -> usize {
        (mix(key) >> 32) as usize & (self.shards.len() - 1)
    }
}

impl<P: Policy> Policy for Sharded<P> {
    fn access(&mut self, key: u64) -> bool {
        let i = self.index(key);
        self.shards[i].access(key)
    }
}

/// Exact LRU: the baseline every table quotes.
pub struct Lru {
    capacity: usize,
    list: List,
    index: Map<u32>,
}

impl Lru {
    /// An empty LRU of `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        Lru {
            capacity,
            list: List::default(),
            index: map(capacity),
        }
    }
}

impl Policy for Lru {
    fn access(&mut self, key: u64) -> bool {
        if let Some(&node) = self.index.get(&key) {
            self.list.unlink(node);
            self.list.push_head(node);
            return true;
        }
        if self.index.len() == self.capacity {
            let tail = self.list.tail;
            self.index.remove(&self.list.nodes[tail as usize].key);
            self.list.unlink(tail);
            self.list.free.push(tail);
        }
        let node = self.list.alloc(key);
        self.list.push_head(node);
        self.index.insert(key, node);
        false
    }
}

/// The store's current CLOCK: a ring with one reference bit per entry, set by a hit; a new
/// entry takes the slot of the one the hand gave up, unreferenced.
pub struct Clock {
    capacity: usize,
    ring: Vec<(u64, bool)>,
    hand: usize,
    index: Map<u32>,
}

impl Clock {
    /// An empty CLOCK of `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        Clock {
            capacity,
            ring: Vec::with_capacity(capacity),
            hand: 0,
            index: map(capacity),
        }
    }
}

impl Policy for Clock {
    fn access(&mut self, key: u64) -> bool {
        if let Some(&slot) = self.index.get(&key) {
            self.ring[slot as usize].1 = true;
            return true;
        }
        let slot = if self.ring.len() < self.capacity {
            self.ring.push((key, false));
            self.ring.len() - 1
        } else {
            loop {
                let slot = self.hand;
                self.hand = (self.hand + 1) % self.ring.len();
                let entry = &mut self.ring[slot];
                if entry.1 {
                    entry.1 = false;
                } else {
                    self.index.remove(&entry.0);
                    *entry = (key, false);
                    break slot;
                }
            }
        };
        self.index.insert(key, slot as u32);
        false
    }
}

/// SIEVE (Zhang et al., NSDI 2024): one FIFO queue; a hit sets a visited bit; the hand walks
/// from the oldest entry towards the newest, clearing bits, and evicts the first unvisited
/// entry, which may be in the middle; new entries go to the head.
pub struct Sieve {
    capacity: usize,
    list: List,
    hand: u32,
    index: Map<u32>,
}

impl Sieve {
    /// An empty SIEVE of `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        Sieve {
            capacity,
            list: List::default(),
            hand: NIL,
            index: map(capacity),
        }
    }
}

impl Policy for Sieve {
    fn access(&mut self, key: u64) -> bool {
        if let Some(&node) = self.index.get(&key) {
            self.list.nodes[node as usize].mark = 1;
            return true;
        }
        if self.index.len() == self.capacity {
            let mut node = if self.hand == NIL {
                self.list.tail
            } else {
                self.hand
            };
            while self.list.nodes[node as usize].mark != 0 {
                self.list.nodes[node as usize].mark = 0;
                node = self.list.nodes[node as usize].prev;
                if node == NIL {
                    node = self.list.tail;
                }
            }
            self.hand = self.list.nodes[node as usize].prev;
            self.index.remove(&self.list.nodes[node as usize].key);
            self.list.unlink(node);
            self.list.free.push(node);
        }
        let node = self.list.alloc(key);
        self.list.push_head(node);
        self.index.insert(key, node);
        false
    }
}

/// Where an S3-FIFO entry lives.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Queue {
    Small,
    Main,
}

/// S3-FIFO's tunables; [`S3Fifo::PAPER`] is the paper's.
#[derive(Clone, Copy)]
pub struct S3Params {
    /// The small queue's share of the capacity.
    pub small_ratio: f64,
    /// The ghost queue's size as a share of the capacity.
    pub ghost_ratio: f64,
    /// Hits while in the small queue needed to move to main rather than to the ghost queue.
    pub promote_at: u8,
    /// Frequency counter's ceiling (3 for 2 bits).
    pub max_freq: u8,
    /// ARC's adaptation of the small queue's share (between 1% and 50%): a returning key that
    /// the small queue dropped grows it, one that main dropped shrinks it. Main's drops then
    /// go to the ghost queue too.
    pub adaptive: bool,
}

/// S3-FIFO (Yang et al., SOSP 2023): a small FIFO for new entries, a main FIFO, a ghost queue of
/// keys recently dropped from the small one. A hit bumps a saturating counter only.
pub struct S3Fifo {
    capacity: usize,
    small_target: usize,
    params: S3Params,
    small: VecDeque<u64>,
    main: VecDeque<u64>,
    entries: Map<(Queue, u8)>,
    ghost: Ghost,
}

impl S3Fifo {
    /// Small queue 10%, ghost as large as the main queue, 2-bit counter, promoted on one hit
    /// (`freq > 0`, as libcachesim's `move_to_main_threshold` counts from 1 on insertion).
    pub const PAPER: S3Params = S3Params {
        small_ratio: 0.1,
        ghost_ratio: 0.9,
        promote_at: 1,
        max_freq: 3,
        adaptive: false,
    };

    /// An empty S3-FIFO of `capacity` entries.
    pub fn new(capacity: usize, params: S3Params) -> Self {
        let small_target = ((capacity as f64 * params.small_ratio) as usize).max(1);
        S3Fifo {
            capacity,
            small_target,
            params,
            small: VecDeque::new(),
            main: VecDeque::new(),
            entries: map(capacity),
            ghost: Ghost::new(((capacity as f64 * params.ghost_ratio) as usize).max(1)),
        }
    }

    fn evict(&mut self) {
        while self.entries.len() >= self.capacity {
            if self.small.len() >= self.small_target || self.main.is_empty() {
                let key = self.small.pop_front().expect("small holds entries");
                let freq = &mut self.entries.get_mut(&key).expect("resident").1;
                if *freq >= self.params.promote_at {
                    *freq = 0;
                    self.entries.get_mut(&key).expect("resident").0 = Queue::Main;
                    self.main.push_back(key);
                } else {
                    self.entries.remove(&key);
                    self.ghost.insert(key);
                }
            } else {
                let key = self.main.pop_front().expect("main holds entries");
                let freq = &mut self.entries.get_mut(&key).expect("resident").1;
                if *freq > 0 {
                    *freq -= 1;
                    self.main.push_back(key);
                } else {
                    self.entries.remove(&key);
                    if self.params.adaptive {
                        self.ghost.insert_from(key, true);
                    }
                }
            }
        }
    }
}

impl Policy for S3Fifo {
    fn access(&mut self, key: u64) -> bool {
        if let Some(entry) = self.entries.get_mut(&key) {
            entry.1 = (entry.1 + 1).min(self.params.max_freq);
            return true;
        }
        self.evict();
        let returning = self.ghost.remove(key);
        if self.params.adaptive {
            let (low, high) = (
                ((self.capacity as f64 * 0.01) as usize).max(1),
                (self.capacity / 2).max(1),
            );
            match returning {
                Some(false) => self.small_target = (self.small_target + 1).min(high),
                Some(true) => self.small_target = self.small_target.saturating_sub(1).max(low),
                None => {}
            }
        }
        if returning.is_some() {
            self.main.push_back(key);
            self.entries.insert(key, (Queue::Main, 0));
        } else {
            self.small.push_back(key);
            self.entries.insert(key, (Queue::Small, 0));
        }
        false
    }
}

/// A FIFO of keys without values, bounded in live keys; a removed key's queue slot goes stale
/// and is skipped when it reaches the front.
struct Ghost {
    capacity: usize,
    queue: VecDeque<(u64, u64)>,
    /// Each live key's sequence number, and whether main (rather than the small queue) dropped
    /// it.
    live: Map<(u64, bool)>,
    seq: u64,
}

impl Ghost {
    fn new(capacity: usize) -> Self {
        Ghost {
            capacity,
            queue: VecDeque::new(),
            live: map(capacity),
            seq: 0,
        }
    }

    fn insert(&mut self, key: u64) {
        self.insert_from(key, false);
    }

    /// Remembers `key`, and whether main (rather than the small queue) dropped it.
    fn insert_from(&mut self, key: u64, from_main: bool) {
        self.seq += 1;
        self.live.insert(key, (self.seq, from_main));
        self.queue.push_back((key, self.seq));
        while self.live.len() > self.capacity {
            let (old, seq) = self.queue.pop_front().expect("live keys are queued");
            if self.live.get(&old).is_some_and(|&(live, _)| live == seq) {
                self.live.remove(&old);
            }
        }
        // Stale slots are bounded too: drop them from the front as they come.
        while let Some(&(old, seq)) = self.queue.front() {
            if self.live.get(&old).is_some_and(|&(live, _)| live == seq) {
                break;
            }
            self.queue.pop_front();
        }
    }

    /// Forgets `key`; `Some(from_main)` if it was remembered.
    fn remove(&mut self, key: u64) -> Option<bool> {
        self.live.remove(&key).map(|(_, from_main)| from_main)
    }

    /// How many keys were remembered after `key`, if it is remembered.
    fn age(&self, key: u64) -> Option<u64> {
        self.live.get(&key).map(|&(seq, _)| self.seq - seq)
    }
}

const NIL: u32 = u32::MAX;

/// A doubly linked list over a slab: head is the newest node, tail the oldest.
struct List {
    nodes: Vec<Node>,
    free: Vec<u32>,
    head: u32,
    tail: u32,
}

struct Node {
    key: u64,
    prev: u32,
    next: u32,
    mark: u8,
}

impl Default for List {
    fn default() -> Self {
        List {
            nodes: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
        }
    }
}

impl List {
    fn alloc(&mut self, key: u64) -> u32 {
        let node = Node {
            key,
            prev: NIL,
            next: NIL,
            mark: 0,
        };
        match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                (self.nodes.len() - 1) as u32
            }
        }
    }

    /// Links `i` as the newest node (`prev` points towards the head).
    fn push_head(&mut self, i: u32) {
        let old = self.head;
        {
            let node = &mut self.nodes[i as usize];
            node.prev = NIL;
            node.next = old;
        }
        if old != NIL {
            self.nodes[old as usize].prev = i;
        } else {
            self.tail = i;
        }
        self.head = i;
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = {
            let node = &self.nodes[i as usize];
            (node.prev, node.next)
        };
        if prev != NIL {
            self.nodes[prev as usize].next = next;
        } else {
            self.head = next;
        }
        if next != NIL {
            self.nodes[next as usize].prev = prev;
        } else {
            self.tail = prev;
        }
    }
}

/// A count-min sketch of four rows of counters (bytes saturating at `max`, 15 by default: the
/// store's are 4 bits), halved every `period * capacity` additions so that old popularity
/// fades (TinyLFU's reset).
struct Sketch {
    counters: Vec<u8>,
    mask: usize,
    added: usize,
    period: usize,
    /// A counter's ceiling (15 for 4 bits).
    max: u8,
    /// Conservative update: an addition raises only the counters at the key's minimum.
    conservative: bool,
    /// If non-zero, the store's layout: a key's four counters lie in one block of this many
    /// counters a row (one cache line in all).
    blocked: usize,
}

impl Sketch {
    fn new(capacity: usize) -> Self {
        Self::with(capacity, 10, 15, 2)
    }

    /// A sketch halved every `period * capacity` additions, counters saturating at `max`,
    /// `per_entry` counters a row for each entry of `capacity` (rounded up to a power of two).
    fn with(capacity: usize, period: usize, max: u8, per_entry: usize) -> Self {
        let width = (capacity.max(16) * per_entry).next_power_of_two();
        Sketch {
            counters: vec![0; width * 4],
            mask: width - 1,
            added: 0,
            period: period * capacity.max(1),
            max,
            conservative: false,
            blocked: 0,
        }
    }

    fn slots(&self, key: u64) -> [usize; 4] {
        let h = mix(key ^ 0x5851_f42d_4c95_7f2d);
        let width = self.mask + 1;
        if self.blocked > 0 {
            let k = self.blocked;
            let block = (h >> 32) as usize & (width / k - 1);
            return std::array::from_fn(|row| {
                row * width + block * k + ((h >> (row * 5)) as usize & (k - 1))
            });
        }
        std::array::from_fn(|row| row * width + ((h >> (row * 16)) as usize & self.mask))
    }

    /// Counts `times` accesses of `key`, `counted` of them towards the period; `true` if that
    /// halved every counter.
    fn add_counted(&mut self, key: u64, times: u8, counted: u8) -> bool {
        if times == 0 {
            return false;
        }
        if self.conservative {
            let slots = self.slots(key);
            let low = slots.iter().map(|&s| self.counters[s]).min().unwrap_or(0);
            let to = low.saturating_add(times).min(self.max);
            for slot in slots {
                self.counters[slot] = self.counters[slot].max(to);
            }
        } else {
            for slot in self.slots(key) {
                self.counters[slot] = self.counters[slot].saturating_add(times).min(self.max);
            }
        }
        self.added += usize::from(counted);
        if self.added >= self.period {
            self.added /= 2;
            for counter in &mut self.counters {
                *counter /= 2;
            }
            return true;
        }
        false
    }

    fn estimate(&self, key: u64) -> u8 {
        self.slots(key)
            .into_iter()
            .map(|slot| self.counters[slot])
            .min()
            .unwrap_or(0)
    }
}

/// The fewest misses an [`Aging::Detect`] window counts (fewer are noise).
const MIN_WINDOW: f64 = 512.0;

/// S3-FIFO's queues with a TinyLFU frequency sketch, fitted to a hit path that only bumps a
/// per-entry counter. Two uses of the sketch, each switchable:
///
/// - `admit` (W-TinyLFU's admission): an entry dropped from the small FIFO without a hit still
///   enters main if its estimated frequency beats that of the entry main would give up.
/// - `gate`: a key back from the ghost queue enters main only if its estimate is within
///   `gate - 1` of main's victim's; otherwise it starts again in the small FIFO.
///
/// The rest: a miss adds the key to a per-shard count-min sketch (under the writer's lock) and
/// inserts it into the small FIFO (or main, see `gate`) with counters at 0. A hit bumps the
/// entry's counters (saturating) and nothing else. An entry leaving the small FIFO after a hit
/// moves to main; main is a FIFO with reinsertion (CLOCK with a counter): an entry with a
/// non-zero counter goes round again with the counter decremented. An entry leaving the cache
/// folds its hits into the sketch, so the sketch sees every access. The estimate of a key is
/// the sketch's count plus, if resident, its hits since insertion (up to `hit_cap`).
///
/// [`S3Lfu::chosen`] is the configuration chosen for the store.
pub struct S3Lfu {
    capacity: usize,
    small_target: usize,
    max_freq: u8,
    small: VecDeque<u64>,
    main: VecDeque<u64>,
    /// Queue, reinsertion counter, hits since insertion, and those hits folded into the sketch
    /// already ([`S3Lfu::fold`]).
    entries: Map<(Queue, u8, u8, u8)>,
    sketch: Sketch,
    /// S3-FIFO's ghost queue, if any: a key the small FIFO dropped comes back straight to main.
    ghost: Option<Ghost>,
    /// Whether an entry not hit in the small FIFO may still enter main by out-scoring main's
    /// victim (TinyLFU's admission); without it, it goes (to the ghost queue).
    pub admit: bool,
    /// If non-zero, a key back from the ghost queue enters main only if its estimate is at
    /// least `gate` times that of main's victim (else it starts in the small FIFO).
    pub gate: u8,
    /// How the residents' hit counts age when the sketch halves (sweeps of issue 15).
    pub aging: Aging,
    resets: u32,
    /// If set, the gate is multiplicative: a returning key enters main if its estimate is at
    /// least this times main's victim's (replaces `gate`).
    pub factor: Option<f64>,
    /// If set, only misses count towards the sketch's period (folded hits still add).
    pub misses_only: bool,
    /// The most a resident's hits add to its estimate.
    pub hit_cap: u8,
    /// The most an estimate can be.
    pub est_cap: u32,
    /// With [`Aging::Keep`], the share of the residents' hits a reset keeps.
    pub keep: f64,
    /// Dueling by key ([`KeyDueling`]): the aging of the leader keys.
    pub duel: Option<KeyDuel>,
    /// A key back from the ghost queue within this share of the capacity's drops skips the
    /// gate (0: none does).
    pub quick: f64,
    /// ARC's adaptation of the small FIFO's share, between these shares of the capacity (none by
    /// default): main's drops go to the ghost queue too; a key back that the small FIFO dropped
    /// grows the share by `adapt_step` entries, one that main dropped shrinks it.
    pub adapt: Option<(f64, f64)>,
    /// The step of [`S3Lfu::adapt`], in entries; 0 or below: ARC's, the ratio of the other
    /// queue's recent drops to the returning key's queue's (at least 1), times `-adapt_step`
    /// (1 at 0).
    pub adapt_step: f64,
    /// If set, an entry hit in the small FIFO while [`S3Lfu::adapt`] holds the share below its
    /// start moves to main only if its estimate (its hits included) is at least this times
    /// main's victim's; else it is dropped to the ghost queue.
    pub promote_gate: Option<f64>,
    /// The hand folds each hit it consumes (sparing an entry, or promoting it from the small
    /// FIFO) into the sketch at once, rather than all of an entry's hits when it leaves.
    pub fold: bool,
    /// `quick` applies only while [`S3Lfu::adapt`] holds the small FIFO's share at or above
    /// its start.
    pub quick_below: bool,
    /// A miss's own access is counted in the sketch after the gate weighs the key.
    pub weigh_before: bool,
    /// `weigh_before` only while [`S3Lfu::adapt`] holds the share below its start.
    pub weigh_before_below: bool,
    /// If set, main's hand spares an entry at most this many times while [`S3Lfu::adapt`] holds
    /// the share at or above its start (recency), instead of `max_freq`.
    pub recent_freq: Option<u8>,
    /// `recent_freq` applies only while the share is at least this times its start (1: at or
    /// above the start).
    pub recent_above: f64,
    /// `admit` only while the share is below its start (frequency).
    pub admit_below: bool,
    /// If non-zero: wherever `weigh_before` applies (with `weigh_before_below`, the frequency
    /// regime only), a key the ghost queue does not hold but the sketch rates at least this,
    /// before this access, is weighed against main's victim as a key back from the ghost is
    /// (the sketch remembers longer).
    pub sketch_ghost: u8,
    /// While the cache is not yet full, a new key goes to main if main is below its share
    /// (quick_cache's admission to its hot part while that is below its target).
    pub fill_main: bool,
    /// The small FIFO's target share as [`S3Lfu::adapt`] moves it, and where it started, in
    /// entries.
    small_exact: f64,
    small_start: f64,
    /// Drops from the small FIFO and from main, halved together when they reach the ghost's
    /// window: the ghost queue's make-up, counted as the store counts it.
    drops: (usize, usize),
    /// [`Aging::Detect`]: signal misses this period, and the running baseline of their rate.
    signals: u32,
    window_misses: u32,
    baseline: f64,
}

/// What happens to the residents' hit counts when the sketch halves its counters.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Aging {
    /// Halved (TinyLFU's reset applied to the part the sketch has not seen).
    Halve,
    /// Left alone.
    Never,
    /// Halved at every other reset.
    OtherHalve,
    /// One subtracted.
    SubOne,
    /// Three quarters kept.
    Quarter,
    /// Halved, and the reinsertion counters too.
    Both,
    /// Only the reinsertion counters halved.
    FreqOnly,
    /// The share [`S3Lfu::keep`] kept (0.5 is `Halve`): the knob an adaptive window may move.
    Keep,
    /// Halved only when a window of `window` capacities of misses (at least [`MIN_WINDOW`]) saw
    /// a rate of `signal` misses above `threshold` times its running mean: meant to age on a
    /// shift in popularity and not on a stationary workload (tried in issue 15's last round; not
    /// taken).
    Detect {
        signal: Signal,
        threshold: f64,
        /// Misses per evaluation, in capacities.
        window: f64,
    },
}

/// Which misses a [`Aging::Detect`] counts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Signal {
    /// Keys back from the ghost queue.
    Ghost,
    /// Keys the sketch had seen (estimate at least 1).
    Recurring,
}

impl S3Lfu {
    /// The policy in the store (issue 15, the round of the 4-bit sketch): [`S3Lfu::previous`]
    /// with a sketch of four counters a row per entry (Caffeine's sizing, 4-bit counters in the
    /// store's layout: a key's counters in one cache line), and, in the frequency regime (the
    /// small FIFO's share below its start), a missed key weighed against main's victim by its
    /// accesses before this one.
    /// `cx16(0.03:2:5:1:20:n:15:1.01:x:4:0:4294967295:0.5:0.01~0.5~-0.1:1.01:f:s:B:-:k)`.
    pub fn chosen(capacity: usize) -> Self {
        let mut policy = Self::previous(capacity);
        policy.sketch(20, 15, 4);
        policy.set_blocked(32);
        policy.weigh_before = true;
        policy.weigh_before_below = true;
        policy
    }

    /// The store's policy before this round (issue 15, the round of ARC's adaptation):
    /// [`S3Lfu::earlier`] with a ghost queue of twice the capacity that main's drops enter too;
    /// the small FIFO's share adapted as ARC does, between 1% and 50% from 3%, by a tenth of an
    /// entry times ARC's ratio; while the share is at or above its start (recency), a key back
    /// within half a capacity of drops, or hit in the small FIFO, goes to main; otherwise
    /// (frequency) only if the sketch rates it above main's victim (ties keep the incumbent);
    /// the hand folds the hits it consumes into the sketch, and an estimate is the sketch's count
    /// alone; the sketch halved every 20 capacities of additions.
    /// `cx16(0.03:2:5:1:20:n:15:1.01:x:2:0:4294967295:0.5:0.01~0.5~-0.1:1.01:f:s)`.
    pub fn previous(capacity: usize) -> Self {
        let mut policy = Self::earlier(capacity);
        policy.hit_cap = 0;
        policy.fold = true;
        policy.quick_below = true;
        policy.ghost = Some(Ghost::new(capacity * 2));
        policy.sketch(20, 15, 2);
        policy.factor = Some(1.01);
        policy.quick = 0.5;
        policy.adapt = Some((0.01, 0.5));
        policy.adapt_step = -0.1;
        policy.promote_gate = Some(1.01);
        policy
    }

    /// The store's policy two rounds before (issue 15): small FIFO 3%, ghost queue of 1.25
    /// times the capacity, gated by the sketch (`gate` 1: a returning key's estimate must reach
    /// main's victim's, whose own hits count for at most 2), a counter up to 5, the residents'
    /// hits never aged (only the sketch halves), no admission of entries not hit in the small
    /// FIFO. `cx16(0.03:1.25:5:1:10:n:15:-:x:2:2)`.
    pub fn earlier(capacity: usize) -> Self {
        let mut policy = Self::with_ghost(capacity, 0.03, 5, 1.25, false);
        policy.gate = 1;
        policy.aging = Aging::Never;
        policy.hit_cap = 2;
        policy
    }

    /// An empty cache of `capacity` entries, `small_ratio` of them for the small FIFO, with
    /// W-TinyLFU's admission and no ghost queue.
    pub fn new(capacity: usize, small_ratio: f64, max_freq: u8) -> Self {
        Self::with_ghost(capacity, small_ratio, max_freq, 0.0, true)
    }

    /// The same, with a ghost queue of `ghost_ratio` times the capacity (none at 0), and
    /// TinyLFU's admission of entries not hit in the small FIFO if `admit`.
    pub fn with_ghost(
        capacity: usize,
        small_ratio: f64,
        max_freq: u8,
        ghost_ratio: f64,
        admit: bool,
    ) -> Self {
        S3Lfu {
            ghost: (ghost_ratio > 0.0)
                .then(|| Ghost::new(((capacity as f64 * ghost_ratio) as usize).max(1))),
            admit,
            gate: 0,
            capacity,
            small_target: ((capacity as f64 * small_ratio) as usize).max(1),
            max_freq,
            small: VecDeque::new(),
            main: VecDeque::new(),
            entries: map(capacity),
            sketch: Sketch::new(capacity),
            aging: Aging::Halve,
            resets: 0,
            factor: None,
            misses_only: false,
            hit_cap: u8::MAX,
            est_cap: u32::MAX,
            keep: 0.5,
            duel: None,
            quick: 0.0,
            adapt: None,
            adapt_step: 1.0,
            promote_gate: None,
            fold: false,
            quick_below: false,
            weigh_before: false,
            weigh_before_below: false,
            recent_freq: None,
            fill_main: false,
            recent_above: 1.0,
            admit_below: false,
            sketch_ghost: 0,
            drops: (0, 0),
            small_start: ((capacity as f64 * small_ratio) as usize).max(1) as f64,
            small_exact: ((capacity as f64 * small_ratio) as usize).max(1) as f64,
            signals: 0,
            window_misses: 0,
            baseline: -1.0,
        }
    }

    /// Replaces the sketch by one halved every `period * capacity` additions, saturating at
    /// `max`, of `per_entry` counters a row per entry.
    pub fn sketch(&mut self, period: usize, max: u8, per_entry: usize) {
        self.sketch = Sketch::with(self.capacity, period, max, per_entry);
    }

    /// Whether the sketch updates conservatively (only the counters at the key's minimum).
    pub fn set_conservative(&mut self, conservative: bool) {
        self.sketch.conservative = conservative;
    }

    /// Lays the sketch out as the store does: a key's counters in one block of `per_row`
    /// counters a row (0: four independent rows).
    pub fn set_blocked(&mut self, per_row: usize) {
        // Each row's slot takes 5 bits of the hash.
        assert!(
            per_row.is_power_of_two() && per_row <= 32,
            "a block row of {per_row} counters"
        );
        self.sketch.blocked = per_row.min(self.sketch.mask + 1);
    }

    /// Sets the knob an adaptive window moves to `value` (see [`Knob`]).
    pub fn set_knob(&mut self, knob: Knob, value: f64) {
        match knob {
            Knob::Small => {
                self.small_target = ((self.capacity as f64 * value).round() as usize).max(1);
            }
            Knob::Keep => self.keep = value,
        }
    }

    /// The knob's value now.
    pub fn knob(&self, knob: Knob) -> f64 {
        match knob {
            Knob::Small => self.small_target as f64 / self.capacity as f64,
            Knob::Keep => self.keep,
        }
    }

    fn estimate(&self, key: u64) -> u32 {
        let hits = self.entries.get(&key).map_or(0, |e| e.2.min(self.hit_cap));
        (u32::from(self.sketch.estimate(key)) + u32::from(hits)).min(self.est_cap)
    }

    /// Counts accesses in the sketch. When the sketch halves its counters, the residents' hits
    /// are halved too (by default, see [`Aging`]): they are the part of the count the sketch has
    /// not seen yet, and without the halving a once-popular entry keeps its score forever, unless
    /// `hit_cap` bounds what they add to it ([`S3Lfu::earlier`]: never halved, capped at 2).
    /// `miss`: the access of a miss (else the hits of an entry leaving).
    fn record(&mut self, key: u64, times: u8, miss: bool) {
        let counted = if self.misses_only && !miss { 0 } else { times };
        if self.sketch.add_counted(key, times, counted) {
            self.resets += 1;
            if let Aging::Detect { .. } = self.aging {
                return;
            }
            let (follow, duel) = (self.aging, self.duel);
            if duel.is_none()
                && (follow == Aging::Never || follow == Aging::OtherHalve && self.resets % 2 == 1)
            {
                return;
            }
            let (keep, odd) = (self.keep, self.resets % 2 == 1);
            for (&key, entry) in self.entries.iter_mut() {
                let aging = duel.map_or(follow, |duel| duel.aging(key, follow));
                if aging == Aging::OtherHalve && odd {
                    continue;
                }
                match aging {
                    Aging::Halve | Aging::OtherHalve => entry.2 /= 2,
                    Aging::SubOne => entry.2 = entry.2.saturating_sub(1),
                    Aging::Quarter => entry.2 -= entry.2 / 4,
                    Aging::Both => (entry.1, entry.2) = (entry.1 / 2, entry.2 / 2),
                    Aging::FreqOnly => entry.1 /= 2,
                    Aging::Keep => entry.2 = (f64::from(entry.2) * keep) as u8,
                    Aging::Never | Aging::Detect { .. } => {}
                }
            }
        }
    }

    /// Drops `key`, folding the hits it had into the sketch.
    fn drop_entry(&mut self, key: u64) {
        if let Some((_, _, hits, folded)) = self.entries.remove(&key) {
            self.record(key, hits.saturating_sub(folded), false);
        }
    }

    /// Drops main's victim `key`; with [`S3Lfu::adapt`], into the ghost queue.
    fn drop_main(&mut self, key: u64) {
        self.drop_entry(key);
        self.count_drop(true);
        if self.adapt.is_some()
            && let Some(ghost) = &mut self.ghost
        {
            ghost.insert_from(key, true);
        }
    }

    /// Counts a drop into the ghost queue, for [`S3Lfu::adapt`].
    fn count_drop(&mut self, from_main: bool) {
        if self.adapt.is_none() {
            return;
        }
        if from_main {
            self.drops.1 += 1;
        } else {
            self.drops.0 += 1;
        }
        let window = self.ghost.as_ref().map_or(usize::MAX, |g| g.capacity);
        if self.drops.0 + self.drops.1 >= window {
            self.drops = (self.drops.0 / 2, self.drops.1 / 2);
        }
    }

    /// [`S3Lfu::adapt`]: moves the small FIFO's target for a key back from the ghost queue.
    fn adapt_to(&mut self, from_main: bool) {
        let Some((low, high)) = self.adapt else {
            return;
        };
        let step = if self.adapt_step > 0.0 {
            self.adapt_step
        } else {
            let (small_g, main_g) = (self.drops.0.max(1) as f64, self.drops.1.max(1) as f64);
            let scale = if self.adapt_step < 0.0 {
                -self.adapt_step
            } else {
                1.0
            };
            scale
                * if from_main {
                    (small_g / main_g).max(1.0)
                } else {
                    (main_g / small_g).max(1.0)
                }
        };
        let c = self.capacity as f64;
        self.small_exact = if from_main {
            (self.small_exact - step).max(c * low)
        } else {
            (self.small_exact + step).min(c * high)
        };
        self.small_target = (self.small_exact as usize).max(1);
    }

    /// Whether [`S3Lfu::adapt`] holds the small FIFO's share below its start (the frequency
    /// regime, for `promote_gate` and `quick_below`).
    fn below_start(&self) -> bool {
        self.small_exact < self.small_start
    }

    /// [`S3Lfu::fold`]: counts one of `key`'s hits not yet folded into the sketch, as the hand
    /// consumes it.
    fn fold_hit(&mut self, key: u64) {
        let Some(entry) = self.entries.get_mut(&key) else {
            return;
        };
        if self.fold && entry.2 > entry.3 {
            entry.3 += 1;
            self.record(key, 1, false);
        }
    }

    /// Runs main's hand to the entry it would give up (leaving it at the front).
    fn main_victim(&mut self) -> Option<u64> {
        loop {
            let key = *self.main.front()?;
            let cap = match self.recent_freq {
                Some(cap) if self.small_exact >= self.recent_above * self.small_start => cap,
                _ => u8::MAX,
            };
            let entry = self.entries.get_mut(&key).expect("resident");
            entry.1 = entry.1.min(cap);
            if entry.1 == 0 {
                return Some(key);
            }
            entry.1 -= 1;
            self.fold_hit(key);
            self.main.rotate_left(1);
        }
    }

    fn evict(&mut self) {
        while self.entries.len() >= self.capacity {
            if self.small.len() >= self.small_target || self.main.is_empty() {
                let key = self.small.pop_front().expect("small holds entries");
                let entry = self.entries.get_mut(&key).expect("resident");
                if entry.1 > 0 {
                    let pass = self.main.is_empty()
                        || !self.below_start()
                        || self.promote_gate.is_none_or(|factor| {
                            let est = self.estimate(key);
                            let victim = self.main_victim();
                            let v = victim.map_or(0, |v| self.estimate(v));
                            f64::from(est) >= factor * f64::from(v)
                        });
                    if pass {
                        let entry = self.entries.get_mut(&key).expect("resident");
                        entry.0 = Queue::Main;
                        entry.1 -= 1;
                        self.fold_hit(key);
                        self.main.push_back(key);
                        continue;
                    }
                }
                match self.main_victim() {
                    Some(victim)
                        if self.admit
                            && (!self.admit_below || self.below_start())
                            && self.estimate(key) > self.estimate(victim) =>
                    {
                        self.main.pop_front();
                        self.drop_main(victim);
                        self.entries.get_mut(&key).expect("resident").0 = Queue::Main;
                        self.main.push_back(key);
                    }
                    _ => {
                        self.drop_entry(key);
                        self.count_drop(false);
                        if let Some(ghost) = &mut self.ghost {
                            ghost.insert(key);
                        }
                    }
                }
            } else {
                let victim = self.main_victim().expect("main holds entries");
                self.main.pop_front();
                self.drop_main(victim);
            }
        }
    }
}

impl Policy for S3Lfu {
    fn access(&mut self, key: u64) -> bool {
        if let Some(entry) = self.entries.get_mut(&key) {
            entry.1 = (entry.1 + 1).min(self.max_freq);
            entry.2 = entry.2.saturating_add(1);
            return true;
        }
        if let Aging::Detect {
            signal: Signal::Recurring,
            ..
        } = self.aging
        {
            self.signals += u32::from(self.sketch.estimate(key) >= 1);
        }
        let before = self.weigh_before && (!self.weigh_before_below || self.below_start());
        if !before {
            self.record(key, 1, true);
        }
        let filling = self.fill_main
            && self.entries.len() < self.capacity
            && self.main.len() + self.small_target < self.capacity;
        self.evict();
        // Only `quick` needs the age: the other settings skip its probe.
        let quick = self.quick > 0.0
            && !(self.quick_below && self.below_start())
            && self
                .ghost
                .as_ref()
                .and_then(|ghost| ghost.age(key))
                .is_some_and(|age| (age as f64) < self.quick * self.capacity as f64);
        let back = self.ghost.as_mut().and_then(|ghost| ghost.remove(key));
        if let Some(from_main) = back {
            self.adapt_to(from_main);
        }
        let remembered = back.is_none()
            && before
            && self.sketch_ghost > 0
            && self.sketch.estimate(key) >= self.sketch_ghost;
        let returning = back.is_some() || remembered;
        if let Aging::Detect { .. } = self.aging {
            self.detect_shift(returning);
        }
        let to_main = returning
            && if quick {
                true
            } else if let Some(factor) = self.factor {
                self.main.is_empty() || {
                    let victim = self.main_victim();
                    f64::from(self.sketch.estimate(key))
                        >= factor * f64::from(victim.map_or(0, |v| self.estimate(v)))
                }
            } else {
                self.gate == 0
                    || self.main.is_empty()
                    || u32::from(self.sketch.estimate(key)) + u32::from(self.gate) > {
                        let victim = self.main_victim();
                        victim.map_or(0, |v| self.estimate(v))
                    }
            };
        if before {
            self.record(key, 1, true);
        }
        if to_main || filling {
            self.main.push_back(key);
            self.entries.insert(key, (Queue::Main, 0, 0, 0));
        } else {
            self.small.push_back(key);
            self.entries.insert(key, (Queue::Small, 0, 0, 0));
        }
        false
    }
}

impl S3Lfu {
    /// [`Aging::Detect`]: counts a miss (`returning`: of a key back from the ghost queue) and,
    /// at the end of a window, halves the residents' hits if its rate of signal misses rose
    /// above `threshold` times the running mean.
    fn detect_shift(&mut self, returning: bool) {
        let Aging::Detect {
            signal,
            threshold,
            window,
        } = self.aging
        else {
            return;
        };
        if signal == Signal::Ghost {
            self.signals += u32::from(returning);
        }
        self.window_misses += 1;
        if f64::from(self.window_misses) < (window * self.capacity as f64).max(MIN_WINDOW) {
            return;
        }
        let rate = f64::from(self.signals) / f64::from(self.window_misses);
        (self.signals, self.window_misses) = (0, 0);
        let fire = self.baseline >= 0.0 && rate > self.baseline * threshold;
        self.baseline = if self.baseline < 0.0 {
            rate
        } else {
            0.75 * self.baseline + 0.25 * rate
        };
        if fire {
            for entry in self.entries.values_mut() {
                entry.2 /= 2;
            }
        }
    }
}

/// What an adaptive window moves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Knob {
    /// The small FIFO's share of the capacity (between 0.5% and 50%).
    Small,
    /// The share of the residents' hits a sketch reset keeps (between 0 and 1; [`Aging::Keep`]).
    Keep,
}

impl Knob {
    /// The values the knob may take.
    pub fn range(self) -> (f64, f64) {
        match self {
            Knob::Small => (0.005, 0.5),
            Knob::Keep => (0.0, 1.0),
        }
    }
}

/// Caffeine's hill climber (`BoundedLocalCache.determineAdjustment`): samples the hit ratio
/// over `period` requests; at the end of each sample, moves the knob by the step in the
/// direction that improved the hit ratio: the same direction if the hit ratio rose (or held),
/// the other if it fell. The step decays by `decay` each sample and is reset to its initial
/// size when the hit ratio changed by `restart` or more (a new workload).
#[derive(Clone, Debug)]
pub struct Climber {
    period: u64,
    hits: u64,
    requests: u64,
    previous: f64,
    /// Signed: the direction of the next move.
    step: f64,
    initial: f64,
    decay: f64,
    restart: f64,
}

impl Climber {
    /// A climber sampling `period` requests, first moving by `step` (its sign the first
    /// direction).
    pub fn new(period: u64, step: f64, decay: f64, restart: f64) -> Self {
        Climber {
            period: period.max(1),
            hits: 0,
            requests: 0,
            previous: 0.0,
            step,
            initial: step.abs(),
            decay,
            restart,
        }
    }

    /// Counts one request; at the end of a sample, the amount to move the knob by.
    pub fn record(&mut self, hit: bool) -> Option<f64> {
        self.requests += 1;
        self.hits += u64::from(hit);
        if self.requests < self.period {
            return None;
        }
        let ratio = self.hits as f64 / self.requests as f64;
        (self.hits, self.requests) = (0, 0);
        let change = ratio - self.previous;
        self.previous = ratio;
        let amount = if change >= 0.0 { self.step } else { -self.step };
        self.step = if change.abs() >= self.restart {
            self.initial.copysign(amount)
        } else {
            self.decay * amount
        };
        Some(amount)
    }
}

/// The store's sharding of [`S3Lfu`] with an adaptive window: one [`Climber`] for the whole
/// cache, fed by every shard's requests, setting the same knob on every shard (`global`), or one
/// per shard fed by its own requests.
pub struct Climbed {
    sharded: Sharded<S3Lfu>,
    climbers: Vec<Climber>,
    values: Vec<f64>,
    knob: Knob,
}

impl Climbed {
    /// `make` builds each shard; a climber samples `period` capacities (of its scope) of
    /// requests, and moves the knob by `step` first.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        capacity: usize,
        threads: usize,
        make: impl Fn(usize) -> S3Lfu,
        knob: Knob,
        global: bool,
        period: f64,
        step: f64,
        decay: f64,
        restart: f64,
    ) -> Self {
        let sharded = Sharded::new(capacity, threads, make);
        let scopes: Vec<usize> = if global {
            vec![capacity]
        } else {
            sharded.shards.iter().map(|s| s.capacity).collect()
        };
        let climbers = scopes
            .iter()
            .map(|&c| Climber::new((period * c as f64) as u64, step, decay, restart))
            .collect();
        let values = vec![sharded.shards[0].knob(knob); scopes.len()];
        Climbed {
            sharded,
            climbers,
            values,
            knob,
        }
    }
}

impl Policy for Climbed {
    fn access(&mut self, key: u64) -> bool {
        let i = self.sharded.index(key);
        let hit = self.sharded.shards[i].access(key);
        let c = if self.climbers.len() == 1 { 0 } else { i };
        if let Some(amount) = self.climbers[c].record(hit) {
            let (low, high) = self.knob.range();
            let value = (self.values[c] + amount).clamp(low, high);
            self.values[c] = value;
            if self.climbers.len() == 1 {
                for shard in &mut self.sharded.shards {
                    shard.set_knob(self.knob, value);
                }
            } else {
                self.sharded.shards[i].set_knob(self.knob, value);
            }
        }
        hit
    }
}

/// One setting of [`S3Lfu`]'s two knobs that trade Zipf-like workloads (remember longer) for
/// shifting ones (forget sooner).
#[derive(Clone, Copy, Debug)]
pub struct Setting {
    /// The small FIFO's share of the capacity.
    pub small: f64,
    /// What a sketch reset does to the residents' hits.
    pub aging: Aging,
}

impl S3Lfu {
    /// Switches to `setting` (the queues keep their entries; the small FIFO drains or fills as
    /// misses come).
    pub fn apply(&mut self, setting: Setting) {
        self.set_knob(Knob::Small, setting.small);
        self.aging = setting.aging;
    }
}

/// Set dueling (Qureshi et al., "Adaptive Insertion Policies for High Performance Caching",
/// ISCA 2007) across the store's shards: `leaders` shards always run setting `a`, as many
/// always run `b`, and the others follow whichever of the two missed less lately. One
/// saturating counter, moved by the leaders' misses only (+1 for `a`'s, -1 for `b`'s), between
/// `-limit` and `limit`: the followers run `a` while it is negative.
pub struct Dueling {
    sharded: Sharded<S3Lfu>,
    leaders: usize,
    vote: Vote,
}

/// The duel's saturating counter and what the followers run: shared by [`Dueling`] and
/// [`KeyDueling`].
struct Vote {
    a: Setting,
    b: Setting,
    counter: i64,
    limit: i64,
    /// Whether the followers run `a` now.
    following_a: bool,
}

impl Vote {
    fn new((a, b): (Setting, Setting), limit: i64) -> Self {
        Vote {
            a,
            b,
            counter: 0,
            limit: limit.max(1),
            following_a: false,
        }
    }

    /// Counts a leader's miss (`by_a`: a leader of `a` missed); the setting the followers must
    /// switch to, if this miss changed the side they follow.
    fn miss(&mut self, by_a: bool) -> Option<Setting> {
        self.counter = if by_a {
            (self.counter + 1).min(self.limit)
        } else {
            (self.counter - 1).max(-self.limit)
        };
        let a = self.counter < 0;
        if a == self.following_a {
            return None;
        }
        self.following_a = a;
        Some(if a { self.a } else { self.b })
    }
}

impl Dueling {
    /// `make` builds each shard, then each is switched to its setting (followers to `b`).
    pub fn new(
        capacity: usize,
        threads: usize,
        make: impl Fn(usize) -> S3Lfu,
        leaders: usize,
        (a, b): (Setting, Setting),
        limit: i64,
    ) -> Self {
        let mut sharded = Sharded::new(capacity, threads, make);
        let leaders = leaders.min(sharded.shards.len() / 2);
        for (i, shard) in sharded.shards.iter_mut().enumerate() {
            shard.apply(if i < leaders { a } else { b });
        }
        Dueling {
            sharded,
            leaders,
            vote: Vote::new((a, b), limit),
        }
    }
}

impl Policy for Dueling {
    fn access(&mut self, key: u64) -> bool {
        let i = self.sharded.index(key);
        let hit = self.sharded.shards[i].access(key);
        if hit || i >= 2 * self.leaders {
            return hit;
        }
        if let Some(setting) = self.vote.miss(i < self.leaders) {
            for shard in &mut self.sharded.shards[2 * self.leaders..] {
                shard.apply(setting);
            }
        }
        hit
    }
}

/// Which keys lead for which aging, when dueling by key: one in `every` for each side.
#[derive(Clone, Copy, Debug)]
pub struct KeyDuel {
    /// One key in this many leads for each side.
    pub every: u64,
    /// The aging of the first side's leader keys.
    pub a: Aging,
    /// The aging of the second side's.
    pub b: Aging,
}

impl KeyDuel {
    /// 0 for a key leading for `a`, 1 for `b`, else 2.
    pub fn group(&self, key: u64) -> u8 {
        match mix(key ^ 0xd0e1_1e5d_0e1a_7e5d) % self.every.max(3) {
            0 => 0,
            1 => 1,
            _ => 2,
        }
    }

    fn aging(&self, key: u64, follow: Aging) -> Aging {
        match self.group(key) {
            0 => self.a,
            1 => self.b,
            _ => follow,
        }
    }
}

/// Set dueling by key rather than by shard: in every shard, one key in `every` always ages as
/// setting `a`, one in `every` as `b`, the rest follow whichever side's leader keys missed less
/// (the small FIFO's share, a shard-wide knob, follows too).
pub struct KeyDueling {
    sharded: Sharded<S3Lfu>,
    duel: KeyDuel,
    vote: Vote,
}

impl KeyDueling {
    /// `make` builds each shard; the followers start with `b`.
    pub fn new(
        capacity: usize,
        threads: usize,
        make: impl Fn(usize) -> S3Lfu,
        every: u64,
        (a, b): (Setting, Setting),
        limit: i64,
    ) -> Self {
        let duel = KeyDuel {
            every,
            a: a.aging,
            b: b.aging,
        };
        let mut sharded = Sharded::new(capacity, threads, make);
        for shard in &mut sharded.shards {
            shard.duel = Some(duel);
            shard.apply(b);
        }
        KeyDueling {
            sharded,
            duel,
            vote: Vote::new((a, b), limit),
        }
    }
}

impl Policy for KeyDueling {
    fn access(&mut self, key: u64) -> bool {
        let i = self.sharded.index(key);
        let hit = self.sharded.shards[i].access(key);
        if hit {
            return hit;
        }
        let by_a = match self.duel.group(key) {
            0 => true,
            1 => false,
            _ => return hit,
        };
        if let Some(setting) = self.vote.miss(by_a) {
            for shard in &mut self.sharded.shards {
                shard.apply(setting);
            }
        }
        hit
    }
}
