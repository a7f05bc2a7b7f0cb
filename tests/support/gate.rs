//! A gate that test bodies wait at until the test opens it: how a test holds a computation (a
//! refresh, a miss) in flight without sleeping.

use std::sync::{Condvar, Mutex};

pub struct Gate {
    open: Mutex<bool>,
    changed: Condvar,
}

impl Gate {
    /// An open gate.
    pub const fn new() -> Gate {
        Gate {
            open: Mutex::new(true),
            changed: Condvar::new(),
        }
    }

    /// Opens (`true`) or shuts (`false`) the gate; waiters go on when it opens.
    pub fn set(&self, open: bool) {
        *self.open.lock().unwrap() = open;
        self.changed.notify_all();
    }

    /// Returns once the gate is open.
    pub fn pass(&self) {
        let mut open = self.open.lock().unwrap();
        while !*open {
            open = self.changed.wait(open).unwrap();
        }
    }
}
