//! The resilience pieces behind `host.send`, one concern per module. Each is
//! plain state plus arithmetic over `tokio::time::Instant`, so tests run
//! under `tokio::time::pause()` with exact timings; [`crate::upstream`]
//! composes them into the pipeline.
//!
//! | module       | decides |
//! |--------------|---------|
//! | [`classify`] | what an attempt's result was, and whether it may be retried |
//! | [`backoff`]  | how long to wait before the next attempt |
//! | [`retry_after`] | what the venue asked us to wait (`Retry-After`, reset headers) |
//! | [`budget`]   | whether a retry is affordable (retries <= 20% of requests + 10/s) |
//! | [`breaker`]  | whether an endpoint may be tried (closed / open / half-open, one probe) |
//! | [`failover`] | which endpoint an attempt goes to |
//! | [`ratelimit`]| whether the venue's local budget (token bucket, weight window, ban) admits a request |
//! | [`deadline`] | how much of the call's time is left |

pub mod backoff;
pub mod breaker;
pub mod budget;
pub mod classify;
pub mod deadline;
pub mod failover;
pub mod ratelimit;
pub mod retry_after;
