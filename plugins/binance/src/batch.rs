//! `create_orders`: up to five orders in one Place Multiple Orders request
//! (`POST /fapi/v1/batchOrders`, weight 5, 5 on the 10 s order count).
//!
//! | step     | what happens |
//! |----------|--------------|
//! | ids      | every order carries its own `newClientOrderId`: the caller's, else one `prepare` derives from the call's key and the order's position ([`item_id`]) |
//! | check    | each order against the position mode and the exchange filters, as a single create; one failing order refuses the whole call (`invalid_params` naming `orders[i]`) before anything is sent |
//! | send     | `batchOrders` = the orders as compact JSON, keys and values as the official SDK writes them (strings, `goodTillDate` a number), percent-encoded in the query |
//! | read     | one entry per order, in order: `{"ok": true, "order": …}` or `{"ok": false, "error": {"code", "message"}}`; an entry refused with `-4116` is resolved to the existing order like a single create |
//!
//! Journal: the call is one journal entry (key: [`crate::client_id`] of the
//! caller's key); its params carry every order's client id, and `reconcile`
//! looks each one up, so an unknown outcome is resolved order by order.

use resilience_guest::prelude::*;
use serde_json::{Value, json};

use crate::api;
use crate::client_id;
use crate::model::Order;
use crate::orders::{self, NewOrder};
use crate::params::{ClientOrderId, OrderKey, PositionSide, Symbol};
use crate::rest;
use crate::session::Session;

/// The client order id of order `index` of a batch whose call has `key`:
/// `ik-` and 32 hex digits of keccak-256 of `key#index`, never equal to the
/// key itself or to another order's id.
pub fn item_id(key: &str, index: usize) -> ClientOrderId {
    client_id::from_caller_key(&format!("{key}#{index}"))
}

/// One order as the batch JSON writes it, in the official SDK's key order:
/// `symbol, side, positionSide, type, timeInForce, quantity, reduceOnly,
/// price, newClientOrderId, newOrderRespType, selfTradePreventionMode,
/// goodTillDate`.
pub fn item_json(order: &NewOrder) -> String {
    let mut fields: Vec<(&str, Value)> = vec![
        ("symbol", json!(order.symbol.0)),
        ("side", json!(order.side.as_str())),
    ];
    if let Some(side) = order.position_side.filter(|s| *s != PositionSide::Both) {
        fields.push(("positionSide", json!(side.as_str())));
    }
    let (kind, tif, price, gtd) = order.kind.parts();
    fields.push(("type", json!(kind)));
    if let Some(tif) = tif {
        fields.push(("timeInForce", json!(tif)));
    }
    fields.push(("quantity", json!(order.quantity.0)));
    if order.reduce_only {
        fields.push(("reduceOnly", json!("true")));
    }
    if let Some(price) = price {
        fields.push(("price", json!(price.0)));
    }
    fields.push(("newClientOrderId", json!(order.client_order_id.0)));
    fields.push(("newOrderRespType", json!("RESULT")));
    if let Some(stp) = order.self_trade_prevention {
        fields.push(("selfTradePreventionMode", json!(stp.as_str())));
    }
    if let Some(gtd) = gtd {
        fields.push(("goodTillDate", json!(gtd)));
    }
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{}:{v}", json!(k)))
        .collect();
    format!("{{{}}}", body.join(","))
}

/// The `batchOrders` param for `orders`.
pub fn batch_param(orders: &[NewOrder]) -> String {
    let items: Vec<String> = orders.iter().map(item_json).collect();
    format!("[{}]", items.join(","))
}

/// Check, send and read a batch (module docs).
pub fn place(session: &mut Session, batch: &[NewOrder]) -> Result<Value, VenueError> {
    if batch.is_empty() || batch.len() > api::MAX_BATCH_ORDERS {
        return Err(VenueError::invalid(format!(
            "orders: 1 to {} orders, got {}",
            api::MAX_BATCH_ORDERS,
            batch.len()
        )));
    }
    for (i, order) in batch.iter().enumerate() {
        orders::check(session, order).map_err(|e| at_index(i, e))?;
    }
    let query = Query::new().push("batchOrders", batch_param(batch));
    let resp = session.send(&api::BATCH_ORDERS, query)?;
    let entries: Vec<Value> = rest::read(&resp)?;
    if entries.len() != batch.len() {
        return Err(VenueError::parse(format!(
            "batchOrders: {} answers for {} orders",
            entries.len(),
            batch.len()
        )));
    }
    let outcomes = batch
        .iter()
        .zip(entries)
        .map(|(order, entry)| outcome(session, order, entry))
        .collect::<Result<Vec<Value>, VenueError>>()?;
    Ok(json!({ "orders": outcomes }))
}

/// One entry of the answer as the result writes it.
fn outcome(session: &mut Session, order: &NewOrder, entry: Value) -> Result<Value, VenueError> {
    let refusal = entry.get("code").filter(|_| entry.get("orderId").is_none());
    let Some(code) = refusal else {
        let placed: Order = serde_json::from_value(entry)
            .map_err(|e| VenueError::parse(format!("batchOrders entry: {e}")))?;
        return Ok(json!({ "ok": true, "order": placed }));
    };
    let code = code.to_string();
    let message = entry
        .get("msg")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let err = VenueError::upstream(400, Some(code), message);
    session.learn_from(&err);
    match orders::resolve_duplicate(session, order, err) {
        Ok(existing) => Ok(json!({ "ok": true, "order": existing })),
        Err(e) => Ok(json!({ "ok": false, "error": error_json(&e) })),
    }
}

fn error_json(e: &VenueError) -> Value {
    match e {
        VenueError::Upstream(u) => json!({ "code": u.code, "message": u.message }),
        other => json!({ "code": null, "message": other.to_string() }),
    }
}

fn at_index(i: usize, e: VenueError) -> VenueError {
    match e {
        VenueError::InvalidParams(m) => VenueError::InvalidParams(format!("orders[{i}].{m}")),
        other => other,
    }
}

/// `reconcile` of a batch: each order looked up by its client id; `None`
/// when the venue has none of them.
pub fn reconcile(
    session: &mut Session,
    orders: &[(Symbol, ClientOrderId)],
) -> Result<Option<Value>, VenueError> {
    let mut outcomes = Vec::with_capacity(orders.len());
    let mut seen = false;
    for (symbol, id) in orders {
        match orders::lookup(session, symbol, &OrderKey::Client(id.clone())) {
            Ok(order) => {
                seen = true;
                outcomes.push(json!({ "ok": true, "order": order }));
            }
            Err(e) if rest::code(&e) == Some(api::NO_SUCH_ORDER) => outcomes.push(json!({
                "ok": false,
                "error": {"code": api::NO_SUCH_ORDER, "message": format!("order {id} was never placed")},
            })),
            Err(e) => return Err(e),
        }
    }
    Ok(seen.then(|| json!({ "orders": outcomes })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orders::OrderKind;
    use crate::params::{Decimal, SelfTradePrevention, Side, TimeInForce};

    fn order(kind: OrderKind) -> NewOrder {
        NewOrder {
            symbol: Symbol("BTCUSDT".into()),
            side: Side::Buy,
            quantity: Decimal("0.001".into()),
            kind,
            client_order_id: ClientOrderId("b-1".into()),
            reduce_only: false,
            position_side: None,
            self_trade_prevention: None,
        }
    }

    #[test]
    fn items_are_written_in_the_sdk_key_order() {
        let limit = NewOrder {
            position_side: Some(PositionSide::Long),
            self_trade_prevention: Some(SelfTradePrevention::ExpireBoth),
            ..order(OrderKind::Limit {
                price: Decimal("40000".into()),
                time_in_force: TimeInForce::Gtd,
                good_till_date: Some(1_700_003_600_000),
            })
        };
        assert_eq!(
            item_json(&limit),
            r#"{"symbol":"BTCUSDT","side":"BUY","positionSide":"LONG","type":"LIMIT","timeInForce":"GTD","quantity":"0.001","price":"40000","newClientOrderId":"b-1","newOrderRespType":"RESULT","selfTradePreventionMode":"EXPIRE_BOTH","goodTillDate":1700003600000}"#
        );
        let market = NewOrder {
            reduce_only: true,
            ..order(OrderKind::Market)
        };
        assert_eq!(
            batch_param(&[market]),
            r#"[{"symbol":"BTCUSDT","side":"BUY","type":"MARKET","quantity":"0.001","reduceOnly":"true","newClientOrderId":"b-1","newOrderRespType":"RESULT"}]"#
        );
    }

    #[test]
    fn item_ids_differ_per_position_and_fit_the_pattern() {
        let a = item_id("hedge-42", 0);
        let b = item_id("hedge-42", 1);
        assert_ne!(a, b);
        assert!(ClientOrderId::check(&a.0) && ClientOrderId::check(&b.0));
        assert_ne!(a.0, "hedge-42");
    }
}
