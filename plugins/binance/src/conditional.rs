//! Conditional (stop and take-profit) orders through Binance's Algo Service,
//! where they moved from New Order: `POST /fapi/v1/algoOrder` with
//! `algoType=CONDITIONAL`.
//!
//! | operation                  | request | weight |
//! |----------------------------|---------|--------|
//! | `create_conditional_order` | POST `/fapi/v1/algoOrder` | 0 (+1 order) |
//! | `cancel_conditional_order` | DELETE `/fapi/v1/algoOrder` `algoId` or `clientAlgoId` | 1 |
//! | `get_conditional_order`    | GET `/fapi/v1/algoOrder` `algoId` or `clientAlgoId` | 1 |
//!
//! | `type`               | needs | refuses |
//! |----------------------|-------|---------|
//! | `STOP_MARKET`, `TAKE_PROFIT_MARKET` | `trigger_price`; `quantity` or `close_position: true` | `price`, `time_in_force` |
//! | `STOP`, `TAKE_PROFIT` | `trigger_price`, `quantity`, `price` | `close_position` |
//!
//! The trigger and limit prices are checked against `PRICE_FILTER`, the
//! quantity against `LOT_SIZE` (`MARKET_LOT_SIZE` for the market types).
//! Like New Order, a create is journaled under its `clientAlgoId` (the
//! caller's `client_algo_id`, or one `prepare` derives), is not retried by
//! the host once it may have left, and `reconcile` looks the id up (`-2013`:
//! never placed). The position mode rules of New Order apply.

use resilience_guest::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api;
use crate::filters::OrderShape;
use crate::mode::{self, PositionMode};
use crate::params::{
    ClientOrderId, Decimal, OrderId, PositionSide, SelfTradePrevention, Side, Symbol, TimeInForce,
};
use crate::session::Session;

/// The four conditional types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ConditionalType {
    #[serde(rename = "STOP_MARKET")]
    StopMarket,
    #[serde(rename = "TAKE_PROFIT_MARKET")]
    TakeProfitMarket,
    #[serde(rename = "STOP")]
    Stop,
    #[serde(rename = "TAKE_PROFIT")]
    TakeProfit,
}

impl ConditionalType {
    fn as_str(self) -> &'static str {
        match self {
            ConditionalType::StopMarket => "STOP_MARKET",
            ConditionalType::TakeProfitMarket => "TAKE_PROFIT_MARKET",
            ConditionalType::Stop => "STOP",
            ConditionalType::TakeProfit => "TAKE_PROFIT",
        }
    }

    fn is_market(self) -> bool {
        matches!(
            self,
            ConditionalType::StopMarket | ConditionalType::TakeProfitMarket
        )
    }
}

/// Which price triggers the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum WorkingType {
    #[serde(rename = "MARK_PRICE")]
    MarkPrice,
    #[serde(rename = "CONTRACT_PRICE")]
    ContractPrice,
}

impl WorkingType {
    fn as_str(self) -> &'static str {
        match self {
            WorkingType::MarkPrice => "MARK_PRICE",
            WorkingType::ContractPrice => "CONTRACT_PRICE",
        }
    }
}

/// `create_conditional_order`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionalParams {
    pub symbol: Symbol,
    pub side: Side,
    #[serde(rename = "type")]
    pub order_type: ConditionalType,
    pub trigger_price: Decimal,
    #[serde(default)]
    pub quantity: Option<Decimal>,
    #[serde(default)]
    pub price: Option<Decimal>,
    #[serde(default)]
    pub close_position: bool,
    #[serde(default)]
    pub working_type: Option<WorkingType>,
    #[serde(default)]
    pub price_protect: bool,
    #[serde(default)]
    pub reduce_only: bool,
    #[serde(default)]
    pub position_side: Option<PositionSide>,
    #[serde(default)]
    pub time_in_force: Option<TimeInForce>,
    #[serde(default)]
    pub good_till_date: Option<u64>,
    #[serde(default)]
    pub self_trade_prevention_mode: Option<SelfTradePrevention>,
    /// Filled in by `prepare`.
    #[serde(default)]
    pub client_algo_id: Option<ClientOrderId>,
}

/// `cancel_conditional_order`, `get_conditional_order`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlgoRefParams {
    #[serde(default)]
    pub algo_id: Option<OrderId>,
    #[serde(default)]
    pub client_algo_id: Option<ClientOrderId>,
}

/// An algo order as returned (the venue's camelCase read, snake_case written).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "camelCase"))]
pub struct AlgoOrder {
    pub algo_id: u64,
    pub client_algo_id: String,
    #[serde(default)]
    pub algo_type: Option<String>,
    #[serde(default)]
    pub order_type: Option<String>,
    #[serde(default)]
    pub symbol: Option<String>,
    #[serde(default)]
    pub side: Option<String>,
    #[serde(default)]
    pub position_side: Option<String>,
    #[serde(default)]
    pub algo_status: Option<String>,
    #[serde(default)]
    pub quantity: Option<String>,
    #[serde(default)]
    pub trigger_price: Option<String>,
    #[serde(default)]
    pub price: Option<String>,
    #[serde(default)]
    pub working_type: Option<String>,
    #[serde(default)]
    pub close_position: Option<bool>,
    #[serde(default)]
    pub reduce_only: Option<bool>,
    #[serde(default)]
    pub time_in_force: Option<String>,
    #[serde(default)]
    pub create_time: Option<u64>,
    #[serde(default)]
    pub update_time: Option<u64>,
}

impl ConditionalParams {
    /// The combination rules of the module table and the position mode.
    fn check(&self, mode: Option<PositionMode>) -> Result<(), VenueError> {
        let t = self.order_type;
        if t.is_market() {
            if self.price.is_some() {
                return Err(VenueError::invalid(format!(
                    "price: not with type {}",
                    t.as_str()
                )));
            }
            if self.time_in_force.is_some() {
                return Err(VenueError::invalid(format!(
                    "time_in_force: not with type {}",
                    t.as_str()
                )));
            }
            match (self.close_position, &self.quantity) {
                (true, Some(_)) => {
                    return Err(VenueError::invalid(
                        "quantity: not with close_position (it closes the whole position)",
                    ));
                }
                (true, None) if self.reduce_only => {
                    return Err(VenueError::invalid("reduce_only: not with close_position"));
                }
                (false, None) => {
                    return Err(VenueError::invalid(
                        "quantity: required unless close_position is true",
                    ));
                }
                _ => {}
            }
        } else {
            if self.close_position {
                return Err(VenueError::invalid(format!(
                    "close_position: only with STOP_MARKET or TAKE_PROFIT_MARKET, not {}",
                    t.as_str()
                )));
            }
            if self.quantity.is_none() || self.price.is_none() {
                return Err(VenueError::invalid(format!(
                    "quantity, price: both required with type {}",
                    t.as_str()
                )));
            }
        }
        if self.good_till_date.is_some() && self.time_in_force != Some(TimeInForce::Gtd) {
            return Err(VenueError::invalid(
                "good_till_date: only with time_in_force GTD",
            ));
        }
        mode::check_position(mode, self.position_side, self.reduce_only)
    }

    /// The query in the official SDK's order: `algoType, symbol, side, type,
    /// [positionSide], [timeInForce], [quantity], [price], triggerPrice,
    /// [workingType], [closePosition], [priceProtect], [reduceOnly],
    /// clientAlgoId, [selfTradePreventionMode], [goodTillDate]`.
    pub fn query(&self, client_algo_id: &ClientOrderId) -> Query {
        Query::new()
            .push("algoType", "CONDITIONAL")
            .push("symbol", &self.symbol)
            .push("side", self.side.as_str())
            .push("type", self.order_type.as_str())
            .push_opt(
                "positionSide",
                self.position_side
                    .filter(|s| *s != PositionSide::Both)
                    .map(PositionSide::as_str),
            )
            .push_opt("timeInForce", self.time_in_force.map(TimeInForce::as_str))
            .push_opt("quantity", self.quantity.as_ref())
            .push_opt("price", self.price.as_ref())
            .push("triggerPrice", &self.trigger_price)
            .push_opt("workingType", self.working_type.map(WorkingType::as_str))
            .push_opt("closePosition", self.close_position.then_some("true"))
            .push_opt("priceProtect", self.price_protect.then_some("true"))
            .push_opt("reduceOnly", self.reduce_only.then_some("true"))
            .push("clientAlgoId", client_algo_id)
            .push_opt(
                "selfTradePreventionMode",
                self.self_trade_prevention_mode
                    .map(SelfTradePrevention::as_str),
            )
            .push_opt("goodTillDate", self.good_till_date)
    }

    fn shape(&self) -> OrderShape<'_> {
        OrderShape {
            market: self.order_type.is_market(),
            quantity: self.quantity.as_ref().map(|q| q.0.as_str()),
            price: self.price.as_ref().map(|p| p.0.as_str()),
            stop_price: Some(&self.trigger_price.0),
            // The notional of a conditional order is checked when it triggers.
            reduce_only: true,
        }
    }
}

/// Check and place a conditional order under `client_algo_id`.
pub fn place(
    session: &mut Session,
    p: &ConditionalParams,
    client_algo_id: &ClientOrderId,
) -> Result<AlgoOrder, VenueError> {
    let mode = session.position_mode()?;
    p.check(mode)?;
    session.check_filters(&p.symbol.0, &p.shape())?;
    let result = session.call(&api::NEW_ALGO_ORDER, p.query(client_algo_id));
    if let Err(e) = &result {
        session.learn_from(e);
    }
    result
}

/// `algoId` or `clientAlgoId`, exactly one.
fn ref_query(p: &AlgoRefParams) -> Result<Query, VenueError> {
    match (&p.algo_id, &p.client_algo_id) {
        (Some(id), None) => Ok(Query::new().push("algoId", id.0)),
        (None, Some(cid)) => Ok(Query::new().push("clientAlgoId", cid)),
        _ => Err(VenueError::invalid(
            "algo_id, client_algo_id: give exactly one of them",
        )),
    }
}

/// Cancel Algo Order.
pub fn cancel(session: &mut Session, p: &AlgoRefParams) -> Result<serde_json::Value, VenueError> {
    session.call(&api::CANCEL_ALGO_ORDER, ref_query(p)?)
}

/// Query Algo Order.
pub fn lookup(session: &mut Session, p: &AlgoRefParams) -> Result<AlgoOrder, VenueError> {
    session.call(&api::QUERY_ALGO_ORDER, ref_query(p)?)
}
