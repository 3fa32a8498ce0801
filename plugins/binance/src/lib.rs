//! Venue plugin for Binance USDⓈ-M futures REST (`https://fapi.binance.com`).
//!
//! Scope: what a hedger needs on one account, in one-way or hedge position
//! mode: market, limit, batch and conditional (stop / take-profit) orders,
//! cancel, modify and query, open orders, positions and closing them,
//! leverage, margin type, the dead man's switch, trades, funding and
//! balances. Every signed request is stamped and signed by the host **at each
//! attempt**, with the clock offset to Binance measured by the plugin
//! (`clock`); every order is checked against the symbol's exchange filters
//! (`filters`) and the account's position mode (`mode`) before it leaves;
//! every request is charged its documented weight (`api`) and the venue's
//! own usage headers are reported back to the host.
//!
//! Non-goals: trailing stops, `priceMatch`, RSA/Ed25519 keys, the WebSocket
//! API, and anything the host does (retries, failover, rate limits, the 418
//! ban).
//!
//! # Operations
//!
//! | operation                  | request(s)                                   | IP weight | mutating |
//! |----------------------------|----------------------------------------------|-----------|----------|
//! | `create_market_order`      | POST `/fapi/v1/order` (`type=MARKET`, `newOrderRespType=RESULT`) | 0 (+1 order) | yes |
//! | `create_limit_order`       | POST `/fapi/v1/order` (`type=LIMIT`, `RESULT`; `GTD` with `goodTillDate`) | 0 (+1 order) | yes |
//! | `create_orders`            | POST `/fapi/v1/batchOrders` (1 to 5 orders, `batch`) | 5 (+5 orders) | yes |
//! | `create_conditional_order` | POST `/fapi/v1/algoOrder` (`conditional`)    | 0 (+1 order) | yes |
//! | `close_position`           | GET `/fapi/v3/positionRisk?symbol=`, then one or more POST `/fapi/v1/order` (`MARKET`; `reduceOnly=true` in one-way mode, `positionSide` in hedge mode) unless flat | 5 + 0 | yes |
//! | `cancel_order`             | DELETE `/fapi/v1/order`                      | 1         | no |
//! | `get_order`                | GET `/fapi/v1/order`                         | 1         | no |
//! | `modify_order`             | PUT `/fapi/v1/order` (`account`)             | 0 (+1 order) | no |
//! | `get_open_orders`          | GET `/fapi/v1/openOrders`                    | 1 with `symbol`, 40 without | no |
//! | `cancel_all_open_orders`   | DELETE `/fapi/v1/allOpenOrders`              | 1         | no |
//! | `countdown_cancel_all`     | POST `/fapi/v1/countdownCancelAll`           | 10        | no |
//! | `cancel_conditional_order` | DELETE `/fapi/v1/algoOrder`                  | 1         | no |
//! | `get_conditional_order`    | GET `/fapi/v1/algoOrder`                     | 1         | no |
//! | `get_position`             | GET `/fapi/v3/positionRisk?symbol=`          | 5         | no |
//! | `get_funding_rate`         | GET `/fapi/v1/premiumIndex?symbol=` (public) | 1         | no |
//! | `get_balance`              | GET `/fapi/v3/balance`                       | 5         | no |
//! | `get_user_trades`          | GET `/fapi/v1/userTrades`                    | 5         | no |
//! | `get_exchange_info`        | the cached filters (GET `/fapi/v1/exchangeInfo` when stale) | 0 or 1 | no |
//! | `set_leverage`             | POST `/fapi/v1/leverage`                     | 1         | no |
//! | `set_margin_type`          | POST `/fapi/v1/marginType`                   | 1         | no |
//!
//! "Mutating" is the host's word for "journaled under an idempotency key":
//! the operations that create orders. Leverage, margin type, cancels,
//! modify and the countdown set absolute values, so a repeat changes
//! nothing and the host may retry them.
//!
//! Besides these, a signed request may be preceded by GET `/fapi/v1/time`
//! (weight 1; at the first one and every `time_sync_s`), and an order by GET
//! `/fapi/v1/exchangeInfo` (1; every 10 minutes) and GET
//! `/fapi/v1/positionSide/dual` (30; every 10 minutes unless the setting
//! `position_mode` pins it). Resolving a `-4116` (create) or `-2011`
//! (cancel) adds one GET `/fapi/v1/order` (weight 1).
//!
//! # Settings and secrets
//!
//! | name               | kind    | use |
//! |--------------------|---------|-----|
//! | `recv_window_ms`   | setting | `recvWindow` of signed requests, 1 to 60000 (default 5000) |
//! | `time_sync_s`      | setting | seconds between two measurements of Binance's clock (default 300; `0`: never, offset 0) |
//! | `exchange_filters` | setting | `check` (default) or `off` |
//! | `position_mode`    | setting | `auto` (default: read it), `one-way` or `hedge` |
//! | `api_key`          | secret (`header`) | the `X-MBX-APIKEY` header, filled in by the host |
//! | `api_secret`       | secret (`hmac-key`) | keys the signing recipe the host applies at each attempt (fresh `timestamp`, then `signature`) |
//!
//! # Idempotency
//!
//! Every order carries `newClientOrderId` (conditional orders
//! `clientAlgoId`): the caller's `client_order_id` (`client_algo_id`); else
//! the one derived from the caller's `Idempotency-Key` header (the key
//! itself when it fits Binance's pattern, else `ik-` and 32 hex digits of its
//! keccak-256, [`client_id::from_caller_key`]); else one `prepare` generates
//! (`client_id`; a retry of such a call is a new order). `prepare` returns it
//! as the call's idempotency key and puts it into the params, so the
//! journaled key, the id sent and the id `reconcile` looks up are the same.
//! A batch's orders and the second and later orders of a split
//! `close_position` get ids derived from the call's key and their position
//! ([`batch::item_id`]).
//!
//! Order creation is marked **not** idempotent: the host retries it only when
//! the failure proves the request never left (connection refused, breaker
//! open, local rate limit), and the plugin resends only after a `-1021`,
//! which proves the venue refused it unread (`session`). Binance enforces the
//! id's uniqueness among *open* orders only, so a host retry after a timeout
//! could place a second order when the first (a market, IOC or FOK order) had
//! already filled. After a timeout the caller gets `timeout` and decides:
//! repeating the call with the same `client_order_id` is safe while the first
//! order is open (a `-4116` duplicate answer resolves to the existing order,
//! `orders`), and `get_order {client_order_id}` tells what happened otherwise.
//!
//! `reconcile` looks the ids up: `Some(result)` when Binance has the order
//! (for a batch or a split close, every order it has), `None` on `-2013`
//! (never seen).

pub mod account;
pub mod api;
pub mod batch;
pub mod client_id;
pub mod clock;
pub mod close;
pub mod conditional;
pub mod filters;
pub mod mode;
pub mod model;
pub mod orders;
pub mod params;
pub mod rest;
mod schema;
pub mod session;
pub mod units;

use resilience_guest::plugin::parse_params;
use resilience_guest::prelude::*;
use serde_json::{Value, json};

use crate::account::{
    CountdownParams, LeverageParams, MarginTypeParams, ModifyParams, TradesParams,
};
use crate::client_id::IdGenerator;
use crate::conditional::{AlgoOrder, AlgoRefParams, ConditionalParams};
use crate::model::{Balance, Funding, Order, is_zero};
use crate::orders::{NewOrder, OrderKind};
use crate::params::{
    BatchItem, BatchParams, ClientOrderId, ClosePositionParams, LimitOrderParams,
    MarketOrderParams, NoParams, OpenOrdersParams, OrderKey, OrderRefParams, ReconcileParams,
    SymbolParams,
};
use crate::session::Session;

/// The plugin: the generator of client order ids and what the instance
/// remembers of the venue (clock offset, filters, position mode).
#[derive(Debug, Default)]
pub struct Binance {
    ids: IdGenerator,
    session: Session,
}

const CREATE_MARKET_ORDER: &str = "create_market_order";
const CREATE_LIMIT_ORDER: &str = "create_limit_order";
const CREATE_ORDERS: &str = "create_orders";
const CREATE_CONDITIONAL_ORDER: &str = "create_conditional_order";
const CLOSE_POSITION: &str = "close_position";

impl Plugin for Binance {
    const NAME: &'static str = "binance";
    const VERSION: &'static str = "0.2.0";
    const SECRETS: &'static [(&'static str, SecretUse)] = &[
        (api::API_KEY, SecretUse::Header),
        (api::API_SECRET, SecretUse::HmacKey),
    ];
    const USAGE_COUNTERS: &'static [&'static str] = &[api::WEIGHT_COUNTER, api::ORDERS_COUNTER];

    fn operations() -> Operations<Self> {
        Operations::new()
            .mutating(
                CREATE_MARKET_ORDER,
                "Market order; the answer carries the fill (newOrderRespType=RESULT)",
                Self::create_market_order,
            )
            .schema(schema::market_order())
            .mutating(
                CREATE_LIMIT_ORDER,
                "Limit order (GTC, IOC, FOK, GTX, or GTD with good_till_date)",
                Self::create_limit_order,
            )
            .schema(schema::limit_order())
            .mutating(
                CREATE_ORDERS,
                "Up to 5 market or limit orders in one request, one outcome per order",
                Self::create_orders,
            )
            .schema(schema::batch())
            .mutating(
                CREATE_CONDITIONAL_ORDER,
                "Stop or take-profit order through the Algo Service",
                Self::create_conditional_order,
            )
            .schema(schema::conditional_order())
            .mutating(
                CLOSE_POSITION,
                "Market order(s) closing a position (one-way, or the given hedge side); \
                 split at the symbol's market maximum; nothing when flat",
                Self::close_position,
            )
            .schema(schema::close_position())
            .op(
                "cancel_order",
                "Cancel an order by order_id or client_order_id",
                Self::cancel_order,
            )
            .schema(schema::order_ref())
            .op(
                "get_order",
                "One order by order_id or client_order_id",
                Self::get_order,
            )
            .schema(schema::order_ref())
            .op(
                "modify_order",
                "New price and quantity of a limit order",
                Self::modify_order,
            )
            .schema(schema::modify_order())
            .op(
                "get_open_orders",
                "Open orders of one symbol (weight 1) or of all (weight 40)",
                Self::get_open_orders,
            )
            .schema(schema::open_orders())
            .op(
                "cancel_all_open_orders",
                "Cancel every open order of a symbol",
                Self::cancel_all_open_orders,
            )
            .schema(schema::symbol_only())
            .op(
                "countdown_cancel_all",
                "Dead man's switch: cancel all open orders of a symbol unless called again \
                 within countdown_ms (0 stops it)",
                Self::countdown_cancel_all,
            )
            .schema(schema::countdown())
            .op(
                "cancel_conditional_order",
                "Cancel a conditional order by algo_id or client_algo_id",
                Self::cancel_conditional_order,
            )
            .schema(schema::algo_ref())
            .op(
                "get_conditional_order",
                "One conditional order by algo_id or client_algo_id",
                Self::get_conditional_order,
            )
            .schema(schema::algo_ref())
            .op(
                "get_position",
                "Position entries of a symbol (empty when flat)",
                Self::get_position,
            )
            .schema(schema::symbol_only())
            .op(
                "get_funding_rate",
                "Funding rate, mark and index price of a symbol (public)",
                Self::get_funding_rate,
            )
            .schema(schema::symbol_only())
            .op(
                "get_balance",
                "Futures account balance per asset",
                Self::get_balance,
            )
            .schema(schema::nothing())
            .op(
                "get_user_trades",
                "The account's trades of a symbol",
                Self::get_user_trades,
            )
            .schema(schema::user_trades())
            .op(
                "get_exchange_info",
                "The exchange filters orders are checked against (cached)",
                Self::get_exchange_info,
            )
            .schema(schema::symbol_only())
            .op(
                "set_leverage",
                "Initial leverage of a symbol",
                Self::set_leverage,
            )
            .schema(schema::leverage())
            .op(
                "set_margin_type",
                "ISOLATED or CROSSED margin for a symbol",
                Self::set_margin_type,
            )
            .schema(schema::margin_type())
    }

    fn prepare(
        &mut self,
        operation: &str,
        params: Value,
        caller_key: Option<&str>,
    ) -> Result<Prepared, VenueError> {
        // Checking the params here refuses a bad order before it is journaled.
        let (field, given) = match operation {
            CREATE_MARKET_ORDER => (
                "client_order_id",
                parse_params::<MarketOrderParams>(params.clone())?.client_order_id,
            ),
            CREATE_LIMIT_ORDER => (
                "client_order_id",
                parse_params::<LimitOrderParams>(params.clone())?.client_order_id,
            ),
            CLOSE_POSITION => (
                "client_order_id",
                parse_params::<ClosePositionParams>(params.clone())?.client_order_id,
            ),
            CREATE_CONDITIONAL_ORDER => (
                "client_algo_id",
                parse_params::<ConditionalParams>(params.clone())?.client_algo_id,
            ),
            CREATE_ORDERS => return self.prepare_batch(params, caller_key),
            _ => {
                return Ok(Prepared {
                    idempotency_key: None,
                    params,
                });
            }
        };
        let id = self.call_id(operation, &params, field, given, caller_key)?;
        let mut params = params;
        if let Value::Object(map) = &mut params {
            map.insert(field.into(), Value::String(id.0.clone()));
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
        let key = ClientOrderId::parse("idempotency_key", idempotency_key)?;
        let s = &mut self.session;
        match operation {
            CREATE_MARKET_ORDER | CREATE_LIMIT_ORDER => {
                let p: ReconcileParams = parse_params(params)?;
                match orders::lookup(s, &p.symbol, &OrderKey::Client(key)) {
                    Ok(order) => Ok(Some(to_json(&order)?)),
                    Err(e) if rest::code(&e) == Some(api::NO_SUCH_ORDER) => Ok(None),
                    Err(e) => Err(e),
                }
            }
            CLOSE_POSITION => {
                let p: ClosePositionParams = parse_params(params)?;
                close::reconcile(s, &p, &key)
            }
            CREATE_ORDERS => {
                let p: BatchParams = parse_params(params)?;
                let ids = p
                    .orders
                    .iter()
                    .map(|o| match o.client_order_id() {
                        Some(id) => Ok((o.symbol().clone(), id.clone())),
                        None => Err(VenueError::invalid(
                            "orders: a journaled batch order has no client_order_id",
                        )),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                batch::reconcile(s, &ids)
            }
            CREATE_CONDITIONAL_ORDER => {
                let by_id = AlgoRefParams {
                    algo_id: None,
                    client_algo_id: Some(key),
                };
                match conditional::lookup(s, &by_id) {
                    Ok(order) => Ok(Some(to_json(&order)?)),
                    Err(e) if rest::code(&e) == Some(api::NO_SUCH_ORDER) => Ok(None),
                    Err(e) => Err(e),
                }
            }
            _ => Err(VenueError::Unsupported(format!(
                "binance: {operation} is not a mutating operation; nothing to reconcile"
            ))),
        }
    }
}

impl Binance {
    /// The id of a call creating one order: the caller's, the one derived
    /// from the caller's key (they must agree), or a new one.
    fn call_id(
        &mut self,
        operation: &str,
        params: &Value,
        field: &str,
        given: Option<ClientOrderId>,
        caller_key: Option<&str>,
    ) -> Result<ClientOrderId, VenueError> {
        let derived = caller_key.map(client_id::from_caller_key);
        match (given, derived) {
            (Some(given), Some(derived)) if given != derived => Err(VenueError::invalid(format!(
                "{field}: {:?} differs from {:?}, the id this plugin derives from the \
                 Idempotency-Key; send one or the other",
                given.0, derived.0
            ))),
            (Some(id), _) | (None, Some(id)) => Ok(id),
            (None, None) => Ok(self
                .ids
                .next(host::now_ms(), operation, &params.to_string())),
        }
    }

    /// A batch's key (from the caller's key, else new) and every order's id
    /// (its own, else derived from the key and its position).
    fn prepare_batch(
        &mut self,
        params: Value,
        caller_key: Option<&str>,
    ) -> Result<Prepared, VenueError> {
        let batch: BatchParams = parse_params(params.clone())?;
        if batch.orders.is_empty() || batch.orders.len() > api::MAX_BATCH_ORDERS {
            return Err(VenueError::invalid(format!(
                "orders: 1 to {} orders, got {}",
                api::MAX_BATCH_ORDERS,
                batch.orders.len()
            )));
        }
        let key = match caller_key {
            Some(k) => client_id::from_caller_key(k),
            None => self
                .ids
                .next(host::now_ms(), CREATE_ORDERS, &params.to_string()),
        };
        let mut params = params;
        let mut seen = std::collections::HashSet::new();
        if let Some(items) = params.get_mut("orders").and_then(Value::as_array_mut) {
            for (i, (item, parsed)) in items.iter_mut().zip(&batch.orders).enumerate() {
                let id = parsed
                    .client_order_id()
                    .cloned()
                    .unwrap_or_else(|| batch::item_id(&key.0, i));
                if !seen.insert(id.0.clone()) {
                    return Err(VenueError::invalid(format!(
                        "orders[{i}].client_order_id: {} is used twice in the batch",
                        id.0
                    )));
                }
                if let Value::Object(map) = item {
                    map.insert("client_order_id".into(), Value::String(id.0));
                }
            }
        }
        Ok(Prepared {
            idempotency_key: Some(key.0),
            params,
        })
    }

    fn create_market_order(&mut self, p: MarketOrderParams) -> Result<Order, VenueError> {
        let id = self.id_or_new(p.client_order_id.clone(), CREATE_MARKET_ORDER, &p);
        let order = NewOrder::new(
            p.symbol.clone(),
            p.side,
            p.quantity.clone(),
            OrderKind::Market,
            id,
            &p.options(),
        );
        orders::place(&mut self.session, &order)
    }

    fn create_limit_order(&mut self, p: LimitOrderParams) -> Result<Order, VenueError> {
        let id = self.id_or_new(p.client_order_id.clone(), CREATE_LIMIT_ORDER, &p);
        orders::place(&mut self.session, &limit_order(&p, id))
    }

    fn create_orders(&mut self, p: BatchParams) -> Result<Value, VenueError> {
        let mut batch = Vec::with_capacity(p.orders.len());
        for item in &p.orders {
            let id = self.id_or_new(item.client_order_id().cloned(), CREATE_ORDERS, item);
            batch.push(match item {
                BatchItem::Market(m) => NewOrder::new(
                    m.symbol.clone(),
                    m.side,
                    m.quantity.clone(),
                    OrderKind::Market,
                    id,
                    &m.options(),
                ),
                BatchItem::Limit(l) => limit_order(l, id),
            });
        }
        batch::place(&mut self.session, &batch)
    }

    fn create_conditional_order(&mut self, p: ConditionalParams) -> Result<AlgoOrder, VenueError> {
        let id = self.id_or_new(p.client_algo_id.clone(), CREATE_CONDITIONAL_ORDER, &p);
        conditional::place(&mut self.session, &p, &id)
    }

    fn close_position(&mut self, p: ClosePositionParams) -> Result<Value, VenueError> {
        let id = self.id_or_new(p.client_order_id.clone(), CLOSE_POSITION, &p);
        close::close(&mut self.session, &p, &id)
    }

    fn cancel_order(&mut self, p: OrderRefParams) -> Result<Order, VenueError> {
        orders::cancel(&mut self.session, &p.symbol, &p.key()?)
    }

    fn get_order(&mut self, p: OrderRefParams) -> Result<Order, VenueError> {
        orders::lookup(&mut self.session, &p.symbol, &p.key()?)
    }

    fn modify_order(&mut self, p: ModifyParams) -> Result<Order, VenueError> {
        account::modify_order(&mut self.session, p)
    }

    fn get_open_orders(&mut self, p: OpenOrdersParams) -> Result<Value, VenueError> {
        let (ep, query) = match &p.symbol {
            Some(symbol) => (&api::OPEN_ORDERS, Query::new().push("symbol", symbol)),
            None => (&api::OPEN_ORDERS_ALL, Query::new()),
        };
        let open: Vec<Order> = self.session.call(ep, query)?;
        Ok(json!({ "orders": open }))
    }

    fn cancel_all_open_orders(&mut self, p: SymbolParams) -> Result<Value, VenueError> {
        account::cancel_all(&mut self.session, &p.symbol)
    }

    fn countdown_cancel_all(&mut self, p: CountdownParams) -> Result<Value, VenueError> {
        account::countdown_cancel_all(&mut self.session, p)
    }

    fn cancel_conditional_order(&mut self, p: AlgoRefParams) -> Result<Value, VenueError> {
        conditional::cancel(&mut self.session, &p)
    }

    fn get_conditional_order(&mut self, p: AlgoRefParams) -> Result<AlgoOrder, VenueError> {
        conditional::lookup(&mut self.session, &p)
    }

    fn get_position(&mut self, p: SymbolParams) -> Result<Value, VenueError> {
        let positions = close::positions(&mut self.session, &p.symbol)?;
        let flat = positions.iter().all(|e| is_zero(&e.position_amt));
        Ok(json!({ "symbol": p.symbol, "flat": flat, "positions": positions }))
    }

    fn get_funding_rate(&mut self, p: SymbolParams) -> Result<Funding, VenueError> {
        self.session
            .call(&api::PREMIUM_INDEX, Query::new().push("symbol", &p.symbol))
    }

    fn get_balance(&mut self, _: NoParams) -> Result<Value, VenueError> {
        let balances: Vec<Balance> = self.session.call(&api::BALANCE, Query::new())?;
        Ok(json!({ "balances": balances }))
    }

    fn get_user_trades(&mut self, p: TradesParams) -> Result<Value, VenueError> {
        account::user_trades(&mut self.session, p)
    }

    fn get_exchange_info(&mut self, p: SymbolParams) -> Result<Value, VenueError> {
        account::exchange_info(&mut self.session, &p.symbol)
    }

    fn set_leverage(&mut self, p: LeverageParams) -> Result<Value, VenueError> {
        account::set_leverage(&mut self.session, p)
    }

    fn set_margin_type(&mut self, p: MarginTypeParams) -> Result<Value, VenueError> {
        account::set_margin_type(&mut self.session, p)
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

/// A limit create as an order to place.
fn limit_order(p: &LimitOrderParams, id: ClientOrderId) -> NewOrder {
    NewOrder::new(
        p.symbol.clone(),
        p.side,
        p.quantity.clone(),
        OrderKind::Limit {
            price: p.price.clone(),
            time_in_force: p.time_in_force,
            good_till_date: p.good_till_date,
        },
        id,
        &p.options(),
    )
}

fn to_json(value: &impl serde::Serialize) -> Result<Value, VenueError> {
    serde_json::to_value(value)
        .map_err(|e| VenueError::parse(format!("answer could not be encoded: {e}")))
}

// Exported only for WebAssembly: the export names (`resilience:venue/adapter@0.1.0#…`)
// are not valid symbols for a native linker, and native builds only run tests.
#[cfg(target_arch = "wasm32")]
resilience_guest::export_plugin!(Binance);

// The venue section `resilience-host init` writes for this plugin.
resilience_guest::venue_defaults!("venue-defaults.toml");

#[cfg(test)]
mod tests;

#[cfg(test)]
mod session_tests;
