//! Account settings and order management beyond single orders:
//! leverage, margin type, cancel-all and its dead man's switch, modify,
//! trades and the cached exchange filters.
//!
//! | operation                | request | weight | notes |
//! |--------------------------|---------|--------|-------|
//! | `set_leverage`           | POST `/fapi/v1/leverage` `symbol, leverage` | 1 | 1 to 125 |
//! | `set_margin_type`        | POST `/fapi/v1/marginType` `symbol, marginType` | 1 | `-4046` (already that type) is a success with `changed: false` |
//! | `cancel_all_open_orders` | DELETE `/fapi/v1/allOpenOrders` `symbol` | 1 | |
//! | `countdown_cancel_all`   | POST `/fapi/v1/countdownCancelAll` `symbol, countdownTime` | 10 | the dead man's switch: every open order of the symbol is cancelled when `countdown_ms` passes without another call; `0` turns it off |
//! | `modify_order`           | PUT `/fapi/v1/order` `symbol, side, quantity, price, orderId/origClientOrderId` | 0 (+1 order) | a limit order's price and quantity; checked against the filters; `-5027` (nothing to change) answers the order as it is |
//! | `get_user_trades`        | GET `/fapi/v1/userTrades` `symbol, [startTime], [endTime], [fromId], [limit]` | 5 | limit 1 to 1000 (venue default 500) |
//! | `get_exchange_info`      | none when cached (`GET /fapi/v1/exchangeInfo`, 1, otherwise) | 0 or 1 | the filters this plugin checks orders against ([`crate::filters`]) |

use resilience_guest::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api;
use crate::filters::OrderShape;
use crate::model::Order;
use crate::orders;
use crate::params::{ClientOrderId, Decimal, OrderId, OrderKey, Side, Symbol};
use crate::rest;
use crate::session::Session;

/// Largest leverage Binance offers on any symbol.
const MAX_LEVERAGE: u32 = 125;
/// Most trades one Account Trade List answer holds.
const MAX_TRADES: u32 = 1000;

/// `set_leverage`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeverageParams {
    pub symbol: Symbol,
    pub leverage: u32,
}

/// `ISOLATED` or `CROSSED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum MarginType {
    #[serde(rename = "ISOLATED")]
    Isolated,
    #[serde(rename = "CROSSED")]
    Crossed,
}

impl MarginType {
    fn as_str(self) -> &'static str {
        match self {
            MarginType::Isolated => "ISOLATED",
            MarginType::Crossed => "CROSSED",
        }
    }
}

/// `set_margin_type`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarginTypeParams {
    pub symbol: Symbol,
    pub margin_type: MarginType,
}

/// `countdown_cancel_all`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountdownParams {
    pub symbol: Symbol,
    /// Milliseconds; `0` turns the countdown off.
    pub countdown_ms: u64,
}

/// `modify_order`: the new price and quantity of a limit order.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModifyParams {
    pub symbol: Symbol,
    pub side: Side,
    pub quantity: Decimal,
    pub price: Decimal,
    #[serde(default)]
    pub order_id: Option<OrderId>,
    #[serde(default)]
    pub client_order_id: Option<ClientOrderId>,
}

/// `get_user_trades`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TradesParams {
    pub symbol: Symbol,
    #[serde(default)]
    pub start_time: Option<u64>,
    #[serde(default)]
    pub end_time: Option<u64>,
    #[serde(default)]
    pub from_id: Option<u64>,
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Change Initial Leverage.
pub fn set_leverage(session: &mut Session, p: LeverageParams) -> Result<Value, VenueError> {
    if !(1..=MAX_LEVERAGE).contains(&p.leverage) {
        return Err(VenueError::invalid(format!(
            "leverage: 1 to {MAX_LEVERAGE}, got {}",
            p.leverage
        )));
    }
    let query = Query::new()
        .push("symbol", &p.symbol)
        .push("leverage", p.leverage);
    session.call(&api::LEVERAGE, query)
}

/// Change Margin Type; already being that type is not an error.
pub fn set_margin_type(session: &mut Session, p: MarginTypeParams) -> Result<Value, VenueError> {
    let query = Query::new()
        .push("symbol", &p.symbol)
        .push("marginType", p.margin_type.as_str());
    let resp = session.send(&api::MARGIN_TYPE, query)?;
    let changed = if resp.is_success() {
        true
    } else {
        let err = rest::venue_error(&resp);
        if rest::code(&err) != Some(api::NO_NEED_TO_CHANGE_MARGIN_TYPE) {
            return Err(err);
        }
        false
    };
    Ok(json!({ "symbol": p.symbol, "margin_type": p.margin_type.as_str(), "changed": changed }))
}

/// Cancel All Open Orders of a symbol.
pub fn cancel_all(session: &mut Session, symbol: &Symbol) -> Result<Value, VenueError> {
    session.call(&api::CANCEL_ALL, Query::new().push("symbol", symbol))
}

/// Auto-Cancel All Open Orders: set (or, with 0, stop) the countdown.
pub fn countdown_cancel_all(
    session: &mut Session,
    p: CountdownParams,
) -> Result<Value, VenueError> {
    let query = Query::new()
        .push("symbol", &p.symbol)
        .push("countdownTime", p.countdown_ms);
    session.call(&api::COUNTDOWN_CANCEL_ALL, query)
}

/// Modify Order; `-5027` (same values) answers the order as it is.
pub fn modify_order(session: &mut Session, p: ModifyParams) -> Result<Order, VenueError> {
    let key = match (&p.order_id, &p.client_order_id) {
        (Some(id), None) => OrderKey::Id(*id),
        (None, Some(cid)) => OrderKey::Client(cid.clone()),
        _ => {
            return Err(VenueError::invalid(
                "order_id, client_order_id: give exactly one of them",
            ));
        }
    };
    let shape = OrderShape {
        market: false,
        quantity: Some(&p.quantity.0),
        price: Some(&p.price.0),
        stop_price: None,
        reduce_only: false,
    };
    session.check_filters(&p.symbol.0, &shape)?;
    // The official SDK's order: the new values, then the order's id.
    let query = Query::new()
        .push("symbol", &p.symbol)
        .push("side", p.side.as_str())
        .push("quantity", &p.quantity)
        .push("price", &p.price);
    let query = match &key {
        OrderKey::Id(id) => query.push("orderId", id.0),
        OrderKey::Client(cid) => query.push("origClientOrderId", cid),
    };
    let resp = session.send(&api::MODIFY_ORDER, query)?;
    if resp.is_success() {
        return resp.json();
    }
    let err = rest::venue_error(&resp);
    session.learn_from(&err);
    if rest::code(&err) == Some(api::NO_NEED_TO_MODIFY) {
        return orders::lookup(session, &p.symbol, &key);
    }
    Err(err)
}

/// Account Trade List.
pub fn user_trades(session: &mut Session, p: TradesParams) -> Result<Value, VenueError> {
    if let Some(limit) = p.limit.filter(|l| !(1..=MAX_TRADES).contains(l)) {
        return Err(VenueError::invalid(format!(
            "limit: 1 to {MAX_TRADES}, got {limit}"
        )));
    }
    if let (Some(start), Some(end)) = (p.start_time, p.end_time)
        && end < start
    {
        return Err(VenueError::invalid("end_time: before start_time"));
    }
    let query = Query::new()
        .push("symbol", &p.symbol)
        .push_opt("startTime", p.start_time)
        .push_opt("endTime", p.end_time)
        .push_opt("fromId", p.from_id)
        .push_opt("limit", p.limit);
    let trades: Vec<Value> = session.call(&api::USER_TRADES, query)?;
    Ok(json!({ "symbol": p.symbol, "trades": trades }))
}

/// The cached filters of a symbol.
pub fn exchange_info(session: &mut Session, symbol: &Symbol) -> Result<Value, VenueError> {
    let filters = session.filters.require(&symbol.0)?;
    serde_json::to_value(filters)
        .map_err(|e| VenueError::parse(format!("filters could not be encoded: {e}")))
}
