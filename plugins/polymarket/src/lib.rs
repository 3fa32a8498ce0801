//! Venue plugin for the Polymarket CLOB (REST).
//!
//! Scope: market data (`get_order_book`, `get_midpoint`, `get_price`),
//! placing signed orders (`create_limit_order`, `create_market_order`,
//! `create_orders`), managing them (`cancel_order`, `cancel_orders`,
//! `cancel_market_orders`, `cancel_all`, `heartbeat`), and the account's
//! orders, trades and balance (`get_order`, `get_open_orders`, `get_trades`,
//! `get_balance`). The table of requests is in [`api`].
//!
//! Non-goals: creating API credentials (L1 `ClobAuth`), POLY_1271
//! smart-wallet signatures, builder codes, and retries or rate limits,
//! which the host does.
//!
//! # Secrets
//!
//! | secret        | holds | used as |
//! |---------------|-------|---------|
//! | `api_key`     | the API key (UUID) | `header`: the `POLY_API_KEY` header |
//! | `passphrase`  | the passphrase | `header`: the `POLY_PASSPHRASE` header |
//! | `api_secret`  | the API secret **base64url-decoded**: the raw HMAC key bytes | `hmac-key`: the L2 signing recipe the host applies at each attempt |
//! | `private_key` | 64 hex digits | `secp256k1-key`: `host::sign_secp256k1("private_key", order digest)` |
//!
//! Polymarket hands out the API secret as base64url text and keys the HMAC
//! with its decoded bytes (docs/venues/polymarket.md "L2 authentication");
//! configure the secret with `encoding = "base64url"` (see
//! `venue-defaults.toml`) so the host decodes it at start-up.
//!
//! # Settings
//!
//! See [`settings`]: `address` (required for every authenticated call),
//! `owner` (the API key once more: the order body carries it as `owner`, and
//! the body is covered by the HMAC the plugin asks for, so the host cannot
//! substitute it there), `chain_id`, `exchange_version`, `funder`,
//! `signature_type`, and contract overrides.
//!
//! # Orders: what the venue requires, asked of the venue
//!
//! Before an order is signed, the plugin reads the token's tick size,
//! neg-risk flag and minimum size from its book (cached per token, see
//! [`market`]), and for the V1 exchange its fee rate. The caller never has
//! to say `neg_risk`; a value that contradicts the venue is refused. Amounts
//! are computed exactly as the official client computes them ([`amounts`]),
//! and every result carries the effective `price`, `size` or `amount`,
//! `tick_size` and `neg_risk` it was signed with. When the venue answers
//! `order_version_mismatch`, the plugin reads `GET /version`, signs the same
//! order (same salt and timestamp) for that exchange version and posts it
//! once more; the version learned is kept for the instance's later orders.
//!
//! # Orders and idempotency
//!
//! `create_limit_order`, `create_market_order` and `create_orders` are
//! mutating. `prepare` completes their params once, before the host
//! journals them (see [`placement`]): the venue's facts, a `salt`, the
//! `timestamp_ms`, and for a market order without `price` the worst price
//! read from `/book`. The idempotency key is the caller's `Idempotency-Key`
//! when it sent one (the salt is then derived from it,
//! [`order::salt_from_key`]), else the order hash (`0x` + the EIP-712
//! digest). The signed order is a pure function of the prepared params and
//! the settings, so a call invoked again with them posts the very same
//! order, and the exchange contract tracks fills per order hash: the same
//! order cannot fill twice. POST `/order` is still marked not idempotent:
//! after a timeout the host asks `reconcile`, which rebuilds the order from
//! the journaled params and looks its hash up with GET `/data/order/{hash}`
//! (`Some` when found, `None` on 404 or an empty answer).
//!
//! `create_orders` posts up to [`api::MAX_BATCH_ORDERS`] limit orders in one
//! POST `/orders`, and the host journals **one** key for the call. Each
//! order's salt is derived from that key and the order's index
//! (`salt_from_key("{key}/{index}")`), so a retry with the same key rebuilds
//! identical orders; without a caller key, fresh salts are journaled and the
//! key is the hash of the orders' hashes. `reconcile` looks every order up
//! and answers `Some` when the venue knows any of them. Orders the venue
//! refuses inside a 2xx batch answer stay in the result, in place, with
//! `success: false`.

pub mod amounts;
pub mod api;
pub mod auth;
pub mod market;
pub mod order;
pub mod params;
pub mod placement;
pub mod read;
pub mod settings;

use resilience_guest::encoding::hex_encode;
use resilience_guest::plugin::parse_params;
use resilience_guest::prelude::*;
use serde_json::{Map, Value, json};

use crate::market::{Markets, book_request};
use crate::params::{
    BalanceParams, CreateOrdersParams, HeartbeatParams, LimitOrderParams, MarketCancelParams,
    MarketOrderParams, NoParams, OpenOrdersParams, OrderIdParams, OrderIdsParams, PriceParams,
    TokenParams, TradesParams,
};
use crate::placement::{OrderIntent, Placement};
use crate::settings::OrderSettings;

const CREATE_LIMIT_ORDER: &str = "create_limit_order";
const CREATE_MARKET_ORDER: &str = "create_market_order";
const CREATE_ORDERS: &str = "create_orders";

/// The plugin. It lives as long as its warm instance and keeps what the
/// venue said: each token's facts ([`Markets`]) and the exchange version
/// the venue asked for after an `order_version_mismatch`.
#[derive(Debug, Default)]
pub struct Polymarket {
    markets: Markets,
    learned_version: Option<u8>,
}

fn limit_order_schema() -> Value {
    let side = json!({"type": "string", "enum": ["BUY", "SELL"]});
    let decimal = json!({"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$"});
    json!({
        "type": "object",
        "required": ["token_id", "side", "price", "size"],
        "properties": {
            "token_id": {"type": "string"}, "side": side, "price": decimal, "size": decimal,
            "order_type": {"enum": ["GTC", "GTD", "FOK", "FAK"]},
            "expiration": {"type": "integer"}, "post_only": {"type": "boolean"},
            "neg_risk": {"type": "boolean"}, "tick_size": decimal,
            "fee_rate_bps": {"type": "integer"},
            "salt": {"type": "integer"}, "timestamp_ms": {"type": "integer"},
        },
    })
}

impl Plugin for Polymarket {
    const NAME: &'static str = "polymarket";
    const VERSION: &'static str = "0.2.0";
    const SECRETS: &'static [(&'static str, SecretUse)] = &[
        (api::SECRET_API_KEY, SecretUse::Header),
        (api::SECRET_PASSPHRASE, SecretUse::Header),
        (api::SECRET_API_SECRET, SecretUse::HmacKey),
        (api::SECRET_PRIVATE_KEY, SecretUse::Secp256k1Key),
    ];

    fn operations() -> Operations<Self> {
        let token = json!({
            "type": "object",
            "required": ["token_id"],
            "properties": {"token_id": {"type": "string"}},
        });
        let side = json!({"type": "string", "enum": ["BUY", "SELL"]});
        let decimal = json!({"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$"});
        let order_id = json!({
            "type": "object",
            "required": ["order_id"],
            "properties": {"order_id": {"type": "string"}},
        });
        let string = json!({"type": "string"});
        Operations::new()
            .op("get_order_book", "Order book of a token (best level last)", Self::get_order_book)
            .schema(token.clone())
            .op("get_midpoint", "Midpoint price of a token", Self::get_midpoint)
            .schema(token)
            .op(
                "get_price",
                "The venue's /price: side BUY answers the best bid, SELL the best ask (named in the result)",
                Self::get_price,
            )
            .schema(json!({
                "type": "object",
                "required": ["token_id", "side"],
                "properties": {"token_id": {"type": "string"}, "side": side},
            }))
            .mutating(
                CREATE_LIMIT_ORDER,
                "Sign and post a limit order (GTC, GTD, FOK or FAK)",
                Self::create_limit_order,
            )
            .schema(limit_order_schema())
            .mutating(
                CREATE_MARKET_ORDER,
                "Sign and post a market order: BUY spends `amount` USDC, SELL sells `amount` shares",
                Self::create_market_order,
            )
            .schema(json!({
                "type": "object",
                "required": ["token_id", "side", "amount"],
                "properties": {
                    "token_id": {"type": "string"}, "side": side, "amount": decimal, "price": decimal,
                    "order_type": {"enum": ["FOK", "FAK"]}, "neg_risk": {"type": "boolean"},
                    "tick_size": decimal, "fee_rate_bps": {"type": "integer"},
                    "salt": {"type": "integer"}, "timestamp_ms": {"type": "integer"},
                },
            }))
            .mutating(
                CREATE_ORDERS,
                "Sign and post up to 15 limit orders in one request",
                Self::create_orders,
            )
            .schema(json!({
                "type": "object",
                "required": ["orders"],
                "properties": {"orders": {
                    "type": "array", "minItems": 1, "maxItems": api::MAX_BATCH_ORDERS,
                    "items": limit_order_schema(),
                }},
            }))
            .op(
                "cancel_order",
                "Cancel one order; an order the venue did not cancel is an error",
                Self::cancel_order,
            )
            .schema(order_id.clone())
            .op(
                "cancel_orders",
                "Cancel orders by id: both the canceled and the not_canceled lists",
                Self::cancel_orders,
            )
            .schema(json!({
                "type": "object",
                "required": ["order_ids"],
                "properties": {"order_ids": {
                    "type": "array", "minItems": 1, "maxItems": api::MAX_CANCEL_IDS, "items": string,
                }},
            }))
            .op(
                "cancel_market_orders",
                "Cancel every order of a market (condition id) and/or asset (token id)",
                Self::cancel_market_orders,
            )
            .schema(json!({
                "type": "object",
                "properties": {"market": string, "asset_id": string},
            }))
            .op("cancel_all", "Cancel every open order of this account", Self::cancel_all)
            .schema(json!({"type": "object", "properties": {}}))
            .op("get_order", "One order of this account", Self::get_order)
            .schema(order_id)
            .op(
                "get_open_orders",
                "Every open order of this account, all pages",
                Self::get_open_orders,
            )
            .schema(json!({
                "type": "object",
                "properties": {"market": string, "asset_id": string},
            }))
            .op(
                "get_trades",
                "This account's trades, all pages",
                Self::get_trades,
            )
            .schema(json!({
                "type": "object",
                "properties": {
                    "market": string, "asset_id": string, "after": {"type": "integer"},
                    "before": {"type": "integer"}, "maker_address": string, "id": string,
                },
            }))
            .op(
                "heartbeat",
                "Keep orders alive: once started, the venue cancels all orders if none arrives for 10 s",
                Self::heartbeat,
            )
            .schema(json!({"type": "object", "properties": {"heartbeat_id": string}}))
            .op(
                "get_balance",
                "USDC balance and allowances (or a token's, with token_id)",
                Self::get_balance,
            )
            .schema(json!({"type": "object", "properties": {"token_id": {"type": "string"}}}))
    }

    fn prepare(
        &mut self,
        operation: &str,
        params: Value,
        caller_key: Option<&str>,
    ) -> Result<Prepared, VenueError> {
        let (hash, params) = match operation {
            CREATE_LIMIT_ORDER => self.prepare_one::<LimitOrderParams>(params, caller_key)?,
            CREATE_MARKET_ORDER => self.prepare_one::<MarketOrderParams>(params, caller_key)?,
            CREATE_ORDERS => self.prepare_batch(params, caller_key)?,
            _ => {
                return Ok(Prepared {
                    idempotency_key: caller_key.map(str::to_string),
                    params,
                });
            }
        };
        Ok(Prepared {
            idempotency_key: Some(caller_key.map_or(hash, str::to_string)),
            params,
        })
    }

    fn reconcile(
        &mut self,
        operation: &str,
        params: Value,
        _idempotency_key: &str,
    ) -> Result<Option<Value>, VenueError> {
        // The journaled params are complete (salt, timestamp, the venue's
        // facts, price), so the orders and their hashes are the very ones
        // `invoke` posted.
        let s = OrderSettings::read_for(self.version()?.into())?;
        let hashes = match operation {
            CREATE_LIMIT_ORDER => {
                vec![
                    parse_params::<LimitOrderParams>(params)?
                        .build(&s)?
                        .order
                        .hash_hex()?,
                ]
            }
            CREATE_MARKET_ORDER => {
                vec![
                    parse_params::<MarketOrderParams>(params)?
                        .build(&s)?
                        .order
                        .hash_hex()?,
                ]
            }
            CREATE_ORDERS => parse_params::<CreateOrdersParams>(params)?
                .orders
                .iter()
                .map(|p| p.build(&s)?.order.hash_hex())
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(VenueError::Unsupported(format!(
                    "polymarket: {operation} is not a mutating operation"
                )));
            }
        };
        let mut found = Vec::with_capacity(hashes.len());
        for hash in &hashes {
            let path = format!("{}{hash}", api::DATA_ORDER);
            let resp = auth::request(Method::Get, &path, None, Vec::new())?.send()?;
            found.push(read::maybe_order(&resp)?);
        }
        if found.iter().all(Option::is_none) {
            return Ok(None);
        }
        if operation != CREATE_ORDERS {
            let order = found.pop().flatten();
            return Ok(Some(
                json!({"order_hash": hashes[0], "reconciled": true, "order": order}),
            ));
        }
        let orders: Vec<Value> = hashes
            .iter()
            .zip(found)
            .map(|(hash, order)| json!({"order_hash": hash, "order": order}))
            .collect();
        Ok(Some(json!({"orders": orders, "reconciled": true})))
    }
}

fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, VenueError> {
    serde_json::to_value(value).map_err(|e| VenueError::parse(format!("params: {e}")))
}

/// Whether `err` is the venue asking for another order version.
fn is_version_mismatch(err: &VenueError) -> bool {
    matches!(err, VenueError::Upstream(u) if u.code.as_deref() == Some(api::ORDER_VERSION_MISMATCH))
}

/// The venue's answer for one order, with what was signed.
fn describe(placement: &Placement, mut out: Map<String, Value>) -> Result<Value, VenueError> {
    let order = &placement.order;
    out.insert("order_hash".into(), Value::String(order.hash_hex()?));
    out.insert("salt".into(), json!(order.salt));
    out.insert("price".into(), Value::String(placement.price.clone()));
    let (name, effective) = &placement.effective;
    out.insert((*name).into(), Value::String(effective.clone()));
    out.insert(
        "maker_amount".into(),
        Value::String(order.maker_amount.clone()),
    );
    out.insert(
        "taker_amount".into(),
        Value::String(order.taker_amount.clone()),
    );
    out.insert("order_type".into(), json!(placement.order_type.as_str()));
    out.insert("tick_size".into(), json!(placement.tick.text));
    out.insert("neg_risk".into(), json!(placement.neg_risk));
    out.insert("exchange_version".into(), json!(order.version));
    Ok(Value::Object(out))
}

/// The signed order as POST `/order` and `/orders` carry it.
fn signed_body(placement: &Placement, owner: &str) -> Result<Vec<u8>, VenueError> {
    let signature = placement.order.sign()?;
    Ok(placement.order.body(
        &signature,
        owner,
        placement.order_type.as_str(),
        placement.post_only,
    ))
}

impl Polymarket {
    /// The exchange version orders are signed for: the one the venue asked
    /// for, else the `exchange_version` setting.
    fn version(&self) -> Result<u8, VenueError> {
        match self.learned_version {
            Some(v) => Ok(v),
            None => settings::configured_version(),
        }
    }

    fn prepare_one<P>(
        &mut self,
        params: Value,
        caller_key: Option<&str>,
    ) -> Result<(String, Value), VenueError>
    where
        P: OrderIntent + serde::de::DeserializeOwned + serde::Serialize,
    {
        let mut p: P = parse_params(params)?;
        let version = self.version()?;
        p.complete(
            &mut self.markets,
            version,
            caller_key.map(order::salt_from_key),
        )?;
        let hash = p
            .build(&OrderSettings::read_for(Some(version))?)?
            .order
            .hash_hex()?;
        Ok((hash, to_value(&p)?))
    }

    fn prepare_batch(
        &mut self,
        params: Value,
        caller_key: Option<&str>,
    ) -> Result<(String, Value), VenueError> {
        let mut p: CreateOrdersParams = parse_params(params)?;
        check_batch_size(p.orders.len())?;
        let version = self.version()?;
        let s = OrderSettings::read_for(Some(version))?;
        let mut digests = Vec::with_capacity(32 * p.orders.len());
        for (i, o) in p.orders.iter_mut().enumerate() {
            let salt = caller_key.map(|k| order::salt_from_key(&format!("{k}/{i}")));
            o.complete(&mut self.markets, version, salt)
                .map_err(|e| in_order(i, e))?;
            digests.extend_from_slice(&o.build(&s)?.order.digest()?);
        }
        let key = format!(
            "0x{}",
            hex_encode(resilience_guest::hash::keccak256(digests))
        );
        Ok((key, to_value(&p)?))
    }

    /// Complete, sign and post one order; on `order_version_mismatch`, sign
    /// it for the version `/version` names and post it once more.
    fn place<P: OrderIntent>(&mut self, mut p: P) -> Result<Value, VenueError> {
        let version = self.version()?;
        let owner = settings::owner()?;
        let s = OrderSettings::read_for(Some(version))?;
        p.complete(&mut self.markets, version, None)?;
        let placement = p.build(&s)?;
        match self.post_one(&placement, &owner, p.token_id()) {
            Err(e) if is_version_mismatch(&e) => {
                let Some(v) = self.switch_version(version, &e)? else {
                    return Err(e);
                };
                if v == 1 {
                    *p.fee_rate_bps_mut() = Some(self.markets.fee_rate_bps(p.token_id())?);
                }
                let placement = p.build(&OrderSettings::read_for(Some(v))?)?;
                self.post_one(&placement, &owner, p.token_id())
            }
            other => other,
        }
    }

    /// After `order_version_mismatch` for an order signed for `used`: the
    /// version `/version` names when it differs (and is kept for later
    /// orders), `None` when the venue names the same one.
    fn switch_version(&mut self, used: u8, err: &VenueError) -> Result<Option<u8>, VenueError> {
        let resp = Request::get(api::VERSION).send()?;
        let venue = read::version(&resp).map_err(|_| err.clone())?;
        if venue == used {
            return Ok(None);
        }
        host::log(
            host::Level::Warn,
            &format!(
                "polymarket: the venue expects order version {venue}, not {used}; signing V{venue} from now on"
            ),
        );
        self.learned_version = Some(venue);
        Ok(Some(venue))
    }

    fn post_one(
        &mut self,
        placement: &Placement,
        owner: &str,
        token_id: &str,
    ) -> Result<Value, VenueError> {
        let body = signed_body(placement, owner)?;
        let resp = auth::request(Method::Post, api::ORDER, None, body)?.send()?;
        let out =
            read::posted_order(&resp).inspect_err(|e| self.forget_on_tick_error(e, token_id))?;
        describe(placement, out)
    }

    /// The venue refused an order for its tick: the cached tick is stale.
    fn forget_on_tick_error(&mut self, err: &VenueError, token_id: &str) {
        if let VenueError::Upstream(u) = err
            && u.message.contains(api::TICK_SIZE_ERROR)
        {
            self.markets.forget(token_id);
        }
    }

    fn get_order_book(&mut self, p: TokenParams) -> Result<Map<String, Value>, VenueError> {
        params::non_empty("token_id", &p.token_id)?;
        let book = read::book(&book_request(&p.token_id).send()?)?;
        // The book carries the token's facts; keep them when they read.
        let _ = self.markets.remember(&p.token_id, &book);
        Ok(book)
    }

    fn get_midpoint(&mut self, p: TokenParams) -> Result<Value, VenueError> {
        params::non_empty("token_id", &p.token_id)?;
        let path = Query::new()
            .push("token_id", &p.token_id)
            .to_path(api::MIDPOINT);
        let mid = read::midpoint(&Request::get(path).send()?)?;
        Ok(json!({"token_id": p.token_id, "mid": mid}))
    }

    /// The venue's `/price` for `side` is the best price of the orders on
    /// that side of the book: `BUY` is the best **bid** (what a seller
    /// gets), `SELL` the best **ask** (what a buyer pays). The result names
    /// it, so no caller reads a bid as the price to buy at.
    fn get_price(&mut self, p: PriceParams) -> Result<Value, VenueError> {
        params::non_empty("token_id", &p.token_id)?;
        let path = Query::new()
            .push("token_id", &p.token_id)
            .push("side", p.side.as_str())
            .to_path(api::PRICE);
        let price = read::price(&Request::get(path).send()?)?;
        let best = match p.side {
            order::Side::Buy => "best_bid",
            order::Side::Sell => "best_ask",
        };
        Ok(json!({"token_id": p.token_id, "side": p.side.as_str(), "price": price, best: price}))
    }

    fn create_limit_order(&mut self, p: LimitOrderParams) -> Result<Value, VenueError> {
        self.place(p)
    }

    fn create_market_order(&mut self, p: MarketOrderParams) -> Result<Value, VenueError> {
        self.place(p)
    }

    fn create_orders(&mut self, mut p: CreateOrdersParams) -> Result<Value, VenueError> {
        check_batch_size(p.orders.len())?;
        let version = self.version()?;
        let owner = settings::owner()?;
        for (i, o) in p.orders.iter_mut().enumerate() {
            o.complete(&mut self.markets, version, None)
                .map_err(|e| in_order(i, e))?;
        }
        match self.post_batch(&p.orders, version, &owner) {
            Err(e) if is_version_mismatch(&e) => {
                let Some(v) = self.switch_version(version, &e)? else {
                    return Err(e);
                };
                if v == 1 {
                    for o in &mut p.orders {
                        o.fee_rate_bps = Some(self.markets.fee_rate_bps(&o.token_id)?);
                    }
                }
                self.post_batch(&p.orders, v, &owner)
            }
            other => other,
        }
    }

    fn post_batch(
        &mut self,
        orders: &[LimitOrderParams],
        version: u8,
        owner: &str,
    ) -> Result<Value, VenueError> {
        let s = OrderSettings::read_for(Some(version))?;
        let placements = orders
            .iter()
            .map(|o| o.build(&s))
            .collect::<Result<Vec<_>, _>>()?;
        // Compact JSON objects joined by commas: the array the clients send.
        let mut body = vec![b'['];
        for (i, placement) in placements.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend(signed_body(placement, owner)?);
        }
        body.push(b']');
        let resp = auth::request(Method::Post, api::ORDERS, None, body)?.send()?;
        let answers = read::posted_orders(&resp, placements.len())?;
        let mut out = Vec::with_capacity(answers.len());
        for ((placement, answer), o) in placements.iter().zip(answers).zip(orders) {
            if let Some(Value::String(m)) = answer.get("errorMsg")
                && m.contains(api::TICK_SIZE_ERROR)
            {
                self.markets.forget(&o.token_id);
            }
            out.push(describe(placement, answer)?);
        }
        Ok(json!({"orders": out}))
    }

    fn cancel_order(&mut self, p: OrderIdParams) -> Result<Value, VenueError> {
        params::check_order_id(&p.order_id)?;
        let body = serde_json::to_vec(&json!({"orderID": p.order_id})).unwrap_or_default();
        let resp = auth::request(Method::Delete, api::ORDER, None, body)?.send()?;
        read::cancelled_one(&resp, &p.order_id)
    }

    fn cancel_orders(&mut self, p: OrderIdsParams) -> Result<Value, VenueError> {
        if p.order_ids.is_empty() || p.order_ids.len() > api::MAX_CANCEL_IDS {
            return Err(VenueError::invalid(format!(
                "order_ids: give 1 to {} ids, not {}",
                api::MAX_CANCEL_IDS,
                p.order_ids.len()
            )));
        }
        for id in &p.order_ids {
            params::check_order_id(id)?;
        }
        let body = serde_json::to_vec(&p.order_ids).unwrap_or_default();
        cancel(Method::Delete, api::ORDERS, body)
    }

    fn cancel_market_orders(&mut self, p: MarketCancelParams) -> Result<Value, VenueError> {
        for (field, value) in [("market", &p.market), ("asset_id", &p.asset_id)] {
            if let Some(v) = value {
                params::non_empty(field, v)?;
            }
        }
        if p.market.is_none() && p.asset_id.is_none() {
            return Err(VenueError::invalid(
                "market: give market, asset_id or both (cancel_all cancels everything)",
            ));
        }
        let body = serde_json::to_vec(&p).unwrap_or_default();
        cancel(Method::Delete, api::CANCEL_MARKET_ORDERS, body)
    }

    fn cancel_all(&mut self, _: NoParams) -> Result<Value, VenueError> {
        cancel(Method::Delete, api::CANCEL_ALL, Vec::new())
    }

    fn get_order(&mut self, p: OrderIdParams) -> Result<Map<String, Value>, VenueError> {
        params::check_order_id(&p.order_id)?;
        let path = format!("{}{}", api::DATA_ORDER, p.order_id);
        let resp = auth::request(Method::Get, &path, None, Vec::new())?.send()?;
        read::maybe_order(&resp)?.ok_or_else(|| {
            VenueError::upstream(resp.status, None, format!("order {} not found", p.order_id))
        })
    }

    fn get_open_orders(&mut self, p: OpenOrdersParams) -> Result<Value, VenueError> {
        let filters = [("market", p.market), ("asset_id", p.asset_id)];
        let (orders, pages) = all_pages(api::DATA_ORDERS, &filters)?;
        Ok(json!({"orders": orders, "pages": pages}))
    }

    fn get_trades(&mut self, p: TradesParams) -> Result<Value, VenueError> {
        let filters = [
            ("market", p.market),
            ("asset_id", p.asset_id),
            ("after", p.after.map(|a| a.to_string())),
            ("before", p.before.map(|b| b.to_string())),
            ("maker_address", p.maker_address),
            ("id", p.id),
        ];
        let (trades, pages) = all_pages(api::DATA_TRADES, &filters)?;
        Ok(json!({"trades": trades, "pages": pages}))
    }

    fn heartbeat(&mut self, p: HeartbeatParams) -> Result<Map<String, Value>, VenueError> {
        let body = serde_json::to_vec(&json!({"heartbeat_id": p.heartbeat_id.unwrap_or_default()}))
            .unwrap_or_default();
        // A repeated heartbeat only says "alive" again: safe to retry.
        let resp = auth::request(Method::Post, api::HEARTBEATS, None, body)?
            .idempotent(true)
            .send()?;
        read::object(&resp)
    }

    fn get_balance(&mut self, p: BalanceParams) -> Result<Map<String, Value>, VenueError> {
        let query = match &p.token_id {
            Some(token) => {
                params::non_empty("token_id", token)?;
                Query::new()
                    .push("asset_type", "CONDITIONAL")
                    .push("token_id", token)
            }
            None => Query::new().push("asset_type", "COLLATERAL"),
        }
        .push("signature_type", settings::signature_type()?);
        let resp = auth::request(
            Method::Get,
            api::BALANCE_ALLOWANCE,
            Some(&query),
            Vec::new(),
        )?
        .send()?;
        read::object(&resp)
    }
}

fn check_batch_size(n: usize) -> Result<(), VenueError> {
    if n == 0 || n > api::MAX_BATCH_ORDERS {
        return Err(VenueError::invalid(format!(
            "orders: give 1 to {} orders, not {n}",
            api::MAX_BATCH_ORDERS
        )));
    }
    Ok(())
}

/// An error of order `i` of a batch, naming it.
fn in_order(i: usize, err: VenueError) -> VenueError {
    match err {
        VenueError::InvalidParams(m) => VenueError::InvalidParams(format!("orders[{i}].{m}")),
        other => other,
    }
}

/// A bulk cancel: both lists as the venue gave them; a partial cancel is a
/// result, not an error.
fn cancel(method: Method, path: &str, body: Vec<u8>) -> Result<Value, VenueError> {
    let resp = auth::request(method, path, None, body)?.send()?;
    let (canceled, not_canceled) = read::cancel_answer(&resp)?;
    Ok(json!({"canceled": canceled, "not_canceled": not_canceled}))
}

/// Every page of an L2 list endpoint (`/data/orders`, `/data/trades`) from
/// the first cursor to `LTE=`, at most [`api::MAX_OPEN_ORDER_PAGES`].
fn all_pages(
    path: &str,
    filters: &[(&str, Option<String>)],
) -> Result<(Vec<Value>, usize), VenueError> {
    for (field, value) in filters {
        if let Some(v) = value {
            params::non_empty(field, v)?;
        }
    }
    let mut items = Vec::new();
    let mut cursor = api::INITIAL_CURSOR.to_string();
    for page in 1..=api::MAX_OPEN_ORDER_PAGES {
        let query = filters
            .iter()
            .fold(Query::new(), |q, (k, v)| q.push_opt(k, v.as_deref()))
            .push("next_cursor", &cursor);
        let resp = auth::request(Method::Get, path, Some(&query), Vec::new())?.send()?;
        let (data, next) = read::open_orders_page(&resp)?;
        items.extend(data);
        match next {
            None => return Ok((items, page)),
            Some(next) if next == cursor => {
                return Err(VenueError::parse(format!(
                    "next_cursor: the venue returned cursor {next:?} again on page {page}"
                )));
            }
            Some(next) => cursor = next,
        }
    }
    Err(VenueError::parse(format!(
        "next_cursor: still not {:?} after {} pages ({} items); refusing a partial list",
        api::END_CURSOR,
        api::MAX_OPEN_ORDER_PAGES,
        items.len()
    )))
}

#[cfg(test)]
mod tests;

// Exported only for WebAssembly: the export names are not valid symbols for a
// native linker, and native builds only run tests.
#[cfg(target_arch = "wasm32")]
resilience_guest::export_plugin!(Polymarket);

// The venue section `resilience-host init` writes for this plugin.
resilience_guest::venue_defaults!("venue-defaults.toml");
