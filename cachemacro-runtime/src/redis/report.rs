//! Rate-limited logging of backend errors: a dead Redis under load must not log a line per call.

use std::fmt::Display;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::clock::real_ms;

/// The least time between two logged errors of one function.
pub const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Logs at most one error per [`LOG_INTERVAL`], with the number left out since the last one.
#[derive(Default)]
pub(crate) struct ErrorLog {
    /// Milliseconds (on [`real_ms`]) before which nothing is logged.
    quiet_until_ms: AtomicU64,
    suppressed: AtomicU64,
}

impl ErrorLog {
    pub(crate) fn report(&self, function: &str, operation: &str, error: &dyn Display) {
        let now = real_ms();
        let quiet_until = self.quiet_until_ms.load(Ordering::Relaxed);
        let next = now.saturating_add(LOG_INTERVAL.as_millis() as u64);
        let elected = now >= quiet_until
            && self
                .quiet_until_ms
                .compare_exchange(quiet_until, next, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        if !elected {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let suppressed = self.suppressed.swap(0, Ordering::Relaxed);
        tracing::warn!(
            function,
            operation,
            suppressed,
            "cachemacro: Redis backend error, running the function body instead: {error}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_errors_logs_one_line() {
        let log = ErrorLog::default();
        for _ in 0..100 {
            log.report("f", "read", &"connection refused");
        }
        assert_eq!(log.suppressed.load(Ordering::Relaxed), 99);
        assert!(log.quiet_until_ms.load(Ordering::Relaxed) >= LOG_INTERVAL.as_millis() as u64);
    }
}
