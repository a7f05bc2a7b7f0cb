//! A shard's flights: each key being computed, its owner, and its [`Flight`] once someone waits
//! for it (see `store.rs`, "Flights").
//!
//! A shard rarely has more than a few keys in flight at once: up to [`FEW`] are found by
//! comparing them one by one, which costs a miss less than a hash table's insertion and removal;
//! past that an index finds them, so that many at once still cost each a probe.
//!
//! The index does not depend on the value's type: it is compiled once, in this crate, and not
//! again in a user's debug build for each value type (issue 17).

use std::sync::Arc;

use hashbrown::HashTable;

use crate::flight::Flight;
use crate::memory::store::hash;

/// The owner of a flight that no thread owns.
pub(crate) const NO_OWNER: usize = 0;

/// How many flights a shard finds without its index.
pub(crate) const FEW: usize = 8;

pub(crate) struct Flights<R> {
    list: Vec<Flying<R>>,
    /// Position in `list` by key; kept only while `list` is longer than [`FEW`].
    index: Index,
    /// The last flight's [`Flying::id`] (wrapping).
    ids: u64,
}

/// A key being computed.
pub(crate) struct Flying<R> {
    pub(crate) key: u128,
    /// The thread whose own call computes it, on that thread's stack (`Store::lead_or_wait_as`);
    /// [`NO_OWNER`] for a computation that may move between threads (a task's).
    pub(crate) owner: usize,
    /// Made for the first caller to wait.
    pub(crate) flight: Option<Arc<Flight<R>>>,
    /// Tells this flight from a later one of the same key: a flight that an invalidation
    /// detached (see [`Flights::remove`]) is gone when its leader ends it, and a new one of the
    /// key may have started meanwhile.
    pub(crate) id: u64,
}

/// Positions in the list by key. Out of line: compiled once, here.
struct Index(HashTable<(u128, usize)>);

impl<R> Flights<R> {
    pub(crate) fn new() -> Self {
        Flights {
            list: Vec::new(),
            index: Index(HashTable::new()),
            ids: 0,
        }
    }

    /// An id for a new flight: no other flight in this list has it.
    #[inline(always)]
    pub(crate) fn next_id(&mut self) -> u64 {
        self.ids = self.ids.wrapping_add(1);
        self.ids
    }

    #[inline(always)]
    pub(crate) fn find_mut(&mut self, key: u128) -> Option<&mut Flying<R>> {
        let at = if self.list.len() <= FEW {
            self.list.iter().position(|f| f.key == key)?
        } else {
            self.index.find(key)?
        };
        self.list.get_mut(at)
    }

    /// Adds a key that is not in flight.
    #[inline(always)]
    pub(crate) fn insert(&mut self, flying: Flying<R>) {
        let key = flying.key;
        self.list.push(flying);
        let len = self.list.len();
        if len == FEW + 1 {
            // The list outgrows comparisons: index every key.
            for (at, f) in self.list.iter().enumerate() {
                self.index.insert(f.key, at);
            }
        } else if len > FEW + 1 {
            self.index.insert(key, len - 1);
        }
    }

    /// Ends the flight `id` of `key`: its [`Flight`], if a caller waits for it. `Err` if that
    /// flight is no longer listed: an invalidation detached it (and ended its `Flight`).
    #[inline(always)]
    pub(crate) fn end(&mut self, key: u128, id: u64) -> Result<Option<Arc<Flight<R>>>, ()> {
        if self.list.len() <= FEW {
            // The common case, in one pass.
            let at = (self.list.iter())
                .position(|f| f.key == key && f.id == id)
                .ok_or(())?;
            return Ok(self.list.swap_remove(at).flight);
        }
        match self.find_mut(key) {
            Some(flying) if flying.id == id => Ok(self.remove(key).flatten()),
            _ => Err(()),
        }
    }

    /// Removes the key, if in flight: `Some` with its [`Flight`], if a caller waits for it.
    #[inline(always)]
    pub(crate) fn remove(&mut self, key: u128) -> Option<Option<Arc<Flight<R>>>> {
        if self.list.len() <= FEW {
            let at = self.list.iter().position(|f| f.key == key)?;
            return Some(self.list.swap_remove(at).flight);
        }
        let at = self.index.remove(key)?;
        debug_assert!(
            at < self.list.len(),
            "the index names a position past the list"
        );
        if at >= self.list.len() {
            return None;
        }
        let flying = self.list.swap_remove(at);
        if self.list.len() <= FEW {
            // Back to comparisons.
            self.index.clear();
        } else if let Some(moved) = self.list.get(at) {
            self.index.moved(moved.key, at);
        }
        Some(flying.flight)
    }

    /// Removes every flight: the [`Flight`]s callers wait for.
    pub(crate) fn clear(&mut self) -> Vec<Arc<Flight<R>>> {
        self.index.clear();
        self.list.drain(..).filter_map(|f| f.flight).collect()
    }

    /// How many keys are in flight, and how many of them have a [`Flight`].
    #[cfg(test)]
    pub(crate) fn counts(&self) -> (usize, usize) {
        let made = self.list.iter().filter(|f| f.flight.is_some()).count();
        (self.list.len(), made)
    }
}

impl Index {
    fn find(&self, key: u128) -> Option<usize> {
        self.0
            .find(hash(key), |&(k, _)| k == key)
            .map(|&(_, at)| at)
    }

    fn insert(&mut self, key: u128, at: usize) {
        self.0
            .insert_unique(hash(key), (key, at), |&(k, _)| hash(k));
    }

    /// Removes `key`: its position.
    fn remove(&mut self, key: u128) -> Option<usize> {
        let found = self.0.find_entry(hash(key), |&(k, _)| k == key).ok()?;
        Some(found.remove().0.1)
    }

    /// `key` is now at `at`.
    fn moved(&mut self, key: u128, at: usize) {
        if let Some(entry) = self.0.find_mut(hash(key), |&(k, _)| k == key) {
            entry.1 = at;
        }
    }

    fn clear(&mut self) {
        self.0.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys come and go past the list's length and back: each is found at its own flight.
    #[test]
    fn many_keys_in_flight_keep_their_flights() {
        let mut flights = Flights::<u32>::new();
        let key = |i: u128| i << 64 | i;
        for i in 0..40 {
            flights.insert(Flying {
                key: key(i),
                owner: i as usize,
                flight: None,
                id: i as u64,
            });
            let flying = flights.find_mut(key(i)).unwrap();
            if i % 3 == 0 {
                flying.flight = Some(Arc::new(Flight::new()));
            }
        }
        // Remove all but a few, in an order that moves keys about.
        for i in (0..40).filter(|i| i % 4 != 1) {
            let flight = flights.remove(key(i)).unwrap();
            assert_eq!(flight.is_some(), i % 3 == 0, "key {i}");
            assert!(flights.find_mut(key(i)).is_none());
        }
        for i in (0..40).filter(|i| i % 4 == 1) {
            let flying = flights.find_mut(key(i)).unwrap();
            assert_eq!(flying.owner, i as usize);
            assert_eq!(flying.flight.is_some(), i % 3 == 0, "key {i}");
        }
        assert_eq!(flights.counts().0, 10);
        // Down past the list's length (the index cleared), and up past it again (rebuilt).
        let mut left: Vec<u128> = (0..40).filter(|i| i % 4 == 1).collect();
        for i in left.drain(..3) {
            assert_eq!(
                flights.remove(key(i)).unwrap().is_some(),
                i % 3 == 0,
                "key {i}"
            );
        }
        for i in 100..104 {
            flights.insert(Flying {
                key: key(i),
                owner: i as usize,
                flight: None,
                id: i as u64,
            });
            left.push(i);
        }
        for &i in &left {
            assert_eq!(
                flights.find_mut(key(i)).unwrap().owner,
                i as usize,
                "key {i}"
            );
        }
        for &i in left.iter().rev() {
            assert!(flights.find_mut(key(i)).is_some(), "key {i}");
            flights.remove(key(i));
            assert!(flights.find_mut(key(i)).is_none(), "key {i}");
        }
        assert_eq!(flights.counts(), (0, 0));
    }
}
