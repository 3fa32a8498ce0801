//! The toncenter response envelope, read in one place.
//!
//! Every toncenter v2 answer is `{"ok": bool, "result": …, "error": …, "code": …}`
//! (`TonResponse` in ton-http-api `models.py`). How an answer maps to the
//! plugin's result:
//!
//! | body                                   | outcome                                   |
//! |----------------------------------------|-------------------------------------------|
//! | `{"ok": true, "result": R}`            | `R`                                       |
//! | `{"ok": false, "error": "msg", …}`     | `upstream(HTTP status, code, "msg")`      |
//! | `{"ok": false, "result": "msg", …}`    | same (the 429 body puts its text here)    |
//! | HTTP 429, or `code` 429                | `transport(rate-limited)` with the text, and `Retry-After` when sent |
//! | `{"ok": false}` without text           | `upstream` with a generic message         |
//! | not JSON / no `ok`, HTTP 2xx           | `parse` naming the status and a snippet   |
//! | not JSON / no `ok`, HTTP non-2xx       | `upstream(HTTP status, None, snippet)`    |
//!
//! `code` is kept as text whether the venue sent a number (`429`) or a string.
//! Nothing here calls the host, so it is unit-tested natively.

use resilience_guest::{Response, VenueError};
use serde_json::Value;

/// Read a toncenter answer: the `result` on success, the venue's error otherwise.
/// Never panics, whatever the body.
pub fn unwrap_envelope(resp: &Response) -> Result<Value, VenueError> {
    let body: Value = match resp.json() {
        Ok(body) => body,
        Err(parse_err) => return Err(no_envelope(resp, parse_err)),
    };
    let ok = match body.get("ok") {
        Some(Value::Bool(ok)) => *ok,
        Some(_) => {
            return Err(no_envelope(
                resp,
                VenueError::parse(format!(
                    "HTTP {}: `ok` is not a boolean; body starts {:?}",
                    resp.status,
                    resp.snippet()
                )),
            ));
        }
        None => {
            return Err(no_envelope(
                resp,
                VenueError::parse(format!(
                    "HTTP {}: envelope has no `ok` field; body starts {:?}",
                    resp.status,
                    resp.snippet()
                )),
            ));
        }
    };
    if ok {
        return match body.get("result") {
            Some(result) => Ok(result.clone()),
            None => Err(VenueError::parse(format!(
                "HTTP {}: `ok` is true but `result` is missing",
                resp.status
            ))),
        };
    }
    let message = match (body.get("error"), body.get("result")) {
        (Some(Value::String(e)), _) => e.clone(),
        (_, Some(Value::String(r))) => r.clone(),
        _ => format!(
            "toncenter answered ok=false (HTTP {}) without a message",
            resp.status
        ),
    };
    let code = match body.get("code") {
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    };
    if resp.status == 429 || code.as_deref() == Some("429") {
        return Err(rate_limited(resp, message));
    }
    Err(VenueError::upstream(resp.status, code, message))
}

/// toncenter's rate-limit refusal (`{"ok": false, "result": "Ratelimit
/// exceed", "code": 429}`, docs.ton.org toncenter "Rate limit"): `rate_limited`
/// for the caller, so the host books it like any 429 (and does not count an
/// HTTP 429 twice). toncenter documents no `Retry-After`; one that arrives
/// anyway (whole seconds) is passed on.
fn rate_limited(resp: &Response, message: String) -> VenueError {
    let wait = resp
        .header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| s.saturating_mul(1000));
    VenueError::rate_limited(format!("toncenter: {message}"), wait)
}

/// A body without a readable envelope: the HTTP status is the better signal
/// when it is an error (a proxy's HTML 502 page, say); on a 2xx the body
/// itself is wrong, which is a `parse` error.
fn no_envelope(resp: &Response, parse_err: VenueError) -> VenueError {
    if resp.status == 429 {
        return rate_limited(resp, format!("HTTP 429; body starts {:?}", resp.snippet()));
    }
    if resp.is_success() {
        parse_err
    } else {
        VenueError::upstream(
            resp.status,
            None,
            format!(
                "HTTP {} without a toncenter envelope; body starts {:?}",
                resp.status,
                resp.snippet()
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resp(status: u16, body: &str) -> Response {
        Response::new(status, vec![], body.as_bytes().to_vec())
    }

    fn upstream(err: VenueError) -> (u16, Option<String>, String) {
        match err {
            VenueError::Upstream(u) => (u.status, u.code, u.message),
            other => panic!("expected upstream, got {other:?}"),
        }
    }

    #[test]
    fn balance_success_returns_result_string() {
        // vectors: getAddressBalance.response
        let r = resp(200, r#"{"ok":true,"result":"5610477699352"}"#);
        assert_eq!(unwrap_envelope(&r).unwrap(), json!("5610477699352"));
    }

    #[test]
    fn run_get_method_success_returns_result_object() {
        // vectors: runGetMethod.response_capture
        let r = resp(
            200,
            r#"{"ok":true,"result":{"@type":"smc.runResult","gas_used":549,"stack":[["num","0x157"]],"exit_code":0}}"#,
        );
        let result = unwrap_envelope(&r).unwrap();
        assert_eq!(result["gas_used"], 549);
        assert_eq!(result["stack"][0][1], "0x157");
    }

    #[test]
    fn rate_limit_envelope_is_rate_limited_with_the_text() {
        // vectors: error_envelopes.rate_limited_official_docs
        let r = resp(
            429,
            r#"{"ok":false,"result":"Ratelimit exceed","code":429}"#,
        );
        assert_eq!(
            unwrap_envelope(&r).unwrap_err(),
            VenueError::rate_limited("toncenter: Ratelimit exceed", None)
        );
        // The same envelope behind a proxy that answers 200, and a Retry-After.
        let r = resp(
            200,
            r#"{"ok":false,"result":"Ratelimit exceed","code":429}"#,
        );
        assert!(matches!(
            unwrap_envelope(&r),
            Err(VenueError::Transport(
                resilience_guest::error::SendError::RateLimited(_)
            ))
        ));
        let r = Response::new(
            429,
            vec![("Retry-After".into(), "2".into())],
            br#"{"ok":false,"result":"Ratelimit exceed","code":429}"#.to_vec(),
        );
        assert_eq!(
            unwrap_envelope(&r).unwrap_err(),
            VenueError::rate_limited("toncenter: Ratelimit exceed", Some(2000))
        );
    }

    #[test]
    fn generic_error_takes_message_from_error_and_string_code() {
        // vectors: error_envelopes.generic_from_source, with the status the source sends
        let r = resp(
            416,
            r#"{"ok":false,"error":"Incorrect address","code":"416"}"#,
        );
        let (status, code, message) = upstream(unwrap_envelope(&r).unwrap_err());
        assert_eq!(
            (status, code.as_deref(), message.as_str()),
            (416, Some("416"), "Incorrect address")
        );
    }

    #[test]
    fn jsonrpc_unknown_method_without_code_has_no_code() {
        // vectors: jsonRPC.unknown_method
        let r = resp(
            422,
            r#"{"ok":false,"error":"Unknown method","jsonrpc":"2.0","id":"1"}"#,
        );
        let (status, code, message) = upstream(unwrap_envelope(&r).unwrap_err());
        assert_eq!(
            (status, code, message.as_str()),
            (422, None, "Unknown method")
        );
    }

    #[test]
    fn error_without_text_gets_a_generic_message() {
        let r = resp(500, r#"{"ok":false,"error":{"nested":1}}"#);
        let (status, code, message) = upstream(unwrap_envelope(&r).unwrap_err());
        assert_eq!((status, code), (500, None));
        assert!(message.contains("without a message"), "{message}");
    }

    #[test]
    fn ok_false_on_http_200_keeps_the_http_status() {
        let r = resp(
            200,
            r#"{"ok":false,"error":"LITE_SERVER_UNKNOWN","code":500}"#,
        );
        let (status, code, _) = upstream(unwrap_envelope(&r).unwrap_err());
        assert_eq!((status, code.as_deref()), (200, Some("500")));
    }

    #[test]
    fn malformed_json_on_2xx_is_a_parse_error_with_status_and_snippet() {
        let r = resp(200, "<html>maintenance</html>");
        match unwrap_envelope(&r).unwrap_err() {
            VenueError::Parse(m) => {
                assert!(m.contains("HTTP 200"), "{m}");
                assert!(m.contains("<html>maintenance"), "{m}");
            }
            other => panic!("expected parse, got {other:?}"),
        }
    }

    #[test]
    fn malformed_body_on_non_2xx_is_upstream_with_http_status() {
        let r = resp(502, "<html>Bad Gateway</html>");
        let (status, code, message) = upstream(unwrap_envelope(&r).unwrap_err());
        assert_eq!((status, code), (502, None));
        assert!(message.contains("Bad Gateway"), "{message}");
    }

    #[test]
    fn missing_ok_on_2xx_is_a_parse_error() {
        let r = resp(200, r#"{"result":"5610477699352"}"#);
        match unwrap_envelope(&r).unwrap_err() {
            VenueError::Parse(m) => assert!(m.contains("`ok`"), "{m}"),
            other => panic!("expected parse, got {other:?}"),
        }
    }

    #[test]
    fn non_boolean_ok_is_a_parse_error() {
        let r = resp(200, r#"{"ok":"yes","result":1}"#);
        assert!(matches!(unwrap_envelope(&r), Err(VenueError::Parse(_))));
    }

    #[test]
    fn ok_true_without_result_is_a_parse_error() {
        let r = resp(200, r#"{"ok":true}"#);
        assert!(matches!(unwrap_envelope(&r), Err(VenueError::Parse(_))));
    }

    #[test]
    fn odd_bodies_never_panic() {
        for body in [
            "",
            "null",
            "[]",
            "42",
            "\"ok\"",
            "{",
            "\u{0}\u{ff}",
            r#"{"ok":null}"#,
        ] {
            for status in [200, 429, 500] {
                assert!(
                    unwrap_envelope(&resp(status, body)).is_err(),
                    "{status} {body:?}"
                );
            }
        }
        let invalid_utf8 = Response::new(200, vec![], vec![0xff, 0xfe, 0x00]);
        assert!(matches!(
            unwrap_envelope(&invalid_utf8),
            Err(VenueError::Parse(_))
        ));
    }
}
