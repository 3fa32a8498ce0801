//! Placing, finding and cancelling orders, with the venue's answers that
//! need a second look:
//!
//! | answer                      | to                     | outcome |
//! |-----------------------------|------------------------|---------|
//! | `-4116` duplicated client order id | New Order       | Query Order by `origClientOrderId`: the existing order when it is the same order (side, type, quantity, price, reduce-only); `upstream -4116` naming the difference when the id belongs to another order |
//! | `-2011` unknown order       | Cancel Order           | Query Order: a `CANCELED`/`EXPIRED` order is returned (an earlier attempt or another client cancelled it); otherwise the `-2011` error, with the order's status when known |
//! | `-2013` no such order       | `reconcile`            | `None`: the venue never saw the order |

use resilience_guest::prelude::*;

use crate::api;
use crate::model::{Order, normalize_decimal};
use crate::params::{ClientOrderId, Decimal, OrderKey, Side, Symbol, TimeInForce};
use crate::rest;

/// An order to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub symbol: Symbol,
    pub side: Side,
    pub quantity: Decimal,
    pub kind: OrderKind,
    pub client_order_id: ClientOrderId,
}

/// Market or limit, with what each needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderKind {
    Market {
        reduce_only: bool,
    },
    Limit {
        price: Decimal,
        time_in_force: TimeInForce,
    },
}

impl NewOrder {
    /// New Order params in the order they are sent and signed:
    /// `symbol, side, type, [timeInForce], quantity, [price], [reduceOnly], newClientOrderId`
    /// (then `recvWindow, timestamp, signature`).
    pub fn query(&self) -> Query {
        let q = Query::new()
            .push("symbol", &self.symbol)
            .push("side", self.side.as_str());
        let q = match &self.kind {
            OrderKind::Market { reduce_only } => q
                .push("type", "MARKET")
                .push("quantity", &self.quantity)
                .push_opt("reduceOnly", reduce_only.then_some("true")),
            OrderKind::Limit {
                price,
                time_in_force,
            } => q
                .push("type", "LIMIT")
                .push("timeInForce", time_in_force.as_str())
                .push("quantity", &self.quantity)
                .push("price", price),
        };
        q.push("newClientOrderId", &self.client_order_id)
    }

    /// How `existing` differs from this order, if it does.
    fn difference(&self, existing: &Order) -> Option<String> {
        let mut diffs = Vec::new();
        if existing.symbol != self.symbol.0 {
            diffs.push(format!("symbol {}", existing.symbol));
        }
        if existing.side != self.side.as_str() {
            diffs.push(format!("side {}", existing.side));
        }
        if normalize_decimal(&existing.orig_qty) != normalize_decimal(&self.quantity.0) {
            diffs.push(format!("quantity {}", existing.orig_qty));
        }
        match &self.kind {
            OrderKind::Market { reduce_only } => {
                if existing.order_type != "MARKET" {
                    diffs.push(format!("type {}", existing.order_type));
                }
                if *reduce_only && !existing.reduce_only {
                    diffs.push("not reduce-only".into());
                }
            }
            OrderKind::Limit { price, .. } => {
                if existing.order_type != "LIMIT" {
                    diffs.push(format!("type {}", existing.order_type));
                }
                if normalize_decimal(&existing.price) != normalize_decimal(&price.0) {
                    diffs.push(format!("price {}", existing.price));
                }
            }
        }
        (!diffs.is_empty()).then(|| diffs.join(", "))
    }
}

/// Place `order`. A `-4116` answer (an earlier attempt with the same
/// `newClientOrderId` is open) resolves to that order, so a retried create
/// never makes a second order while the first is open.
pub fn place(order: &NewOrder) -> Result<Order, VenueError> {
    let resp = rest::send(rest::request(&api::NEW_ORDER, order.query())?)?;
    if resp.is_success() {
        return resp.json();
    }
    let err = rest::venue_error(&resp);
    if rest::code(&err) != Some(api::DUPLICATED_CLIENT_ORDER_ID) {
        return Err(err);
    }
    let key = OrderKey::Client(order.client_order_id.clone());
    let existing = match lookup(&order.symbol, &key) {
        Ok(existing) => existing,
        // Duplicated, yet not found: say both, change nothing.
        Err(e) if rest::code(&e) == Some(api::NO_SUCH_ORDER) => {
            return Err(with_note(
                err,
                "; looking it up by origClientOrderId found no such order (-2013)",
            ));
        }
        Err(e) => return Err(e),
    };
    if let Some(diff) = order.difference(&existing) {
        return Err(VenueError::upstream(
            resp.status,
            Some(api::DUPLICATED_CLIENT_ORDER_ID.into()),
            format!(
                "client_order_id {} is already used by a different order (order {}: {diff}, status {}); \
                 choose another client_order_id",
                order.client_order_id, existing.order_id, existing.status
            ),
        ));
    }
    host::log(
        host::Level::Info,
        &format!(
            "newClientOrderId {} was already placed (-4116): returning existing order {} ({})",
            order.client_order_id, existing.order_id, existing.status
        ),
    );
    Ok(existing)
}

/// Query Order by `orderId` or `origClientOrderId`.
pub fn lookup(symbol: &Symbol, key: &OrderKey) -> Result<Order, VenueError> {
    rest::call(&api::QUERY_ORDER, key_query(symbol, key))
}

/// Cancel Order by `orderId` or `origClientOrderId`; see the module table
/// for `-2011`.
pub fn cancel(symbol: &Symbol, key: &OrderKey) -> Result<Order, VenueError> {
    let resp = rest::send(rest::request(&api::CANCEL_ORDER, key_query(symbol, key))?)?;
    if resp.is_success() {
        return resp.json();
    }
    let err = rest::venue_error(&resp);
    if rest::code(&err) != Some(api::CANCEL_REJECTED) {
        return Err(err);
    }
    match lookup(symbol, key) {
        Ok(order) if matches!(order.status.as_str(), "CANCELED" | "EXPIRED") => Ok(order),
        Ok(order) => Err(with_note(
            err,
            &format!("; order {} is {}", order.order_id, order.status),
        )),
        Err(_) => Err(err),
    }
}

/// `symbol` and the order's id, in the order of the venue's examples.
fn key_query(symbol: &Symbol, key: &OrderKey) -> Query {
    let q = Query::new().push("symbol", symbol);
    match key {
        OrderKey::Id(id) => q.push("orderId", id.0),
        OrderKey::Client(cid) => q.push("origClientOrderId", cid),
    }
}

fn with_note(err: VenueError, note: &str) -> VenueError {
    match err {
        VenueError::Upstream(mut u) => {
            u.message.push_str(note);
            VenueError::Upstream(u)
        }
        other => other,
    }
}
