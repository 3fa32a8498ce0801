//! Running a plugin's `invoke` and mapping what it returns to the API.
//!
//! A rate limit the plugin read from a venue's answer (an error code in a 200
//! body, which only the plugin can read) comes back as the plugin's error,
//! `transport(rate-limited)`, built with the SDK's `VenueError::rate_limited`.
//! The host books it as a 429 from the endpoint that gave the answer (counted,
//! the venue blocked for the wait, or that endpoint marked when limits are per
//! endpoint; see [`crate::upstream::Upstream::plugin_rate_limited`]) and reruns
//! a read-only call on a 429's terms. The signal is the returned error rather
//! than a new host import because the operation ends there anyway, the WIT
//! 0.2 contract stays as it is, and a plugin cannot report a limit and then
//! return a success the host would have to reconcile with it.
//!
//! Mutating calls are booked the same way but never rerun here: whether an
//! order may be sent again is the journal's decision ([`super::orders`]).

use serde::de::IgnoredAny;
use serde_json::Value;

use super::VenueRuntime;
use crate::capabilities::CallScope;
use crate::error::CallError;
use crate::plugin::bindings::{SendError, VenueError};
use crate::plugin::pool::{Call, Reply};
use crate::plugin::resume;
use crate::resilience::deadline::Deadline;

/// How long past the call's deadline a guest may run before its instance is
/// discarded: room for a send cut at the deadline to return its `timeout`.
const WALL_CLOCK_GRACE: std::time::Duration = std::time::Duration::from_millis(250);

/// A plugin's result: the plugin's own text, checked to be exactly one JSON
/// value. The API answers it as it is, so a read-only call's result is
/// parsed once (to check it) and never built into a tree and written again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output(String);

impl Output {
    /// Check `text`: one JSON value, nothing after it but whitespace.
    pub fn check(text: String) -> Result<Self, serde_json::Error> {
        serde_json::from_str::<IgnoredAny>(&text)?;
        Ok(Self(text))
    }

    /// The result of a call whose value the host built (a journaled order).
    pub fn from_value(value: &Value) -> Self {
        Self(value.to_string())
    }

    /// The result as a JSON tree.
    pub fn into_value(self) -> Value {
        // Checked by the same parser with the same limits, so this cannot
        // fail; `null` keeps it total.
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }

    /// The JSON text.
    pub fn into_string(self) -> String {
        self.0
    }
}

/// Longest text of a plugin's error the host passes on. The text is
/// answered to the caller, logged and may be journaled, so a plugin must not
/// be able to make any of them as large as its memory.
pub const MAX_ERROR_TEXT_BYTES: usize = 4096;

/// Map a plugin's venue error to the API error, each text at most
/// [`MAX_ERROR_TEXT_BYTES`].
pub fn venue_error(e: VenueError) -> CallError {
    let c = cap_text;
    match e {
        VenueError::InvalidParams(m) => CallError::InvalidParams(c(m)),
        VenueError::Upstream(u) => CallError::Upstream {
            status: u.status,
            code: u.code.map(c),
            message: c(u.message),
        },
        VenueError::StaleData(m) => CallError::StaleData(c(m)),
        VenueError::Parse(m) => CallError::Parse(c(m)),
        VenueError::Unsupported(m) => CallError::Unsupported(c(m)),
        VenueError::Transport(t) => match t {
            SendError::Timeout(m) => CallError::Timeout(c(m)),
            SendError::Connection(m) => CallError::Connection(c(m)),
            SendError::CircuitOpen(m) => CallError::CircuitOpen(c(m)),
            SendError::RateLimited(r) => CallError::RateLimited {
                message: c(r.message),
                retry_after_ms: r.retry_after_ms,
            },
            SendError::Denied(m) => CallError::Plugin(format!("denied: {}", c(m))),
        },
    }
}

/// `text`, cut to [`MAX_ERROR_TEXT_BYTES`] at a character boundary and
/// marked as cut.
pub fn cap_text(mut text: String) -> String {
    if text.len() <= MAX_ERROR_TEXT_BYTES {
        return text;
    }
    let mut cut = MAX_ERROR_TEXT_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let len = text.len();
    text.truncate(cut);
    text.push_str(&format!(" [cut: {len} bytes]"));
    text
}

/// A read-only call: `invoke`, rerun while the plugin reports a rate limit
/// it read from the venue's answer and a 429 would be retried (runs left
/// under `retry.max_attempts`, the wait within the deadline, the retry
/// budget), and only while none of the run's non-idempotent requests may
/// have reached the venue ([`CallScope::may_rerun`]). Each rerun has a scope
/// of its own and starts at the endpoint the booking chose.
pub(super) async fn read(
    v: &VenueRuntime,
    operation: &str,
    params: &str,
    deadline: Deadline,
) -> Result<Output, CallError> {
    let mut scope = v.scope(deadline);
    let mut run = 1;
    loop {
        let err = match invoke_once(v, &scope, operation, params, Resumable::Yes).await? {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        let Some(refusal) = scope.reported_rate_limit(&err) else {
            return Err(venue_error(err));
        };
        if !scope.may_rerun() {
            return Err(venue_error(err));
        }
        let Some(delay) = v.ctx.upstream.rerun_after(run, &refusal, &deadline) else {
            return Err(venue_error(err));
        };
        tracing::warn!(
            run,
            delay_ms = delay.as_millis() as u64,
            "rate limited in the venue's answer; running the call again"
        );
        tokio::time::sleep(delay).await;
        scope = scope.rerun_from(refusal.next_start);
        run += 1;
    }
}

/// One `invoke` whose error is booked (a rate limit the plugin read) and
/// mapped, never rerun: for journaled calls.
pub(super) async fn invoke_json(
    v: &VenueRuntime,
    scope: &CallScope,
    operation: &str,
    params: &str,
) -> Result<Value, CallError> {
    invoke_once(v, scope, operation, params, Resumable::No)
        .await?
        .map(Output::into_value)
        .map_err(|err| {
            scope.reported_rate_limit(&err);
            venue_error(err)
        })
}

/// `Err` when `what` returned more than `plugins.limits.max_output_bytes`,
/// the bound on any text a plugin hands the host to answer, keep or parse
/// (an operation's result, `prepare`'s params, `reconcile`'s order).
pub(super) fn check_output_size(v: &VenueRuntime, what: &str, text: &str) -> Result<(), CallError> {
    let limit = v.plugin.limits.max_output_bytes;
    if text.len() > limit {
        return Err(CallError::Plugin(format!(
            "{what} returned {} bytes, over plugins.limits.max_output_bytes ({limit})",
            text.len()
        )));
    }
    Ok(())
}

/// Whether a call may give its instance back while the venue answers
/// ([`crate::plugin::resume`]): a read-only call may, a journaled one never.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resumable {
    Yes,
    No,
}

/// Run `invoke` on an instance and check its output: at most
/// `max_output_bytes` of JSON. The outer error is the host's (the plugin
/// trapped, ran out of time, returned something else); the inner one is
/// what the plugin returned.
async fn invoke_once(
    v: &VenueRuntime,
    scope: &CallScope,
    operation: &str,
    params: &str,
    resumable: Resumable,
) -> Result<Result<Output, VenueError>, CallError> {
    // The guest's wall-clock limit ends a little after the call's deadline: a
    // send cut at the deadline must get back to the plugin (a `timeout`), not
    // race the limit and be blamed on the plugin.
    let reply = match resumable {
        Resumable::Yes => {
            resume::invoke(&v.pool, scope, operation, params, WALL_CLOCK_GRACE).await?
        }
        Resumable::No => {
            v.pool
                .run(
                    Some(scope.clone()),
                    Call::Invoke { operation, params },
                    scope.deadline.remaining() + WALL_CLOCK_GRACE,
                )
                .await?
        }
    };
    let Reply::Json(result) = reply else {
        return Err(CallError::Plugin("invoke returned the wrong reply".into()));
    };
    let text = match result {
        Ok(text) => text,
        Err(err) => return Ok(Err(err)),
    };
    check_output_size(v, "plugin", &text)?;
    Output::check(text)
        .map(Ok)
        .map_err(|e| CallError::Plugin(format!("plugin returned a result that is not JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn output_is_exactly_one_json_value_kept_as_written() {
        let ok = Output::check(r#"{"b":1,"a":[true,null]} "#.to_string()).unwrap();
        assert_eq!(ok.clone().into_string(), r#"{"b":1,"a":[true,null]} "#);
        assert_eq!(ok.into_value(), json!({"a": [true, null], "b": 1}));
        for bad in ["", "{", r#"{"a":1} x"#, "[1,]", "{} {}", "nan"] {
            assert!(Output::check(bad.to_string()).is_err(), "{bad:?}");
        }
        let value = json!({"price": "3520.98"});
        assert_eq!(Output::from_value(&value).into_value(), value);
    }

    #[test]
    fn a_plugins_error_texts_are_cut_to_the_bound() {
        let long = "\u{e9}".repeat(MAX_ERROR_TEXT_BYTES);
        let CallError::Parse(m) = venue_error(VenueError::Parse(long.clone())) else {
            panic!("not a parse error");
        };
        assert!(m.len() <= MAX_ERROR_TEXT_BYTES + 32, "{}", m.len());
        assert!(m.ends_with(&format!("[cut: {} bytes]", long.len())), "{m}");
        let e = venue_error(VenueError::Upstream(
            crate::plugin::bindings::UpstreamError {
                status: 400,
                code: Some(long.clone()),
                message: long,
            },
        ));
        let CallError::Upstream { code, message, .. } = e else {
            panic!("not an upstream error");
        };
        assert!(code.unwrap().len() <= MAX_ERROR_TEXT_BYTES + 32);
        assert!(message.len() <= MAX_ERROR_TEXT_BYTES + 32);
        assert_eq!(cap_text("short".into()), "short");
    }
}
