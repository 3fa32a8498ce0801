//! Reading the CLOB's answers: values on success, typed errors otherwise.
//!
//! | answer | outcome |
//! |---|---|
//! | non-2xx `{"error": "…"}` (or any body) | `upstream(status, code, message)` via the SDK envelope |
//! | any error mentioning `order_version_mismatch` | same, with code `order_version_mismatch` (set `exchange_version`) |
//! | 2xx POST `/order` with `success: false` | `upstream(status, None, errorMsg)`: a business rejection |
//! | 2xx of the wrong shape | `parse`, naming the field |
//! | `cancel_order` answer with the id under `not_canceled` (or nowhere) | `upstream(status, "not_canceled", reason)`: nothing was cancelled |
//! | bulk cancel answers | both lists, as sent: a partial cancel is a result |
//! | POST `/orders` | one entry per order, `success: false` entries kept in place |
//!
//! Nothing here panics on an unexpected body; numbers the venue writes in two
//! ways (`original_size` in shares or 6-dp units) are passed through as sent.

use resilience_guest::decimal::is_unsigned_decimal;
use resilience_guest::envelope;
use resilience_guest::prelude::*;
use serde_json::{Map, Value};

use crate::api;
use crate::order::{Side, units};

/// The venue's error in a non-2xx answer.
pub fn venue_error(resp: &Response) -> VenueError {
    mark_version_mismatch(envelope::upstream_error(resp))
}

fn mark_version_mismatch(err: VenueError) -> VenueError {
    match err {
        VenueError::Upstream(mut u) if u.message.contains(api::ORDER_VERSION_MISMATCH) => {
            u.code
                .get_or_insert_with(|| api::ORDER_VERSION_MISMATCH.to_string());
            u.message = format!(
                "{} (the venue expects another order version: set the venue setting `exchange_version`)",
                u.message
            );
            VenueError::Upstream(u)
        }
        other => other,
    }
}

/// A 2xx JSON object, or the venue's error.
pub fn object(resp: &Response) -> Result<Map<String, Value>, VenueError> {
    if !resp.is_success() {
        return Err(venue_error(resp));
    }
    match resp.json::<Value>()? {
        Value::Object(m) => Ok(m),
        other => Err(VenueError::parse(format!(
            "HTTP {}: expected a JSON object, got {}",
            resp.status,
            kind(&other)
        ))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A decimal field as text; a JSON number is accepted in its shortest form.
fn decimal_field(body: &Map<String, Value>, field: &str) -> Result<Option<String>, VenueError> {
    let text = match body.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => {
            return Err(VenueError::parse(format!(
                "{field}: expected a decimal string, got {}",
                kind(other)
            )));
        }
    };
    if !is_unsigned_decimal(&text) {
        return Err(VenueError::parse(format!(
            "{field}: {text:?} is not a decimal number"
        )));
    }
    Ok(Some(text))
}

/// `/midpoint`: `mid` (older) or `mid_price` (current docs).
pub fn midpoint(resp: &Response) -> Result<String, VenueError> {
    let body = object(resp)?;
    if let Some(mid) = decimal_field(&body, "mid_price")? {
        return Ok(mid);
    }
    decimal_field(&body, "mid")?.ok_or_else(|| {
        VenueError::parse(format!(
            "HTTP {}: neither `mid` nor `mid_price` in {:?}",
            resp.status,
            resp.snippet()
        ))
    })
}

/// `/price`: `{"price": "0.52"}`.
pub fn price(resp: &Response) -> Result<String, VenueError> {
    let body = object(resp)?;
    decimal_field(&body, "price")?.ok_or_else(|| {
        VenueError::parse(format!(
            "HTTP {}: no `price` in {:?}",
            resp.status,
            resp.snippet()
        ))
    })
}

/// `/book`: an object whose `bids` and `asks` are arrays (returned whole).
pub fn book(resp: &Response) -> Result<Map<String, Value>, VenueError> {
    let body = object(resp)?;
    for side in ["bids", "asks"] {
        match body.get(side) {
            Some(Value::Array(_)) | None | Some(Value::Null) => {}
            Some(other) => {
                return Err(VenueError::parse(format!(
                    "{side}: expected an array of levels, got {}",
                    kind(other)
                )));
            }
        }
    }
    Ok(body)
}

/// The worst price a market order of `amount` units needs, walking the book
/// from its best level (py-clob-client-v2 `calculate_buy/sell_market_price`):
/// a BUY takes asks until their USDC value covers `amount`, a SELL takes bids
/// until their shares do. When the book is too thin, FOK fails (`invalid_params`
/// naming `amount`) and FAK takes the worst level.
pub fn market_price(
    book: &Map<String, Value>,
    side: Side,
    amount: u128,
    fill_or_kill: bool,
) -> Result<String, VenueError> {
    let key = match side {
        Side::Buy => "asks",
        Side::Sell => "bids",
    };
    let levels = match book.get(key) {
        Some(Value::Array(levels)) => levels.as_slice(),
        _ => &[],
    };
    let mut parsed = Vec::with_capacity(levels.len());
    for (i, level) in levels.iter().enumerate() {
        let field = |name: &str| match level.get(name) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            _ => Err(VenueError::parse(format!(
                "{key}[{i}].{name}: expected a decimal string"
            ))),
        };
        let (price, size) = (field("price")?, field("size")?);
        let p = units("price", &price).map_err(|e| reparse(e, key, i))?;
        let s = units("size", &size).map_err(|e| reparse(e, key, i))?;
        parsed.push((price, p, s));
    }
    // Best level last (docs/venues/polymarket.md "Endpoints"), so walk from the end.
    let target = match side {
        Side::Buy => amount.saturating_mul(1_000_000),
        Side::Sell => amount,
    };
    let mut total: u128 = 0;
    for (price, p, s) in parsed.iter().rev() {
        total = total.saturating_add(match side {
            Side::Buy => s.saturating_mul(*p),
            Side::Sell => *s,
        });
        if total >= target {
            return Ok(price.clone());
        }
    }
    match parsed.first() {
        Some((worst, _, _)) if !fill_or_kill => Ok(worst.clone()),
        _ => Err(VenueError::invalid(format!(
            "amount: the book's {key} cannot fill it ({} levels); a FOK order would be killed. \
             Give `price` to choose the worst price yourself",
            parsed.len()
        ))),
    }
}

fn reparse(e: VenueError, key: &str, i: usize) -> VenueError {
    match e {
        VenueError::InvalidParams(m) => VenueError::parse(format!("{key}[{i}].{m}")),
        other => other,
    }
}

/// POST `/order`: the answer object; `success: false` is a business
/// rejection even on HTTP 200.
pub fn posted_order(resp: &Response) -> Result<Map<String, Value>, VenueError> {
    let body = object(resp).map_err(mark_version_mismatch)?;
    if body.get("success") == Some(&Value::Bool(false)) {
        let message = match body.get("errorMsg") {
            Some(Value::String(m)) if !m.is_empty() => m.clone(),
            _ => format!("order rejected: {}", resp.snippet()),
        };
        return Err(mark_version_mismatch(VenueError::upstream(
            resp.status,
            None,
            message,
        )));
    }
    Ok(body)
}

/// A cancel answer: `{"canceled": [ids], "not_canceled": {id: reason}}`.
pub fn cancel_answer(resp: &Response) -> Result<(Vec<String>, Map<String, Value>), VenueError> {
    let body = object(resp)?;
    let canceled = match body.get("canceled") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(ids)) => ids
            .iter()
            .map(|id| match id {
                Value::String(s) => Ok(s.clone()),
                other => Err(VenueError::parse(format!(
                    "canceled: expected order ids, got {}",
                    kind(other)
                ))),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(VenueError::parse(format!(
                "canceled: expected an array, got {}",
                kind(other)
            )));
        }
    };
    let not_canceled = match body.get("not_canceled") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(other) => {
            return Err(VenueError::parse(format!(
                "not_canceled: expected an object, got {}",
                kind(other)
            )));
        }
    };
    Ok((canceled, not_canceled))
}

/// `cancel_order`'s answer: success only when the venue lists the id as
/// cancelled. An id under `not_canceled` (already filled, unknown…) means
/// nothing changed, which a caller must not read as done.
pub fn cancelled_one(resp: &Response, order_id: &str) -> Result<Value, VenueError> {
    let (canceled, not_canceled) = cancel_answer(resp)?;
    if canceled.iter().any(|id| id.eq_ignore_ascii_case(order_id)) {
        return Ok(serde_json::json!({"canceled": canceled, "not_canceled": not_canceled}));
    }
    let reason = not_canceled
        .iter()
        .find(|(id, _)| id.eq_ignore_ascii_case(order_id))
        .map(|(_, reason)| match reason {
            Value::String(r) => r.clone(),
            other => other.to_string(),
        })
        .unwrap_or_else(|| "the venue did not list it as canceled".to_string());
    Err(VenueError::upstream(
        resp.status,
        Some("not_canceled".to_string()),
        format!("order {order_id} was not canceled: {reason}"),
    ))
}

/// GET `/version`: `{"version": 1|2}`.
pub fn version(resp: &Response) -> Result<u8, VenueError> {
    let body = object(resp)?;
    match body.get("version").and_then(Value::as_u64) {
        Some(1) => Ok(1),
        Some(2) => Ok(2),
        _ => Err(VenueError::parse(format!(
            "version: expected 1 or 2 in {}",
            resp.snippet()
        ))),
    }
}

/// POST `/orders`: one answer object per order, in order. A whole-batch
/// refusal (non-2xx, or an object) is the venue's error.
pub fn posted_orders(
    resp: &Response,
    expected: usize,
) -> Result<Vec<Map<String, Value>>, VenueError> {
    if !resp.is_success() {
        return Err(venue_error(resp));
    }
    let answers = match resp.json::<Value>()? {
        Value::Array(a) => a,
        Value::Object(m) => {
            let message = match m.get("error").or_else(|| m.get("errorMsg")) {
                Some(Value::String(e)) => e.clone(),
                _ => format!("batch rejected: {}", resp.snippet()),
            };
            return Err(mark_version_mismatch(VenueError::upstream(
                resp.status,
                None,
                message,
            )));
        }
        other => {
            return Err(VenueError::parse(format!(
                "HTTP {}: expected an array of order answers, got {}",
                resp.status,
                kind(&other)
            )));
        }
    };
    if answers.len() != expected {
        return Err(VenueError::parse(format!(
            "expected {expected} order answers, got {}",
            answers.len()
        )));
    }
    answers
        .into_iter()
        .enumerate()
        .map(|(i, a)| match a {
            Value::Object(m) => Ok(m),
            other => Err(VenueError::parse(format!(
                "[{i}]: expected an order answer, got {}",
                kind(&other)
            ))),
        })
        .collect()
}

/// One `/data/orders` page: its orders and the next cursor (`None` at the end).
pub fn open_orders_page(resp: &Response) -> Result<(Vec<Value>, Option<String>), VenueError> {
    let body = object(resp)?;
    let orders = match body.get("data") {
        Some(Value::Array(a)) => a.clone(),
        Some(Value::Null) | None => Vec::new(),
        Some(other) => {
            return Err(VenueError::parse(format!(
                "data: expected an array of orders, got {}",
                kind(other)
            )));
        }
    };
    let next = match body.get("next_cursor") {
        Some(Value::String(c)) if !c.is_empty() && c != api::END_CURSOR => Some(c.clone()),
        Some(Value::String(_)) | Some(Value::Null) | None => None,
        Some(other) => {
            return Err(VenueError::parse(format!(
                "next_cursor: expected a string, got {}",
                kind(other)
            )));
        }
    };
    Ok((orders, next))
}

/// `/data/order/{id}`: the order, or `None` when the venue does not know it
/// (404, or a 2xx `null`/empty body/object without `id`).
pub fn maybe_order(resp: &Response) -> Result<Option<Map<String, Value>>, VenueError> {
    if resp.status == 404 {
        return Ok(None);
    }
    if !resp.is_success() {
        return Err(venue_error(resp));
    }
    if resp.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match resp.json::<Value>()? {
        Value::Null => Ok(None),
        Value::Object(m) if m.get("id").is_none_or(Value::is_null) => Ok(None),
        Value::Object(m) => Ok(Some(m)),
        other => Err(VenueError::parse(format!(
            "HTTP {}: expected an order object, got {}",
            resp.status,
            kind(&other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resp(status: u16, body: &str) -> Response {
        Response::new(status, vec![], body.as_bytes().to_vec())
    }

    #[test]
    fn midpoint_reads_mid_and_mid_price() {
        // vectors: midpoint.body_current_docs / body_legacy
        assert_eq!(
            midpoint(&resp(200, r#"{"mid_price":"0.45"}"#)).unwrap(),
            "0.45"
        );
        assert_eq!(midpoint(&resp(200, r#"{"mid":"0.45"}"#)).unwrap(), "0.45");
        assert_eq!(midpoint(&resp(200, r#"{"mid":0.5}"#)).unwrap(), "0.5");
        for bad in [
            r#"{}"#,
            r#"{"mid":"abc"}"#,
            r#"{"mid":[1]}"#,
            "[]",
            "null",
            "<html>",
        ] {
            assert!(
                matches!(midpoint(&resp(200, bad)), Err(VenueError::Parse(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn error_bodies_become_upstream_with_the_message() {
        // vectors: midpoint.error_examples
        let e = midpoint(&resp(
            404,
            r#"{"error":"No orderbook exists for the requested token id"}"#,
        ))
        .unwrap_err();
        assert_eq!(
            e,
            VenueError::upstream(404, None, "No orderbook exists for the requested token id")
        );
        for body in [
            "",
            "<html>bad gateway</html>",
            "[1]",
            r#"{"error":{"x":1}}"#,
        ] {
            assert!(
                matches!(price(&resp(502, body)), Err(VenueError::Upstream(u)) if u.status == 502)
            );
        }
    }

    #[test]
    fn order_version_mismatch_is_named_with_a_code() {
        let e = posted_order(&resp(400, r#"{"error":"order_version_mismatch"}"#)).unwrap_err();
        match e {
            VenueError::Upstream(u) => {
                assert_eq!(u.code.as_deref(), Some("order_version_mismatch"));
                assert!(u.message.contains("exchange_version"), "{}", u.message);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn business_rejection_on_200_is_upstream() {
        let e = posted_order(&resp(
            200,
            r#"{"success":false,"errorMsg":"not enough balance / allowance","orderID":""}"#,
        ))
        .unwrap_err();
        assert_eq!(
            e,
            VenueError::upstream(200, None, "not enough balance / allowance")
        );
        // vectors: post_order_response
        let ok = posted_order(&resp(
            200,
            r#"{"success":true,"errorMsg":"","orderID":"0x12","status":"live","takingAmount":"","makingAmount":"","transactionsHashes":[],"tradeIDs":[]}"#,
        ))
        .unwrap();
        assert_eq!(ok["status"], "live");
    }

    #[test]
    fn open_orders_pages_end_at_lte() {
        let (orders, next) = open_orders_page(&resp(
            200,
            r#"{"data":[{"id":"a"}],"next_cursor":"MTAw","limit":1,"count":1}"#,
        ))
        .unwrap();
        assert_eq!((orders.len(), next.as_deref()), (1, Some("MTAw")));
        let (_, next) =
            open_orders_page(&resp(200, r#"{"data":[],"next_cursor":"LTE="}"#)).unwrap();
        assert_eq!(next, None);
        assert!(
            matches!(open_orders_page(&resp(200, r#"{"data":{}}"#)), Err(VenueError::Parse(m)) if m.contains("data"))
        );
        assert!(matches!(
            open_orders_page(&resp(200, "[]")),
            Err(VenueError::Parse(_))
        ));
    }

    #[test]
    fn maybe_order_tells_unknown_from_errors() {
        assert!(
            maybe_order(&resp(404, r#"{"error":"not found"}"#))
                .unwrap()
                .is_none()
        );
        assert!(maybe_order(&resp(200, "null")).unwrap().is_none());
        assert!(maybe_order(&resp(200, "")).unwrap().is_none());
        assert!(maybe_order(&resp(200, "{}")).unwrap().is_none());
        assert_eq!(
            maybe_order(&resp(200, r#"{"id":"0x1"}"#)).unwrap().unwrap()["id"],
            "0x1"
        );
        assert!(matches!(
            maybe_order(&resp(500, "oops")),
            Err(VenueError::Upstream(_))
        ));
        assert!(matches!(
            maybe_order(&resp(200, "[]")),
            Err(VenueError::Parse(_))
        ));
    }

    fn book_of(asks: serde_json::Value, bids: serde_json::Value) -> Map<String, Value> {
        match json!({"asks": asks, "bids": bids}) {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn market_price_walks_from_the_best_level() {
        // Best level last: asks descend to 0.50, bids ascend to 0.48.
        let b = book_of(
            json!([{"price":"0.55","size":"100"},{"price":"0.52","size":"10"},{"price":"0.50","size":"10"}]),
            json!([{"price":"0.40","size":"100"},{"price":"0.45","size":"10"},{"price":"0.48","size":"10"}]),
        );
        // BUY 5 USDC: the best ask (0.50 × 10 = 5 USDC) covers it.
        assert_eq!(
            market_price(&b, Side::Buy, 5_000_000, true).unwrap(),
            "0.50"
        );
        // BUY 6 USDC needs the 0.52 level.
        assert_eq!(
            market_price(&b, Side::Buy, 6_000_000, true).unwrap(),
            "0.52"
        );
        // SELL 15 shares: 10 at 0.48, 5 more at 0.45.
        assert_eq!(
            market_price(&b, Side::Sell, 15_000_000, true).unwrap(),
            "0.45"
        );
        // Too thin: FOK fails, FAK takes the worst level.
        assert!(matches!(
            market_price(&b, Side::Sell, 1_000_000_000, true),
            Err(VenueError::InvalidParams(m)) if m.starts_with("amount")
        ));
        assert_eq!(
            market_price(&b, Side::Sell, 1_000_000_000, false).unwrap(),
            "0.40"
        );
        let empty = book_of(json!([]), json!([]));
        assert!(market_price(&empty, Side::Buy, 1, false).is_err());
        let junk = book_of(json!([{"price":"x","size":"1"}]), json!([]));
        assert!(
            matches!(market_price(&junk, Side::Buy, 1, false), Err(VenueError::Parse(m)) if m.contains("asks[0]"))
        );
    }
}
