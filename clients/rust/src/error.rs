//! The errors of the host's API, by kind.

use std::fmt;
use std::time::Duration;

use serde_json::Value;

/// What went wrong, as the host names it in `{"error": {"kind": ...}}`, plus
/// two kinds this client reports itself when no usable answer came
/// ([`ErrorKind::Transport`], [`ErrorKind::InvalidResponse`]).
///
/// A kind a newer host sends and this client does not know is
/// [`ErrorKind::Other`] with the kind's name, so a client older than its
/// host keeps working.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `invalid_params` (400): the body is not a JSON object, the params do
    /// not match the operation's schema, the plugin rejected them, or a
    /// mutating call came without the `Idempotency-Key` the plugin needs.
    InvalidParams,
    /// `unsupported` (400): the plugin does not support this combination.
    Unsupported,
    /// `unauthorized` (401): missing or wrong bearer token.
    Unauthorized,
    /// `forbidden` (403): an admin route on a host without a bearer token.
    Forbidden,
    /// `unknown_venue` (404): no venue of that name is configured.
    UnknownVenue,
    /// `unknown_operation` (404): the venue's plugin has no such operation.
    UnknownOperation,
    /// `not_found` (404): no route for the path (a wrong base URL).
    NotFound,
    /// `method_not_allowed` (405): the route answers another method.
    MethodNotAllowed,
    /// `conflict` (409): the idempotency key is in flight or in doubt (with
    /// a retry-after: when a retry may get another answer), or was used
    /// with another operation or other params (without one).
    Conflict,
    /// `payload_too_large` (413): the body exceeds `server.max_request_bytes`.
    PayloadTooLarge,
    /// `rate_limited` (429): the venue's local budget is spent or the venue
    /// blocked the host; carries a retry-after.
    RateLimited,
    /// `plugin` (500): the plugin trapped, hit a limit or returned bad output.
    Plugin,
    /// `upstream` (502): the venue answered with an error; see
    /// [`Error::upstream_status`] and [`Error::code`].
    Upstream,
    /// `connection` (502): the host could not reach the venue.
    Connection,
    /// `parse` (502): the venue's answer was unreadable.
    Parse,
    /// `stale_data` (502): the venue's data is older than allowed.
    StaleData,
    /// `circuit_open` (503): every endpoint's breaker is open; nothing was sent.
    CircuitOpen,
    /// `unavailable` (503): the journal cannot record a mutating call.
    Unavailable,
    /// `timeout` (504): an attempt or the call's deadline passed.
    Timeout,
    /// Client side, never sent by the host: no answer from the host
    /// (connection refused or reset, or this client's own timeout).
    Transport,
    /// Client side, never sent by the host: an answer this client cannot
    /// read (not JSON, or not the expected shape), e.g. from a proxy.
    InvalidResponse,
    /// A kind this client does not know, by name.
    Other(String),
}

impl ErrorKind {
    /// Every kind the host sends, in the order of its error table.
    pub const HOST_KINDS: &'static [ErrorKind] = &[
        ErrorKind::InvalidParams,
        ErrorKind::Unsupported,
        ErrorKind::Unauthorized,
        ErrorKind::Forbidden,
        ErrorKind::UnknownVenue,
        ErrorKind::UnknownOperation,
        ErrorKind::NotFound,
        ErrorKind::MethodNotAllowed,
        ErrorKind::Conflict,
        ErrorKind::PayloadTooLarge,
        ErrorKind::RateLimited,
        ErrorKind::Plugin,
        ErrorKind::Upstream,
        ErrorKind::Connection,
        ErrorKind::Parse,
        ErrorKind::StaleData,
        ErrorKind::CircuitOpen,
        ErrorKind::Unavailable,
        ErrorKind::Timeout,
    ];

    /// The kinds this client reports itself (never sent by the host).
    pub const CLIENT_KINDS: &'static [ErrorKind] =
        &[ErrorKind::Transport, ErrorKind::InvalidResponse];

    /// The kind of a wire name (`"rate_limited"` is [`ErrorKind::RateLimited`]);
    /// an unknown name is [`ErrorKind::Other`].
    pub fn from_name(name: &str) -> ErrorKind {
        Self::HOST_KINDS
            .iter()
            .chain(Self::CLIENT_KINDS)
            .find(|k| k.as_str() == name)
            .cloned()
            .unwrap_or_else(|| ErrorKind::Other(name.to_string()))
    }

    /// The wire name: `"rate_limited"` for [`ErrorKind::RateLimited`];
    /// `"transport"` and `"invalid_response"` for the client-side kinds.
    pub fn as_str(&self) -> &str {
        match self {
            ErrorKind::InvalidParams => "invalid_params",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::UnknownVenue => "unknown_venue",
            ErrorKind::UnknownOperation => "unknown_operation",
            ErrorKind::NotFound => "not_found",
            ErrorKind::MethodNotAllowed => "method_not_allowed",
            ErrorKind::Conflict => "conflict",
            ErrorKind::PayloadTooLarge => "payload_too_large",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Plugin => "plugin",
            ErrorKind::Upstream => "upstream",
            ErrorKind::Connection => "connection",
            ErrorKind::Parse => "parse",
            ErrorKind::StaleData => "stale_data",
            ErrorKind::CircuitOpen => "circuit_open",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Transport => "transport",
            ErrorKind::InvalidResponse => "invalid_response",
            ErrorKind::Other(name) => name,
        }
    }

    /// The HTTP status the host answers this kind with; `None` for the
    /// client-side kinds and for [`ErrorKind::Other`].
    pub fn http_status(&self) -> Option<u16> {
        Some(match self {
            ErrorKind::InvalidParams | ErrorKind::Unsupported => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::UnknownVenue | ErrorKind::UnknownOperation | ErrorKind::NotFound => 404,
            ErrorKind::MethodNotAllowed => 405,
            ErrorKind::Conflict => 409,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::RateLimited => 429,
            ErrorKind::Plugin => 500,
            ErrorKind::Upstream
            | ErrorKind::Connection
            | ErrorKind::Parse
            | ErrorKind::StaleData => 502,
            ErrorKind::CircuitOpen | ErrorKind::Unavailable => 503,
            ErrorKind::Timeout => 504,
            ErrorKind::Transport | ErrorKind::InvalidResponse | ErrorKind::Other(_) => {
                return None;
            }
        })
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed request: the host's error body, or a client-side failure
/// ([`ErrorKind::Transport`], [`ErrorKind::InvalidResponse`]).
///
/// Boxed, so that `Result<_, Error>` stays one pointer wide.
#[derive(Debug, Clone)]
pub struct Error(Box<Inner>);

#[derive(Debug, Clone)]
struct Inner {
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
    retry_after_ms: Option<u64>,
    upstream_status: Option<u16>,
    code: Option<String>,
    venue: Option<String>,
    operation: Option<String>,
    body: Option<Value>,
}

impl Error {
    /// An error of `kind` with `message` and nothing else (no HTTP status).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error(Box::new(Inner {
            kind,
            message: message.into(),
            status: None,
            retry_after_ms: None,
            upstream_status: None,
            code: None,
            venue: None,
            operation: None,
            body: None,
        }))
    }

    /// The kind.
    pub fn kind(&self) -> &ErrorKind {
        &self.0.kind
    }

    /// The host's message (or this client's, for the client-side kinds).
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The HTTP status of the host's answer; `None` when there was none (or
    /// the request was refused before it was sent).
    pub fn status(&self) -> Option<u16> {
        self.0.status
    }

    /// When a retry may get another answer, in ms: the body's
    /// `retry_after_ms`, or else the `Retry-After` header (whole seconds).
    /// Set on `rate_limited` and on a `conflict` over a key that is in
    /// flight or in doubt.
    pub fn retry_after_ms(&self) -> Option<u64> {
        self.0.retry_after_ms
    }

    /// [`Error::retry_after_ms`] as a duration.
    pub fn retry_after(&self) -> Option<Duration> {
        self.0.retry_after_ms.map(Duration::from_millis)
    }

    /// The venue's HTTP status (`upstream`).
    pub fn upstream_status(&self) -> Option<u16> {
        self.0.upstream_status
    }

    /// The venue's error code (`upstream`, when the plugin read one).
    pub fn code(&self) -> Option<&str> {
        self.0.code.as_deref()
    }

    /// The venue the host names in the error body.
    pub fn venue(&self) -> Option<&str> {
        self.0.venue.as_deref()
    }

    /// The operation the host names in the error body.
    pub fn operation(&self) -> Option<&str> {
        self.0.operation.as_deref()
    }

    /// The whole `error` object as the host sent it (fields a newer host
    /// adds are here).
    pub fn body(&self) -> Option<&Value> {
        self.0.body.as_ref()
    }

    /// This error with HTTP status `status`.
    pub(crate) fn with_status(mut self, status: u16) -> Error {
        self.0.status = Some(status);
        self
    }

    /// Read a non-2xx answer: its `{"error": {...}}` body, or an
    /// [`ErrorKind::InvalidResponse`] quoting the start of what came.
    pub(crate) fn from_answer(status: u16, retry_after_header: Option<u64>, body: &[u8]) -> Error {
        let header_ms = retry_after_header.map(|s| s.saturating_mul(1000));
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let Some(err) = parsed
            .as_ref()
            .and_then(|v| v.get("error"))
            .filter(|e| e.get("kind").and_then(Value::as_str).is_some())
        else {
            let text = String::from_utf8_lossy(body);
            let mut shown: String = text.chars().take(300).collect();
            if shown.len() < text.len() {
                shown.push('…');
            }
            let mut e = Error::new(
                ErrorKind::InvalidResponse,
                format!("HTTP {status} without an error body: {shown}"),
            )
            .with_status(status);
            e.0.retry_after_ms = header_ms;
            return e;
        };
        let text = |field: &str| err.get(field).and_then(Value::as_str).map(str::to_string);
        let kind = ErrorKind::from_name(err["kind"].as_str().unwrap_or_default());
        Error(Box::new(Inner {
            message: text("message").unwrap_or_else(|| kind.as_str().to_string()),
            kind,
            status: Some(status),
            retry_after_ms: err
                .get("retry_after_ms")
                .and_then(Value::as_u64)
                .or(header_ms),
            upstream_status: err
                .get("upstream_status")
                .and_then(Value::as_u64)
                .and_then(|s| u16::try_from(s).ok()),
            code: match err.get("code") {
                Some(Value::String(c)) => Some(c.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            },
            venue: text("venue"),
            operation: text("operation"),
            body: Some(err.clone()),
        }))
    }

    /// For [`crate::Client::health`]: a 404 naming an unknown venue.
    pub(crate) fn unknown_venue(venue: Option<&str>, body: Option<Value>) -> Error {
        let mut e = Error::new(
            ErrorKind::UnknownVenue,
            format!("no venue named {:?}", venue.unwrap_or_default()),
        )
        .with_status(404);
        e.0.venue = venue.map(str::to_string);
        e.0.body = body;
        e
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0.kind, self.0.message)?;
        if let Some(status) = self.0.status {
            write!(f, " (HTTP {status})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// A base URL or token [`crate::Client::new`] cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub(crate) String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_round_trips_and_unknown_names_are_kept() {
        for k in ErrorKind::HOST_KINDS {
            assert_eq!(&ErrorKind::from_name(k.as_str()), k);
            assert!(k.http_status().is_some(), "{k}");
        }
        assert_eq!(
            ErrorKind::from_name("brand_new"),
            ErrorKind::Other("brand_new".into())
        );
        assert_eq!(ErrorKind::from_name("brand_new").as_str(), "brand_new");
    }

    #[test]
    fn an_error_body_is_read_with_its_fields() {
        let body = br#"{"error":{"kind":"upstream","message":"venue answered HTTP 400 code -2019: margin","venue":"binance","operation":"create_market_order","upstream_status":400,"code":"-2019","extra":1}}"#;
        let e = Error::from_answer(502, None, body);
        assert_eq!(e.kind(), &ErrorKind::Upstream);
        assert_eq!(e.status(), Some(502));
        assert_eq!(e.upstream_status(), Some(400));
        assert_eq!(e.code(), Some("-2019"));
        assert_eq!(e.venue(), Some("binance"));
        assert_eq!(e.operation(), Some("create_market_order"));
        assert_eq!(e.body().unwrap()["extra"], 1);
        assert_eq!(e.retry_after_ms(), None);
        assert_eq!(
            e.to_string(),
            "upstream: venue answered HTTP 400 code -2019: margin (HTTP 502)"
        );
    }

    #[test]
    fn retry_after_comes_from_the_body_else_the_header() {
        let e = Error::from_answer(
            429,
            Some(2),
            br#"{"error":{"kind":"rate_limited","message":"m","retry_after_ms":1500}}"#,
        );
        assert_eq!(e.retry_after(), Some(Duration::from_millis(1500)));
        let e = Error::from_answer(
            429,
            Some(2),
            br#"{"error":{"kind":"rate_limited","message":"m"}}"#,
        );
        assert_eq!(e.retry_after_ms(), Some(2000));
    }

    #[test]
    fn an_answer_without_an_error_body_is_an_invalid_response() {
        let e = Error::from_answer(502, None, b"<html>Bad Gateway</html>");
        assert_eq!(e.kind(), &ErrorKind::InvalidResponse);
        assert_eq!(e.status(), Some(502));
        assert!(e.message().contains("Bad Gateway"), "{e}");
    }
}
