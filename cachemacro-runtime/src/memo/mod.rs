//! The memoization protocol's parts that every backend shares.
//!
//! - [`flight`]: single-flight within one process, for threads and tasks alike.

pub(crate) mod flight;
