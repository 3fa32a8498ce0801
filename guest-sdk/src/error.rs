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
