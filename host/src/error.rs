//! The one error type of a venue call. Each variant is one error kind of the
//! HTTP API, with its status:
//!
//! | variant            | kind                | status |
//! |--------------------|---------------------|--------|
//! | `InvalidParams`    | `invalid_params`    | 400    |
//! | `Unsupported`      | `unsupported`       | 400    |
//! | `Unauthorized`     | `unauthorized`      | 401    |
//! | `UnknownVenue`     | `unknown_venue`     | 404    |
//! | `UnknownOperation` | `unknown_operation` | 404    |
//! | `PayloadTooLarge`  | `payload_too_large` | 413    |
//! | `RateLimited`      | `rate_limited`      | 429 (+ `Retry-After`) |
//! | `Upstream`         | `upstream`          | 502    |
//! | `Connection`       | `connection`        | 502    |
//! | `Parse`            | `parse`             | 502    |
//! | `StaleData`        | `stale_data`        | 502    |
//! | `CircuitOpen`      | `circuit_open`      | 503    |
//! | `Timeout`          | `timeout`           | 504    |
//! | `Plugin`           | `plugin`            | 500    |
//! | `Conflict`         | `conflict`          | 409 (idempotency key in flight, in doubt, or reused with other params; `retry_after_ms` and `Retry-After` when waiting helps) |
//! | `Unavailable`      | `unavailable`       | 503 (the journal cannot record a mutating call) |

use http::StatusCode;
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallError {
    #[error("invalid params: {0}")]
    InvalidParams(String),
    #[error("unsupported: {0}")]
    Unsupported(String),
    #[error("missing or wrong bearer token")]
    Unauthorized,
    #[error("no venue named {0:?}")]
    UnknownVenue(String),
    #[error("venue {venue:?} has no operation {operation:?}")]
    UnknownOperation { venue: String, operation: String },
    #[error("request body exceeds {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("rate limited: {message}")]
    RateLimited {
        message: String,
        retry_after_ms: Option<u64>,
    },
    #[error("venue answered HTTP {status}{}: {message}", code.as_ref().map(|c| format!(" code {c}")).unwrap_or_default())]
    Upstream {
        status: u16,
        code: Option<String>,
        message: String,
    },
    #[error("connection failed: {0}")]
    Connection(String),
    #[error("unreadable venue response: {0}")]
    Parse(String),
    #[error("stale data: {0}")]
    StaleData(String),
    #[error("circuit open: {0}")]
    CircuitOpen(String),
    #[error("timed out: {0}")]
    Timeout(String),
    #[error("plugin failed: {0}")]
    Plugin(String),
    #[error("conflict: {message}")]
    Conflict {
        message: String,
        /// When a retry with the same key may get a different answer.
        retry_after_ms: Option<u64>,
    },
    #[error("unavailable: {0}")]
    Unavailable(String),
}

/// An error with its sources, `a: b: c`, each said once, for messages (a
/// source whose text the message already holds is not repeated). Callers
/// pass errors whose texts carry no secret: a redacted endpoint, a
/// connection error without its URL.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
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

impl CallError {
    /// Every kind with its HTTP status, as [`CallError::kind`] and
    /// [`CallError::status`] give them (a test keeps the three in step). The
    /// OpenAPI description lists its error responses from here.
    pub const KINDS: &'static [(&'static str, u16)] = &[
        ("invalid_params", 400),
        ("unsupported", 400),
        ("unauthorized", 401),
        ("unknown_venue", 404),
        ("unknown_operation", 404),
        ("conflict", 409),
        ("payload_too_large", 413),
        ("rate_limited", 429),
        ("plugin", 500),
        ("upstream", 502),
        ("connection", 502),
        ("parse", 502),
        ("stale_data", 502),
        ("circuit_open", 503),
        ("unavailable", 503),
        ("timeout", 504),
    ];

    /// The API error kind.
    pub fn kind(&self) -> &'static str {
        match self {
            CallError::InvalidParams(_) => "invalid_params",
            CallError::Unsupported(_) => "unsupported",
            CallError::Unauthorized => "unauthorized",
            CallError::UnknownVenue(_) => "unknown_venue",
            CallError::UnknownOperation { .. } => "unknown_operation",
            CallError::PayloadTooLarge { .. } => "payload_too_large",
            CallError::RateLimited { .. } => "rate_limited",
            CallError::Upstream { .. } => "upstream",
            CallError::Connection(_) => "connection",
            CallError::Parse(_) => "parse",
            CallError::StaleData(_) => "stale_data",
            CallError::CircuitOpen(_) => "circuit_open",
            CallError::Timeout(_) => "timeout",
            CallError::Plugin(_) => "plugin",
            CallError::Conflict { .. } => "conflict",
            CallError::Unavailable(_) => "unavailable",
        }
    }

    /// The HTTP status the API answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            CallError::InvalidParams(_) | CallError::Unsupported(_) => StatusCode::BAD_REQUEST,
            CallError::Unauthorized => StatusCode::UNAUTHORIZED,
            CallError::UnknownVenue(_) | CallError::UnknownOperation { .. } => {
                StatusCode::NOT_FOUND
            }
            CallError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            CallError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            CallError::Upstream { .. }
            | CallError::Connection(_)
            | CallError::Parse(_)
            | CallError::StaleData(_) => StatusCode::BAD_GATEWAY,
            CallError::CircuitOpen(_) => StatusCode::SERVICE_UNAVAILABLE,
            CallError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
            CallError::Plugin(_) => StatusCode::INTERNAL_SERVER_ERROR,
            CallError::Conflict { .. } => StatusCode::CONFLICT,
            CallError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Seconds for a `Retry-After` header, when the error carries one.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            CallError::RateLimited {
                retry_after_ms: Some(ms),
                ..
            }
            | CallError::Conflict {
                retry_after_ms: Some(ms),
                ..
            } => Some(ms.div_ceil(1000).max(1)),
            _ => None,
        }
    }

    /// The API error body: `{"error": {"kind", "message", "venue", "operation", ...}}`.
    pub fn to_json(&self, venue: Option<&str>, operation: Option<&str>) -> Value {
        let mut err = json!({
            "kind": self.kind(),
            "message": self.to_string(),
            "venue": venue,
            "operation": operation,
        });
        match self {
            CallError::Upstream { status, code, .. } => {
                err["upstream_status"] = json!(status);
                err["code"] = json!(code);
            }
            CallError::RateLimited { retry_after_ms, .. }
            | CallError::Conflict { retry_after_ms, .. } => {
                err["retry_after_ms"] = json!(retry_after_ms);
            }
            _ => {}
        }
        json!({ "error": err })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_error_body_carries_status_and_code() {
        let e = CallError::Upstream {
            status: 429,
            code: Some("429".into()),
            message: "Ratelimit exceed".into(),
        };
        let body = e.to_json(Some("ton"), Some("get_balance"));
        assert_eq!(body["error"]["kind"], "upstream");
        assert_eq!(body["error"]["upstream_status"], 429);
        assert_eq!(body["error"]["code"], "429");
        assert_eq!(body["error"]["venue"], "ton");
        assert_eq!(e.status(), StatusCode::BAD_GATEWAY);
    }

    #[test]
    fn kinds_lists_every_variant_with_its_status() {
        let s = || "x".to_string();
        let every = [
            CallError::InvalidParams(s()),
            CallError::Unsupported(s()),
            CallError::Unauthorized,
            CallError::UnknownVenue(s()),
            CallError::UnknownOperation {
                venue: s(),
                operation: s(),
            },
            CallError::PayloadTooLarge { limit: 1 },
            CallError::RateLimited {
                message: s(),
                retry_after_ms: None,
            },
            CallError::Upstream {
                status: 400,
                code: None,
                message: s(),
            },
            CallError::Connection(s()),
            CallError::Parse(s()),
            CallError::StaleData(s()),
            CallError::CircuitOpen(s()),
            CallError::Timeout(s()),
            CallError::Plugin(s()),
            CallError::Conflict {
                message: s(),
                retry_after_ms: None,
            },
            CallError::Unavailable(s()),
        ];
        assert_eq!(every.len(), CallError::KINDS.len());
        for e in &every {
            assert!(
                CallError::KINDS.contains(&(e.kind(), e.status().as_u16())),
                "{} {}",
                e.kind(),
                e.status()
            );
        }
    }

    #[test]
    fn rate_limited_rounds_retry_after_up_to_whole_seconds() {
        let e = CallError::RateLimited {
            message: "budget".into(),
            retry_after_ms: Some(1001),
        };
        assert_eq!(e.retry_after_secs(), Some(2));
        assert_eq!(e.status(), StatusCode::TOO_MANY_REQUESTS);
    }
}
