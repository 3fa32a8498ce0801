//! Errors a plugin returns, and the host's transport errors it may receive.
//!
//! Every [`VenueError`] case maps to one error kind of the host API:
//!
//! | case             | API kind          | HTTP |
//! |------------------|-------------------|------|
//! | `InvalidParams`  | `invalid_params`  | 400  |
//! | `Upstream`       | `upstream`        | 502  |
//! | `StaleData`      | `stale_data`      | 502  |
//! | `Parse`          | `parse`           | 502  |
//! | `Unsupported`    | `unsupported`     | 400  |
//! | `Transport(e)`   | kind of `e`       | 502-504, 429 |

use crate::bindings::resilience::venue::types;

/// Why an operation failed (the WIT `venue-error`).
///
/// ```
/// let e = resilience_guest::VenueError::StaleData("answer is 70 s old".into());
/// assert!(e.to_string().contains("70 s"));
/// ```
pub type VenueError = types::VenueError;
/// Why the host could not obtain a response (the WIT `send-error`).
///
/// ```
/// use resilience_guest::{VenueError, error::SendError};
/// let e: VenueError = SendError::Timeout("deadline".into()).into();
/// assert!(matches!(e, VenueError::Transport(SendError::Timeout(_))));
/// ```
pub type SendError = types::SendError;

/// The text of the `timeout` a read's `send` gets when the host *parks* it:
/// many calls already wait on the venue, so the host takes the instance
/// back, sends the request itself, and runs the operation again with the
/// answer. The venue did not fail; see [`types::SendError::is_parked`].
pub const PARKED: &str =
    "the host parked this run until the venue answers; it runs the call again with the answer";

impl types::SendError {
    /// Whether this is a park, not a failure: the host runs the operation
    /// again with the venue's answer and drops this run's result. Conclude
    /// nothing from it (do not mark an endpoint down, do not cache it);
    /// returning the error as it is ends the run soonest.
    ///
    /// ```
    /// use resilience_guest::error::{PARKED, SendError};
    /// assert!(SendError::Timeout(PARKED.into()).is_parked());
    /// assert!(!SendError::Timeout("deadline".into()).is_parked());
    /// ```
    pub fn is_parked(&self) -> bool {
        matches!(self, types::SendError::Timeout(text) if text == PARKED)
    }
}
/// A rate-limit refusal: the message and, when known, the wait in
/// milliseconds (the WIT `rate-limited`). Build one with
/// [`VenueError::rate_limited`].
pub type RateLimited = types::RateLimited;
/// The venue's own error: HTTP status, its code when it has one, and its
/// message (the WIT `upstream-error`). Build one with [`VenueError::upstream`].
pub type UpstreamError = types::UpstreamError;

impl VenueError {
    /// The caller's params are wrong. Name the field in `msg`.
    ///
    /// ```
    /// let e = resilience_guest::VenueError::invalid("address: must not be empty");
    /// assert!(matches!(e, resilience_guest::VenueError::InvalidParams(_)));
    /// ```
    pub fn invalid(msg: impl Into<String>) -> Self {
        VenueError::InvalidParams(msg.into())
    }

    /// The venue's body could not be understood.
    ///
    /// ```
    /// let e = resilience_guest::VenueError::parse("result: expected a string");
    /// assert!(matches!(e, resilience_guest::VenueError::Parse(_)));
    /// ```
    pub fn parse(msg: impl Into<String>) -> Self {
        VenueError::Parse(msg.into())
    }

    /// The venue answered with an error.
    ///
    /// ```
    /// let e = resilience_guest::VenueError::upstream(400, Some("-2019".into()), "Margin is insufficient.");
    /// assert!(matches!(e, resilience_guest::VenueError::Upstream(u) if u.status == 400));
    /// ```
    pub fn upstream(status: u16, code: Option<String>, message: impl Into<String>) -> Self {
        VenueError::Upstream(types::UpstreamError {
            status,
            code,
            message: message.into(),
        })
    }
}

impl VenueError {
    /// The venue refused for its rate limit in a way only the plugin can read
    /// (an error code in a 200 body, a venue-specific status). Give the wait
    /// the venue asked for when it said one.
    ///
    /// The host treats this exactly as a 429 from the endpoint that answered:
    /// it counts it in `resilience_rate_limited_total`, blocks the venue for
    /// `retry_after_ms` (or, with `retry.failover_on_rate_limit`, marks that
    /// endpoint), and retries a read-only operation on the same terms as a
    /// 429. A plugin that returns the host's own `rate-limited` send error
    /// unchanged is not counted twice.
    ///
    /// ```
    /// use resilience_guest::{VenueError, error::SendError};
    /// let e = VenueError::rate_limited("EAPI:Rate limit exceeded", Some(2_000));
    /// assert!(matches!(
    ///     e,
    ///     VenueError::Transport(SendError::RateLimited(r)) if r.retry_after_ms == Some(2_000)
    /// ));
    /// ```
    pub fn rate_limited(message: impl Into<String>, retry_after_ms: Option<u64>) -> Self {
        VenueError::Transport(SendError::RateLimited(types::RateLimited {
            message: message.into(),
            retry_after_ms,
        }))
    }
}

impl From<SendError> for VenueError {
    fn from(e: SendError) -> Self {
        VenueError::Transport(e)
    }
}

/// A value is not in the format a helper expects (bad hex, a word that is
/// not an address, a decimal with too many places).
///
/// The helpers cannot know whether the value came from the caller or from the
/// venue, so the plugin picks the error kind and names the field:
/// [`FormatError::invalid`] for params, [`FormatError::parse`] for bodies.
///
/// ```
/// use resilience_guest::encoding::hex_decode;
/// let err = hex_decode("0xZZ").unwrap_err();
/// assert!(matches!(err.clone().invalid("key"), resilience_guest::VenueError::InvalidParams(m) if m.starts_with("key: ")));
/// assert!(matches!(err.parse("result"), resilience_guest::VenueError::Parse(m) if m.starts_with("result: ")));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatError {
    message: String,
}

impl FormatError {
    /// An error with `message` (what is wrong, without the field name).
    ///
    /// ```
    /// let e = resilience_guest::error::FormatError::new("expected 32 bytes, got 31");
    /// assert_eq!(e.to_string(), "expected 32 bytes, got 31");
    /// ```
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }

    /// The caller's param `field` is wrong: `invalid_params("field: message")`.
    ///
    /// ```
    /// let e = resilience_guest::error::FormatError::new("not hex").invalid("digest");
    /// assert_eq!(e, resilience_guest::VenueError::InvalidParams("digest: not hex".into()));
    /// ```
    pub fn invalid(self, field: &str) -> VenueError {
        VenueError::InvalidParams(format!("{field}: {}", self.message))
    }

    /// The venue's `field` is wrong: `parse("field: message")`.
    ///
    /// ```
    /// let e = resilience_guest::error::FormatError::new("not hex").parse("result");
    /// assert_eq!(e, resilience_guest::VenueError::Parse("result: not hex".into()));
    /// ```
    pub fn parse(self, field: &str) -> VenueError {
        VenueError::Parse(format!("{field}: {}", self.message))
    }
}

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FormatError {}
