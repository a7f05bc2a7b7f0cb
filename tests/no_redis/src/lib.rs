//! Tests of the runtime built with its default features, without `redis` (`tests/ui.rs`).
