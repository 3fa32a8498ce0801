//! Ethereum JSON-RPC over the venue's endpoints: the requests this plugin
//! sends and how answers map to results and errors.
//!
//! Every request is `POST /` (the endpoint URL is the provider's JSON-RPC URL,
//! key included) with one JSON-RPC 2.0 call, `id` 1, weight 1, marked
//! idempotent: `eth_call` and `eth_getBalance` read state and change nothing,
//! so the host may repeat them on another provider after a 5xx or timeout.
//!
//! | answer                                                   | outcome |
//! |----------------------------------------------------------|---------|
//! | 2xx `{"result": R}`                                      | `R` |
//! | HTTP 429, or a JSON-RPC error whose code means overload (`-32005` "limit exceeded", EIP-1474; `429` in the body, Alchemy) | `transport(rate-limited)`, `retry_after_ms` from `Retry-After` or Infura's `error.data.backoff_seconds` |
//! | JSON-RPC error that is a revert (code 3, or a message with "revert") | `upstream(status, code, "eth_call … reverted: …")` |
//! | any other JSON-RPC error                                 | `upstream(status, code, message)` |
//! | other non-2xx                                            | `upstream(status, code?, body)` ([`envelope::upstream_error`]) |
//! | 2xx without `result` or `error`, not JSON                | `parse` |
//!
//! The host classifies attempts by HTTP status alone, so an overload error
//! inside an HTTP 200 cannot make it fail over to the next provider (see the
//! crate docs, "Provider overload"); the plugin reports it as `rate_limited`
//! so the caller at least gets the right kind and can retry.

use resilience_guest::encoding::hex_decode;
use resilience_guest::envelope;
use resilience_guest::error::SendError;
use resilience_guest::prelude::*;
use resilience_guest::request::Response;
use serde_json::{Value, json};

/// Path of every request: the provider's JSON-RPC URL is the endpoint itself.
pub const RPC_PATH: &str = "/";
/// Block tag of every read.
pub const BLOCK: &str = "latest";
/// JSON-RPC error codes that mean the provider is overloaded or the key's
/// quota is spent: `-32005` "Limit exceeded" (EIP-1474; Infura, Ankr) and
/// `429` (Alchemy puts the HTTP status in the JSON-RPC error).
pub const OVERLOAD_CODES: &[i64] = &[-32005, 429];
/// JSON-RPC error code of a revert with data (geth and most providers).
pub const REVERT_CODE: i64 = 3;

/// `eth_call` of `data` on contract `to` at the latest block.
pub fn eth_call(to: &str, data: &str) -> Request {
    request("eth_call", json!([{ "to": to, "data": data }, BLOCK]))
}

/// `eth_chainId`: the chain the provider serves (EIP-695).
pub fn eth_chain_id() -> Request {
    request("eth_chainId", json!([]))
}

/// `eth_getBalance` of `address` at the latest block.
pub fn eth_get_balance(address: &str) -> Request {
    request("eth_getBalance", json!([address, BLOCK]))
}

fn request(method: &str, params: Value) -> Request {
    let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
    Request::post(RPC_PATH).json(&body).idempotent(true)
}

/// The `result` of a JSON-RPC answer, or the error it stands for. `what`
/// names the call in messages (`eth_call latestRoundData() on 0x…`).
pub fn result(resp: &Response, what: &str) -> Result<Value, VenueError> {
    if resp.status == 429 {
        return Err(rate_limited(resp, None, what));
    }
    let body: Option<Value> = serde_json::from_slice(&resp.body).ok();
    let error = body
        .as_ref()
        .and_then(|b| b.get("error"))
        .filter(|e| !e.is_null());
    if let Some(error) = error {
        let code = error.get("code").and_then(Value::as_i64);
        if code.is_some_and(|c| OVERLOAD_CODES.contains(&c)) {
            return Err(rate_limited(resp, Some(error), what));
        }
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("no message")
            .to_string();
        let code_text = match error.get("code") {
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        };
        let reverted = code == Some(REVERT_CODE) || message.to_ascii_lowercase().contains("revert");
        let message = if reverted {
            let data = error
                .get("data")
                .and_then(Value::as_str)
                .filter(|d| *d != "0x")
                .map(|d| format!(" (revert data {d})"))
                .unwrap_or_default();
            format!("{what} reverted: {message}{data}")
        } else {
            format!("{what}: {message}")
        };
        return Err(VenueError::upstream(resp.status, code_text, message));
    }
    envelope::jsonrpc_result(resp)
}

/// `rate_limited` for an overloaded provider: the message names the call and
/// the provider's words; the wait comes from `Retry-After` (seconds) or the
/// error's `data.backoff_seconds` (Infura).
fn rate_limited(resp: &Response, error: Option<&Value>, what: &str) -> VenueError {
    let header_wait = resp
        .header("retry-after")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| s.saturating_mul(1000));
    let data_wait = error
        .and_then(|e| e.pointer("/data/backoff_seconds"))
        .and_then(Value::as_f64)
        .filter(|s| s.is_finite() && *s >= 0.0)
        // Whole milliseconds, rounded up; bounded well below u64::MAX.
        .map(|s| (s.min(86_400.0) * 1000.0).ceil() as u64);
    let detail = match error {
        Some(e) => format!(
            "JSON-RPC error {}: {}",
            e.get("code").map(Value::to_string).unwrap_or_default(),
            e.get("message")
                .and_then(Value::as_str)
                .unwrap_or("no message")
        ),
        None => format!("HTTP {}; body starts {:?}", resp.status, resp.snippet()),
    };
    VenueError::Transport(SendError::RateLimited(
        resilience_guest::bindings::resilience::venue::types::RateLimited {
            message: format!("provider overloaded on {what}: {detail}"),
            retry_after_ms: header_wait.or(data_wait),
        },
    ))
}

/// The `0x…` data string of an `eth_call` result.
pub fn hex_result(result: &Value, what: &str) -> Result<String, VenueError> {
    match result {
        Value::String(s) if s == "0x" => Err(VenueError::parse(format!(
            "{what} returned no data: the address has no contract code on this chain, \
             or it is not a Chainlink feed proxy"
        ))),
        Value::String(s) if s.starts_with("0x") => Ok(s.clone()),
        other => Err(VenueError::parse(format!(
            "{what}: result is not 0x-prefixed hex: {}",
            snippet(other)
        ))),
    }
}

/// A JSON-RPC quantity (`"0x1bc16d674ec80000"`) as a decimal string; at most
/// 256 bits.
pub fn quantity_to_decimal(result: &Value, what: &str) -> Result<String, VenueError> {
    let bad = || {
        VenueError::parse(format!(
            "{what}: result is not a hex quantity (0x and 1 to 64 hex digits): {}",
            snippet(result)
        ))
    };
    let digits = result
        .as_str()
        .and_then(|s| s.strip_prefix("0x"))
        .ok_or_else(bad)?;
    if digits.is_empty() || digits.len() > 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let padded = format!("{digits:0>64}");
    let word: [u8; 32] = hex_decode(&padded)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(bad)?;
    Ok(resilience_guest::abi::uint256(&word))
}

/// A JSON value quoted for an error message, at most 120 characters.
fn snippet(v: &Value) -> String {
    v.to_string().chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, body: Value) -> Response {
        Response::new(status, vec![], body.to_string().into_bytes())
    }

    #[test]
    fn eth_call_body_is_the_facts_md_request() {
        // vectors/chainlink_selectors.json, eth_call_request_example.
        let req = eth_call("0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419", "0xfeaf968c");
        let body: Value = serde_json::from_slice(req.body_bytes()).unwrap();
        assert_eq!(
            body,
            json!({"jsonrpc": "2.0", "id": 1, "method": "eth_call",
                   "params": [{"to": "0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419", "data": "0xfeaf968c"}, "latest"]})
        );
        assert_eq!(req.path(), "/");
        assert!(req.is_idempotent());
        assert_eq!(req.header_value("content-type"), Some("application/json"));
    }

    #[test]
    fn result_is_returned() {
        let r = resp(200, json!({"jsonrpc": "2.0", "id": 1, "result": "0x08"}));
        assert_eq!(result(&r, "x").unwrap(), json!("0x08"));
    }

    #[test]
    fn overload_codes_and_http_429_are_rate_limited_with_the_wait() {
        let infura = resp(
            200,
            json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32005,
                "message": "daily request count exceeded, request rate limited",
                "data": {"see": "https://infura.io/dashboard", "backoff_seconds": 1.5}}}),
        );
        match result(&infura, "eth_call decimals() on 0xabc") {
            Err(VenueError::Transport(SendError::RateLimited(r))) => {
                assert_eq!(r.retry_after_ms, Some(1500));
                assert!(
                    r.message.contains("-32005") && r.message.contains("decimals()"),
                    "{}",
                    r.message
                );
            }
            other => panic!("expected rate limited, got {other:?}"),
        }
        let alchemy = resp(
            429,
            json!({"jsonrpc": "2.0", "id": 1, "error": {"code": 429, "message": "Your app has exceeded its compute units per second capacity."}}),
        );
        assert!(matches!(
            result(&alchemy, "x"),
            Err(VenueError::Transport(SendError::RateLimited(_)))
        ));
        let with_header = Response::new(
            429,
            vec![("Retry-After".into(), "2".into())],
            b"Too Many Requests".to_vec(),
        );
        match result(&with_header, "x") {
            Err(VenueError::Transport(SendError::RateLimited(r))) => {
                assert_eq!(r.retry_after_ms, Some(2000));
                assert!(r.message.contains("HTTP 429"), "{}", r.message);
            }
            other => panic!("expected rate limited, got {other:?}"),
        }
    }

    #[test]
    fn revert_is_upstream_saying_reverted() {
        let r = resp(
            200,
            json!({"jsonrpc": "2.0", "id": 1, "error": {"code": 3, "message": "execution reverted", "data": "0x08c379a0"}}),
        );
        match result(&r, "eth_call latestRoundData() on 0xabc") {
            Err(VenueError::Upstream(u)) => {
                assert_eq!((u.status, u.code.as_deref()), (200, Some("3")));
                assert_eq!(
                    u.message,
                    "eth_call latestRoundData() on 0xabc reverted: execution reverted (revert data 0x08c379a0)"
                );
            }
            other => panic!("expected upstream, got {other:?}"),
        }
        let r = resp(
            200,
            json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": "execution reverted"}}),
        );
        assert!(
            matches!(result(&r, "c"), Err(VenueError::Upstream(u)) if u.message == "c reverted: execution reverted" && u.code.as_deref() == Some("-32000"))
        );
    }

    #[test]
    fn other_jsonrpc_errors_are_upstream_with_their_code() {
        let r = resp(
            200,
            json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32602, "message": "invalid argument 0"}}),
        );
        assert_eq!(
            result(&r, "eth_getBalance of 0xabc").unwrap_err(),
            VenueError::upstream(
                200,
                Some("-32602".into()),
                "eth_getBalance of 0xabc: invalid argument 0"
            )
        );
        let r = resp(
            500,
            json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32603, "message": "internal error"}}),
        );
        assert!(matches!(result(&r, "c"), Err(VenueError::Upstream(u)) if u.status == 500));
        let html = Response::new(502, vec![], b"<html>Bad Gateway</html>".to_vec());
        assert!(
            matches!(result(&html, "c"), Err(VenueError::Upstream(u)) if u.status == 502 && u.message.contains("Bad Gateway"))
        );
    }

    #[test]
    fn odd_bodies_never_panic() {
        for body in [
            "",
            "null",
            "[]",
            "{",
            r#"{"error":"x"}"#,
            r#"{"error":{"code":"x"}}"#,
            r#"{"id":1}"#,
        ] {
            for status in [200, 429, 500] {
                let r = Response::new(status, vec![], body.as_bytes().to_vec());
                assert!(result(&r, "c").is_err(), "{status} {body}");
            }
        }
    }

    #[test]
    fn hex_result_refuses_empty_and_non_hex() {
        assert_eq!(hex_result(&json!("0x08"), "c").unwrap(), "0x08");
        match hex_result(&json!("0x"), "c") {
            Err(VenueError::Parse(m)) => assert!(m.contains("no contract code"), "{m}"),
            other => panic!("{other:?}"),
        }
        for bad in [json!(8), json!(null), json!("08")] {
            assert!(
                matches!(hex_result(&bad, "c"), Err(VenueError::Parse(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn quantities_become_decimal_strings() {
        let cases = [
            ("0x0", "0"),
            ("0x1bc16d674ec80000", "2000000000000000000"),
            ("0x00ff", "255"),
            (
                "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
                "115792089237316195423570985008687907853269984665640564039457584007913129639935",
            ),
        ];
        for (hex, dec) in cases {
            assert_eq!(quantity_to_decimal(&json!(hex), "b").unwrap(), dec, "{hex}");
        }
        for bad in [
            json!("0x"),
            json!("1"),
            json!("0xzz"),
            json!(1),
            json!(format!("0x1{}", "0".repeat(64))),
        ] {
            assert!(
                matches!(quantity_to_decimal(&bad, "b"), Err(VenueError::Parse(_))),
                "{bad}"
            );
        }
    }
}
