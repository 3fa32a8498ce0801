//! Reading a venue's JSON answer: the value on success, a typed
//! [`VenueError`] otherwise.
//!
//! Most REST venues answer errors with a non-2xx status and a small JSON
//! object; this module maps them the same way for every plugin:
//!
//! | answer                                              | outcome                                         |
//! |-----------------------------------------------------|-------------------------------------------------|
//! | 2xx, JSON of the expected shape                     | `Ok(value)`                                     |
//! | 2xx, not JSON or the wrong shape                    | `parse`, naming the status, the field and a body snippet |
//! | non-2xx, `{"code": C, "msg"/"message"/"error": M}`  | `upstream(status, C as text, M)`                |
//! | non-2xx, `{"error": {"code": C, "message": M}}`     | same (JSON-RPC and nested error objects)        |
//! | non-2xx, JSON without a message                     | `upstream(status, C, body snippet)`             |
//! | non-2xx, not JSON (a proxy's HTML page)             | `upstream(status, None, "HTTP s; body starts …")` |
//!
//! `code` is kept as text whether the venue sent a number (`-1121`) or a
//! string (`"INVALID_ORDER"`). A non-2xx body is never a `parse` error: the
//! HTTP status already says what went wrong, and the body is quoted.
//!
//! Venues with their own success envelope (toncenter's `{"ok": …}`) read it
//! in the plugin and may still use [`upstream_error`] for non-2xx answers.
//!
//! Venues that answer errors with HTTP 200 and an error field (Kraken's
//! `{"error": ["EAPI:Rate limit exceeded"], "result": …}`, Bybit's
//! `retCode != 0`, OKX's `code != "0"`) use [`json_checked`]: the plugin's
//! check reads the body before it is decoded, whatever the status, and turns
//! the venue's error into a [`VenueError`] (a rate limit into
//! [`VenueError::rate_limited`], so the host blocks the venue as for a 429).
//!
//! The functions are `#[inline]` for size, not speed: they are then compiled
//! only into plugins that call them. Without it the SDK crate compiles its
//! own copy, which link-time optimisation drops, but measured plugins that
//! never call them still came out 2-5 KB larger (the copy is optimised
//! together with the `serde_json` code the plugins share before it is dropped).

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::VenueError;
use crate::request::Response;

/// The body of a 2xx answer decoded into `T`; any other status becomes
/// [`upstream_error`].
///
/// ```
/// use resilience_guest::{Response, VenueError, envelope};
/// #[derive(serde::Deserialize)] struct Price { price: String }
///
/// let ok = Response::new(200, vec![], br#"{"price":"1.5"}"#.to_vec());
/// assert_eq!(envelope::json::<Price>(&ok).unwrap().price, "1.5");
///
/// let err = Response::new(400, vec![], br#"{"code":-1121,"msg":"Invalid symbol."}"#.to_vec());
/// assert_eq!(
///     envelope::json::<Price>(&err).err(),
///     Some(VenueError::upstream(400, Some("-1121".into()), "Invalid symbol."))
/// );
/// ```
pub fn json<T: DeserializeOwned>(resp: &Response) -> Result<T, VenueError> {
    if !resp.is_success() {
        return Err(upstream_error(resp));
    }
    resp.json()
}

/// The body decoded into `T` after `check` found no error in it: for venues
/// that answer errors with HTTP 200 and an error field.
///
/// `check` sees the body of every answer that is JSON, whatever its status,
/// and returns the venue's error when there is one. Without one, a non-2xx
/// answer becomes [`upstream_error`] and a 2xx answer is decoded as by
/// [`json`]. A body that is not JSON skips `check`.
///
/// ```
/// use resilience_guest::{Response, VenueError, envelope, error::SendError};
/// use serde_json::Value;
///
/// #[derive(serde::Deserialize)]
/// struct Ticker { result: Value }
///
/// // Kraken: `error` is a list of "<severity><category>:<message>" strings.
/// fn kraken_error(body: &Value) -> Option<VenueError> {
///     let first = body.get("error")?.as_array()?.first()?.as_str()?;
///     Some(if first.starts_with("EAPI:Rate limit") {
///         VenueError::rate_limited(first, None)
///     } else {
///         VenueError::upstream(200, Some(first.to_string()), first)
///     })
/// }
///
/// let ok = Response::new(200, vec![], br#"{"error":[],"result":{"XXBTZUSD":{}}}"#.to_vec());
/// assert!(envelope::json_checked::<Ticker>(&ok, kraken_error).is_ok());
///
/// let limited = Response::new(200, vec![], br#"{"error":["EAPI:Rate limit exceeded"]}"#.to_vec());
/// assert!(matches!(
///     envelope::json_checked::<Ticker>(&limited, kraken_error),
///     Err(VenueError::Transport(SendError::RateLimited(_)))
/// ));
///
/// let bad = Response::new(200, vec![], br#"{"error":["EQuery:Unknown asset pair"]}"#.to_vec());
/// assert_eq!(
///     envelope::json_checked::<Ticker>(&bad, kraken_error).err(),
///     Some(VenueError::upstream(200, Some("EQuery:Unknown asset pair".into()), "EQuery:Unknown asset pair"))
/// );
/// ```
#[inline]
pub fn json_checked<T: DeserializeOwned>(
    resp: &Response,
    check: impl FnOnce(&Value) -> Option<VenueError>,
) -> Result<T, VenueError> {
    if let Ok(body) = serde_json::from_slice::<Value>(&resp.body)
        && let Some(err) = check(&body)
    {
        return Err(err);
    }
    json(resp)
}

/// The venue's error in a non-2xx answer, as `upstream` (see the module
/// table). Call it only for answers that are errors.
///
/// ```
/// use resilience_guest::{Response, VenueError, envelope::upstream_error};
/// let r = Response::new(503, vec![], b"<html>down</html>".to_vec());
/// match upstream_error(&r) {
///     VenueError::Upstream(u) => {
///         assert_eq!((u.status, u.code), (503, None));
///         assert!(u.message.contains("<html>down"));
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
#[inline]
pub fn upstream_error(resp: &Response) -> VenueError {
    let body: Value = match serde_json::from_slice(&resp.body) {
        Ok(body) => body,
        Err(_) => {
            return VenueError::upstream(
                resp.status,
                None,
                format!("HTTP {}; body starts {:?}", resp.status, resp.snippet()),
            );
        }
    };
    let (code, message) = error_fields(&body);
    let message = message.unwrap_or_else(|| resp.snippet());
    VenueError::upstream(resp.status, code, message)
}

/// The `result` of a JSON-RPC 2.0 answer (`eth_call`): `error` objects
/// become `upstream` with the JSON-RPC code, even on HTTP 200, and a body
/// with neither `result` nor `error` is a `parse` error.
///
/// ```
/// use resilience_guest::{Response, VenueError, envelope::jsonrpc_result};
/// let ok = Response::new(200, vec![], br#"{"jsonrpc":"2.0","id":1,"result":"0x08"}"#.to_vec());
/// assert_eq!(jsonrpc_result(&ok).unwrap(), "0x08");
///
/// let reverted = br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"execution reverted"}}"#;
/// let err = jsonrpc_result(&Response::new(200, vec![], reverted.to_vec())).unwrap_err();
/// assert_eq!(err, VenueError::upstream(200, Some("-32000".into()), "execution reverted"));
/// ```
#[inline]
pub fn jsonrpc_result(resp: &Response) -> Result<Value, VenueError> {
    let body: Value = json(resp)?;
    if let Some(error) = body.get("error").filter(|e| !e.is_null()) {
        let (code, message) = error_fields(&serde_json::json!({ "error": error }));
        let message = message.unwrap_or_else(|| error.to_string());
        return Err(VenueError::upstream(resp.status, code, message));
    }
    match body.get("result") {
        Some(result) => Ok(result.clone()),
        None => Err(VenueError::parse(format!(
            "HTTP {}: JSON-RPC answer has neither `result` nor `error`; body starts {:?}",
            resp.status,
            resp.snippet()
        ))),
    }
}

/// `code` and message of an error body: top-level fields first, then a
/// nested `error` object.
#[inline]
fn error_fields(body: &Value) -> (Option<String>, Option<String>) {
    let text = |v: Option<&Value>| match v {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let code_of = |v: &Value| match v.get("code") {
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    let message_of = |v: &Value| {
        text(v.get("msg"))
            .or_else(|| text(v.get("message")))
            .or_else(|| text(v.get("error")))
    };
    let nested = body.get("error").filter(|e| e.is_object());
    let code = code_of(body).or_else(|| nested.and_then(code_of));
    let message = message_of(body).or_else(|| nested.and_then(message_of));
    (code, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resp(status: u16, body: &str) -> Response {
        Response::new(status, vec![], body.as_bytes().to_vec())
    }

    fn upstream(e: VenueError) -> (u16, Option<String>, String) {
        match e {
            VenueError::Upstream(u) => (u.status, u.code, u.message),
            other => panic!("expected upstream, got {other:?}"),
        }
    }

    #[test]
    fn binance_error_body_maps_code_and_msg() {
        // docs/venues/binance.md, "Error JSON and codes".
        let e = upstream_error(&resp(
            400,
            r#"{"code":-2019,"msg":"Margin is insufficient."}"#,
        ));
        assert_eq!(
            upstream(e),
            (400, Some("-2019".into()), "Margin is insufficient.".into())
        );
    }

    #[test]
    fn message_and_error_keys_and_string_codes_are_read() {
        let e = upstream_error(&resp(401, r#"{"code":"UNAUTHORIZED","message":"bad key"}"#));
        assert_eq!(
            upstream(e),
            (401, Some("UNAUTHORIZED".into()), "bad key".into())
        );
        // Polymarket style: {"error": "..."} without a code.
        let e = upstream_error(&resp(400, r#"{"error":"invalid order payload"}"#));
        assert_eq!(upstream(e), (400, None, "invalid order payload".into()));
    }

    #[test]
    fn nested_error_object_is_read() {
        let e = upstream_error(&resp(
            500,
            r#"{"error":{"code":-32603,"message":"internal error"}}"#,
        ));
        assert_eq!(
            upstream(e),
            (500, Some("-32603".into()), "internal error".into())
        );
    }

    #[test]
    fn json_without_message_quotes_the_body() {
        let (status, code, message) = upstream(upstream_error(&resp(418, r#"{"code":-1003}"#)));
        assert_eq!((status, code.as_deref()), (418, Some("-1003")));
        assert!(message.contains("-1003"), "{message}");
    }

    #[test]
    fn non_json_error_body_is_upstream_quoting_the_body() {
        let (status, code, message) =
            upstream(upstream_error(&resp(502, "<html>Bad Gateway</html>")));
        assert_eq!((status, code), (502, None));
        assert!(
            message.contains("HTTP 502") && message.contains("Bad Gateway"),
            "{message}"
        );
    }

    #[test]
    fn success_body_of_the_wrong_shape_is_parse_with_status_and_field() {
        #[derive(Debug, serde::Deserialize)]
        struct P {
            #[allow(dead_code)]
            price: String,
        }
        match json::<P>(&resp(200, r#"{"price":1.5}"#)).unwrap_err() {
            VenueError::Parse(m) => assert!(m.contains("HTTP 200") && m.contains("price"), "{m}"),
            other => panic!("{other:?}"),
        }
        match json::<Value>(&resp(201, "<html>")).unwrap_err() {
            VenueError::Parse(m) => assert!(m.contains("HTTP 201") && m.contains("<html>"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn jsonrpc_reads_result_error_and_refuses_neither() {
        assert_eq!(
            jsonrpc_result(&resp(200, r#"{"jsonrpc":"2.0","id":1,"result":{"a":1}}"#)).unwrap(),
            json!({"a": 1})
        );
        let e = jsonrpc_result(&resp(
            200,
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":3,"message":"execution reverted","data":"0x"}}"#,
        ))
        .unwrap_err();
        assert_eq!(
            upstream(e),
            (200, Some("3".into()), "execution reverted".into())
        );
        assert!(matches!(
            jsonrpc_result(&resp(200, r#"{"jsonrpc":"2.0","id":1}"#)),
            Err(VenueError::Parse(_))
        ));
        // A null error next to a result is not an error.
        assert_eq!(
            jsonrpc_result(&resp(200, r#"{"result":"0x","error":null}"#)).unwrap(),
            json!("0x")
        );
        assert_eq!(
            upstream(jsonrpc_result(&resp(429, "{}")).unwrap_err()).0,
            429
        );
    }

    #[test]
    fn odd_bodies_never_panic() {
        for body in [
            "",
            "null",
            "[]",
            "42",
            "\"x\"",
            "{",
            r#"{"error":[1]}"#,
            r#"{"code":{}}"#,
        ] {
            for status in [400, 500] {
                assert!(matches!(
                    upstream_error(&resp(status, body)),
                    VenueError::Upstream(_)
                ));
            }
            assert!(json::<Value>(&resp(400, body)).is_err());
        }
    }
}
