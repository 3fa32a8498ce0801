//! The retry loop of [`Upstream::send`]: for each attempt, the local rate
//! limit, an endpoint whose breaker admits it, the attempt, its verdict on
//! the breaker and the venue's blocks, then whether and when to retry.
//!
//! Invariants kept here:
//! - a request that may have reached the venue is retried only when it is
//!   idempotent ([`may_retry`]), so a non-idempotent request leaves at most
//!   once per call;
//! - every wait (backoff, the venue's `Retry-After`) fits the call's
//!   deadline, and every retry is paid for by the retry budget;
//! - the host's own failures (no connection slot, an attempt cut short by
//!   the call's deadline) never count against an endpoint's breaker.

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use super::{Endpoint, OutboundRequest, SendFailure, Upstream, UpstreamResponse};
use crate::resilience::breaker::{Breaker, Permit};
use crate::resilience::classify::{
    AttemptError, Outcome, classify_status, jsonrpc_overloaded, may_retry,
};
use crate::resilience::deadline::Deadline;
use crate::resilience::failover;
use crate::resilience::ratelimit::DEFAULT_BAN;
use crate::resilience::retry_after::requested_wait;

/// What one attempt's result means for the pipeline.
struct Verdict {
    outcome: Outcome,
    /// The venue's HTTP status, when it answered.
    status: Option<u16>,
    /// Whether the request may have reached the venue.
    sent: bool,
    /// The wait the venue asked for (`Retry-After` or a reset header) on a
    /// 429, 418 or 503.
    requested: Option<Duration>,
}

impl Upstream {
    /// Send `req` through the pipeline, finishing by `deadline`.
    pub async fn send(
        &self,
        req: OutboundRequest,
        deadline: Deadline,
    ) -> Result<UpstreamResponse, SendFailure> {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        self.budget.record_request();
        let breakers: Vec<&Breaker> = self.endpoints.iter().map(|e| &e.breaker).collect();
        let mut start = req.start % self.endpoints.len().max(1);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            // Local limits first: waiting here proves the request has not left.
            self.take_rate_limit(&req, &deadline, attempt).await?;
            let (idx, permit) = self.pick_endpoint(&breakers, &req, start)?;
            let ep = &self.endpoints[idx];
            let budget = deadline.cap(self.timeout);
            if budget.is_zero() {
                return Err(SendFailure::Timeout {
                    message: format!("the call's deadline passed before attempt {attempt}"),
                    sent: false,
                });
            }
            // Everything logged during the attempt carries its number and endpoint.
            let span = tracing::debug_span!("attempt", n = attempt, endpoint = %ep.display);
            let result =
                tracing::Instrument::instrument(self.attempt(idx, ep, &req, budget), span).await;
            let verdict = self.judge(ep, permit, &result);
            let Some((next, delay)) =
                self.retry_plan(&req, &deadline, attempt, idx, &verdict, &result)
            else {
                return finish(result);
            };
            start = next;
            tokio::time::sleep(delay).await;
        }
    }

    /// Wait for the venue's local rate limits (token bucket, weight window,
    /// a 429/418 block), or refuse when the wait would pass the deadline.
    async fn take_rate_limit(
        &self,
        req: &OutboundRequest,
        deadline: &Deadline,
        attempt: u32,
    ) -> Result<(), SendFailure> {
        let Err(l) = self.limiter.acquire(req.weight, deadline).await else {
            return Ok(());
        };
        self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(venue = %self.venue, attempt, "{}", l.message);
        Err(SendFailure::RateLimited {
            message: l.message,
            retry_after_ms: Some(l.retry_after.as_millis().min(u64::MAX as u128) as u64),
        })
    }

    /// The first endpoint from `start`, in the configured order, that the
    /// request may use and whose breaker admits it.
    fn pick_endpoint<'a>(
        &self,
        breakers: &[&'a Breaker],
        req: &OutboundRequest,
        start: usize,
    ) -> Result<(usize, Permit<'a>), SendFailure> {
        let allowed = |i: usize| req.endpoints.as_ref().is_none_or(|e| e.contains(&i));
        failover::pick_allowed(breakers, start, allowed).map_err(|rej| {
            let which = match &req.endpoints {
                Some(allowed) => format!(
                    "the {} endpoint(s) of {} this request may use",
                    allowed.len(),
                    self.venue
                ),
                None => format!("all {} endpoint(s) of {}", breakers.len(), self.venue),
            };
            SendFailure::CircuitOpen(format!(
                "{which} have open circuits; the next half-opens in {} ms",
                rej.retry_in.as_millis()
            ))
        })
    }

    /// Classify an attempt's result, count it on its endpoint, give the
    /// breaker its verdict, and book the venue's blocks (a 418 ban, a
    /// venue-wide 429).
    fn judge(
        &self,
        ep: &Endpoint,
        permit: Permit<'_>,
        result: &Result<UpstreamResponse, AttemptError>,
    ) -> Verdict {
        let (outcome, status, sent, local) = match result {
            Ok(r) => {
                let mut o = classify_status(r.status);
                if o == Outcome::Success && jsonrpc_overloaded(&r.body, &self.overload_codes) {
                    o = Outcome::RateLimited;
                }
                (o, Some(r.status), true, false)
            }
            Err(e) => (e.outcome, None, e.sent, e.local),
        };
        ep.count(outcome);
        let per_endpoint_limit = outcome == Outcome::RateLimited && self.failover_on_rate_limit;
        match outcome {
            // The host's own failure says nothing about the endpoint.
            _ if local => permit.neutral(),
            o if o.is_endpoint_failure() || per_endpoint_limit => permit.failure(),
            Outcome::RateLimited => permit.neutral(),
            _ => permit.success(),
        }

        // What the venue asked us to wait, and venue-wide blocks.
        let requested = match result {
            Ok(r) if r.status == 429 || r.status == 418 || r.status == 503 => {
                requested_wait(&r.headers, self.reset_header.as_deref(), SystemTime::now())
            }
            _ => None,
        };
        match status {
            Some(418) => self.limiter.block_for(requested.unwrap_or(DEFAULT_BAN)),
            // Per-endpoint quotas: the next endpoint is not blocked.
            Some(429) if self.failover_on_rate_limit => {}
            Some(429) => {
                if let Some(w) = requested {
                    self.limiter.block_for(w);
                }
            }
            _ => {}
        }
        Verdict {
            outcome,
            status,
            sent,
            requested,
        }
    }

    /// Where and after how long the next attempt goes, or `None` to answer
    /// with this attempt's result: not retryable, no attempts left, the wait
    /// would pass the deadline, or the retry budget is spent. Counts the
    /// retry (and the failover) it allows, and logs the decision.
    fn retry_plan(
        &self,
        req: &OutboundRequest,
        deadline: &Deadline,
        attempt: u32,
        idx: usize,
        verdict: &Verdict,
        result: &Result<UpstreamResponse, AttemptError>,
    ) -> Option<(usize, Duration)> {
        let ep = &self.endpoints[idx];
        let outcome = verdict.outcome;
        let describe = || match result {
            Ok(r) => format!("HTTP {}", r.status),
            Err(e) => e.message.clone(),
        };
        if !may_retry(outcome, verdict.status, verdict.sent, req.idempotent) {
            if outcome != Outcome::Success && outcome != Outcome::Http4xx {
                tracing::warn!(
                    venue = %self.venue, endpoint = %ep.display, attempt, max = self.max_attempts,
                    outcome = outcome.as_str(), idempotent = req.idempotent,
                    "attempt {attempt}/{} failed: {}; not retryable", self.max_attempts, describe()
                );
            }
            return None;
        }
        if attempt >= self.max_attempts {
            tracing::warn!(
                venue = %self.venue, endpoint = %ep.display, attempt, outcome = outcome.as_str(),
                "attempt {attempt}/{} failed: {}; no attempts left", self.max_attempts, describe()
            );
            return None;
        }
        // The venue's requested wait overrides the backoff and is never
        // undercut, unless the retry goes to another endpoint: a 503's
        // `Retry-After` (or a per-endpoint quota's) speaks for the endpoint
        // that sent it. A venue-wide 429 block stays in the limiter.
        let n = self.endpoints.len();
        let next = failover::next_start(idx, outcome, n, self.failover_on_rate_limit);
        let requested = if next != idx { None } else { verdict.requested };
        let delay = requested.unwrap_or_else(|| self.backoff.delay_random(attempt - 1));
        if !deadline.allows_wait(delay) {
            tracing::warn!(
                venue = %self.venue, endpoint = %ep.display, attempt, delay_ms = delay.as_millis() as u64,
                "attempt {attempt}/{} failed: {}; next try would pass the deadline", self.max_attempts, describe()
            );
            return None;
        }
        if !self.budget.try_retry() {
            self.stats.budget_exhausted.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                venue = %self.venue, endpoint = %ep.display, attempt,
                "attempt {attempt}/{} failed: {}; retry budget exhausted", self.max_attempts, describe()
            );
            return None;
        }
        tracing::warn!(
            venue = %self.venue, endpoint = %ep.display, attempt, outcome = outcome.as_str(),
            delay_ms = delay.as_millis() as u64,
            "attempt {attempt}/{} failed: {}; retrying in {} ms", self.max_attempts, describe(), delay.as_millis()
        );
        if next != idx {
            self.stats.failovers.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(venue = %self.venue, from = %ep.display, to = %self.endpoints[next].display, "rotating to next endpoint");
        }
        self.stats.retries.fetch_add(1, Ordering::Relaxed);
        Some((next, delay))
    }
}

/// The last attempt's result. A request is retried after a possible send
/// only when it is idempotent, so for a non-idempotent one the last
/// attempt's `sent` says whether any attempt may have reached the venue.
fn finish(result: Result<UpstreamResponse, AttemptError>) -> Result<UpstreamResponse, SendFailure> {
    result.map_err(|e| match e.outcome {
        Outcome::Timeout => SendFailure::Timeout {
            message: e.message,
            sent: e.sent,
        },
        _ => SendFailure::Connection {
            message: e.message,
            sent: e.sent,
        },
    })
}
