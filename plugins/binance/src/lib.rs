//! Venue plugin for Binance USDⓈ-M futures REST (`https://fapi.binance.com`).
//!
//! Scope: what a hedger needs on one account in one-way position mode:
//! market and limit orders, cancel and query, open orders, positions and
//! closing them, funding and balances. Every request is signed as the venue
//! documents (`rest`), charged its documented weight (`api`), and the
//! venue's own usage headers are reported back to the host.
//!
//! Non-goals: hedge mode (`positionSide` LONG/SHORT; `close_position` refuses
//! it as `unsupported`), stop and trailing orders, RSA/Ed25519 keys, and
//! anything the host does (retries, failover, rate limits, the 418 ban).
//!
//! # Operations
//!
//! | operation             | request(s)                                  | IP weight | signed | mutating |
//! |-----------------------|---------------------------------------------|-----------|--------|----------|
//! | `create_market_order` | POST `/fapi/v1/order` (`type=MARKET`)       | 0 (+1 order) | yes | yes |
//! | `create_limit_order`  | POST `/fapi/v1/order` (`type=LIMIT`)        | 0 (+1 order) | yes | yes |
//! | `cancel_order`        | DELETE `/fapi/v1/order`                     | 1         | yes    | no       |
//! | `get_order`           | GET `/fapi/v1/order`                        | 1         | yes    | no       |
//! | `get_open_orders`     | GET `/fapi/v1/openOrders`                   | 1 with `symbol`, 40 without | yes | no |
//! | `get_position`        | GET `/fapi/v3/positionRisk?symbol=`         | 5         | yes    | no       |
//! | `close_position`      | GET `/fapi/v3/positionRisk?symbol=`, then POST `/fapi/v1/order` (`MARKET`, `reduceOnly=true`) unless flat | 5 + 0 | yes | yes |
//! | `get_funding_rate`    | GET `/fapi/v1/premiumIndex?symbol=`         | 1         | no     | no       |
//! | `get_balance`         | GET `/fapi/v3/balance`                      | 5         | yes    | no       |
//!
//! Resolving a `-4116` (create) or `-2011` (cancel) adds one GET
//! `/fapi/v1/order` (weight 1).
//!
//! # Settings and secrets
//!
//! | name              | kind    | use |
//! |-------------------|---------|-----|
//! | `recv_window_ms`  | setting | `recvWindow` of signed requests, 1 to 60000 (default 5000) |
//! | `api_key`         | secret (`header`) | the `X-MBX-APIKEY` header, filled in by the host |
//! | `api_secret`      | secret (`hmac-key`) | keys the signing recipe the host applies at each attempt (fresh `timestamp`, then `signature`) |
//!
//! # Idempotency
//!
//! Every order carries `newClientOrderId`: the caller's `client_order_id`;
//! else the one derived from the caller's `Idempotency-Key` header (the key
//! itself when it fits Binance's pattern, else `ik-` and 32 hex digits of its
//! keccak-256, [`client_id::from_caller_key`]); else one `prepare` generates
//! (`client_id`; a retry of such a call is a new order). `prepare` returns it
//! as the call's idempotency key and puts it into the params, so the
//! journaled key, the id sent and the id `reconcile` looks up are the same.
//!
//! Order creation is marked **not** idempotent: the host retries it only when
//! the failure proves the request never left (connection refused, breaker
//! open, local rate limit). Binance enforces the id's uniqueness among *open*
//! orders only, so a host retry after a timeout could place a second order
//! when the first (a market, IOC or FOK order) had already filled. After a
//! timeout the caller gets `timeout` and decides: repeating the call with the
//! same `client_order_id` is safe while the first order is open (a `-4116`
//! duplicate answer resolves to the existing order, `orders`), and
//! `get_order {client_order_id}` tells what happened otherwise.
//!
//! `reconcile` of a create or `close_position` looks the id up:
//! `Some(order)` when Binance has it, `None` on `-2013` (never seen).

pub mod api;
pub mod client_id;
pub mod model;
pub mod orders;
pub mod params;
pub mod rest;

use resilience_guest::decimal::is_decimal;
use resilience_guest::plugin::parse_params;
use resilience_guest::prelude::*;
use serde_json::{Value, json};

use crate::client_id::IdGenerator;
use crate::model::{Balance, Funding, Order, Position, is_zero};
use crate::orders::{NewOrder, OrderKind};
use crate::params::{
    ClientOrderId, ClosePositionParams, Decimal, LimitOrderParams, MarketOrderParams, NoParams,
    OpenOrdersParams, OrderKey, OrderRefParams, ReconcileParams, Side, Symbol, SymbolParams,
};

/// The plugin. Its only state is the generator of client order ids.
#[derive(Debug, Default)]
pub struct Binance {
    ids: IdGenerator,
}

const CREATE_MARKET_ORDER: &str = "create_market_order";
const CREATE_LIMIT_ORDER: &str = "create_limit_order";
const CLOSE_POSITION: &str = "close_position";

impl Plugin for Binance {
    const NAME: &'static str = "binance";
    const VERSION: &'static str = "0.1.0";
    const SECRETS: &'static [(&'static str, SecretUse)] = &[
        (api::API_KEY, SecretUse::Header),
        (api::API_SECRET, SecretUse::HmacKey),
    ];
    const USAGE_COUNTERS: &'static [&'static str] = &[api::WEIGHT_COUNTER, api::ORDERS_COUNTER];

    fn operations() -> Operations<Self> {
        let symbol = json!({"type": "string", "pattern": "^[A-Z0-9_\\u0080-\\uFFFF]{1,32}$"});
        let side = json!({"enum": ["BUY", "SELL"]});
        let decimal = json!({"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$"});
        let client_order_id = json!({"type": "string", "pattern": "^[\\.A-Z\\:/a-z0-9_-]{1,36}$"});
        let order_id = json!({"type": ["integer", "string"], "minimum": 1, "pattern": "^[0-9]+$"});
        Operations::new()
            .mutating(
                CREATE_MARKET_ORDER,
                "Market order (newClientOrderId always set; -4116 resolves to the existing order)",
                Self::create_market_order,
            )
            .schema(json!({
                "type": "object",
                "required": ["symbol", "side", "quantity"],
                "additionalProperties": false,
                "properties": {
                    "symbol": symbol, "side": side, "quantity": decimal,
                    "client_order_id": client_order_id, "reduce_only": {"type": "boolean"},
                },
            }))
            .mutating(
                CREATE_LIMIT_ORDER,
                "Limit order (newClientOrderId always set; -4116 resolves to the existing order)",
                Self::create_limit_order,
            )
            .schema(json!({
                "type": "object",
                "required": ["symbol", "side", "quantity", "price"],
                "additionalProperties": false,
                "properties": {
                    "symbol": symbol, "side": side, "quantity": decimal, "price": decimal,
                    "time_in_force": {"enum": ["GTC", "IOC", "FOK", "GTX"], "default": "GTC"},
                    "client_order_id": client_order_id,
                },
            }))
            .op(
                "cancel_order",
                "Cancel an order by order_id or client_order_id",
                Self::cancel_order,
            )
            .schema(order_ref_schema(&symbol, &order_id, &client_order_id))
            .op(
                "get_order",
                "One order by order_id or client_order_id",
                Self::get_order,
            )
            .schema(order_ref_schema(&symbol, &order_id, &client_order_id))
            .op(
                "get_open_orders",
                "Open orders of one symbol (weight 1) or of all (weight 40)",
                Self::get_open_orders,
            )
            .schema(json!({
                "type": "object",
                "additionalProperties": false,
                "properties": {"symbol": symbol},
            }))
            .op(
                "get_position",
                "Position entries of a symbol (empty when flat)",
                Self::get_position,
            )
            .schema(symbol_schema(&symbol))
            .mutating(
                CLOSE_POSITION,
                "Reduce-only market order for the whole one-way position; nothing when flat",
                Self::close_position,
            )
            .schema(json!({
                "type": "object",
                "required": ["symbol"],
                "additionalProperties": false,
                "properties": {"symbol": symbol, "client_order_id": client_order_id},
            }))
            .op(
                "get_funding_rate",
                "Funding rate, mark and index price of a symbol (public)",
                Self::get_funding_rate,
            )
            .schema(symbol_schema(&symbol))
            .op(
                "get_balance",
                "Futures account balance per asset",
                Self::get_balance,
            )
            .schema(json!({"type": "object", "additionalProperties": false}))
    }

    fn prepare(
        &mut self,
        operation: &str,
        params: Value,
        caller_key: Option<&str>,
    ) -> Result<Prepared, VenueError> {
        // Checking the params here refuses a bad order before it is journaled.
        let given = match operation {
            CREATE_MARKET_ORDER => {
                parse_params::<MarketOrderParams>(params.clone())?.client_order_id
            }
            CREATE_LIMIT_ORDER => parse_params::<LimitOrderParams>(params.clone())?.client_order_id,
            CLOSE_POSITION => parse_params::<ClosePositionParams>(params.clone())?.client_order_id,
            _ => {
                return Ok(Prepared {
                    idempotency_key: None,
                    params,
                });
            }
        };
        let derived = caller_key.map(client_id::from_caller_key);
        let id = match (given, derived) {
            (Some(given), Some(derived)) if given != derived => {
                return Err(VenueError::invalid(format!(
                    "client_order_id: {:?} differs from {:?}, the id this plugin derives from the \
                     Idempotency-Key; send one or the other",
                    given.0, derived.0
                )));
            }
            (Some(id), _) | (None, Some(id)) => id,
            (None, None) => self
                .ids
                .next(host::now_ms(), operation, &params.to_string()),
        };
        let mut params = params;
        if let Value::Object(map) = &mut params {
            map.insert("client_order_id".into(), Value::String(id.0.clone()));
        }
        Ok(Prepared {
            idempotency_key: Some(id.0),
            params,
        })
    }

    fn reconcile(
        &mut self,
        operation: &str,
        params: Value,
        idempotency_key: &str,
    ) -> Result<Option<Value>, VenueError> {
        if !matches!(
            operation,
            CREATE_MARKET_ORDER | CREATE_LIMIT_ORDER | CLOSE_POSITION
        ) {
            return Err(VenueError::Unsupported(format!(
                "binance: {operation} is not a mutating operation; nothing to reconcile"
            )));
        }
        let p: ReconcileParams = parse_params(params)?;
        let key = OrderKey::Client(ClientOrderId::parse("idempotency_key", idempotency_key)?);
        match orders::lookup(&p.symbol, &key) {
            Ok(order) if operation == CLOSE_POSITION => Ok(Some(closed(&p.symbol, Some(order)))),
            Ok(order) => Ok(Some(to_json(order)?)),
            Err(e) if rest::code(&e) == Some(api::NO_SUCH_ORDER) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl Binance {
    fn create_market_order(&mut self, p: MarketOrderParams) -> Result<Order, VenueError> {
        let client_order_id = self.id_or_new(p.client_order_id.clone(), CREATE_MARKET_ORDER, &p);
        orders::place(&NewOrder {
            symbol: p.symbol,
            side: p.side,
            quantity: p.quantity,
            kind: OrderKind::Market {
                reduce_only: p.reduce_only,
            },
            client_order_id,
        })
    }

    fn create_limit_order(&mut self, p: LimitOrderParams) -> Result<Order, VenueError> {
        let client_order_id = self.id_or_new(p.client_order_id.clone(), CREATE_LIMIT_ORDER, &p);
        orders::place(&NewOrder {
            symbol: p.symbol,
            side: p.side,
            quantity: p.quantity,
            kind: OrderKind::Limit {
                price: p.price,
                time_in_force: p.time_in_force,
            },
            client_order_id,
        })
    }

    fn cancel_order(&mut self, p: OrderRefParams) -> Result<Order, VenueError> {
        orders::cancel(&p.symbol, &p.key()?)
    }

    fn get_order(&mut self, p: OrderRefParams) -> Result<Order, VenueError> {
        orders::lookup(&p.symbol, &p.key()?)
    }

    fn get_open_orders(&mut self, p: OpenOrdersParams) -> Result<Value, VenueError> {
        let (ep, query) = match &p.symbol {
            Some(symbol) => (&api::OPEN_ORDERS, Query::new().push("symbol", symbol)),
            None => (&api::OPEN_ORDERS_ALL, Query::new()),
        };
        let open: Vec<Order> = rest::call(ep, query)?;
        Ok(json!({ "orders": open }))
    }

    fn get_position(&mut self, p: SymbolParams) -> Result<Value, VenueError> {
        let positions = positions(&p.symbol)?;
        let flat = positions.iter().all(|e| is_zero(&e.position_amt));
        Ok(json!({ "symbol": p.symbol, "flat": flat, "positions": positions }))
    }

    fn close_position(&mut self, p: ClosePositionParams) -> Result<Value, VenueError> {
        let open: Vec<Position> = positions(&p.symbol)?
            .into_iter()
            .filter(|e| !is_zero(&e.position_amt))
            .collect();
        let position = match open.as_slice() {
            [] => return Ok(closed(&p.symbol, None)),
            [one] if one.position_side == "BOTH" => one,
            _ => {
                return Err(VenueError::Unsupported(format!(
                    "close_position: {} has hedge-mode positions (positionSide LONG/SHORT); \
                     this plugin closes one-way (BOTH) positions only",
                    p.symbol
                )));
            }
        };
        // A decimal (checked in `positions`): short when negative.
        let amount = &position.position_amt;
        let (side, size) = match amount.strip_prefix('-') {
            Some(size) => (Side::Buy, size),
            None => (Side::Sell, amount.as_str()),
        };
        let client_order_id = self.id_or_new(p.client_order_id.clone(), CLOSE_POSITION, &p);
        let order = orders::place(&NewOrder {
            symbol: p.symbol.clone(),
            side,
            quantity: Decimal(size.to_string()),
            kind: OrderKind::Market { reduce_only: true },
            client_order_id,
        })?;
        Ok(closed(&p.symbol, Some(order)))
    }

    fn get_funding_rate(&mut self, p: SymbolParams) -> Result<Funding, VenueError> {
        rest::call(&api::PREMIUM_INDEX, Query::new().push("symbol", &p.symbol))
    }

    fn get_balance(&mut self, _: NoParams) -> Result<Value, VenueError> {
        let balances: Vec<Balance> = rest::call(&api::BALANCE, Query::new())?;
        Ok(json!({ "balances": balances }))
    }

    /// The caller's id, or (when `invoke` runs without `prepare`, as in
    /// native tests) a generated one, so no order leaves without an id.
    fn id_or_new(
        &mut self,
        given: Option<ClientOrderId>,
        operation: &str,
        params: &impl std::fmt::Debug,
    ) -> ClientOrderId {
        given.unwrap_or_else(|| {
            self.ids
                .next(host::now_ms(), operation, &format!("{params:?}"))
        })
    }
}

/// Position entries of `symbol`, their amounts checked to be decimals.
fn positions(symbol: &Symbol) -> Result<Vec<Position>, VenueError> {
    let all: Vec<Position> = rest::call(&api::POSITION_RISK, Query::new().push("symbol", symbol))?;
    if let Some(bad) = all.iter().find(|e| !is_decimal(&e.position_amt)) {
        return Err(VenueError::parse(format!(
            "positionAmt: expected a decimal string, got {:?}",
            bad.position_amt
        )));
    }
    Ok(all.into_iter().filter(|e| e.symbol == symbol.0).collect())
}

/// The result of `close_position`.
fn closed(symbol: &Symbol, order: Option<Order>) -> Value {
    json!({ "symbol": symbol, "closed": order.is_some(), "order": order })
}

fn to_json(order: Order) -> Result<Value, VenueError> {
    serde_json::to_value(order)
        .map_err(|e| VenueError::parse(format!("order could not be encoded: {e}")))
}

fn symbol_schema(symbol: &Value) -> Value {
    json!({
        "type": "object",
        "required": ["symbol"],
        "additionalProperties": false,
        "properties": {"symbol": symbol},
    })
}

fn order_ref_schema(symbol: &Value, order_id: &Value, client_order_id: &Value) -> Value {
    json!({
        "type": "object",
        "required": ["symbol"],
        "additionalProperties": false,
        "properties": {"symbol": symbol, "order_id": order_id, "client_order_id": client_order_id},
        "oneOf": [{"required": ["order_id"]}, {"required": ["client_order_id"]}],
    })
}

// Exported only for WebAssembly: the export names (`resilience:venue/adapter@0.1.0#…`)
// are not valid symbols for a native linker, and native builds only run tests.
#[cfg(target_arch = "wasm32")]
resilience_guest::export_plugin!(Binance);

// The venue section `resilience-host init` writes for this plugin.
resilience_guest::venue_defaults!("venue-defaults.toml");

#[cfg(test)]
mod tests;
