//! Client for the resilience host's HTTP API.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use resilience_client::{Client, ErrorKind};
//! use serde_json::json;
//!
//! let host = Client::new("http://127.0.0.1:8080", None)?;
//! let funding = host
//!     .call("binance", "get_funding_rate", &json!({"symbol": "BTCUSDT"}), None)
//!     .await;
//! match funding {
//!     Ok(result) => println!("{result}"),
//!     Err(e) if e.kind() == &ErrorKind::RateLimited => println!("wait {:?}", e.retry_after()),
//!     Err(e) => return Err(e.into()),
//! }
//! # Ok(()) }
//! ```
//!
//! - [`Client::call`]: `POST /v1/venues/{venue}/{operation}` with a JSON
//!   object of params and, for mutating operations (orders), the
//!   `Idempotency-Key` header.
//! - Errors are [`Error`]s with a typed [`ErrorKind`] per kind of the host's
//!   error body, the HTTP status, `retry_after_ms`, and for `upstream` the
//!   venue's status and code.
//! - [`Client::journal`] / [`Client::journal_all`], [`Client::health`] /
//!   [`Client::health_details`], [`Client::venues`], [`Client::stats`].
//!
//! **No retries.** The client sends each request once. The host already
//! retries what is safe to retry (backoff, jitter, `Retry-After`, retry
//! budgets, failover, breakers) within the venue's deadline; retrying again
//! here would multiply the load on a venue that is failing and bypass the
//! host's budgets. When the host gives up, the error says why and, for
//! `rate_limited` and a busy `conflict`, when to come back
//! ([`Error::retry_after`]). A mutating call may be repeated with the same
//! idempotency key: the host's journal sends the order at most once. (The
//! connection pool may resend a request that a closed keep-alive connection
//! never carried; that request never reached the host.)
//!
//! The host serves plain HTTP (put TLS in a proxy in front of it), so this
//! client speaks `http://` only, over TCP or, for a host on the same machine
//! listening on a Unix-domain socket (`server.listen = "unix:/path"`), over
//! that socket: `Client::new("unix:/run/rh.sock", token)`.

#![warn(missing_docs)]

mod error;
mod journal;
mod unix;

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Uri, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use error::{ConfigError, Error, ErrorKind};
pub use journal::{JournalEntry, JournalPage, JournalQuery, JournalState};

/// `Authorization: Bearer <token>`, marked sensitive (kept out of debug output).
fn bearer(token: Option<&str>) -> Result<Option<HeaderValue>, ConfigError> {
    token
        .map(|t| {
            HeaderValue::from_str(&format!("Bearer {t}"))
                .map(|mut v| {
                    v.set_sensitive(true);
                    v
                })
                .map_err(|_| ConfigError("the token must be visible ASCII".into()))
        })
        .transpose()
}

/// A pool of kept-alive connections made by `connector`.
fn pool<C>(connector: C) -> HyperClient<C, Full<Bytes>>
where
    C: hyper_util::client::legacy::connect::Connect + Clone,
{
    HyperClient::builder(TokioExecutor::new())
        // Below the host's 30 s header-read timeout, so the pool does not
        // hand out a connection the host is about to close.
        .pool_idle_timeout(Duration::from_secs(20))
        .build(connector)
}

/// Characters left as they are in a path segment or query value (RFC 3986
/// unreserved); everything else is percent-encoded.
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

pub(crate) fn encode(s: &str) -> String {
    utf8_percent_encode(s, UNRESERVED).to_string()
}

/// What `/health` or `/v1/health` says.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Health {
    /// `ok` or `degraded`.
    pub status: String,
    /// Each degraded venue with its status (`/health`: a short generic one
    /// such as `not configured`; `/v1/health`: the detailed reason).
    pub venues: BTreeMap<String, String>,
    /// The HTTP status: 200 ok, 503 degraded.
    pub http_status: u16,
}

impl Health {
    /// Whether every venue asked about can serve (HTTP 200).
    pub fn is_ok(&self) -> bool {
        self.http_status == 200
    }
}

/// A client of one host. Cheap to clone (the connection pool is shared);
/// safe to use from many tasks at once. Its requests run on the Tokio
/// runtime they are awaited in (HTTP/1.1, kept-alive connections).
#[derive(Clone)]
pub struct Client {
    /// The base URL as given (`http://…` or `unix:/…`), for messages.
    base: String,
    /// What request URLs start with (`http://localhost` over a socket).
    origin: String,
    auth: Option<HeaderValue>,
    timeout: Option<Duration>,
    http: Transport,
}

/// The connection pool, over TCP or the host's Unix-domain socket.
#[derive(Clone)]
enum Transport {
    Tcp(HyperClient<HttpConnector, Full<Bytes>>),
    Unix(HyperClient<unix::UnixConnector, Full<Bytes>>),
}

impl Transport {
    fn request(&self, req: Request<Full<Bytes>>) -> hyper_util::client::legacy::ResponseFuture {
        match self {
            Transport::Tcp(c) => c.request(req),
            Transport::Unix(c) => c.request(req),
        }
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("token", &self.auth.as_ref().map(|_| "<redacted>"))
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl Client {
    /// How long a request may take by default: above the host's default
    /// call deadline (`deadline_ms`, 60 s), so that the host's own `timeout`
    /// error arrives first. Raise it with [`Client::with_timeout`] for
    /// venues configured with a longer deadline.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(90);

    /// A client of the host at `base_url` (`http://HOST:PORT`, optionally
    /// with a path prefix when a proxy mounts the host under one, or
    /// `unix:/path/to/socket`), sending `Authorization: Bearer <token>` when
    /// `token` is given (the host's `server.auth_token_env`). Nothing is sent
    /// until the first request.
    pub fn new(base_url: &str, token: Option<&str>) -> Result<Client, ConfigError> {
        let auth = bearer(token)?;
        if let Some(path) = base_url.strip_prefix(unix::PREFIX) {
            if path.is_empty() {
                return Err(ConfigError(format!(
                    "base URL {base_url:?}: expected unix:/path/to/socket"
                )));
            }
            return Ok(Client {
                base: base_url.to_string(),
                origin: "http://localhost".into(),
                auth,
                timeout: Some(Self::DEFAULT_TIMEOUT),
                http: Transport::Unix(pool(unix::UnixConnector::new(path))),
            });
        }
        let base = base_url.trim_end_matches('/').to_string();
        let uri: Uri = base
            .parse()
            .map_err(|e| ConfigError(format!("base URL {base_url:?}: {e}")))?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(ConfigError(format!(
                    "base URL {base_url:?}: scheme {other:?} is not supported; the host serves plain http"
                )));
            }
            None => {
                return Err(ConfigError(format!(
                    "base URL {base_url:?}: expected http://HOST:PORT"
                )));
            }
        }
        if uri.authority().is_none() || uri.query().is_some() {
            return Err(ConfigError(format!(
                "base URL {base_url:?}: expected http://HOST:PORT[/PREFIX] without a query"
            )));
        }
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Ok(Client {
            origin: base.clone(),
            base,
            auth,
            timeout: Some(Self::DEFAULT_TIMEOUT),
            http: Transport::Tcp(pool(connector)),
        })
    }

    /// The same client with another per-request timeout (`None`: wait as
    /// long as the host takes). A request that times out is a
    /// [`ErrorKind::Transport`] error; a mutating call the host already
    /// started goes on there and is journaled (retry with the same key).
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Client {
        self.timeout = timeout;
        self
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Call `operation` of `venue` with `params` (which must serialize to a
    /// JSON object) and return the operation's JSON result.
    ///
    /// `idempotency_key` is sent as the `Idempotency-Key` header (1 to 255
    /// visible ASCII characters). Mutating operations need one (with the
    /// plugins' default `prepare`): the host sends at most one order per key,
    /// a retry with the same key and params gets the recorded result, and
    /// the same key with other params is a [`ErrorKind::Conflict`].
    /// Read-only operations ignore it.
    ///
    /// A key that cannot be a header value, or params that do not
    /// serialize, fail with [`ErrorKind::InvalidParams`] and
    /// [`Error::status`] `None`, without a request.
    pub async fn call<P: Serialize + ?Sized>(
        &self,
        venue: &str,
        operation: &str,
        params: &P,
        idempotency_key: Option<&str>,
    ) -> Result<Value, Error> {
        let body = serde_json::to_vec(params).map_err(|e| {
            Error::new(
                ErrorKind::InvalidParams,
                format!("params do not serialize to JSON: {e}"),
            )
        })?;
        let mut headers = vec![(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )];
        if let Some(key) = idempotency_key {
            let value = HeaderValue::from_str(key)
                .ok()
                .filter(|_| !key.is_empty() && key.bytes().all(|b| b.is_ascii_graphic()))
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidParams,
                        "Idempotency-Key must be 1 to 255 visible ASCII characters",
                    )
                })?;
            headers.push((header::HeaderName::from_static("idempotency-key"), value));
        }
        let path = format!("/v1/venues/{}/{}", encode(venue), encode(operation));
        let (status, headers, body) = self
            .send(Method::POST, &path, Bytes::from(body), headers)
            .await?;
        decode(status, &headers, &body)
    }

    /// [`Client::call`], with the result decoded into `T`. A result that does
    /// not decode is an [`ErrorKind::InvalidResponse`] (the call itself
    /// succeeded: for a mutating call, do not place it under another key).
    pub async fn call_as<T: DeserializeOwned, P: Serialize + ?Sized>(
        &self,
        venue: &str,
        operation: &str,
        params: &P,
        idempotency_key: Option<&str>,
    ) -> Result<T, Error> {
        let value = self.call(venue, operation, params, idempotency_key).await?;
        serde_json::from_value(value).map_err(|e| {
            Error::new(
                ErrorKind::InvalidResponse,
                format!("{venue}/{operation} succeeded, but its result does not decode: {e}"),
            )
        })
    }

    /// `GET /v1/venues`: the `venues` object (each venue's plugin, version,
    /// operations with their params schemas, endpoints and breaker states).
    pub async fn venues(&self) -> Result<Value, Error> {
        let mut all = self.get_json("/v1/venues").await?;
        Ok(all
            .get_mut("venues")
            .map(Value::take)
            .unwrap_or(Value::Null))
    }

    /// `GET /v1/stats`: per venue totals, success %, failures by kind,
    /// retries, failovers, latency, and each endpoint's breaker.
    pub async fn stats(&self) -> Result<Value, Error> {
        self.get_json("/v1/stats").await
    }

    /// `GET /v1/journal`: one page of journaled mutating calls, oldest first.
    /// Pass the page's [`JournalPage::next_cursor`] in
    /// [`JournalQuery::cursor`] for the next one.
    pub async fn journal(&self, query: &JournalQuery) -> Result<JournalPage, Error> {
        let value = self
            .get_json(&format!("/v1/journal{}", query.to_query()))
            .await?;
        serde_json::from_value(value).map_err(|e| {
            Error::new(
                ErrorKind::InvalidResponse,
                format!("the journal page does not decode: {e}"),
            )
        })
    }

    /// Every entry `query` selects from its cursor on, page by page
    /// ([`JournalQuery::limit`] entries per request).
    pub async fn journal_all(&self, query: &JournalQuery) -> Result<Vec<JournalEntry>, Error> {
        let mut query = query.clone();
        let mut out = Vec::new();
        loop {
            let page = self.journal(&query).await?;
            out.extend(page.entries);
            match page.next_cursor {
                Some(next) => query.cursor = Some(next),
                None => return Ok(out),
            }
        }
    }

    /// `GET /health` (no token needed): ok, or each degraded venue with a
    /// short generic status. `venue` asks about one venue; one that is not
    /// configured is an [`ErrorKind::UnknownVenue`] error. A degraded host is
    /// an `Ok` [`Health`] with [`Health::is_ok`] false.
    pub async fn health(&self, venue: Option<&str>) -> Result<Health, Error> {
        self.health_at("/health", venue).await
    }

    /// `GET /v1/health` (behind the token): as [`Client::health`], with each
    /// degraded venue's detailed reason.
    pub async fn health_details(&self, venue: Option<&str>) -> Result<Health, Error> {
        self.health_at("/v1/health", venue).await
    }

    async fn health_at(&self, path: &str, venue: Option<&str>) -> Result<Health, Error> {
        let path = match venue {
            Some(v) => format!("{path}?venue={}", encode(v)),
            None => path.to_string(),
        };
        let (status, _, body) = self
            .send(Method::GET, &path, Bytes::new(), Vec::new())
            .await?;
        let value: Option<Value> = serde_json::from_slice(&body).ok();
        let reported = value
            .as_ref()
            .and_then(|v| v.get("status"))
            .and_then(Value::as_str);
        match (status, reported) {
            (200 | 503, Some(s)) => {
                let venues = value
                    .as_ref()
                    .and_then(|v| v.get("venues"))
                    .and_then(Value::as_object)
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| {
                                let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                                (k.clone(), text)
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                Ok(Health {
                    status: s.to_string(),
                    venues,
                    http_status: status,
                })
            }
            (404, Some("unknown_venue")) => Err(Error::unknown_venue(venue, value)),
            _ => Err(Error::from_answer(status, None, &body)),
        }
    }

    async fn get_json(&self, path: &str) -> Result<Value, Error> {
        let (status, headers, body) = self
            .send(Method::GET, path, Bytes::new(), Vec::new())
            .await?;
        decode(status, &headers, &body)
    }

    /// One request: the answer's status, headers and body, whatever the status.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Bytes,
        headers: Vec<(header::HeaderName, HeaderValue)>,
    ) -> Result<(u16, http::HeaderMap, Bytes), Error> {
        let url = format!("{}{path}", self.origin);
        let mut req = Request::builder().method(method).uri(&url);
        if let Some(auth) = &self.auth {
            req = req.header(header::AUTHORIZATION, auth.clone());
        }
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| Error::new(ErrorKind::InvalidParams, format!("{url}: {e}")))?;
        let exchange = async {
            let resp = self.http.request(req).await.map_err(|e| {
                Error::new(
                    ErrorKind::Transport,
                    format!("no answer from {}: {}", self.base, error_chain(&e)),
                )
            })?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| {
                    Error::new(
                        ErrorKind::Transport,
                        format!(
                            "the answer from {} broke off: {}",
                            self.base,
                            error_chain(&e)
                        ),
                    )
                })?
                .to_bytes();
            Ok::<_, Error>((status, headers, body))
        };
        let (status, headers, body) = match self.timeout {
            None => exchange.await?,
            Some(t) => tokio::time::timeout(t, exchange).await.map_err(|_| {
                Error::new(
                    ErrorKind::Transport,
                    format!("no answer from {} within {} ms", self.base, t.as_millis()),
                )
            })??,
        };
        Ok((status, headers, body))
    }
}

/// A 2xx answer's JSON, or the error of any other.
fn decode(status: u16, headers: &http::HeaderMap, body: &[u8]) -> Result<Value, Error> {
    if !(200..300).contains(&status) {
        let retry_after = headers
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        return Err(Error::from_answer(status, retry_after, body));
    }
    serde_json::from_slice(body).map_err(|e| {
        Error::new(
            ErrorKind::InvalidResponse,
            format!("HTTP {status} with a body that is not JSON: {e}"),
        )
        .with_status(status)
    })
}

/// An error and its sources, `a: b: c`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_checked() {
        assert!(Client::new("http://127.0.0.1:8080/", None).is_ok());
        assert_eq!(
            Client::new("http://127.0.0.1:8080/", None)
                .unwrap()
                .base_url(),
            "http://127.0.0.1:8080"
        );
        assert!(Client::new("https://host", None).is_err());
        assert!(Client::new("unix:", None).is_err());
        assert_eq!(
            Client::new("unix:/run/rh.sock", None).unwrap().base_url(),
            "unix:/run/rh.sock"
        );
        assert!(Client::new("127.0.0.1:8080", None).is_err());
        assert!(Client::new("http://h/?q=1", None).is_err());
        assert!(Client::new("http://h", Some("bad\ntoken")).is_err());
    }

    #[test]
    fn the_token_never_shows_in_debug() {
        let c = Client::new("http://h", Some("s3cret")).unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
    }

    #[test]
    fn segments_are_percent_encoded() {
        assert_eq!(encode("ton-testnet"), "ton-testnet");
        assert_eq!(encode("a/b c"), "a%2Fb%20c");
    }
}
