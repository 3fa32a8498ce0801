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
use crate::filters::OrderShape;
use crate::mode::{self, PositionMode};
use crate::model::{Order, normalize_decimal};
use crate::params::{
    ClientOrderId, Decimal, OrderKey, OrderOptions, PositionSide, SelfTradePrevention, Side,
    Symbol, TimeInForce,
};
use crate::rest;
use crate::session::Session;

/// Shortest time ahead of now a `goodTillDate` may be (New Order: "greater
/// than the current time plus 600 seconds").
const MIN_GTD_AHEAD_MS: u64 = 600_000;
/// Largest `goodTillDate` the venue accepts.
const MAX_GTD_MS: u64 = 253_402_300_799_000;

/// An order to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub symbol: Symbol,
    pub side: Side,
    pub quantity: Decimal,
    pub kind: OrderKind,
    pub client_order_id: ClientOrderId,
    pub reduce_only: bool,
    /// `LONG`/`SHORT` in hedge mode; `None` or `BOTH` in one-way mode.
    pub position_side: Option<PositionSide>,
    pub self_trade_prevention: Option<SelfTradePrevention>,
}

/// Market or limit, with what each needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderKind {
    Market,
    Limit {
        price: Decimal,
        time_in_force: TimeInForce,
        /// With `GTD` only: ms since the epoch.
        good_till_date: Option<u64>,
    },
}

impl OrderKind {
    /// `type`, and the `timeInForce`, `price` and `goodTillDate` a limit
    /// order carries.
    pub fn parts(
        &self,
    ) -> (
        &'static str,
        Option<&'static str>,
        Option<&Decimal>,
        Option<u64>,
    ) {
        match self {
            OrderKind::Market => ("MARKET", None, None, None),
            OrderKind::Limit {
                price,
                time_in_force,
                good_till_date,
            } => (
                "LIMIT",
                Some(time_in_force.as_str()),
                Some(price),
                *good_till_date,
            ),
        }
    }
}

impl NewOrder {
    /// An order from a create's shared options; `client_order_id` is the
    /// one `prepare` chose.
    pub fn new(
        symbol: Symbol,
        side: Side,
        quantity: Decimal,
        kind: OrderKind,
        client_order_id: ClientOrderId,
        options: &OrderOptions,
    ) -> Self {
        Self {
            symbol,
            side,
            quantity,
            kind,
            client_order_id,
            reduce_only: options.reduce_only,
            position_side: options.position_side,
            self_trade_prevention: options.self_trade_prevention_mode,
        }
    }

    /// New Order params in the order the official SDK sends them:
    /// `symbol, side, type, [positionSide], [timeInForce], [reduceOnly],
    /// quantity, [price], newClientOrderId, newOrderRespType=RESULT,
    /// [selfTradePreventionMode], [goodTillDate]` (then `recvWindow,
    /// timestamp, signature`). `RESULT` makes a market order's answer carry
    /// its fill (status, executed quantity, average price).
    pub fn query(&self) -> Query {
        let (kind, time_in_force, price, good_till_date) = self.kind.parts();
        Query::new()
            .push("symbol", &self.symbol)
            .push("side", self.side.as_str())
            .push("type", kind)
            .push_opt("positionSide", self.sent_position_side())
            .push_opt("timeInForce", time_in_force)
            .push_opt("reduceOnly", self.reduce_only.then_some("true"))
            .push("quantity", &self.quantity)
            .push_opt("price", price)
            .push("newClientOrderId", &self.client_order_id)
            .push("newOrderRespType", "RESULT")
            .push_opt(
                "selfTradePreventionMode",
                self.self_trade_prevention.map(SelfTradePrevention::as_str),
            )
            .push_opt("goodTillDate", good_till_date)
    }

    /// `positionSide` as sent: `BOTH` is the venue's default and left out.
    fn sent_position_side(&self) -> Option<&'static str> {
        self.position_side
            .filter(|s| *s != PositionSide::Both)
            .map(PositionSide::as_str)
    }

    /// What the exchange filters look at.
    pub fn shape(&self) -> OrderShape<'_> {
        let (market, price) = match &self.kind {
            OrderKind::Market => (true, None),
            OrderKind::Limit { price, .. } => (false, Some(price.0.as_str())),
        };
        OrderShape {
            market,
            quantity: Some(&self.quantity.0),
            price,
            stop_price: None,
            reduce_only: self.reduce_only,
        }
    }

    /// Refuse what the venue would refuse for reasons the plugin knows
    /// before sending: `goodTillDate` rules, and `positionSide` /
    /// `reduceOnly` against the account's position mode (when known).
    pub fn check(&self, mode: Option<PositionMode>) -> Result<(), VenueError> {
        if let OrderKind::Limit {
            time_in_force,
            good_till_date,
            ..
        } = &self.kind
        {
            check_good_till_date(*time_in_force, *good_till_date)?;
        }
        mode::check_position(mode, self.position_side, self.reduce_only)
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
        if self.reduce_only && !existing.reduce_only {
            diffs.push("not reduce-only".into());
        }
        match &self.kind {
            OrderKind::Market => {
                if existing.order_type != "MARKET" {
                    diffs.push(format!("type {}", existing.order_type));
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

/// `goodTillDate` with `GTD` only, more than 600 s ahead.
fn check_good_till_date(tif: TimeInForce, gtd: Option<u64>) -> Result<(), VenueError> {
    match (tif, gtd) {
        (TimeInForce::Gtd, None) => Err(VenueError::invalid(
            "good_till_date: required with time_in_force GTD (ms since the epoch)",
        )),
        (TimeInForce::Gtd, Some(ms)) => {
            let earliest = host::now_ms().saturating_add(MIN_GTD_AHEAD_MS);
            if ms <= earliest || ms > MAX_GTD_MS {
                Err(VenueError::invalid(format!(
                    "good_till_date: {ms} must be more than 600 s ahead of now ({earliest} \
                     or later) and at most {MAX_GTD_MS}"
                )))
            } else {
                Ok(())
            }
        }
        (_, Some(_)) => Err(VenueError::invalid(
            "good_till_date: only with time_in_force GTD",
        )),
        (_, None) => Ok(()),
    }
}

/// Check `order` against the account's mode and the symbol's filters.
pub fn check(session: &mut Session, order: &NewOrder) -> Result<(), VenueError> {
    let mode = session.position_mode()?;
    order.check(mode)?;
    session.check_filters(&order.symbol.0, &order.shape())
}

/// Place `order` after [`check`]. A `-4116` answer (an earlier attempt with
/// the same `newClientOrderId` is open) resolves to that order, so a retried
/// create never makes a second order while the first is open.
pub fn place(session: &mut Session, order: &NewOrder) -> Result<Order, VenueError> {
    check(session, order)?;
    let resp = session.send(&api::NEW_ORDER, order.query())?;
    if resp.is_success() {
        return resp.json();
    }
    let err = rest::venue_error(&resp);
    session.learn_from(&err);
    resolve_duplicate(session, order, err)
}

/// `err` for `order`, unless it is a `-4116` whose id names this same
/// order: then that order.
pub fn resolve_duplicate(
    session: &mut Session,
    order: &NewOrder,
    err: VenueError,
) -> Result<Order, VenueError> {
    if rest::code(&err) != Some(api::DUPLICATED_CLIENT_ORDER_ID) {
        return Err(err);
    }
    let key = OrderKey::Client(order.client_order_id.clone());
    let existing = match lookup(session, &order.symbol, &key) {
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
        let status = match &err {
            VenueError::Upstream(u) => u.status,
            _ => 400,
        };
        return Err(VenueError::upstream(
            status,
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
pub fn lookup(session: &mut Session, symbol: &Symbol, key: &OrderKey) -> Result<Order, VenueError> {
    session.call(&api::QUERY_ORDER, key_query(symbol, key))
}

/// Cancel Order by `orderId` or `origClientOrderId`; see the module table
/// for `-2011`.
pub fn cancel(session: &mut Session, symbol: &Symbol, key: &OrderKey) -> Result<Order, VenueError> {
    let resp = session.send(&api::CANCEL_ORDER, key_query(symbol, key))?;
    if resp.is_success() {
        return resp.json();
    }
    let err = rest::venue_error(&resp);
    if rest::code(&err) != Some(api::CANCEL_REJECTED) {
        return Err(err);
    }
    match lookup(session, symbol, key) {
        Ok(order) if matches!(order.status.as_str(), "CANCELED" | "EXPIRED") => Ok(order),
        Ok(order) => Err(with_note(
            err,
            &format!("; order {} is {}", order.order_id, order.status),
        )),
        Err(_) => Err(err),
    }
}

/// `symbol` and the order's id, in the order of the venue's examples.
pub fn key_query(symbol: &Symbol, key: &OrderKey) -> Query {
    let q = Query::new().push("symbol", symbol);
    match key {
        OrderKey::Id(id) => q.push("orderId", id.0),
        OrderKey::Client(cid) => q.push("origClientOrderId", cid),
    }
}

pub fn with_note(err: VenueError, note: &str) -> VenueError {
    match err {
        VenueError::Upstream(mut u) => {
            u.message.push_str(note);
            VenueError::Upstream(u)
        }
        other => other,
    }
}
