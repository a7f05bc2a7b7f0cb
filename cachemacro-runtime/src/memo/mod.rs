//! The memoization protocol, written once for every backend ([`protocol`]: the backends implement
//! its steps), and the parts it is made of: how sync callers run the async slow path
//! ([`driver`]), single-flight ([`flight`]), re-entrant calls ([`reentry`]), background
//! refresh ([`refresh`]), warm-up ([`warm`]) and bypass ([`bypass`]). The crate root re-exports the
//! public ones under their own names (`cachemacro_runtime::refresh`, ...).

pub mod bypass;
pub(crate) mod driver;
pub(crate) mod flight;
pub mod protocol;
pub(crate) mod reentry;
pub mod refresh;
pub mod warm;
