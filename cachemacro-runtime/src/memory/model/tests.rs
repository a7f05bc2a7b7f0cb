//! Each test runs its threads under shuttle's random scheduler for a fixed number of schedules.
//! A test fails when the lock lets a write overlap another access (the model's cell panics), when
//! a read returns another key's value, or when hits are lost.

use std::sync::Arc;

use shuttle::sync::Barrier;
use shuttle::thread;

use super::per_thread::{self, SLOTS, Slots};
use super::read_lock::counts;
use super::store::{Probe, Read, Store};
use crate::flight::Flight;

/// Schedules per test: a few seconds in all, and several times what the rarest mutation in
/// `model.rs` needed to fail, but for the one that
/// [`a_whole_write_between_a_biased_readers_two_looks`] runs 4 times as many schedules for.
const SCHEDULES: usize = 3_000;

/// A key in the shard at `place` (of a store with at least `place + 1` shards).
fn key(place: u64, k: u64) -> u128 {
    (u128::from(place) << 64) | u128::from(k)
}

/// The value stored under key `k` in version `version`: a read can tell whose value it got.
fn value(k: u64, version: u64) -> u64 {
    k * 1_000 + version
}

/// A read on the current thread: the value if it was a hit, checked to belong to `k`.
fn read(store: &Store<u64>, slots: &Slots, place: u64, k: u64) -> Option<u64> {
    match store.read(key(place, k), 0, 0, per_thread::current(), slots) {
        Read::Hit(found, _) => {
            assert_eq!(
                found / 1_000,
                k,
                "a read of key {k} returned another key's value"
            );
            Some(found)
        }
        Read::Miss => None,
    }
}

/// Runs `body` under shuttle with a fresh store of `capacity` and fresh slots, as
/// `shuttle::check_random` does, less its warning that `lazy_static` values (the slot registry)
/// are dropped after each execution: the model wants exactly that, a fresh registry each time.
fn check(capacity: u64, body: fn(Arc<Store<u64>>, Arc<Slots>)) {
    check_schedules(SCHEDULES, capacity, body);
}

/// [`check`] over `schedules` schedules.
fn check_schedules(schedules: usize, capacity: u64, body: fn(Arc<Store<u64>>, Arc<Slots>)) {
    let mut config = shuttle::Config::new();
    config.silence_warnings = true;
    shuttle::Runner::new(shuttle::scheduler::RandomScheduler::new(schedules), config)
        .run(move || body(Arc::new(Store::new(capacity)), Arc::new(Slots::default())));
}

/// Hits counted in `slots`, beside the hits the threads saw.
fn assert_hits_counted(slots: &Slots, seen: u64) {
    assert_eq!(slots.totals().0, seen, "hits lost or invented");
}

#[test]
fn readers_and_a_writer_inserting_and_removing_never_overlap() {
    // Two readers, each on a slot of its own, against a writer replacing and removing the key.
    check(4, |store, slots| {
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let (store, slots) = (store.clone(), slots.clone());
                thread::spawn(move || {
                    (0..3)
                        .filter(|_| read(&store, &slots, 0, 1).is_some())
                        .count() as u64
                })
            })
            .collect();
        store.insert(key(0, 1), value(1, 1), u64::MAX, 0, &slots);
        store.remove(key(0, 1), 0, &slots);
        store.insert(key(0, 1), value(1, 2), u64::MAX, 0, &slots);
        let hits: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
        assert_hits_counted(&slots, hits);
        assert_eq!(read(&store, &slots, 0, 1), Some(value(1, 2)));
    });
}

#[test]
fn clear_races_with_reads_and_inserts() {
    // Two shards (64 entries, at least 32 a shard), so that `clear` walks from one to the next
    // while the others read and insert on both.
    check(64, |store, slots| {
        for place in 0..2 {
            store.insert(key(place, 1), value(1, 0), u64::MAX, 0, &slots);
        }
        let reader = {
            let (store, slots) = (store.clone(), slots.clone());
            thread::spawn(move || {
                (0..2)
                    .flat_map(|_| [0, 1])
                    .filter(|&place| read(&store, &slots, place, 1).is_some())
                    .count() as u64
            })
        };
        let writer = {
            let (store, slots) = (store.clone(), slots.clone());
            thread::spawn(move || {
                for place in [1, 0] {
                    store.insert(key(place, 2), value(2, 1), u64::MAX, 0, &slots);
                }
            })
        };
        drop(store.clear(&slots));
        let hits = reader.join().unwrap();
        writer.join().unwrap();
        assert_hits_counted(&slots, hits);
        // What is left is exactly what `len` counts: the inserts that came after the clear.
        let left = (0..2)
            .flat_map(|place| [(place, 1), (place, 2)])
            .filter(|&(place, k)| store.remove(key(place, k), 0, &slots).is_some())
            .count();
        assert!(left <= 2, "a cleared entry is back");
        assert_eq!(store.len(), 0);
    });
}

#[test]
fn eviction_under_reads_keeps_the_capacity() {
    // A shard of two entries, read while a writer inserts past it: the hand sweeps the ring and
    // clears the bits that the reads set, and the store never holds more than two.
    check(2, |store, slots| {
        store.insert(key(0, 1), value(1, 0), u64::MAX, 0, &slots);
        store.insert(key(0, 2), value(2, 0), u64::MAX, 0, &slots);
        let reader = {
            let (store, slots) = (store.clone(), slots.clone());
            thread::spawn(move || {
                [1, 2, 1]
                    .into_iter()
                    .filter(|&k| read(&store, &slots, 0, k).is_some())
                    .count() as u64
            })
        };
        let mut evicted = 0;
        for k in 3..5 {
            let removed = store.insert(key(0, k), value(k, 0), u64::MAX, 0, &slots);
            evicted += u64::from(removed.evicted.is_some());
            assert!(store.len() <= 2, "over capacity");
        }
        let hits = reader.join().unwrap();
        assert_eq!(evicted, 2, "each insert past the capacity evicts one");
        assert_hits_counted(&slots, hits);
        assert_eq!(store.len(), 2);
    });
}

#[test]
fn a_slot_recycled_while_a_writer_waits() {
    // A reader exits and gives its slot back; of the next two threads, one takes that slot and
    // the other a new one, and both read, while a writer goes on writing the same shard (its wait
    // may be on that slot as it changes hands).
    check(4, |store, slots| {
        store.insert(key(0, 1), value(1, 0), u64::MAX, 0, &slots);
        let writer = {
            let (store, slots) = (store.clone(), slots.clone());
            thread::spawn(move || {
                for version in 1..4 {
                    store.insert(key(0, 1), value(1, version), u64::MAX, 0, &slots);
                }
            })
        };
        // Each reader takes its slot, waits at `together` (the second and third meet there, so
        // they are alive at once), then reads.
        let reader = |together: Arc<Barrier>| {
            let (store, slots) = (store.clone(), slots.clone());
            thread::spawn(move || {
                // The slot as a number: an `Index` may not leave its thread.
                let slot = per_thread::current().number();
                together.wait();
                let hits = (0..2)
                    .filter(|_| read(&store, &slots, 0, 1).is_some())
                    .count() as u64;
                (slot, hits)
            })
        };
        let first = reader(Arc::new(Barrier::new(1))).join().unwrap();
        let together = Arc::new(Barrier::new(2));
        let (second, third) = (reader(together.clone()), reader(together));
        let (second, third) = (second.join().unwrap(), third.join().unwrap());
        writer.join().unwrap();
        assert!(
            [second.0, third.0].contains(&first.0),
            "the exited reader's slot was not handed on"
        );
        assert_ne!(second.0, third.0, "two live threads on one slot");
        assert!(
            second.0.max(third.0) < SLOTS,
            "a reader got no slot of its own"
        );
        assert_hits_counted(&slots, first.1 + second.1 + third.1);
    });
}

#[test]
fn threads_beyond_the_owned_slots_share_one_and_read_under_the_mutex() {
    // More readers than owned slots: the last ones share one slot, which must hold no mark.
    check(4, |store, slots| {
        store.insert(key(0, 1), value(1, 0), u64::MAX, 0, &slots);
        let readers: Vec<_> = (0..SLOTS + 2)
            .map(|_| {
                let (store, slots) = (store.clone(), slots.clone());
                thread::spawn(move || {
                    (0..2)
                        .filter(|_| read(&store, &slots, 0, 1).is_some())
                        .count() as u64
                })
            })
            .collect();
        store.insert(key(0, 1), value(1, 1), u64::MAX, 0, &slots);
        store.insert(key(0, 1), value(1, 2), u64::MAX, 0, &slots);
        let hits: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
        assert_hits_counted(&slots, hits);
    });
}

/// A memoized call of key `k` in shard 0, as `memory.rs` makes it: a read, and on a miss the
/// flights. A leader stores version 1 and ends its flight; a waiter waits for the flight, then
/// must find that value. True if this caller led.
fn call(store: &Store<u64>, slots: &Slots, k: u64) -> bool {
    if let Some(found) = read(store, slots, 0, k) {
        assert_eq!(found, value(k, 1));
        return false;
    }
    match store.lead_or_wait(key(0, k), 0, per_thread::current(), slots) {
        Probe::Hit(found) => assert_eq!(found, value(k, 1)),
        Probe::Lead(id) => {
            let finished = store.finish(key(0, k), id, Some((value(k, 1), u64::MAX)), 0, slots);
            if let Some(waiters) = finished.waiters {
                waiters.land_value(value(k, 1));
            }
            return true;
        }
        Probe::Wait(flight) => {
            wait(&flight);
            assert_eq!(
                read(store, slots, 0, k),
                Some(value(k, 1)),
                "a waiter looked again and missed the leader's value"
            );
        }
    }
    false
}

/// Waits for `flight` to end, letting the other threads run meanwhile (its event is not
/// shuttle's, so it is polled rather than blocked on).
fn wait<R: Clone>(flight: &Flight<R>) {
    let mut waiting = std::pin::pin!(flight.wait_async());
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    while waiting.as_mut().poll(&mut context).is_pending() {
        thread::yield_now();
    }
}

#[test]
fn of_callers_missing_one_key_at_once_one_leads_and_the_others_get_its_value() {
    // The flights are apart from the table: the leader stores its value, then ends its flight,
    // and a caller that finds no flight looks at the table again before it leads. In every
    // order, one caller leads and the others wait for it or find its value; a reader that gets
    // in between the value and the flight's end must not lead a second time.
    check(4, |store, slots| {
        let others: Vec<_> = (0..2)
            .map(|_| {
                let (store, slots) = (store.clone(), slots.clone());
                thread::spawn(move || call(&store, &slots, 1))
            })
            .collect();
        let mine = call(&store, &slots, 1);
        let leads = others
            .into_iter()
            .map(|other| other.join().unwrap())
            .chain([mine])
            .filter(|&led| led)
            .count();
        assert_eq!(leads, 1, "the body ran {leads} times");
        assert_eq!(read(&store, &slots, 0, 1), Some(value(1, 1)));
    });
}

/// Runs `body` as [`check_schedules`] does, and returns the biased reads and revocations its
/// schedules made (the model's threads all run on this test's OS thread, which counts them).
fn check_counting(
    schedules: usize,
    capacity: u64,
    body: fn(Arc<Store<u64>>, Arc<Slots>),
) -> (u64, u64) {
    let (fast, revoked) = counts::get();
    check_schedules(schedules, capacity, body);
    let (fast_after, revoked_after) = counts::get();
    (fast_after - fast, revoked_after - revoked)
}

/// Stores key 1 of shard 0 and biases its shard: two hits with no write between, a checkpoint
/// each.
fn biased(store: &Store<u64>, slots: &Slots) {
    store.insert(key(0, 1), value(1, 0), u64::MAX, 0, slots);
    for _ in 0..2 {
        read(store, slots, 0, 1);
    }
}

/// [`biased`], then a thread that reads the key `reads` times: its hits.
fn biased_then_reading(
    store: &Arc<Store<u64>>,
    slots: &Arc<Slots>,
    reads: usize,
) -> thread::JoinHandle<u64> {
    biased(store, slots);
    let (store, slots) = (store.clone(), slots.clone());
    thread::spawn(move || {
        (0..reads)
            .filter(|_| read(&store, &slots, 0, 1).is_some())
            .count() as u64
    })
}

#[test]
fn a_writer_revokes_the_bias_while_a_biased_reader_is_inside() {
    // The shard is biased before the threads start (two hits with no write between, a
    // checkpoint each): the reader marks with plain stores, which may sit unseen in its store
    // buffer, while the writer replaces and removes the key and must revoke first.
    let (fast, revoked) = check_counting(SCHEDULES, 4, |store, slots| {
        let reader = biased_then_reading(&store, &slots, 3);
        store.insert(key(0, 1), value(1, 1), u64::MAX, 0, &slots);
        store.remove(key(0, 1), 0, &slots);
        store.insert(key(0, 1), value(1, 2), u64::MAX, 0, &slots);
        let hits = reader.join().unwrap();
        assert_hits_counted(&slots, hits + 2);
        assert_eq!(read(&store, &slots, 0, 1), Some(value(1, 2)));
    });
    assert!(fast > 0, "no read took the biased path");
    assert!(revoked > 0, "no writer revoked a bias");
}

/// Executions of [`biasing_at_a_checkpoint_races_a_writer`] in which a bias was revoked, set
/// again, and revoked again.
static REVOKED_TWICE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[test]
fn biasing_at_a_checkpoint_races_a_writer() {
    // Biased at the start; the writer's first insert revokes it, the reader's hits (each one a
    // checkpoint: the second with no write between biases the shard again) race it, and after
    // the two meet, race its next inserts: the bias is set while a writer waits for the mutex,
    // or while a reader that saw the shard unbiased is inside, and revoked again.
    let (fast, revoked) = check_counting(SCHEDULES, 4, |store, slots| {
        let (_, revoked_before) = counts::get();
        biased(&store, &slots);
        let met = Arc::new(Barrier::new(2));
        let writer = {
            let (store, slots, met) = (store.clone(), slots.clone(), met.clone());
            thread::spawn(move || {
                store.insert(key(0, 1), value(1, 1), u64::MAX, 0, &slots);
                met.wait();
                for version in 2..4 {
                    store.insert(key(0, 1), value(1, version), u64::MAX, 0, &slots);
                }
            })
        };
        let mut hits = (0..2)
            .filter(|_| read(&store, &slots, 0, 1).is_some())
            .count();
        met.wait();
        hits += (0..3)
            .filter(|_| read(&store, &slots, 0, 1).is_some())
            .count();
        writer.join().unwrap();
        assert_hits_counted(&slots, hits as u64 + 2);
        assert_eq!(read(&store, &slots, 0, 1), Some(value(1, 3)));
        if counts::get().1 - revoked_before >= 2 {
            REVOKED_TWICE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });
    assert!(fast > 0, "no read took the biased path");
    assert!(revoked > 0, "no writer revoked a bias");
    assert!(
        REVOKED_TWICE.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "never biased again between two writes"
    );
}

#[test]
fn a_whole_write_between_a_biased_readers_two_looks() {
    // A reader finds the shard biased, then a writer revokes the bias, writes and withdraws
    // before the reader marks: the reader's second look finds neither `BIASED` nor a writer,
    // and must still fence, since the next writer revokes nothing and scans at once. Between
    // writes the reader's own hits bias the shard again (a checkpoint per hit here).
    let (fast, revoked) = check_counting(4 * SCHEDULES, 4, |store, slots| {
        let reader = biased_then_reading(&store, &slots, 4);
        for version in 1..5 {
            store.insert(key(0, 1), value(1, version), u64::MAX, 0, &slots);
        }
        let hits = reader.join().unwrap();
        assert_hits_counted(&slots, hits + 2);
        assert_eq!(read(&store, &slots, 0, 1), Some(value(1, 4)));
    });
    assert!(fast > 0, "no read took the biased path");
    assert!(revoked > 0, "no writer revoked a bias");
}
