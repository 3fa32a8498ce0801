//! Venue plugin for the Polymarket CLOB (REST).
//!
//! Scope: market data (`get_order_book`, `get_midpoint`, `get_price`),
//! placing signed orders (`create_limit_order`, `create_market_order`),
//! and the account's orders and balance (`cancel_order`, `get_order`,
//! `get_open_orders`, `get_balance`). The table of requests is in [`api`].
//!
//! Non-goals: creating API credentials (L1 `ClobAuth`), batch endpoints,
//! POLY_1271 smart-wallet signatures, tick-size lookups (orders are signed
//! exactly as asked; the venue refuses a price off its tick), and retries or
//! rate limits, which the host does.
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
//! with its decoded bytes (docs/venues/polymarket.md "L2 authentication"); the host keys
//! `hmac-sha256` with a secret's bytes as configured and the plugin never sees
//! them, so the secret must be configured already decoded. Until the host can
//! decode a secret at load time, that means a `file` secret holding the 32
//! raw bytes (`base64 -d`, after turning `-_` into `+/`, of the text
//! Polymarket gave); an `env` secret only works when the decoded bytes
//! happen to be UTF-8. `venue.toml` beside this crate shows both.
//!
//! # Settings
//!
//! See [`settings`]: `address` (required for every authenticated call),
//! `owner` (the API key once more: the order body carries it as `owner`, and
//! the body is covered by the HMAC the plugin asks for, so the host cannot
//! substitute it there), `chain_id`, `exchange_version`, `funder`,
//! `signature_type`, and contract overrides.
//!
//! # Orders and idempotency
//!
//! `create_limit_order` and `create_market_order` are mutating. `prepare`
//! completes their params once, before the host journals them: a fresh
//! `salt` (see [`order::new_salt`]), the V2 `timestamp_ms`, and for a market
//! order without `price` the worst price read from `/book`. The idempotency
//! key is the caller's `Idempotency-Key` when it sent one (the salt is then
//! derived from it, [`order::salt_from_key`]), else the order hash (`0x` +
//! the EIP-712 digest). The signed order is a
//! pure function of the prepared params and the settings, so a call invoked
//! again with them posts the very same order, and the exchange contract
//! tracks fills per order hash: the same order cannot fill twice. POST
//! `/order` is still marked not idempotent: after a timeout the host asks
//! `reconcile`, which rebuilds the order from the journaled params and looks
//! its hash up with GET `/data/order/{hash}` (`Some`
//! when found, `None` on 404 or an empty answer). That the CLOB's `orderID`
//! is this hash is an assumption (py-clob-client-v2 computes the same
//! `order_hash`; docs/venues/polymarket.md does not say the CLOB uses it as the id); if it is
//! wrong, reconcile answers `None` and a re-post is the same order again.

pub mod api;
pub mod auth;
pub mod order;
pub mod params;
pub mod read;
pub mod settings;

use resilience_guest::plugin::parse_params;
use resilience_guest::prelude::*;
use serde_json::{Map, Value, json};

use crate::order::{Order, OrderTerms};
use crate::params::{
    BalanceParams, LimitOrderParams, MarketOrderParams, OpenOrdersParams, OrderIdParams, OrderType,
    PriceParams, TokenParams,
};
use crate::settings::OrderSettings;

const CREATE_LIMIT_ORDER: &str = "create_limit_order";
const CREATE_MARKET_ORDER: &str = "create_market_order";

/// The plugin. It keeps no state between calls.
#[derive(Debug, Default)]
pub struct Polymarket;

impl Plugin for Polymarket {
    const NAME: &'static str = "polymarket";
    const VERSION: &'static str = "0.1.0";
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
        Operations::new()
            .op("get_order_book", "Order book of a token (best level last)", Self::get_order_book)
            .schema(token.clone())
            .op("get_midpoint", "Midpoint price of a token", Self::get_midpoint)
            .schema(token)
            .op("get_price", "Best price of a token on one side", Self::get_price)
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
            .schema(json!({
                "type": "object",
                "required": ["token_id", "side", "price", "size"],
                "properties": {
                    "token_id": {"type": "string"}, "side": side, "price": decimal, "size": decimal,
                    "order_type": {"enum": ["GTC", "GTD", "FOK", "FAK"]},
                    "expiration": {"type": "integer"}, "post_only": {"type": "boolean"},
                    "neg_risk": {"type": "boolean"}, "fee_rate_bps": {"type": "integer"},
                    "salt": {"type": "integer"}, "timestamp_ms": {"type": "integer"},
                },
            }))
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
                    "fee_rate_bps": {"type": "integer"}, "salt": {"type": "integer"},
                    "timestamp_ms": {"type": "integer"},
                },
            }))
            .op("cancel_order", "Cancel one order", Self::cancel_order)
            .schema(order_id.clone())
            .op("get_order", "One order of this account", Self::get_order)
            .schema(order_id)
            .op(
                "get_open_orders",
                "Every open order of this account, all pages",
                Self::get_open_orders,
            )
            .schema(json!({
                "type": "object",
                "properties": {"market": {"type": "string"}, "asset_id": {"type": "string"}},
            }))
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
        let salt = caller_key.map(order::salt_from_key);
        let (hash, params) = match operation {
            CREATE_LIMIT_ORDER => {
                let mut p: LimitOrderParams = parse_params(params)?;
                p.salt = p.salt.or(salt);
                let placement = limit_placement(&mut p)?;
                (placement.order.hash_hex()?, to_value(&p)?)
            }
            CREATE_MARKET_ORDER => {
                let mut p: MarketOrderParams = parse_params(params)?;
                p.salt = p.salt.or(salt);
                let placement = market_placement(&mut p)?;
                (placement.order.hash_hex()?, to_value(&p)?)
            }
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
        // The journaled params are complete (salt, timestamp, price), so the
        // order and its hash are the very ones `invoke` posted.
        let hash = match operation {
            CREATE_LIMIT_ORDER => {
                let mut p: LimitOrderParams = parse_params(params)?;
                limit_placement(&mut p)?.order.hash_hex()?
            }
            CREATE_MARKET_ORDER => {
                let mut p: MarketOrderParams = parse_params(params)?;
                if p.price.is_none() {
                    return Err(VenueError::invalid(
                        "price: a journaled market order carries the price prepare chose",
                    ));
                }
                market_placement(&mut p)?.order.hash_hex()?
            }
            _ => {
                return Err(VenueError::Unsupported(format!(
                    "polymarket: {operation} is not a mutating operation"
                )));
            }
        };
        let path = format!("{}{hash}", api::DATA_ORDER);
        let resp = auth::request(Method::Get, &path, None, Vec::new())?.send()?;
        Ok(read::maybe_order(&resp)?
            .map(|order| json!({"order_hash": hash, "reconciled": true, "order": order})))
    }
}

fn to_value<T: serde::Serialize>(value: &T) -> Result<Value, VenueError> {
    serde_json::to_value(value).map_err(|e| VenueError::parse(format!("params: {e}")))
}

/// An order ready to sign, and how to post it.
#[derive(Debug)]
struct Placement {
    order: Order,
    order_type: OrderType,
    post_only: bool,
    price: String,
}

/// Fill in a missing salt (from `seed`, the params as given) and, for the V2
/// exchange, a missing timestamp; return both.
fn fill_salt_and_time(
    seed: &[u8],
    salt: &mut Option<u64>,
    timestamp_ms: &mut Option<u64>,
    version: u8,
) -> (u64, u64) {
    let now = host::now_ms();
    let salt = *salt.get_or_insert_with(|| order::new_salt(seed, now));
    let timestamp_ms = match version {
        2 => *timestamp_ms.get_or_insert(now),
        _ => timestamp_ms.unwrap_or(0),
    };
    (salt, timestamp_ms)
}

fn check_fee(fee_rate_bps: Option<u32>, version: u8) -> Result<u32, VenueError> {
    match (fee_rate_bps, version) {
        (Some(_), 2) => Err(VenueError::invalid(
            "fee_rate_bps: the V2 exchange does not sign a fee rate (exchange_version is 2)",
        )),
        (fee, _) => Ok(fee.unwrap_or(0)),
    }
}

/// Check `p`, complete it (salt, timestamp) and build its order.
fn limit_placement(p: &mut LimitOrderParams) -> Result<Placement, VenueError> {
    p.check()?;
    let (maker_amount, taker_amount) = order::limit_amounts(p.side, &p.price, &p.size)?;
    let s = OrderSettings::read()?;
    let fee_rate_bps = check_fee(p.fee_rate_bps, s.version)?;
    let seed = serde_json::to_vec(&*p).unwrap_or_default();
    let (salt, timestamp_ms) =
        fill_salt_and_time(&seed, &mut p.salt, &mut p.timestamp_ms, s.version);
    let terms = OrderTerms {
        token_id: p.token_id.clone(),
        side: p.side,
        maker_amount,
        taker_amount,
        salt,
        expiration: p.expiration.unwrap_or(0),
        fee_rate_bps,
        timestamp_ms,
        neg_risk: p.neg_risk.unwrap_or(false),
    };
    Ok(Placement {
        order: Order::new(&s, &terms),
        order_type: p.order_type.unwrap_or(OrderType::Gtc),
        post_only: p.post_only.unwrap_or(false),
        price: p.price.clone(),
    })
}

/// Check `p`, complete it (worst price from the book, salt, timestamp) and
/// build its order.
fn market_placement(p: &mut MarketOrderParams) -> Result<Placement, VenueError> {
    p.check()?;
    let amount = order::units("amount", &p.amount)?;
    if amount == 0 {
        return Err(VenueError::invalid("amount: must be greater than 0"));
    }
    let s = OrderSettings::read()?;
    let fee_rate_bps = check_fee(p.fee_rate_bps, s.version)?;
    let order_type = p.order_type.unwrap_or(OrderType::Fok);
    let price = match &p.price {
        Some(price) => price.clone(),
        None => {
            let book = read::book(&book_request(&p.token_id).send()?)?;
            read::market_price(&book, p.side, amount, order_type == OrderType::Fok)?
        }
    };
    let (maker_amount, taker_amount) = order::market_amounts(p.side, &p.amount, &price)?;
    p.price = Some(price.clone());
    let seed = serde_json::to_vec(&*p).unwrap_or_default();
    let (salt, timestamp_ms) =
        fill_salt_and_time(&seed, &mut p.salt, &mut p.timestamp_ms, s.version);
    let terms = OrderTerms {
        token_id: p.token_id.clone(),
        side: p.side,
        maker_amount,
        taker_amount,
        salt,
        expiration: 0,
        fee_rate_bps,
        timestamp_ms,
        neg_risk: p.neg_risk.unwrap_or(false),
    };
    Ok(Placement {
        order: Order::new(&s, &terms),
        order_type,
        post_only: false,
        price,
    })
}

fn book_request(token_id: &str) -> Request {
    Request::get(Query::new().push("token_id", token_id).to_path(api::BOOK))
}

/// Sign the order, POST it with L2 headers, and read the answer.
fn post(placement: Placement) -> Result<Value, VenueError> {
    let Placement {
        order,
        order_type,
        post_only,
        price,
    } = placement;
    let owner = settings::owner()?;
    let signature = order.sign()?;
    let body = order.body(&signature, &owner, order_type.as_str(), post_only);
    let resp = auth::request(Method::Post, api::ORDER, None, body)?.send()?;
    let mut out = read::posted_order(&resp)?;
    out.insert("order_hash".into(), Value::String(order.hash_hex()?));
    out.insert("salt".into(), json!(order.salt));
    out.insert("price".into(), Value::String(price));
    out.insert("maker_amount".into(), Value::String(order.maker_amount));
    out.insert("taker_amount".into(), Value::String(order.taker_amount));
    out.insert("order_type".into(), json!(order_type.as_str()));
    Ok(Value::Object(out))
}

impl Polymarket {
    fn get_order_book(&mut self, p: TokenParams) -> Result<Map<String, Value>, VenueError> {
        params::non_empty("token_id", &p.token_id)?;
        read::book(&book_request(&p.token_id).send()?)
    }

    fn get_midpoint(&mut self, p: TokenParams) -> Result<Value, VenueError> {
        params::non_empty("token_id", &p.token_id)?;
        let path = Query::new()
            .push("token_id", &p.token_id)
            .to_path(api::MIDPOINT);
        let mid = read::midpoint(&Request::get(path).send()?)?;
        Ok(json!({"token_id": p.token_id, "mid": mid}))
    }

    fn get_price(&mut self, p: PriceParams) -> Result<Value, VenueError> {
        params::non_empty("token_id", &p.token_id)?;
        let path = Query::new()
            .push("token_id", &p.token_id)
            .push("side", p.side.as_str())
            .to_path(api::PRICE);
        let price = read::price(&Request::get(path).send()?)?;
        Ok(json!({"token_id": p.token_id, "side": p.side.as_str(), "price": price}))
    }

    fn create_limit_order(&mut self, mut p: LimitOrderParams) -> Result<Value, VenueError> {
        post(limit_placement(&mut p)?)
    }

    fn create_market_order(&mut self, mut p: MarketOrderParams) -> Result<Value, VenueError> {
        post(market_placement(&mut p)?)
    }

    fn cancel_order(&mut self, p: OrderIdParams) -> Result<Map<String, Value>, VenueError> {
        params::check_order_id(&p.order_id)?;
        let body = serde_json::to_vec(&json!({"orderID": p.order_id})).unwrap_or_default();
        let resp = auth::request(Method::Delete, api::ORDER, None, body)?.send()?;
        read::object(&resp)
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
        if let Some(m) = &p.market {
            params::non_empty("market", m)?;
        }
        if let Some(a) = &p.asset_id {
            params::non_empty("asset_id", a)?;
        }
        let mut orders = Vec::new();
        let mut cursor = api::INITIAL_CURSOR.to_string();
        for page in 1..=api::MAX_OPEN_ORDER_PAGES {
            let query = Query::new()
                .push_opt("market", p.market.as_deref())
                .push_opt("asset_id", p.asset_id.as_deref())
                .push("next_cursor", &cursor);
            let resp =
                auth::request(Method::Get, api::DATA_ORDERS, Some(&query), Vec::new())?.send()?;
            let (data, next) = read::open_orders_page(&resp)?;
            orders.extend(data);
            match next {
                None => return Ok(json!({"orders": orders, "pages": page})),
                Some(next) if next == cursor => {
                    return Err(VenueError::parse(format!(
                        "next_cursor: the venue returned cursor {next:?} again on page {page}"
                    )));
                }
                Some(next) => cursor = next,
            }
        }
        Err(VenueError::parse(format!(
            "next_cursor: still not {:?} after {} pages ({} orders); refusing a partial list",
            api::END_CURSOR,
            api::MAX_OPEN_ORDER_PAGES,
            orders.len()
        )))
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

// Exported only for WebAssembly: the export names are not valid symbols for a
// native linker, and native builds only run tests.
#[cfg(target_arch = "wasm32")]
resilience_guest::export_plugin!(Polymarket);

// The venue section `resilience-host init` writes for this plugin.
resilience_guest::venue_defaults!("venue-defaults.toml");

#[cfg(test)]
mod tests;
