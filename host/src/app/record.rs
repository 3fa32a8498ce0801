//! Recording one venue call in its metrics, statistics and log.
//!
//! Invariant: every call that reached its venue's pipeline is recorded
//! exactly once: with its result when it finishes, or as `cancelled` when
//! the caller hangs up first (the call's future is dropped). A read that may
//! already have reached the venue is never missing from
//! `resilience_requests_total` or `/v1/stats`.

use super::{Output, VenueRuntime};
use crate::error::CallError;

/// The outcome recorded for a call whose caller hung up before its answer.
pub const CANCELLED: &str = "cancelled";

/// A call in flight on one venue; see the module doc.
pub(super) struct CallRecord<'a> {
    venue: &'a VenueRuntime,
    operation: &'a str,
    span: tracing::Span,
    started: tokio::time::Instant,
    access_log: bool,
    recorded: bool,
}

impl<'a> CallRecord<'a> {
    pub(super) fn start(
        venue: &'a VenueRuntime,
        operation: &'a str,
        span: tracing::Span,
        access_log: bool,
    ) -> Self {
        CallRecord {
            venue,
            operation,
            span,
            started: tokio::time::Instant::now(),
            access_log,
            recorded: false,
        }
    }

    /// Record the call's result.
    pub(super) fn finish(mut self, result: &Result<Output, CallError>) {
        let ms = self.record(result.as_ref().map(|_| ()).map_err(CallError::kind));
        self.span.in_scope(|| match result {
            Ok(_) if self.access_log => tracing::info!(ms, "call ok"),
            Ok(_) => tracing::debug!(ms, "call ok"),
            Err(e) => tracing::warn!(ms, kind = e.kind(), error = %e, "call failed"),
        });
    }

    /// Count the call under `outcome`; the milliseconds it took.
    fn record(&mut self, outcome: Result<(), &'static str>) -> f64 {
        self.recorded = true;
        let took = self.started.elapsed();
        if let Some(m) = self.venue.ops.get(self.operation) {
            m.record(outcome.err().unwrap_or("success"), took.as_secs_f64());
        }
        self.venue.stats.record(outcome, took);
        took.as_secs_f64() * 1000.0
    }
}

impl Drop for CallRecord<'_> {
    fn drop(&mut self) {
        if self.recorded {
            return;
        }
        let ms = self.record(Err(CANCELLED));
        self.span
            .in_scope(|| tracing::info!(ms, "the caller hung up before the answer"));
    }
}
