//! One attempt at one endpoint: the request built for it (signed now, so a
//! retry never leaves with an earlier attempt's timestamp), a connection
//! slot, the exchange and the body, all within the attempt's time.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use http_body_util::{BodyExt, Full};

use super::{Endpoint, OutboundRequest, Upstream, UpstreamResponse};
use crate::error::error_chain;
use crate::resilience::classify::AttemptError;

impl Upstream {
    /// One attempt at one endpoint within `budget` (which includes waiting
    /// for a connection slot).
    pub(super) async fn attempt(
        &self,
        index: usize,
        endpoint: &Endpoint,
        req: &OutboundRequest,
        budget: Duration,
    ) -> Result<UpstreamResponse, AttemptError> {
        let request = request_for(endpoint, req)?;
        let started = tokio::time::Instant::now();
        let _slot = connection_slot(endpoint, budget).await?;
        let remaining = budget.saturating_sub(started.elapsed());
        match tokio::time::timeout(remaining, self.exchange(index, endpoint, req, request)).await {
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

    /// Send `request` and read the whole answer, its body within the
    /// response limits.
    async fn exchange(
        &self,
        index: usize,
        endpoint: &Endpoint,
        req: &OutboundRequest,
        request: http::Request<Full<Bytes>>,
    ) -> Result<UpstreamResponse, AttemptError> {
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
    }
}

/// The HTTP request for this attempt at `endpoint`. A signing recipe stamps
/// and signs it now, so a retry never leaves with an earlier attempt's
/// timestamp.
fn request_for(
    endpoint: &Endpoint,
    req: &OutboundRequest,
) -> Result<http::Request<Full<Bytes>>, AttemptError> {
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
    // A bare "/" means the endpoint URL itself: JSON-RPC providers that
    // carry the key in the path (`.../v3/<key>`) refuse a trailing slash.
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
    builder
        .body(Full::new(req.body.clone()))
        .map_err(|e| AttemptError::connection(false, format!("invalid request: {e}")))
}

/// One of `endpoint`'s in-flight slots (`pool.max_connections_per_host`),
/// waited for within `budget`. Not getting one is the host's own failure,
/// not the endpoint's.
async fn connection_slot(
    endpoint: &Endpoint,
    budget: Duration,
) -> Result<tokio::sync::SemaphorePermit<'_>, AttemptError> {
    let permit = {
        let _waiting = Waiting::enter(&endpoint.waiting);
        tokio::time::timeout(budget, endpoint.permits.acquire()).await
    };
    match permit {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(_)) => Err(AttemptError::connection(false, "venue is shutting down")),
        Err(_) => Err(AttemptError::timeout(
            false,
            format!(
                "no free connection to {} within {} ms",
                endpoint.display,
                budget.as_millis()
            ),
        )
        .local()),
    }
}

/// One caller counted in an endpoint's `waiting` while it lives. A guard,
/// so a caller that hangs up while it waits (its call's future dropped)
/// leaves the count as it found it.
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn enter(count: &'a AtomicUsize) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Waiting(count)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
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
