//! Operation params, checked while they are decoded: a value that is wrong
//! never reaches a request, and the error names the field.
//!
//! | field             | accepted                                                        |
//! |-------------------|-----------------------------------------------------------------|
//! | `symbol`          | upper-case letters and digits (`BTCUSDT`, `1000PEPEUSDT`), `_` for delivery contracts (`BTCUSDT_250627`), and non-ASCII letters (Binance lists `币安人生USDT`; sent percent-encoded as UTF-8) |
//! | `side`            | `BUY` or `SELL`                                                 |
//! | `quantity`, `price` | a positive decimal **string** (`"0.001"`); JSON numbers are refused so no digit is lost to floats |
//! | `time_in_force`   | `GTC` (default), `IOC`, `FOK`, `GTX` (post-only)                |
//! | `client_order_id` | Binance's `^[\.A-Z\:/a-z0-9_-]{1,36}$`                          |
//! | `order_id`        | a positive integer, as a JSON number or a string of digits      |
//!
//! Unknown fields are refused (`reduceOnly` for `reduce_only` would
//! otherwise silently place an order that can increase a position).

use std::fmt;

use resilience_guest::VenueError;
use resilience_guest::decimal::is_unsigned_decimal;
use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::{Deserialize, Serialize};

/// Longest symbol accepted (Binance's are far shorter).
const MAX_SYMBOL_CHARS: usize = 32;

/// A contract symbol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Symbol(pub String);

/// A positive decimal string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decimal(pub String);

/// A `newClientOrderId` / `origClientOrderId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClientOrderId(pub String);

/// Binance's numeric `orderId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct OrderId(pub u64);

/// Order side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum Side {
    #[serde(rename = "BUY")]
    Buy,
    #[serde(rename = "SELL")]
    Sell,
}

impl Side {
    /// The venue's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }
}

/// Time in force of a limit order; `GTD` needs `good_till_date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub enum TimeInForce {
    #[default]
    #[serde(rename = "GTC")]
    Gtc,
    #[serde(rename = "IOC")]
    Ioc,
    #[serde(rename = "FOK")]
    Fok,
    /// Good till crossing: post-only.
    #[serde(rename = "GTX")]
    Gtx,
    /// Good till `good_till_date`.
    #[serde(rename = "GTD")]
    Gtd,
}

impl TimeInForce {
    /// The venue's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeInForce::Gtc => "GTC",
            TimeInForce::Ioc => "IOC",
            TimeInForce::Fok => "FOK",
            TimeInForce::Gtx => "GTX",
            TimeInForce::Gtd => "GTD",
        }
    }
}

/// Which position an order belongs to: `BOTH` in one-way mode, `LONG` or
/// `SHORT` in hedge mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum PositionSide {
    #[serde(rename = "BOTH")]
    Both,
    #[serde(rename = "LONG")]
    Long,
    #[serde(rename = "SHORT")]
    Short,
}

impl PositionSide {
    /// The venue's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            PositionSide::Both => "BOTH",
            PositionSide::Long => "LONG",
            PositionSide::Short => "SHORT",
        }
    }
}

/// Self-trade prevention (`selfTradePreventionMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum SelfTradePrevention {
    #[serde(rename = "NONE")]
    None,
    #[serde(rename = "EXPIRE_TAKER")]
    ExpireTaker,
    #[serde(rename = "EXPIRE_MAKER")]
    ExpireMaker,
    #[serde(rename = "EXPIRE_BOTH")]
    ExpireBoth,
}

impl SelfTradePrevention {
    /// The venue's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SelfTradePrevention::None => "NONE",
            SelfTradePrevention::ExpireTaker => "EXPIRE_TAKER",
            SelfTradePrevention::ExpireMaker => "EXPIRE_MAKER",
            SelfTradePrevention::ExpireBoth => "EXPIRE_BOTH",
        }
    }
}

/// What every create accepts besides its kind's fields (written out in each
/// params struct: serde's `flatten` would lose `deny_unknown_fields`).
#[derive(Debug, Clone, Default)]
pub struct OrderOptions {
    pub client_order_id: Option<ClientOrderId>,
    /// Sent as `reduceOnly=true` when true (one-way mode only).
    pub reduce_only: bool,
    /// `LONG`/`SHORT` in hedge mode; `BOTH` (or nothing) in one-way mode.
    pub position_side: Option<PositionSide>,
    pub self_trade_prevention_mode: Option<SelfTradePrevention>,
}

macro_rules! order_options {
    ($name:ident { $($field:tt)* }) => {
        #[derive(Debug, Clone, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($field)*
            #[serde(default)]
            pub client_order_id: Option<ClientOrderId>,
            #[serde(default)]
            pub reduce_only: bool,
            #[serde(default)]
            pub position_side: Option<PositionSide>,
            #[serde(default)]
            pub self_trade_prevention_mode: Option<SelfTradePrevention>,
        }

        impl $name {
            /// The options every create shares.
            pub fn options(&self) -> OrderOptions {
                OrderOptions {
                    client_order_id: self.client_order_id.clone(),
                    reduce_only: self.reduce_only,
                    position_side: self.position_side,
                    self_trade_prevention_mode: self.self_trade_prevention_mode,
                }
            }
        }
    };
}

order_options!(MarketOrderParams {
    pub symbol: Symbol,
    pub side: Side,
    pub quantity: Decimal,
});

order_options!(LimitOrderParams {
    pub symbol: Symbol,
    pub side: Side,
    pub quantity: Decimal,
    pub price: Decimal,
    #[serde(default)]
    pub time_in_force: TimeInForce,
    /// Milliseconds since the epoch; required with `GTD`, refused otherwise.
    #[serde(default)]
    pub good_till_date: Option<u64>,
});

/// One order of `create_orders`: a market or limit create with `type`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum BatchItem {
    #[serde(rename = "MARKET")]
    Market(MarketOrderParams),
    #[serde(rename = "LIMIT")]
    Limit(LimitOrderParams),
}

impl BatchItem {
    /// The item's client order id, if given.
    pub fn client_order_id(&self) -> Option<&ClientOrderId> {
        match self {
            BatchItem::Market(p) => p.client_order_id.as_ref(),
            BatchItem::Limit(p) => p.client_order_id.as_ref(),
        }
    }

    /// The item's symbol.
    pub fn symbol(&self) -> &Symbol {
        match self {
            BatchItem::Market(p) => &p.symbol,
            BatchItem::Limit(p) => &p.symbol,
        }
    }
}

/// `create_orders`: 1 to 5 orders in one request.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchParams {
    pub orders: Vec<BatchItem>,
}

/// `close_position`; `client_order_id` is filled in by `prepare`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClosePositionParams {
    pub symbol: Symbol,
    #[serde(default)]
    pub client_order_id: Option<ClientOrderId>,
    /// In hedge mode, the side to close (`LONG`/`SHORT`).
    #[serde(default)]
    pub position_side: Option<PositionSide>,
}

/// `cancel_order` and `get_order`: exactly one of the two ids.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderRefParams {
    pub symbol: Symbol,
    #[serde(default)]
    pub order_id: Option<OrderId>,
    #[serde(default)]
    pub client_order_id: Option<ClientOrderId>,
}

/// How an existing order is named in a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderKey {
    /// `orderId`.
    Id(OrderId),
    /// `origClientOrderId`.
    Client(ClientOrderId),
}

impl OrderRefParams {
    /// The one id given.
    pub fn key(&self) -> Result<OrderKey, VenueError> {
        match (&self.order_id, &self.client_order_id) {
            (Some(id), None) => Ok(OrderKey::Id(*id)),
            (None, Some(cid)) => Ok(OrderKey::Client(cid.clone())),
            (Some(_), Some(_)) => Err(VenueError::invalid(
                "order_id, client_order_id: give one of them, not both",
            )),
            (None, None) => Err(VenueError::invalid(
                "order_id, client_order_id: one of them is required",
            )),
        }
    }
}

/// `get_open_orders`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenOrdersParams {
    #[serde(default)]
    pub symbol: Option<Symbol>,
}

/// `get_position` and `get_funding_rate`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SymbolParams {
    pub symbol: Symbol,
}

/// `get_balance` takes nothing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// The params of a mutating call that `reconcile` needs (the rest is ignored).
#[derive(Debug, Clone, Deserialize)]
pub struct ReconcileParams {
    pub symbol: Symbol,
}

impl Symbol {
    fn check(s: &str) -> bool {
        let n = s.chars().count();
        (1..=MAX_SYMBOL_CHARS).contains(&n)
            && s.chars().all(|c| {
                c.is_ascii_uppercase()
                    || c.is_ascii_digit()
                    || c == '_'
                    || (!c.is_ascii() && c.is_alphanumeric())
            })
    }
}

impl Decimal {
    fn check(s: &str) -> bool {
        is_unsigned_decimal(s) && s.bytes().any(|b| (b'1'..=b'9').contains(&b))
    }
}

impl ClientOrderId {
    /// Binance's pattern `^[\.A-Z\:/a-z0-9_-]{1,36}$`.
    pub fn check(s: &str) -> bool {
        (1..=36).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b':' | b'/' | b'_' | b'-'))
    }

    /// `s` when it fits the pattern, else `invalid_params` naming `field`.
    pub fn parse(field: &str, s: &str) -> Result<Self, VenueError> {
        if Self::check(s) {
            Ok(Self(s.to_string()))
        } else {
            Err(VenueError::invalid(format!(
                "{field}: {s:?} does not match ^[.A-Z:/a-z0-9_-]{{1,36}}$"
            )))
        }
    }
}

/// A string newtype checked by `check`; `expecting` says what fits.
struct Checked<T> {
    expecting: &'static str,
    check: fn(&str) -> bool,
    wrap: fn(String) -> T,
}

impl<'de, T> Visitor<'de> for Checked<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        if (self.check)(v) {
            Ok((self.wrap)(v.to_string()))
        } else {
            Err(E::invalid_value(Unexpected::Str(v), &self))
        }
    }
}

impl<'de> Deserialize<'de> for Symbol {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(Checked {
            expecting: "an upper-case symbol such as \"BTCUSDT\"",
            check: Symbol::check,
            wrap: Symbol,
        })
    }
}

impl<'de> Deserialize<'de> for Decimal {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(Checked {
            expecting: "a positive decimal string such as \"0.001\" (JSON numbers are refused so no digit is lost)",
            check: Decimal::check,
            wrap: Decimal,
        })
    }
}

impl<'de> Deserialize<'de> for ClientOrderId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(Checked {
            expecting: "1 to 36 characters of A-Z a-z 0-9 . : / _ -",
            check: ClientOrderId::check,
            wrap: ClientOrderId,
        })
    }
}

struct OrderIdVisitor;

impl<'de> Visitor<'de> for OrderIdVisitor {
    type Value = OrderId;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a positive integer order id (a number or a string of digits)")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<OrderId, E> {
        if v == 0 {
            return Err(E::invalid_value(Unexpected::Unsigned(v), &self));
        }
        Ok(OrderId(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<OrderId, E> {
        match u64::try_from(v) {
            Ok(u) => self.visit_u64(u),
            Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &self)),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<OrderId, E> {
        match v.parse::<u64>() {
            Ok(u) if v.bytes().all(|b| b.is_ascii_digit()) => self.visit_u64(u),
            _ => Err(E::invalid_value(Unexpected::Str(v), &self)),
        }
    }
}

impl<'de> Deserialize<'de> for OrderId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(OrderIdVisitor)
    }
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols() {
        for ok in ["BTCUSDT", "1000PEPEUSDT", "BTCUSDT_250627", "币安人生USDT"] {
            assert!(Symbol::check(ok), "{ok}");
        }
        for bad in [
            "",
            "btcusdt",
            "BTC-USDT",
            "BTC USDT",
            "BTC/USDT",
            "BTCUSDT&x=1",
            "${secret:api_key}",
            &"A".repeat(33),
        ] {
            assert!(!Symbol::check(bad), "{bad}");
        }
    }

    #[test]
    fn decimals_are_positive_strings() {
        for ok in ["1", "0.001", "30000", "00.10"] {
            assert!(Decimal::check(ok), "{ok}");
        }
        for bad in [
            "", "0", "0.000", "-1", "1e3", ".5", "5.", " 1", "1,5", "NaN",
        ] {
            assert!(!Decimal::check(bad), "{bad}");
        }
    }

    #[test]
    fn client_order_ids_follow_binance_pattern() {
        for ok in ["adapter-test-0001", "a", "A.b:c/d_e-f", &"x".repeat(36)] {
            assert!(ClientOrderId::check(ok), "{ok}");
        }
        for bad in ["", &"x".repeat(37), "a b", "a&b", "é", "${secret:api_key}"] {
            assert!(!ClientOrderId::check(bad), "{bad}");
        }
    }

    #[test]
    fn order_ids_accept_numbers_and_digit_strings() {
        let id = |v: serde_json::Value| serde_json::from_value::<OrderId>(v);
        assert_eq!(id(serde_json::json!(22542179)).unwrap(), OrderId(22542179));
        assert_eq!(
            id(serde_json::json!("22542179")).unwrap(),
            OrderId(22542179)
        );
        for bad in [
            serde_json::json!(0),
            serde_json::json!(-1),
            serde_json::json!(1.5),
            serde_json::json!("+1"),
            serde_json::json!("0x10"),
            serde_json::json!(""),
        ] {
            assert!(id(bad.clone()).is_err(), "{bad}");
        }
    }
}
