//! Classification of one attempt, and the retry rules that follow from it.
//!
//! | outcome        | when                                   | retried | breaker |
//! |----------------|----------------------------------------|---------|---------|
//! | `success`      | 1xx-3xx                                 | -       | success |
//! | `http_4xx`     | 4xx other than 429 and 418              | never   | success (the endpoint works; the request is wrong) |
//! | `rate_limited` | 429, and 418 (a ban)                    | 429 yes, 418 no | neutral |
//! | `http_5xx`     | 5xx                                     | yes     | failure |
//! | `timeout`      | no complete answer within `timeout_ms`  | yes*    | failure |
//! | `connection`   | refused, reset, DNS, TLS                | yes*    | failure |
//!
//! \* A request the plugin marked non-idempotent is retried only when the
//! failure proves it never reached the venue ([`AttemptError::sent`] false:
//! connect refused or failed, no connection slot in time). A timeout or reset
//! after the request was written is returned, not retried.

/// What one attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    Success,
    Http4xx,
    Http5xx,
    Timeout,
    Connection,
    RateLimited,
}

impl Outcome {
    /// Every outcome, in metric-label order.
    pub const ALL: [Outcome; 6] = [
        Outcome::Success,
        Outcome::Http4xx,
        Outcome::Http5xx,
        Outcome::Timeout,
        Outcome::Connection,
        Outcome::RateLimited,
    ];

    /// The metric label (`resilience_upstream_attempts_total{outcome}`).
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Http4xx => "http_4xx",
            Outcome::Http5xx => "http_5xx",
            Outcome::Timeout => "timeout",
            Outcome::Connection => "connection",
            Outcome::RateLimited => "rate_limited",
        }
    }

    /// Whether this outcome counts against the endpoint's breaker.
    pub fn is_endpoint_failure(self) -> bool {
        matches!(
            self,
            Outcome::Http5xx | Outcome::Timeout | Outcome::Connection
        )
    }
}

/// Outcome of an HTTP status.
pub fn classify_status(status: u16) -> Outcome {
    match status {
        429 | 418 => Outcome::RateLimited,
        400..=499 => Outcome::Http4xx,
        500..=599 => Outcome::Http5xx,
        _ => Outcome::Success,
    }
}

/// A transport failure of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptError {
    pub outcome: Outcome,
    /// Whether the request may have reached the venue.
    pub sent: bool,
    /// A failure of this host, not of the endpoint (no connection slot in
    /// time, an attempt cut short by the call's own deadline, a response
    /// budget spent): it never counts against the endpoint's breaker.
    pub local: bool,
    pub message: String,
}

impl AttemptError {
    pub fn timeout(sent: bool, message: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Timeout,
            sent,
            local: false,
            message: message.into(),
        }
    }
    pub fn connection(sent: bool, message: impl Into<String>) -> Self {
        Self {
            outcome: Outcome::Connection,
            sent,
            local: false,
            message: message.into(),
        }
    }
    /// The same failure, marked as this host's own.
    pub fn local(self) -> Self {
        Self {
            local: true,
            ..self
        }
    }
}

/// Whether an attempt with `outcome` may be retried.
///
/// `status` is the HTTP status when there was a response; `sent` whether the
/// request may have reached the venue; `idempotent` the plugin's marking.
pub fn may_retry(outcome: Outcome, status: Option<u16>, sent: bool, idempotent: bool) -> bool {
    let retryable_class = match outcome {
        Outcome::Success | Outcome::Http4xx => false,
        // 418 is a ban: retrying before it lifts only lengthens it.
        Outcome::RateLimited => status != Some(418),
        Outcome::Http5xx | Outcome::Timeout | Outcome::Connection => true,
    };
    // A 429 or 5xx answer proves the venue saw the request; only idempotent
    // requests may be repeated then. Failures before sending always may.
    retryable_class && (idempotent || !sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_outcomes() {
        assert_eq!(classify_status(200), Outcome::Success);
        assert_eq!(classify_status(302), Outcome::Success);
        assert_eq!(classify_status(400), Outcome::Http4xx);
        assert_eq!(classify_status(404), Outcome::Http4xx);
        assert_eq!(classify_status(429), Outcome::RateLimited);
        assert_eq!(classify_status(418), Outcome::RateLimited);
        assert_eq!(classify_status(503), Outcome::Http5xx);
    }

    #[test]
    fn retry_on_timeout_connection_5xx_429_never_on_4xx() {
        for (o, s) in [
            (Outcome::Timeout, None),
            (Outcome::Connection, None),
            (Outcome::Http5xx, Some(502)),
            (Outcome::RateLimited, Some(429)),
        ] {
            assert!(may_retry(o, s, true, true), "{o:?}");
        }
        assert!(!may_retry(Outcome::Http4xx, Some(400), true, true));
        assert!(
            !may_retry(Outcome::RateLimited, Some(418), true, true),
            "418 is a ban"
        );
        assert!(!may_retry(Outcome::Success, Some(200), true, true));
    }

    #[test]
    fn non_idempotent_is_retried_only_when_it_never_left() {
        assert!(
            may_retry(Outcome::Connection, None, false, false),
            "connect refused"
        );
        assert!(
            !may_retry(Outcome::Connection, None, true, false),
            "reset after sending"
        );
        assert!(
            !may_retry(Outcome::Timeout, None, true, false),
            "timeout after sending"
        );
        assert!(
            may_retry(Outcome::Timeout, None, false, false),
            "no connection slot in time"
        );
        assert!(!may_retry(Outcome::Http5xx, Some(503), true, false));
    }

    #[test]
    fn only_5xx_timeouts_and_connection_errors_count_against_the_breaker() {
        let failures: Vec<_> = Outcome::ALL
            .into_iter()
            .filter(|o| o.is_endpoint_failure())
            .collect();
        assert_eq!(
            failures,
            vec![Outcome::Http5xx, Outcome::Timeout, Outcome::Connection]
        );
    }
}

/// Whether a JSON-RPC answer (one object or a batch) carries an error whose
/// `code` is in `codes`.
pub fn jsonrpc_overloaded(body: &[u8], codes: &[i64]) -> bool {
    if codes.is_empty() || body.is_empty() {
        return false;
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    let hit = |o: &serde_json::Value| {
        o.get("error")
            .and_then(|e| e.get("code"))
            .and_then(serde_json::Value::as_i64)
            .is_some_and(|c| codes.contains(&c))
    };
    match &v {
        serde_json::Value::Array(items) => items.iter().any(hit),
        other => hit(other),
    }
}

#[cfg(test)]
mod jsonrpc_tests {
    use super::*;

    #[test]
    fn overload_codes_are_found_in_single_and_batch_answers() {
        let codes = [-32005];
        assert!(jsonrpc_overloaded(
            br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"limit exceeded"}}"#,
            &codes
        ));
        assert!(jsonrpc_overloaded(
            br#"[{"id":1,"result":"0x1"},{"id":2,"error":{"code":-32005}}]"#,
            &codes
        ));
        assert!(!jsonrpc_overloaded(
            br#"{"id":1,"error":{"code":-32000,"message":"execution reverted"}}"#,
            &codes
        ));
        assert!(!jsonrpc_overloaded(br#"{"id":1,"result":"0x1"}"#, &codes));
        assert!(!jsonrpc_overloaded(b"not json", &codes));
        assert!(!jsonrpc_overloaded(br#"{"error":{"code":-32005}}"#, &[]));
    }
}
