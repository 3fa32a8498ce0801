//! The host's own HTTP API (hyper): HTTP/1.1, and HTTP/2 without TLS (h2c,
//! prior knowledge) on the same listener, over TCP or a Unix-domain socket
//! ([`crate::listen`]). One HTTP/2 connection carries a daemon's concurrent
//! calls as streams, without a connection per call in flight.
//!
//! | route                                  | auth | answer |
//! |----------------------------------------|------|--------|
//! | `POST /v1/venues/{venue}/{operation}`  | yes  | the operation's JSON result, or an error body |
//! | `GET /v1/venues`                       | yes  | venues, plugins, operations, endpoints |
//! | `GET /v1/journal?state=in_doubt`       | yes  | journaled mutating calls (state: pending, succeeded, failed, in_doubt) |
//! | `GET /v1/stats`                        | yes  | per venue: totals, success %, failures by kind, latency, breakers |
//! | `GET /v1/health[?venue=NAME]`          | yes  | as `/health`, with each degraded venue's detailed reason |
//! | `GET /health[?venue=NAME]`             | no   | 200 ok / 503 degraded, each degraded venue with a generic status only / 404 unknown venue |
//! | `GET /metrics`                         | no   | Prometheus text format (label values are configuration only) |
//! | `GET /openapi.json`                    | yes  | OpenAPI 3.1 of this API as loaded now: one path per venue operation ([`crate::openapi`]) |
//! | `POST /v1/admin/reload`                | required | reload the plugins folder (also SIGHUP); 403 when no token is configured |
//!
//! Auth (when `server.auth_token_env` is set) is `Authorization: Bearer <token>`,
//! compared in constant time over SHA-256 digests (so neither the token's
//! bytes nor its length show in the timing). A known route asked with another
//! method gets 405 with an `Allow` header.
//! A body that is not a JSON object, an unknown venue or operation, or an
//! oversized body gets a 4xx with the error body of [`CallError::to_json`];
//! nothing the caller sends can produce a 500.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::app::{App, Health};
use crate::error::CallError;
use crate::listen::Listener;
use crate::repoll::RepollSelfWakes;
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// How long a connection may take to send a request's headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Serve the API on `listener` until `shutdown` resolves; in-flight requests
/// are allowed to finish.
pub async fn serve(
    app: Arc<App>,
    listener: impl Into<Listener>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let listener = listener.into();
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder.http2().timer(TokioTimer::new());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(s) => s,
                Err(e) => {
                    // Out of file descriptors and the like: log, breathe, go on.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let app = Arc::clone(&app);
        let conn = builder.serve_connection(
            TokioIo::new(stream),
            service_fn(move |req| {
                let app = Arc::clone(&app);
                async move { Ok::<_, Infallible>(handle(&app, req).await) }
            }),
        );
        let conn = graceful.watch(conn.into_owned());
        // hyper wakes a connection's task from inside its own poll when it
        // hands a request body to the handler; see `repoll`.
        tokio::spawn(RepollSelfWakes::new(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
        }));
    }
    graceful.shutdown().await;
    Ok(())
}

/// Route one request.
pub async fn handle(app: &App, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method().clone();
    match (method, segments.as_slice()) {
        (Method::GET, ["metrics"]) => match &app.metrics {
            Some(m) => {
                let mut resp = Response::new(Full::new(Bytes::from(m.render())));
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                resp
            }
            None => not_found(&path),
        },
        (Method::GET, ["health"]) => health_response(app, &req, false),
        (Method::GET, ["openapi.json"]) => match authorize(app, &req) {
            Ok(()) => json_response(StatusCode::OK, &app.openapi_json()),
            Err(e) => error_response(&e, None, None),
        },
        (_, ["health" | "metrics" | "openapi.json"]) => method_not_allowed("GET"),
        (m, ["v1", ..]) => {
            if let Err(e) = authorize(app, &req) {
                return error_response(&e, None, None);
            }
            match (m, &segments[1..]) {
                (Method::GET, ["health"]) => health_response(app, &req, true),
                (Method::GET, ["venues"]) => json_response(StatusCode::OK, &app.venues_json()),
                (Method::GET, ["stats"]) => json_response(StatusCode::OK, &app.stats_json()),
                (Method::GET, ["journal"]) => {
                    let q = req.uri().query();
                    let (venue, state, cursor) = (
                        query_param(q, "venue"),
                        query_param(q, "state"),
                        query_param(q, "cursor"),
                    );
                    let limit = match query_param(q, "limit").map(|l| l.parse::<u32>()) {
                        None => 100,
                        Some(Ok(l)) if (1..=1000).contains(&l) => l,
                        Some(_) => {
                            let e = CallError::InvalidParams(
                                "limit must be a whole number from 1 to 1000".into(),
                            );
                            return error_response(&e, None, None);
                        }
                    };
                    match app
                        .journal_json(venue.as_deref(), state.as_deref(), limit, cursor.as_deref())
                        .await
                    {
                        Ok(v) => json_response(StatusCode::OK, &v),
                        Err(e) => error_response(&e, None, None),
                    }
                }
                (Method::POST, ["admin", "reload"]) => {
                    if app.auth_token.is_none() {
                        return json_response(
                            StatusCode::FORBIDDEN,
                            &json!({"error": {"kind": "forbidden", "message": "admin endpoints need a bearer token: set server.auth_token_env (or reload with SIGHUP)"}}),
                        );
                    }
                    let report = app.reload().await;
                    json_response(
                        StatusCode::OK,
                        &serde_json::to_value(report).unwrap_or_default(),
                    )
                }
                (Method::POST, ["venues", venue, operation]) => {
                    let (venue, operation) = (venue.to_string(), operation.to_string());
                    let key = match idempotency_key(&req) {
                        Ok(k) => k,
                        Err(e) => return error_response(&e, Some(&venue), Some(&operation)),
                    };
                    match read_params(app, req).await {
                        Ok(params) => match app
                            .call_output(&venue, &operation, &params, key.as_deref())
                            .await
                        {
                            Ok(result) => json_text_response(StatusCode::OK, result.into_string()),
                            Err(e) => error_response(&e, Some(&venue), Some(&operation)),
                        },
                        Err(e) => error_response(&e, Some(&venue), Some(&operation)),
                    }
                }
                (_, ["health"] | ["venues"] | ["stats"] | ["journal"]) => method_not_allowed("GET"),
                (_, ["venues", _, _] | ["admin", "reload"]) => method_not_allowed("POST"),
                _ => not_found(&path),
            }
        }
        _ => not_found(&path),
    }
}

/// `/health` (unauthenticated: generic statuses) or `/v1/health` (detailed
/// reasons): 200 ok, 503 degraded, 404 for `?venue=` naming no venue.
fn health_response(app: &App, req: &Request<Incoming>, detailed: bool) -> Response<Full<Bytes>> {
    let venue = query_param(req.uri().query(), "venue");
    let (health, body) = app.health_report(venue.as_deref(), detailed);
    let status = match health {
        Health::Ok => StatusCode::OK,
        Health::Degraded => StatusCode::SERVICE_UNAVAILABLE,
        Health::UnknownVenue => StatusCode::NOT_FOUND,
    };
    json_response(status, &body)
}

fn authorize(app: &App, req: &Request<Incoming>) -> Result<(), CallError> {
    let Some(token) = &app.auth_token else {
        return Ok(());
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .unwrap_or("");
    if tokens_match(given, token) {
        Ok(())
    } else {
        Err(CallError::Unauthorized)
    }
}

/// The token of an `Authorization: Bearer <token>` value (the scheme is
/// case-insensitive, RFC 9110 section 11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start_matches(' '))
}

/// Whether `given` is the `expected` token, in time independent of both:
/// the SHA-256 digests (always 32 bytes, so no length shows) are compared
/// with [`ConstantTimeEq`].
fn tokens_match(given: &str, expected: &str) -> bool {
    let given = Sha256::digest(given.as_bytes());
    let expected = Sha256::digest(expected.as_bytes());
    given[..].ct_eq(&expected[..]).into()
}

/// The `Idempotency-Key` header, checked.
fn idempotency_key(req: &Request<Incoming>) -> Result<Option<String>, CallError> {
    let Some(v) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let key = v
        .to_str()
        .map_err(|_| CallError::InvalidParams("Idempotency-Key must be visible ASCII".into()))?;
    crate::app::check_idempotency_key(key)?;
    Ok(Some(key.to_string()))
}

/// Read the body as a JSON object; an empty body is `{}`.
async fn read_params(app: &App, req: Request<Incoming>) -> Result<Value, CallError> {
    let limit = app.config.server.max_request_bytes;
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > limit
    {
        return Err(CallError::PayloadTooLarge { limit });
    }
    let body = Limited::new(req.into_body(), limit)
        .collect()
        .await
        .map_err(|e| {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                CallError::PayloadTooLarge { limit }
            } else {
                CallError::InvalidParams(format!("could not read the request body: {e}"))
            }
        })?
        .to_bytes();
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    let value: Value = serde_json::from_slice(&body)
        .map_err(|e| CallError::InvalidParams(format!("body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(CallError::InvalidParams(
            "body must be a JSON object".into(),
        ));
    }
    Ok(value)
}

fn query_param(query: Option<&str>, key: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == key).then(|| {
            percent_encoding::percent_decode_str(v)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    json_text_response(status, body.to_string())
}

/// A response whose body is JSON text already checked.
fn json_text_response(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

fn error_response(
    e: &CallError,
    venue: Option<&str>,
    operation: Option<&str>,
) -> Response<Full<Bytes>> {
    let mut resp = json_response(e.status(), &e.to_json(venue, operation));
    if let Some(secs) = e.retry_after_secs() {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, http::HeaderValue::from(secs));
    }
    if matches!(e, CallError::Unauthorized) {
        resp.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer"),
        );
    }
    resp
}

fn not_found(path: &str) -> Response<Full<Bytes>> {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({"error": {"kind": "not_found", "message": format!("no route for {path}")}}),
    )
}

/// 405 with the `Allow` header RFC 9110 (section 15.5.6) asks for.
fn method_not_allowed(allow: &'static str) -> Response<Full<Bytes>> {
    let mut resp = json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        &json!({"error": {"kind": "method_not_allowed", "message": format!("this route answers {allow}")}}),
    );
    resp.headers_mut()
        .insert(header::ALLOW, http::HeaderValue::from_static(allow));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_param_decodes() {
        assert_eq!(
            query_param(Some("a=1&venue=ton%2Dx"), "venue").as_deref(),
            Some("ton-x")
        );
        assert_eq!(query_param(None, "venue"), None);
    }

    #[test]
    fn tokens_match_only_the_exact_token_whatever_the_length() {
        assert!(tokens_match("s3cret-token", "s3cret-token"));
        assert!(!tokens_match("s3cret-tokeN", "s3cret-token"));
        assert!(!tokens_match("s3cret-token-and-more", "s3cret-token"));
        assert!(
            !tokens_match("s3cret", "s3cret-token"),
            "a prefix is not the token"
        );
        assert!(!tokens_match("", "s3cret-token"));
        assert!(tokens_match("", ""), "the digests of equal inputs match");
    }

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer abc"), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearerabc"), None);
    }
}
