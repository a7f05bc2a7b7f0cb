//! The memoization protocol's parts that every backend shares: how sync callers run the async
//! slow path ([`driver`]), single-flight ([`flight`]), re-entrant calls ([`reentry`]), background
//! refresh ([`refresh`]), warm-up ([`warm`]) and bypass ([`bypass`]). The crate root re-exports the
//! public ones under their own names (`cachemacro_runtime::refresh`, ...).

pub mod bypass;
pub(crate) mod driver;
pub(crate) mod flight;
pub(crate) mod reentry;
pub mod refresh;
pub mod warm;
