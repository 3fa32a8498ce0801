//! Operation params and the checks made before anything is sent.
//!
//! Prices, sizes and amounts are decimal **strings**: a JSON number would
//! have passed through a float on the caller's side or ours.
//! Order params carry what `prepare` learned and chose, so the journal holds
//! the whole order: `salt`, `timestamp_ms`, the venue's `tick_size` and
//! `neg_risk`, the V1 `fee_rate_bps`, and for market orders `price`.
//! Callers may set them too; a `tick_size`, `neg_risk` or nonzero-fee
//! `fee_rate_bps` that contradicts the venue is refused.

use resilience_guest::VenueError;
use serde::{Deserialize, Serialize};

pub use crate::order::Side;

/// Time in force (docs/venues/polymarket.md: `GTC|FOK|GTD|FAK`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum OrderType {
    Gtc,
    Gtd,
    Fok,
    Fak,
}

impl OrderType {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderType::Gtc => "GTC",
            OrderType::Gtd => "GTD",
            OrderType::Fok => "FOK",
            OrderType::Fak => "FAK",
        }
    }
}

/// `get_order_book`, `get_midpoint`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenParams {
    pub token_id: String,
}

/// `get_price`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceParams {
    pub token_id: String,
    pub side: Side,
}

/// `cancel_order`, `get_order`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderIdParams {
    pub order_id: String,
}

/// `get_open_orders`: both filters optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenOrdersParams {
    /// Condition id of the market.
    #[serde(default)]
    pub market: Option<String>,
    /// Token id.
    #[serde(default)]
    pub asset_id: Option<String>,
}

/// `get_balance`: USDC collateral by default, a token's shares with `token_id`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalanceParams {
    #[serde(default)]
    pub token_id: Option<String>,
}

/// `create_limit_order`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOrderParams {
    /// Outcome token id (a uint256 in decimal).
    pub token_id: String,
    pub side: Side,
    /// Limit price per share in USDC, strictly between 0 and 1.
    pub price: String,
    /// Shares.
    pub size: String,
    /// Default GTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_type: Option<OrderType>,
    /// Unix seconds; GTD orders only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<u64>,
    /// Rest on the book or fail; GTC and GTD only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_only: Option<bool>,
    /// Whether the token trades on the neg-risk exchange; read from the
    /// venue, so callers need not say it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neg_risk: Option<bool>,
    /// The market's tick size; read from the venue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tick_size: Option<String>,
    /// V1 exchange only (signed `feeRateBps`); read from `/fee-rate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_rate_bps: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<u64>,
    /// V2 exchange only: the signed `timestamp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_ms: Option<u64>,
}

/// `create_market_order`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MarketOrderParams {
    pub token_id: String,
    pub side: Side,
    /// BUY: USDC to spend; SELL: shares to sell.
    pub amount: String,
    /// Worst acceptable price; read from the order book when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    /// FOK (default) or FAK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_type: Option<OrderType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neg_risk: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tick_size: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee_rate_bps: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_ms: Option<u64>,
}

/// `create_orders`: limit orders posted together (POST `/orders`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrdersParams {
    pub orders: Vec<LimitOrderParams>,
}

/// `cancel_orders`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderIdsParams {
    pub order_ids: Vec<String>,
}

/// `cancel_market_orders`: by market (condition id), asset (token id) or both.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MarketCancelParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub market: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset_id: Option<String>,
}

/// `cancel_all`: no params.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// `get_trades`: every filter optional (py-clob-client-v2 `TradeParams`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TradesParams {
    #[serde(default)]
    pub market: Option<String>,
    #[serde(default)]
    pub asset_id: Option<String>,
    /// Unix seconds.
    #[serde(default)]
    pub after: Option<u64>,
    /// Unix seconds.
    #[serde(default)]
    pub before: Option<u64>,
    #[serde(default)]
    pub maker_address: Option<String>,
    /// A trade id.
    #[serde(default)]
    pub id: Option<String>,
}

/// `heartbeat`: the id the venue returned last time (empty to start).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeartbeatParams {
    #[serde(default)]
    pub heartbeat_id: Option<String>,
}

/// `field` must not be empty or blank.
pub fn non_empty(field: &str, value: &str) -> Result<(), VenueError> {
    if value.trim().is_empty() {
        return Err(VenueError::invalid(format!("{field}: must not be empty")));
    }
    Ok(())
}

/// A token id of an order: a uint256 in decimal.
pub fn check_order_token_id(token_id: &str) -> Result<(), VenueError> {
    resilience_guest::abi::encode_uint_decimal(token_id)
        .map(|_| ())
        .map_err(|e| e.invalid("token_id"))
}

/// Order ids are `0x` hashes; refuse anything that could change the path.
pub fn check_order_id(order_id: &str) -> Result<(), VenueError> {
    non_empty("order_id", order_id)?;
    if !order_id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(VenueError::invalid(format!(
            "order_id: {order_id:?} is not an order hash (letters and digits only)"
        )));
    }
    Ok(())
}

/// `salt` must stay JSON-exact.
pub fn check_salt(salt: u64) -> Result<(), VenueError> {
    if salt > crate::api::MAX_SALT {
        return Err(VenueError::invalid(format!(
            "salt: {salt} is above 2^53 - 1 and would not survive JSON readers"
        )));
    }
    Ok(())
}

impl LimitOrderParams {
    /// What can be checked without settings.
    pub fn check(&self) -> Result<(), VenueError> {
        check_order_token_id(&self.token_id)?;
        crate::amounts::check_price_range("price", &self.price)?;
        crate::amounts::check_size("size", &self.size)?;
        if let Some(salt) = self.salt {
            check_salt(salt)?;
        }
        let order_type = self.order_type.unwrap_or(OrderType::Gtc);
        let expiration = self.expiration.unwrap_or(0);
        match (order_type, expiration) {
            (OrderType::Gtd, 0) => {
                return Err(VenueError::invalid(
                    "expiration: a GTD order needs an expiration (unix seconds)",
                ));
            }
            (OrderType::Gtc | OrderType::Fok | OrderType::Fak, e) if e != 0 => {
                return Err(VenueError::invalid(format!(
                    "expiration: only GTD orders expire, this one is {}",
                    order_type.as_str()
                )));
            }
            _ => {}
        }
        if self.post_only == Some(true) && !matches!(order_type, OrderType::Gtc | OrderType::Gtd) {
            return Err(VenueError::invalid(format!(
                "post_only: allowed with GTC or GTD only, not {}",
                order_type.as_str()
            )));
        }
        Ok(())
    }
}

impl MarketOrderParams {
    /// What can be checked without settings.
    pub fn check(&self) -> Result<(), VenueError> {
        check_order_token_id(&self.token_id)?;
        crate::amounts::check_size("amount", &self.amount)?;
        if let Some(price) = &self.price {
            crate::amounts::check_price_range("price", price)?;
        }
        if let Some(salt) = self.salt {
            check_salt(salt)?;
        }
        match self.order_type.unwrap_or(OrderType::Fok) {
            OrderType::Fok | OrderType::Fak => Ok(()),
            other => Err(VenueError::invalid(format!(
                "order_type: a market order is FOK or FAK, not {}",
                other.as_str()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use resilience_guest::plugin::parse_params;
    use serde_json::json;

    fn limit(v: serde_json::Value) -> Result<LimitOrderParams, VenueError> {
        let p: LimitOrderParams = parse_params(v)?;
        p.check()?;
        Ok(p)
    }

    #[test]
    fn limit_order_combinations_are_checked() {
        let base = json!({"token_id": "1234", "side": "BUY", "price": "0.5", "size": "10"});
        assert!(limit(base.clone()).is_ok());
        let cases = [
            (json!({"order_type": "GTD"}), "expiration"),
            (json!({"expiration": 1_900_000_000u64}), "expiration"),
            (json!({"order_type": "FOK", "post_only": true}), "post_only"),
            (json!({"side": "buy"}), "side"),
            (json!({"price": 0.5}), "price"),
            (json!({"token_id": "0xabc"}), "token_id"),
            (json!({"salt": 9_007_199_254_740_992u64}), "salt"),
            (json!({"order_type": "IOC"}), "order_type"),
            (json!({"client_id": "x"}), "client_id"),
        ];
        for (patch, field) in cases {
            let mut v = base.clone();
            for (k, val) in patch.as_object().unwrap() {
                v[k] = val.clone();
            }
            match limit(v.clone()) {
                Err(VenueError::InvalidParams(m)) => assert!(m.contains(field), "{v}: {m}"),
                other => panic!("{v}: {other:?}"),
            }
        }
        let gtd = json!({"token_id": "1", "side": "SELL", "price": "0.5", "size": "1",
                         "order_type": "GTD", "expiration": 1_900_000_000u64, "post_only": true});
        assert!(limit(gtd).is_ok());
    }

    #[test]
    fn market_orders_are_fok_or_fak() {
        let p: MarketOrderParams = parse_params(
            json!({"token_id": "1", "side": "BUY", "amount": "5", "order_type": "GTC"}),
        )
        .unwrap();
        assert!(matches!(p.check(), Err(VenueError::InvalidParams(m)) if m.contains("FOK or FAK")));
    }

    #[test]
    fn order_ids_cannot_reach_another_path() {
        assert!(check_order_id("0xabc123").is_ok());
        for bad in ["", "../orders", "0xabc?x=1", "0x abc", "0x%2F"] {
            assert!(check_order_id(bad).is_err(), "{bad}");
        }
    }
}
