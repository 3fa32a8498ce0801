//! Binance's answers as this plugin returns them: read with the venue's
//! camelCase names, written with snake_case ones. Prices, quantities and
//! amounts stay the venue's decimal strings; a field of the wrong type is a
//! `parse` error naming it. Examples: `docs/venues/vectors/binance_usdm_response_examples.json`.

use resilience_guest::decimal::is_decimal;
use serde::{Deserialize, Serialize};

/// An order (New Order, Query Order, Cancel Order, Open Orders).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "camelCase"))]
pub struct Order {
    pub order_id: u64,
    pub client_order_id: String,
    pub symbol: String,
    pub side: String,
    #[serde(rename = "type")]
    pub order_type: String,
    pub status: String,
    pub price: String,
    pub orig_qty: String,
    pub executed_qty: String,
    #[serde(default)]
    pub avg_price: Option<String>,
    #[serde(default)]
    pub cum_quote: Option<String>,
    #[serde(default)]
    pub reduce_only: bool,
    #[serde(default)]
    pub position_side: Option<String>,
    #[serde(default)]
    pub time_in_force: Option<String>,
    #[serde(default)]
    pub update_time: Option<u64>,
}

/// One position entry (Position Information V3; V2 entries read too).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "camelCase"))]
pub struct Position {
    pub symbol: String,
    /// `BOTH` in one-way mode, `LONG`/`SHORT` in hedge mode.
    pub position_side: String,
    /// Signed: negative for a short in one-way mode.
    pub position_amt: String,
    pub entry_price: String,
    #[serde(default)]
    pub break_even_price: Option<String>,
    pub mark_price: String,
    #[serde(rename(deserialize = "unRealizedProfit"))]
    pub unrealized_profit: String,
    pub liquidation_price: String,
    pub notional: String,
    #[serde(default)]
    pub margin_asset: Option<String>,
    #[serde(default)]
    pub isolated_margin: Option<String>,
    pub update_time: u64,
}

/// One asset of the futures account balance (V3; V2 entries read too).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "camelCase"))]
pub struct Balance {
    pub asset: String,
    pub balance: String,
    pub available_balance: String,
    pub cross_wallet_balance: String,
    #[serde(rename(deserialize = "crossUnPnl"))]
    pub cross_unrealized_pnl: String,
    pub max_withdraw_amount: String,
    #[serde(default)]
    pub margin_available: Option<bool>,
    pub update_time: u64,
}

/// Mark price and funding (premiumIndex of one symbol).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all(deserialize = "camelCase"))]
pub struct Funding {
    pub symbol: String,
    /// The funding rate of the current period.
    #[serde(rename(deserialize = "lastFundingRate"))]
    pub funding_rate: String,
    pub mark_price: String,
    pub index_price: String,
    #[serde(default)]
    pub interest_rate: Option<String>,
    pub next_funding_time: u64,
    pub time: u64,
}

/// Whether a decimal string is zero (`"0"`, `"-0.000"`); not a decimal is
/// not zero.
pub fn is_zero(d: &str) -> bool {
    is_decimal(d) && d.bytes().all(|b| matches!(b, b'0' | b'.' | b'-'))
}

/// A decimal string without leading integer zeros or trailing fractional
/// zeros, so equal values compare equal (`"0.40"` and `"0.4"`).
pub fn normalize_decimal(d: &str) -> String {
    let (int, frac) = d.split_once('.').unwrap_or((d, ""));
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decimals_normalize_for_comparison() {
        assert_eq!(normalize_decimal("0.40"), "0.4");
        assert_eq!(normalize_decimal("30000.00"), "30000");
        assert_eq!(normalize_decimal("007"), "7");
        assert_eq!(normalize_decimal("0"), "0");
        assert_eq!(normalize_decimal("0.000"), "0");
        assert!(is_zero("0.000") && is_zero("-0") && !is_zero("0.001"));
        assert!(!is_zero("") && !is_zero("-") && !is_zero("0.0.0"));
    }

    #[test]
    fn order_is_read_with_venue_names_and_written_snake_case() {
        // vectors: new_order_response
        let venue = json!({
            "clientOrderId": "testOrder", "cumQty": "0", "cumQuote": "0", "executedQty": "0",
            "orderId": 22542179, "avgPrice": "0.00000", "origQty": "10", "price": "0",
            "reduceOnly": false, "side": "BUY", "positionSide": "SHORT", "status": "NEW",
            "stopPrice": "0", "closePosition": false, "symbol": "BTCUSDT", "timeInForce": "GTD",
            "type": "LIMIT", "origType": "LIMIT", "updateTime": 1566818724722u64,
        });
        let order: Order = serde_json::from_value(venue).unwrap();
        assert_eq!(
            serde_json::to_value(order).unwrap(),
            json!({
                "order_id": 22542179, "client_order_id": "testOrder", "symbol": "BTCUSDT",
                "side": "BUY", "type": "LIMIT", "status": "NEW", "price": "0", "orig_qty": "10",
                "executed_qty": "0", "avg_price": "0.00000", "cum_quote": "0", "reduce_only": false,
                "position_side": "SHORT", "time_in_force": "GTD", "update_time": 1566818724722u64,
            })
        );
    }

    #[test]
    fn price_as_a_number_is_refused() {
        let venue = json!({
            "orderId": 1, "clientOrderId": "a", "symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT",
            "status": "NEW", "price": 1.5, "origQty": "1", "executedQty": "0",
        });
        let err = serde_json::from_value::<Order>(venue)
            .unwrap_err()
            .to_string();
        assert!(err.contains("invalid type"), "{err}");
    }
}
