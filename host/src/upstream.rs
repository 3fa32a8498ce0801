//! The upstream path: a pooled hyper client per venue and the one function,
//! [`Upstream::send`], through which every plugin request reaches the network.
//!
//! Today `send` makes one attempt at the venue's first endpoint with the
//! per-attempt timeout, at most `max_connections_per_host` requests in flight
//! per endpoint (callers wait, counted as waiting), idle connections closed
//! after `idle_timeout_ms`. The resilience pipeline (retries, breakers,
//! failover, rate limits, deadline) composes around `attempt` here.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio::sync::Semaphore;

use crate::config::PoolConfig;

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
}

/// The venue's answer (any status).
#[derive(Debug, Clone)]
pub struct UpstreamResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

/// Why no response was obtained. Messages never contain secrets: they name
/// the endpoint as configured (placeholders, not values) and the error class.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendFailure {
    #[error("timeout: {0}")]
    Timeout(String),
    #[error("connection: {0}")]
    Connection(String),
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

type HttpClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// One endpoint of a venue and its in-flight bound.
#[derive(Debug)]
pub struct Endpoint {
    /// Base URL without a trailing slash.
    pub base: String,
    permits: Semaphore,
    waiting: AtomicUsize,
    max_in_flight: usize,
}

impl Endpoint {
    /// Requests in flight right now.
    pub fn active(&self) -> usize {
        self.max_in_flight - self.permits.available_permits()
    }
    /// Callers waiting for a connection slot right now.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }
}

/// A venue's connection pool and endpoints.
pub struct Upstream {
    venue: String,
    client: HttpClient,
    endpoints: Vec<Arc<Endpoint>>,
    timeout: Duration,
    max_response_bytes: usize,
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
    pub fn new(
        venue: &str,
        endpoints: &[String],
        timeout_ms: u64,
        pool: PoolConfig,
        max_response_bytes: usize,
    ) -> anyhow::Result<Self> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(Duration::from_millis(timeout_ms)));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(rustls::crypto::ring::default_provider())
            .map_err(|e| anyhow::anyhow!("TLS setup for venue {venue}: {e}"))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_millis(pool.idle_timeout_ms))
            .pool_max_idle_per_host(pool.max_connections_per_host as usize)
            .pool_timer(hyper_util::rt::TokioTimer::new())
            .build(https);
        let max = pool.max_connections_per_host as usize;
        Ok(Self {
            venue: venue.to_string(),
            client,
            endpoints: endpoints
                .iter()
                .map(|e| {
                    Arc::new(Endpoint {
                        base: e.trim_end_matches('/').to_string(),
                        permits: Semaphore::new(max),
                        waiting: AtomicUsize::new(0),
                        max_in_flight: max,
                    })
                })
                .collect(),
            timeout: Duration::from_millis(timeout_ms),
            max_response_bytes,
        })
    }

    pub fn endpoints(&self) -> &[Arc<Endpoint>] {
        &self.endpoints
    }

    /// Send `req` to the venue.
    pub async fn send(&self, req: OutboundRequest) -> Result<UpstreamResponse, SendFailure> {
        let endpoint = self
            .endpoints
            .first()
            .ok_or_else(|| SendFailure::Denied(format!("venue {} has no endpoints", self.venue)))?;
        self.attempt(endpoint, &req).await
    }

    /// One attempt at one endpoint, bounded by the per-attempt timeout
    /// (which includes waiting for a connection slot).
    pub async fn attempt(
        &self,
        endpoint: &Endpoint,
        req: &OutboundRequest,
    ) -> Result<UpstreamResponse, SendFailure> {
        let uri: Uri = format!("{}{}", endpoint.base, req.path_and_query)
            .parse()
            .map_err(|e| SendFailure::Denied(format!("request path does not form a valid URL: {e}")))?;
        let mut builder = http::Request::builder().method(req.method.clone()).uri(uri);
        if let Some(h) = builder.headers_mut() {
            for (k, v) in &req.headers {
                h.append(k.clone(), v.clone());
            }
        }
        let request = builder
            .body(Full::new(req.body.clone()))
            .map_err(|e| SendFailure::Denied(format!("invalid request: {e}")))?;

        let work = async {
            endpoint.waiting.fetch_add(1, Ordering::Relaxed);
            let permit = endpoint.permits.acquire().await;
            endpoint.waiting.fetch_sub(1, Ordering::Relaxed);
            let _permit = permit.map_err(|_| SendFailure::Connection("venue is shutting down".into()))?;
            let resp = self
                .client
                .request(request)
                .await
                .map_err(|e| SendFailure::Connection(error_chain(&e)))?;
            let (parts, body) = resp.into_parts();
            let body = Limited::new(body, self.max_response_bytes)
                .collect()
                .await
                .map_err(|e| {
                    if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                        SendFailure::Connection(format!(
                            "response body exceeds {} bytes (plugins.limits.max_response_bytes)",
                            self.max_response_bytes
                        ))
                    } else {
                        SendFailure::Connection(format!("reading the response body: {}", error_chain(e.as_ref())))
                    }
                })?
                .to_bytes();
            let headers = parts
                .headers
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect();
            Ok(UpstreamResponse {
                status: parts.status.as_u16(),
                headers,
                body,
            })
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(r) => r,
            Err(_) => Err(SendFailure::Timeout(format!(
                "{} {} gave no complete answer within {} ms",
                req.method,
                endpoint.base,
                self.timeout.as_millis()
            ))),
        }
    }
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
