//! The upstream path: a pooled hyper client per venue and [`Upstream::send`],
//! the one function through which every plugin request reaches the network.
//! It composes the pieces of [`crate::resilience`]:
//!
//! ```text
//! for each attempt (at most retry.max_attempts, all within the call deadline):
//!     local rate limit (token bucket, weight window, 429/418 block)  -> may wait
//!     pick endpoint: configured order from the rotation point, skip open breakers
//!                    (all open -> circuit_open, no network)
//!     connection slot (max_connections_per_host)                      -> may wait
//!     attempt with timeout_ms -> classify -> breaker verdict
//!     stop unless retryable (class + idempotency), attempts left, budget allows,
//!          and the wait (backoff with jitter, or the venue's Retry-After) fits the deadline
//!     rotate to the next endpoint after a connection failure, timeout or 5xx
//! ```
//!
//! Final non-2xx answers are returned as responses (the plugin reads the
//! venue's error body); only transport and policy failures are errors.

mod attempt;
mod pipeline;

pub use attempt::ResponseBudget;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Semaphore;

use crate::config::{Secret, VenueConfig};
use crate::connector::{ConnCounts, CountingConnector};
use crate::redact::redact_url;
use crate::resilience::backoff::Backoff;
use crate::resilience::breaker::{Breaker, State};
use crate::resilience::budget::{BudgetConfig, RetryBudget};
use crate::resilience::classify::Outcome;
use crate::resilience::deadline::Deadline;
use crate::resilience::failover;
use crate::resilience::ratelimit::RateLimiter;

/// A request ready for the network: path checked, secrets filled in.
#[derive(Debug, Clone)]
pub struct OutboundRequest {
    pub method: http::Method,
    /// Path and query, appended to the endpoint's base URL.
    pub path_and_query: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    pub idempotent: bool,
    pub weight: u32,
    /// Endpoints (indices in the venue's order) the request may go to: set
    /// when it carries a header secret bound to some endpoints only.
    pub endpoints: Option<Vec<usize>>,
    /// Applied at each attempt, just before it leaves.
    pub signing: Option<crate::signing::Recipe>,
    /// Shared by the requests of one `send-all`.
    pub response_budget: Option<Arc<ResponseBudget>>,
    /// The endpoint (index in the venue's order) the first attempt tries:
    /// 0, or the next one after a plugin-reported per-endpoint rate limit
    /// (see [`Upstream::plugin_rate_limited`]).
    pub start: usize,
}

/// The venue's answer (any status).
#[derive(Debug, Clone)]
pub struct UpstreamResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    /// The endpoint (index in the venue's order) that answered.
    pub endpoint: usize,
}

/// A rate limit a plugin read from a venue's answer, after the host booked it
/// like a 429 from the endpoint that answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateRefusal {
    /// Where a rerun of the call starts: the next endpoint when limits are
    /// per endpoint (`retry.failover_on_rate_limit`), else the same one.
    pub next_start: usize,
    /// What the venue asked to wait; it binds a rerun on the same endpoint.
    pub wait: Option<Duration>,
    answered_by: usize,
}

/// Why no response was obtained. Messages never contain secrets: they name
/// the endpoint as configured and the error class.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendFailure {
    /// `sent`: the request may have been written (see [`SendFailure::may_have_left`]).
    #[error("timeout: {message}")]
    Timeout { message: String, sent: bool },
    #[error("connection: {message}")]
    Connection { message: String, sent: bool },
    #[error("circuit open: {0}")]
    CircuitOpen(String),
    #[error("rate limited: {message}")]
    RateLimited {
        message: String,
        retry_after_ms: Option<u64>,
    },
    #[error("denied: {0}")]
    Denied(String),
}

impl SendFailure {
    /// Whether the request may have reached the venue. Breaker, rate-limit
    /// and policy refusals happen before anything is written.
    pub fn may_have_left(&self) -> bool {
        match self {
            SendFailure::Timeout { sent, .. } | SendFailure::Connection { sent, .. } => *sent,
            SendFailure::CircuitOpen(_)
            | SendFailure::RateLimited { .. }
            | SendFailure::Denied(_) => false,
        }
    }
}

type HttpClient = Client<HttpsConnector<CountingConnector>, Full<Bytes>>;

/// One endpoint of a venue: its breaker, in-flight bound and counters.
pub struct Endpoint {
    /// Base URL without a trailing slash, secrets filled in: used only to
    /// connect, never shown.
    url: String,
    /// The URL as shown in labels, logs and answers ([`redact_url`]).
    pub display: String,
    pub breaker: Breaker,
    conns: ConnCounts,
    permits: Semaphore,
    waiting: AtomicUsize,
    max_in_flight: usize,
    attempts: [AtomicU64; 6],
}

impl Endpoint {
    /// Requests in flight right now.
    pub fn active(&self) -> usize {
        self.max_in_flight - self.permits.available_permits()
    }
    /// Whether the base URL has a path of its own (`https://host/v3/key`).
    fn has_path(&self) -> bool {
        self.url
            .split_once("://")
            .is_some_and(|(_, rest)| rest.find('/').is_some_and(|i| i + 1 < rest.len()))
    }

    /// Open connections to this endpoint's host (in flight or idle in the pool).
    pub fn open_connections(&self) -> i64 {
        self.conns.open(&self.url)
    }
    /// Callers waiting for a connection slot right now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }
    /// Attempts that ended in `outcome`.
    pub fn attempts(&self, outcome: Outcome) -> u64 {
        self.attempts[outcome as usize].load(Ordering::Relaxed)
    }
    fn count(&self, outcome: Outcome) {
        self.attempts[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }
}

/// Venue-level counters.
#[derive(Debug, Default)]
pub struct UpstreamStats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub rate_limited: AtomicU64,
    pub failovers: AtomicU64,
    pub budget_exhausted: AtomicU64,
}

/// A venue's connection pool, endpoints and resilience state.
pub struct Upstream {
    venue: String,
    client: HttpClient,
    endpoints: Vec<Arc<Endpoint>>,
    timeout: Duration,
    max_response_bytes: usize,
    max_attempts: u32,
    backoff: Backoff,
    reset_header: Option<String>,
    overload_codes: Vec<i64>,
    failover_on_rate_limit: bool,
    budget: RetryBudget,
    pub limiter: RateLimiter,
    pub stats: UpstreamStats,
}

/// Without `url`: it holds the secrets filled in, and debug output ends up
/// in logs and panic messages.
impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("display", &self.display)
            .field("breaker", &self.breaker)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("venue", &self.venue)
            .field("endpoints", &self.endpoints)
            .finish()
    }
}

impl Upstream {
    /// `secrets` fill `${secret:NAME}` placeholders in endpoint URLs
    /// (providers that take the API key in the path).
    pub fn new(
        venue: &str,
        vc: &VenueConfig,
        secrets: &std::collections::BTreeMap<String, Secret>,
        max_response_bytes: usize,
    ) -> anyhow::Result<Self> {
        let mut urls = Vec::with_capacity(vc.endpoints.len());
        for e in &vc.endpoints {
            urls.push(
                fill_secrets(e.trim_end_matches('/'), secrets).map_err(|m| {
                    anyhow::anyhow!("venues.{venue}.endpoints: {} {m}", redact_url(e))
                })?,
            );
        }
        let counts = ConnCounts::for_urls(urls.iter().map(String::as_str));
        let http = crate::connector::venue_connector(vc);
        let tls = crate::tls::client_config(
            vc.tls_ca_file.as_deref(),
            &format!("venues.{venue}.tls_ca_file"),
        )
        .map_err(|e| anyhow::anyhow!(e))?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(CountingConnector::new(http, counts.clone()));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_millis(vc.pool.idle_timeout_ms))
            .pool_max_idle_per_host(vc.pool.max_connections_per_host as usize)
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .build(https);
        let max = vc.pool.max_connections_per_host as usize;
        let endpoints = vc
            .endpoints
            .iter()
            .zip(urls)
            .map(|(e, url)| {
                let display = redact_url(e.trim_end_matches('/'));
                Arc::new(Endpoint {
                    breaker: Breaker::new(format!("{venue} {display}"), vc.breaker),
                    url,
                    display,
                    conns: counts.clone(),
                    permits: Semaphore::new(max),
                    waiting: AtomicUsize::new(0),
                    max_in_flight: max,
                    attempts: Default::default(),
                })
            })
            .collect();
        Ok(Self {
            venue: venue.to_string(),
            client,
            endpoints,
            timeout: Duration::from_millis(vc.timeout_ms),
            max_response_bytes,
            max_attempts: vc.retry.max_attempts.max(1),
            backoff: Backoff::from_config(&vc.retry),
            reset_header: vc.retry.reset_header.clone(),
            overload_codes: vc.retry.jsonrpc_overload_codes.clone(),
            failover_on_rate_limit: vc.retry.failover_on_rate_limit,
            budget: RetryBudget::new(BudgetConfig {
                ratio: vc.retry.budget_ratio,
                min_per_sec: vc.retry.budget_min_per_sec,
                window: Duration::from_millis(vc.retry.budget_window_ms),
            }),
            limiter: RateLimiter::new(&vc.rate_limit),
            stats: UpstreamStats::default(),
        })
    }

    pub fn endpoints(&self) -> &[Arc<Endpoint>] {
        &self.endpoints
    }

    /// Whether at least one endpoint's breaker is not open.
    pub fn any_endpoint_available(&self) -> bool {
        self.endpoints
            .iter()
            .any(|e| e.breaker.state() != State::Open)
    }

    /// Book a rate limit the plugin read from the answer of `endpoint`
    /// exactly as a 429 from it: counted in `rate_limited`; with per-endpoint
    /// limits (`retry.failover_on_rate_limit`) a failure of that endpoint's
    /// breaker and a rerun from the next endpoint, else a venue-wide block
    /// for the wait the venue asked for.
    pub fn plugin_rate_limited(&self, endpoint: usize, wait: Option<Duration>) -> RateRefusal {
        self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
        let n = self.endpoints.len();
        let endpoint = endpoint.min(n.saturating_sub(1));
        if self.failover_on_rate_limit {
            if let Some(ep) = self.endpoints.get(endpoint)
                && let Ok(permit) = ep.breaker.try_acquire()
            {
                permit.failure();
            }
        } else if let Some(w) = wait {
            self.limiter.block_for(w);
        }
        let next_start = failover::next_start(
            endpoint,
            Outcome::RateLimited,
            n,
            self.failover_on_rate_limit,
        );
        tracing::warn!(
            venue = %self.venue, endpoint = %self.endpoints[endpoint].display,
            wait_ms = wait.map(|w| w.as_millis() as u64),
            "the plugin read a rate limit in the venue's answer"
        );
        RateRefusal {
            next_start,
            wait,
            answered_by: endpoint,
        }
    }

    /// How long to wait before rerunning a read-only call whose `run`-th run
    /// ended in `refusal`, on the terms of a retried 429: runs left
    /// (`retry.max_attempts`), the wait within the deadline (the venue's wait
    /// on the same endpoint, backoff with jitter on another), and the retry
    /// budget. `None`: answer the caller with the rate limit. Counts the retry.
    pub fn rerun_after(
        &self,
        run: u32,
        refusal: &RateRefusal,
        deadline: &Deadline,
    ) -> Option<Duration> {
        if run >= self.max_attempts {
            return None;
        }
        let same = refusal.next_start == refusal.answered_by;
        let delay = match refusal.wait {
            Some(w) if same => w,
            _ => self.backoff.delay_random(run - 1),
        };
        if !deadline.allows_wait(delay) {
            return None;
        }
        if !self.budget.try_retry() {
            self.stats.budget_exhausted.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        self.stats.retries.fetch_add(1, Ordering::Relaxed);
        if !same {
            self.stats.failovers.fetch_add(1, Ordering::Relaxed);
        }
        Some(delay)
    }
}

/// Replace `${secret:NAME}` in an endpoint URL with the venue's secret,
/// percent-encoded.
fn fill_secrets(
    url: &str,
    secrets: &std::collections::BTreeMap<String, Secret>,
) -> Result<String, String> {
    let mut out = String::with_capacity(url.len());
    for piece in crate::endpoint_secrets::pieces(url)? {
        match piece {
            crate::endpoint_secrets::Piece::Text(t) => out.push_str(t),
            crate::endpoint_secrets::Piece::Secret(name) => {
                let secret = secrets.get(name).ok_or_else(|| {
                    format!("names secret {name:?}, which is not in this venue's secrets")
                })?;
                let value = std::str::from_utf8(secret.expose())
                    .map_err(|_| format!("secret {name:?} is not text"))?;
                out.push_str(
                    &percent_encoding::utf8_percent_encode(
                        value,
                        percent_encoding::NON_ALPHANUMERIC,
                    )
                    .to_string(),
                );
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_holds_a_secret_filled_into_an_endpoint_url() {
        let vc: VenueConfig = serde_json::from_value(serde_json::json!({
            "plugin": "chainlink",
            "endpoints": ["https://eth.example/v2/${secret:k}"],
        }))
        .unwrap();
        let secrets = [("k".to_string(), Secret::new("s3cr3tvalue"))].into();
        let upstream = Upstream::new("eth", &vc, &secrets, 1024).unwrap();
        let shown = format!("{upstream:?}");
        assert!(shown.contains("eth.example"), "{shown}");
        assert!(!shown.contains("s3cr3tvalue"), "{shown}");
    }
}
