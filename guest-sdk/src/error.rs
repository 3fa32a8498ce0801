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
pub type VenueError = types::VenueError;
/// Why the host could not obtain a response (the WIT `send-error`).
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
