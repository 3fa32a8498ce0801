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

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Uri};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Semaphore;

use crate::config::{Secret, VenueConfig};
use crate::connector::{ConnCounts, CountingConnector};
use crate::redact::redact_url;
use crate::resilience::backoff::Backoff;
use crate::resilience::breaker::{Breaker, State};
use crate::resilience::budget::{BudgetConfig, RetryBudget};
use crate::resilience::classify::{
    AttemptError, Outcome, classify_status, jsonrpc_overloaded, may_retry,
};
use crate::resilience::deadline::Deadline;
use crate::resilience::failover;
use crate::resilience::ratelimit::{DEFAULT_BAN, RateLimiter};
use crate::resilience::retry_after::requested_wait;

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
#[derive(Debug)]
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
        let connect_timeout = vc.connect_timeout_ms.unwrap_or(5_000).min(vc.timeout_ms);
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_millis(connect_timeout)));
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

    /// Send `req` through the pipeline, finishing by `deadline`.
    pub async fn send(
        &self,
        req: OutboundRequest,
        deadline: Deadline,
    ) -> Result<UpstreamResponse, SendFailure> {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        self.budget.record_request();
        let n = self.endpoints.len();
        let breakers: Vec<&Breaker> = self.endpoints.iter().map(|e| &e.breaker).collect();
        let mut start = req.start % n.max(1);
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            // Local limits first: waiting here proves the request has not left.
            if let Err(l) = self.limiter.acquire(req.weight, &deadline).await {
                self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(venue = %self.venue, attempt, "{}", l.message);
                return Err(SendFailure::RateLimited {
                    message: l.message,
                    retry_after_ms: Some(l.retry_after.as_millis().min(u64::MAX as u128) as u64),
                });
            }
            let allowed = |i: usize| req.endpoints.as_ref().is_none_or(|e| e.contains(&i));
            let (idx, permit) = match failover::pick_allowed(&breakers, start, allowed) {
                Ok(p) => p,
                Err(rej) => {
                    let which = match &req.endpoints {
                        Some(allowed) => format!(
                            "the {} endpoint(s) of {} this request may use",
                            allowed.len(),
                            self.venue
                        ),
                        None => format!("all {n} endpoint(s) of {}", self.venue),
                    };
                    return Err(SendFailure::CircuitOpen(format!(
                        "{which} have open circuits; the next half-opens in {} ms",
                        rej.retry_in.as_millis()
                    )));
                }
            };
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
            let (outcome, status, sent, local) = match &result {
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
            let requested = match &result {
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

            let describe = || match &result {
                Ok(r) => format!("HTTP {}", r.status),
                Err(e) => e.message.clone(),
            };
            if !may_retry(outcome, status, sent, req.idempotent) {
                if outcome != Outcome::Success && outcome != Outcome::Http4xx {
                    tracing::warn!(
                        venue = %self.venue, endpoint = %ep.display, attempt, max = self.max_attempts,
                        outcome = outcome.as_str(), idempotent = req.idempotent,
                        "attempt {attempt}/{} failed: {}; not retryable", self.max_attempts, describe()
                    );
                }
                return finish(result);
            }
            if attempt >= self.max_attempts {
                tracing::warn!(
                    venue = %self.venue, endpoint = %ep.display, attempt, outcome = outcome.as_str(),
                    "attempt {attempt}/{} failed: {}; no attempts left", self.max_attempts, describe()
                );
                return finish(result);
            }
            // The venue's requested wait overrides the backoff and is never
            // undercut, unless the retry goes to another endpoint: a 503's
            // `Retry-After` (or a per-endpoint quota's) speaks for the endpoint
            // that sent it. A venue-wide 429 block stays in the limiter.
            let next = failover::next_start(idx, outcome, n, self.failover_on_rate_limit);
            let requested = if next != idx { None } else { requested };
            let delay = requested.unwrap_or_else(|| self.backoff.delay_random(attempt - 1));
            if !deadline.allows_wait(delay) {
                tracing::warn!(
                    venue = %self.venue, endpoint = %ep.display, attempt, delay_ms = delay.as_millis() as u64,
                    "attempt {attempt}/{} failed: {}; next try would pass the deadline", self.max_attempts, describe()
                );
                return finish(result);
            }
            if !self.budget.try_retry() {
                self.stats.budget_exhausted.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    venue = %self.venue, endpoint = %ep.display, attempt,
                    "attempt {attempt}/{} failed: {}; retry budget exhausted", self.max_attempts, describe()
                );
                return finish(result);
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
            start = next;
            tokio::time::sleep(delay).await;
        }
    }

    /// One attempt at one endpoint within `budget` (which includes waiting
    /// for a connection slot).
    async fn attempt(
        &self,
        index: usize,
        endpoint: &Endpoint,
        req: &OutboundRequest,
        budget: Duration,
    ) -> Result<UpstreamResponse, AttemptError> {
        // A bare "/" means the endpoint URL itself: JSON-RPC providers that
        // carry the key in the path (`.../v3/<key>`) refuse a trailing slash.
        // A signing recipe stamps and signs this attempt now, so a retry
        // never leaves with an earlier attempt's timestamp.
        let signed = req.signing.as_ref().map(|recipe| {
            recipe.apply(
                &req.method,
                &req.path_and_query,
                &req.body,
                crate::journal::now_ms(),
            )
        });
        let path_and_query = signed
            .as_ref()
            .map_or(req.path_and_query.as_str(), |s| s.path_and_query.as_str());
        let target = if path_and_query == "/" && endpoint.has_path() {
            endpoint.url.clone()
        } else {
            format!("{}{path_and_query}", endpoint.url)
        };
        let uri: Uri = target.parse().map_err(|e| {
            AttemptError::connection(
                false,
                format!("request path does not form a valid URL: {e}"),
            )
        })?;
        let mut builder = http::Request::builder().method(req.method.clone()).uri(uri);
        if let Some(h) = builder.headers_mut() {
            for (k, v) in &req.headers {
                h.append(k.clone(), v.clone());
            }
            for (k, v) in signed.iter().flat_map(|s| &s.headers) {
                h.insert(k.clone(), v.clone());
            }
        }
        let request = builder
            .body(Full::new(req.body.clone()))
            .map_err(|e| AttemptError::connection(false, format!("invalid request: {e}")))?;

        let started = tokio::time::Instant::now();
        endpoint.waiting.fetch_add(1, Ordering::Relaxed);
        let permit = tokio::time::timeout(budget, endpoint.permits.acquire()).await;
        endpoint.waiting.fetch_sub(1, Ordering::Relaxed);
        let _permit = match permit {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return Err(AttemptError::connection(false, "venue is shutting down")),
            Err(_) => {
                return Err(AttemptError::timeout(
                    false,
                    format!(
                        "no free connection to {} within {} ms",
                        endpoint.display,
                        budget.as_millis()
                    ),
                )
                .local());
            }
        };
        let remaining = budget.saturating_sub(started.elapsed());
        let work = async {
            let resp = self.client.request(request).await.map_err(|e| {
                // A connect error proves nothing was sent.
                AttemptError::connection(
                    !e.is_connect(),
                    format!("{}: {}", endpoint.display, error_chain(&e)),
                )
            })?;
            let (parts, body) = resp.into_parts();
            let body = read_body(
                body,
                self.max_response_bytes,
                req.response_budget.as_deref(),
            )
            .await?;
            let headers = parts
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            Ok(UpstreamResponse {
                status: parts.status.as_u16(),
                headers,
                body,
                endpoint: index,
            })
        };
        match tokio::time::timeout(remaining, work).await {
            Ok(r) => r,
            // The request may have been written: treat it as sent. When the
            // call's deadline, not the endpoint's timeout, cut the attempt
            // short, the endpoint was not given its full time: not its failure.
            Err(_) => {
                let e = AttemptError::timeout(
                    true,
                    format!(
                        "{} {} gave no complete answer within {} ms",
                        req.method,
                        endpoint.display,
                        budget.as_millis()
                    ),
                );
                Err(if budget < self.timeout { e.local() } else { e })
            }
        }
    }
}

/// Bytes of response bodies one `send-all` may hold at once
/// (`plugins.limits.max_call_response_bytes`): every response of the batch
/// draws from it as its body arrives, so 64 large answers cannot together
/// hold more than the budget.
#[derive(Debug)]
pub struct ResponseBudget {
    left: AtomicUsize,
    limit: usize,
}

impl ResponseBudget {
    pub fn new(limit: usize) -> Self {
        Self {
            left: AtomicUsize::new(limit),
            limit,
        }
    }

    /// Take `n` bytes; `false` (taking nothing) when fewer are left.
    fn take(&self, n: usize) -> bool {
        self.left
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |left| {
                left.checked_sub(n)
            })
            .is_ok()
    }

    fn give_back(&self, n: usize) {
        self.left.fetch_add(n, Ordering::AcqRel);
    }
}

/// Read a whole body: at most `max` bytes, and drawing from `budget`. A body
/// that fails half way gives what it drew back.
async fn read_body(
    mut body: hyper::body::Incoming,
    max: usize,
    budget: Option<&ResponseBudget>,
) -> Result<Bytes, AttemptError> {
    let mut out = bytes::BytesMut::new();
    let refund = |drawn: usize| {
        if let Some(b) = budget {
            b.give_back(drawn);
        }
    };
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                refund(out.len());
                return Err(AttemptError::connection(
                    true,
                    format!("reading the response body: {}", error_chain(&e)),
                ));
            }
        };
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        if out.len() + data.len() > max {
            refund(out.len());
            return Err(AttemptError::connection(
                true,
                format!("response body exceeds {max} bytes (plugins.limits.max_response_bytes)"),
            ));
        }
        if let Some(b) = budget
            && !b.take(data.len())
        {
            refund(out.len());
            return Err(AttemptError::connection(
                true,
                format!(
                    "the responses of one send-all exceed {} bytes in total \
                     (plugins.limits.max_call_response_bytes)",
                    b.limit
                ),
            )
            .local());
        }
        out.extend_from_slice(&data);
    }
    Ok(out.freeze())
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

/// An error with its sources, `a: b: c`, for messages.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        src = s.source();
    }
    out
}
