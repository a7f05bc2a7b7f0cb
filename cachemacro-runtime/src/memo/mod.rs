//! The memoization protocol's parts that every backend shares.
//!
//! - [`driver`]: how sync callers run the async slow path on their own thread.
//! - [`flight`]: single-flight within one process, for threads and tasks alike.

pub(crate) mod driver;
pub(crate) mod flight;
