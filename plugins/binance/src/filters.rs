//! The symbols' exchange filters, read from Exchange Information and checked
//! before an order leaves, so an order the venue would refuse is refused here
//! with `invalid_params` naming the filter, without spending order count.
//!
//! | filter            | checked on | rule (the venue's) |
//! |-------------------|------------|--------------------|
//! | `status`          | every order | the symbol is `TRADING` |
//! | `PRICE_FILTER`    | limit price, modify price, stop price | `minPrice <= price <= maxPrice` (a `0` bound is no bound), `(price - minPrice)` a multiple of `tickSize` |
//! | `LOT_SIZE`        | limit quantity | `minQty <= quantity <= maxQty`, `(quantity - minQty)` a multiple of `stepSize` |
//! | `MARKET_LOT_SIZE` | market quantity (also stop-market) | the same with the market bounds |
//! | `MIN_NOTIONAL`    | limit orders that are not reduce-only | `price * quantity >= notional` |
//!
//! Nothing is rounded: a caller asking for 0.0015 BTC on a 0.001 step gets
//! an error saying so, not an order for 0.001. The one exception is
//! `close_position`, whose quantity comes from the venue (already on the
//! step) and which splits a position above the market maximum into several
//! orders ([`SymbolFilters::market_chunks`]). A market order's notional is not
//! checked (the price it fills at is not known here; the venue checks it).
//!
//! **Cache.** One Exchange Information answer (weight 1) carries every
//! symbol; it is kept for 10 minutes, and dropped at once when the venue
//! refuses an order for a filter (`-1111`, `-4014`, `-4164`: the filters
//! changed). When it cannot be read, the order is sent unchecked after a
//! warning (the venue applies the same filters) and the read is tried again
//! after 30 s. The setting `exchange_filters = "off"` skips the checks.

use std::cmp::Ordering;
use std::collections::HashMap;

use resilience_guest::prelude::*;
use serde::{Deserialize, Serialize};

use crate::api;
use crate::rest;
use crate::units::Fixed;

/// Venue setting: `check` (default) or `off`.
pub const SETTING: &str = "exchange_filters";
/// How long one Exchange Information answer is used.
const TTL_MS: u64 = 600_000;
/// Wait before reading again after a failed read.
const RETRY_AFTER_FAILURE_MS: u64 = 30_000;

/// Quantity bounds of `LOT_SIZE` or `MARKET_LOT_SIZE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lot {
    pub min_qty: String,
    pub max_qty: String,
    pub step_size: String,
}

/// One symbol's trading status and filters, as `get_exchange_info` returns them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SymbolFilters {
    pub symbol: String,
    pub status: String,
    pub min_price: Option<String>,
    pub max_price: Option<String>,
    pub tick_size: Option<String>,
    pub lot_size: Option<Lot>,
    pub market_lot_size: Option<Lot>,
    pub min_notional: Option<String>,
}

/// What an order asks for, as the filters see it.
#[derive(Debug, Clone, Copy)]
pub struct OrderShape<'a> {
    /// A market quantity (`MARKET_LOT_SIZE`) rather than a limit one.
    pub market: bool,
    pub quantity: Option<&'a str>,
    pub price: Option<&'a str>,
    pub stop_price: Option<&'a str>,
    pub reduce_only: bool,
}

#[derive(Deserialize)]
struct ExchangeInfo {
    symbols: Vec<RawSymbol>,
}

#[derive(Deserialize)]
struct RawSymbol {
    symbol: String,
    status: String,
    #[serde(default)]
    filters: Vec<RawFilter>,
}

#[derive(Deserialize)]
#[serde(tag = "filterType")]
enum RawFilter {
    #[serde(rename = "PRICE_FILTER", rename_all = "camelCase")]
    Price {
        min_price: String,
        max_price: String,
        tick_size: String,
    },
    #[serde(rename = "LOT_SIZE", rename_all = "camelCase")]
    Lot {
        min_qty: String,
        max_qty: String,
        step_size: String,
    },
    #[serde(rename = "MARKET_LOT_SIZE", rename_all = "camelCase")]
    MarketLot {
        min_qty: String,
        max_qty: String,
        step_size: String,
    },
    #[serde(rename = "MIN_NOTIONAL")]
    MinNotional { notional: String },
    #[serde(other)]
    Other,
}

impl From<RawSymbol> for SymbolFilters {
    fn from(raw: RawSymbol) -> Self {
        let mut f = SymbolFilters {
            symbol: raw.symbol,
            status: raw.status,
            min_price: None,
            max_price: None,
            tick_size: None,
            lot_size: None,
            market_lot_size: None,
            min_notional: None,
        };
        for filter in raw.filters {
            match filter {
                RawFilter::Price {
                    min_price,
                    max_price,
                    tick_size,
                } => {
                    f.min_price = Some(min_price);
                    f.max_price = Some(max_price);
                    f.tick_size = Some(tick_size);
                }
                RawFilter::Lot {
                    min_qty,
                    max_qty,
                    step_size,
                } => {
                    f.lot_size = Some(Lot {
                        min_qty,
                        max_qty,
                        step_size,
                    })
                }
                RawFilter::MarketLot {
                    min_qty,
                    max_qty,
                    step_size,
                } => {
                    f.market_lot_size = Some(Lot {
                        min_qty,
                        max_qty,
                        step_size,
                    })
                }
                RawFilter::MinNotional { notional } => f.min_notional = Some(notional),
                RawFilter::Other => {}
            }
        }
        f
    }
}

/// Every symbol's filters from one Exchange Information answer.
pub fn parse(body: &[u8]) -> Result<HashMap<String, SymbolFilters>, VenueError> {
    let info: ExchangeInfo = serde_json::from_slice(body)
        .map_err(|e| VenueError::parse(format!("exchangeInfo: {e}")))?;
    Ok(info
        .symbols
        .into_iter()
        .map(|raw| (raw.symbol.clone(), SymbolFilters::from(raw)))
        .collect())
}

/// A decimal the venue wrote; a malformed one is the venue's `parse` error.
fn venue_fixed(symbol: &str, name: &str, text: &str) -> Result<Fixed, VenueError> {
    Fixed::parse(text).ok_or_else(|| {
        VenueError::parse(format!(
            "exchangeInfo {symbol} {name}: expected a decimal, got {text:?}"
        ))
    })
}

/// A decimal the caller wrote (already checked by the params).
fn caller_fixed(field: &str, text: &str) -> Result<Fixed, VenueError> {
    Fixed::parse(text).ok_or_else(|| {
        VenueError::invalid(format!("{field}: {text:?} has too many digits to check"))
    })
}

fn too_many_digits(field: &str) -> VenueError {
    VenueError::invalid(format!("{field}: too many digits to check"))
}

impl SymbolFilters {
    /// Refuse `order` with `invalid_params` naming the filter it breaks.
    pub fn check(&self, order: &OrderShape<'_>) -> Result<(), VenueError> {
        if self.status != "TRADING" {
            return Err(VenueError::invalid(format!(
                "symbol: {} is not trading (status {})",
                self.symbol, self.status
            )));
        }
        for (field, price) in [("price", order.price), ("stop_price", order.stop_price)] {
            if let Some(price) = price {
                self.check_price(field, price)?;
            }
        }
        if let Some(quantity) = order.quantity {
            self.check_quantity(quantity, order.market)?;
            if let (Some(price), false) = (order.price, order.reduce_only || order.market) {
                self.check_notional(quantity, price)?;
            }
        }
        Ok(())
    }

    fn check_price(&self, field: &str, text: &str) -> Result<(), VenueError> {
        let price = caller_fixed(field, text)?;
        let s = &self.symbol;
        if let Some(min) = &self.min_price {
            let min_fixed = venue_fixed(s, "minPrice", min)?;
            if !min_fixed.is_zero()
                && price
                    .compare(min_fixed)
                    .ok_or_else(|| too_many_digits(field))?
                    == Ordering::Less
            {
                return Err(VenueError::invalid(format!(
                    "{field}: {text} is below PRICE_FILTER minPrice {min} for {s}"
                )));
            }
            if let Some(tick) = &self.tick_size {
                let tick_fixed = venue_fixed(s, "tickSize", tick)?;
                let from_min = price.minus(min_fixed).unwrap_or(price);
                if !from_min
                    .is_multiple_of(tick_fixed)
                    .ok_or_else(|| too_many_digits(field))?
                {
                    return Err(VenueError::invalid(format!(
                        "{field}: {text} is not on PRICE_FILTER tickSize {tick} for {s}"
                    )));
                }
            }
        }
        if let Some(max) = &self.max_price {
            let max_fixed = venue_fixed(s, "maxPrice", max)?;
            if !max_fixed.is_zero()
                && price
                    .compare(max_fixed)
                    .ok_or_else(|| too_many_digits(field))?
                    == Ordering::Greater
            {
                return Err(VenueError::invalid(format!(
                    "{field}: {text} is above PRICE_FILTER maxPrice {max} for {s}"
                )));
            }
        }
        Ok(())
    }

    fn check_quantity(&self, text: &str, market: bool) -> Result<(), VenueError> {
        let (name, lot) = if market {
            ("MARKET_LOT_SIZE", &self.market_lot_size)
        } else {
            ("LOT_SIZE", &self.lot_size)
        };
        let Some(lot) = lot else { return Ok(()) };
        let s = &self.symbol;
        let qty = caller_fixed("quantity", text)?;
        let min = venue_fixed(s, "minQty", &lot.min_qty)?;
        let max = venue_fixed(s, "maxQty", &lot.max_qty)?;
        let step = venue_fixed(s, "stepSize", &lot.step_size)?;
        let cmp = |bound| {
            qty.compare(bound)
                .ok_or_else(|| too_many_digits("quantity"))
        };
        if cmp(min)? == Ordering::Less {
            return Err(VenueError::invalid(format!(
                "quantity: {text} is below {name} minQty {} for {s}",
                lot.min_qty
            )));
        }
        if !max.is_zero() && cmp(max)? == Ordering::Greater {
            return Err(VenueError::invalid(format!(
                "quantity: {text} is above {name} maxQty {} for {s}",
                lot.max_qty
            )));
        }
        let from_min = qty.minus(min).unwrap_or(qty);
        if !from_min
            .is_multiple_of(step)
            .ok_or_else(|| too_many_digits("quantity"))?
        {
            return Err(VenueError::invalid(format!(
                "quantity: {text} is not a multiple of {name} stepSize {} for {s}",
                lot.step_size
            )));
        }
        Ok(())
    }

    fn check_notional(&self, quantity: &str, price: &str) -> Result<(), VenueError> {
        let Some(min) = &self.min_notional else {
            return Ok(());
        };
        let min_fixed = venue_fixed(&self.symbol, "notional", min)?;
        let notional = caller_fixed("quantity", quantity)?
            .times(caller_fixed("price", price)?)
            .ok_or_else(|| too_many_digits("quantity"))?;
        if notional
            .compare(min_fixed)
            .ok_or_else(|| too_many_digits("quantity"))?
            == Ordering::Less
        {
            return Err(VenueError::invalid(format!(
                "quantity, price: notional {} is below MIN_NOTIONAL {min} for {} \
                 (reduce-only orders are exempt)",
                notional.text(),
                self.symbol
            )));
        }
        Ok(())
    }

    /// `quantity` split into market orders of at most `MARKET_LOT_SIZE`
    /// maxQty (floored to the step), largest first; one piece when there is
    /// no such filter or the quantity fits.
    pub fn market_chunks(&self, quantity: &str) -> Result<Vec<String>, VenueError> {
        let Some(lot) = &self.market_lot_size else {
            return Ok(vec![quantity.to_string()]);
        };
        let s = &self.symbol;
        let step = venue_fixed(s, "stepSize", &lot.step_size)?;
        let max = venue_fixed(s, "maxQty", &lot.max_qty)?
            .floor_to(step)
            .ok_or_else(|| too_many_digits("quantity"))?;
        let mut left = caller_fixed("quantity", quantity)?;
        if max.is_zero() {
            return Ok(vec![quantity.to_string()]);
        }
        let mut chunks = Vec::new();
        while left
            .compare(max)
            .ok_or_else(|| too_many_digits("quantity"))?
            == Ordering::Greater
        {
            chunks.push(max.text());
            left = left.minus(max).ok_or_else(|| too_many_digits("quantity"))?;
        }
        if !left.is_zero() {
            chunks.push(left.text());
        }
        Ok(chunks)
    }
}

/// The filters of one Exchange Information answer, kept per instance.
#[derive(Debug, Default)]
pub struct FilterCache {
    symbols: HashMap<String, SymbolFilters>,
    /// Host time (ms) after which the cache is read again.
    fresh_until_ms: u64,
}

/// Whether the filters are checked (setting `exchange_filters`).
pub fn enabled() -> Result<bool, VenueError> {
    match host::config(SETTING).as_deref().map(str::trim) {
        None | Some("check") => Ok(true),
        Some("off") => Ok(false),
        Some(other) => Err(VenueError::invalid(format!(
            "venue setting {SETTING}: expected \"check\" or \"off\", got {other:?}"
        ))),
    }
}

impl FilterCache {
    /// The filters of `symbol`, read when the cache is stale; `Ok(None)`
    /// when they cannot be read now (the order goes unchecked); an unknown
    /// symbol is `invalid_params`.
    pub fn get(&mut self, symbol: &str) -> Result<Option<&SymbolFilters>, VenueError> {
        let now = host::now_ms();
        if now >= self.fresh_until_ms
            && let Err(e) = self.refresh(now)
        {
            host::log(
                host::Level::Warn,
                &format!(
                    "Binance exchange information could not be read ({e}); orders go \
                     unchecked until it can"
                ),
            );
        }
        if self.symbols.is_empty() {
            return Ok(None);
        }
        self.listed(symbol).map(Some)
    }

    /// The filters of `symbol`, or the error that kept them from being read.
    pub fn require(&mut self, symbol: &str) -> Result<&SymbolFilters, VenueError> {
        let now = host::now_ms();
        if now >= self.fresh_until_ms || self.symbols.is_empty() {
            self.refresh(now)?;
        }
        self.listed(symbol)
    }

    fn listed(&self, symbol: &str) -> Result<&SymbolFilters, VenueError> {
        self.symbols.get(symbol).ok_or_else(|| {
            VenueError::invalid(format!(
                "symbol: {symbol} is not listed in Binance's exchange information"
            ))
        })
    }

    /// Read the filters again at the next use.
    pub fn expire(&mut self) {
        self.fresh_until_ms = 0;
    }

    /// Forget the filters when `err` says the venue's have changed.
    pub fn expire_on(&mut self, err: &VenueError) {
        if matches!(
            rest::code(err),
            Some(api::BAD_PRECISION | api::PRICE_NOT_ON_TICK | api::MIN_NOTIONAL)
        ) {
            self.expire();
        }
    }

    fn refresh(&mut self, now: u64) -> Result<(), VenueError> {
        let read = rest::request(&api::EXCHANGE_INFO, Query::new(), 0)
            .and_then(rest::send)
            .and_then(|resp| {
                if resp.is_success() {
                    parse(&resp.body)
                } else {
                    Err(rest::venue_error(&resp))
                }
            });
        match read {
            Ok(symbols) => {
                self.symbols = symbols;
                self.fresh_until_ms = now.saturating_add(TTL_MS);
                Ok(())
            }
            Err(e) => {
                self.symbols.clear();
                self.fresh_until_ms = now.saturating_add(RETRY_AFTER_FAILURE_MS);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Constructed: BTCUSDT-like values in the shape of the official
    /// Exchange Information example (vectors: exchangeInfo_official_example).
    fn btcusdt() -> SymbolFilters {
        let body = json!({"symbols": [{
        "symbol": "BTCUSDT", "status": "TRADING",
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": "261.10", "maxPrice": "809484", "tickSize": "0.10"},
            {"filterType": "LOT_SIZE", "minQty": "0.001", "maxQty": "1000", "stepSize": "0.001"},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0.001", "maxQty": "120", "stepSize": "0.001"},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MIN_NOTIONAL", "notional": "100"},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500", "multiplierDecimal": "4"}
        ]}]});
        parse(body.to_string().as_bytes())
            .unwrap()
            .remove("BTCUSDT")
            .unwrap()
    }

    fn limit<'a>(qty: &'a str, price: &'a str) -> OrderShape<'a> {
        OrderShape {
            market: false,
            quantity: Some(qty),
            price: Some(price),
            stop_price: None,
            reduce_only: false,
        }
    }

    fn refusal(f: &SymbolFilters, o: OrderShape<'_>) -> String {
        match f.check(&o) {
            Err(VenueError::InvalidParams(m)) => m,
            other => panic!("expected invalid_params, got {other:?}"),
        }
    }

    #[test]
    fn orders_inside_the_filters_pass() {
        let f = btcusdt();
        f.check(&limit("0.002", "60000.10")).unwrap();
        f.check(&limit("1000", "261.1")).unwrap();
        let market = OrderShape {
            market: true,
            price: None,
            ..limit("120", "1")
        };
        f.check(&market).unwrap();
    }

    #[test]
    fn each_filter_is_named_when_broken() {
        let f = btcusdt();
        assert!(refusal(&f, limit("0.002", "60000.05")).contains("PRICE_FILTER tickSize 0.10"));
        assert!(refusal(&f, limit("0.002", "261")).contains("PRICE_FILTER minPrice"));
        assert!(refusal(&f, limit("0.002", "900000")).contains("PRICE_FILTER maxPrice"));
        assert!(refusal(&f, limit("0.0015", "60000")).contains("LOT_SIZE stepSize 0.001"));
        assert!(refusal(&f, limit("1001", "60000")).contains("LOT_SIZE maxQty"));
        assert!(refusal(&f, limit("0.001", "60000")).contains("MIN_NOTIONAL 100"));
        let market = OrderShape {
            market: true,
            price: None,
            ..limit("121", "1")
        };
        assert!(refusal(&f, market).contains("MARKET_LOT_SIZE maxQty 120"));
        let reduce = OrderShape {
            reduce_only: true,
            ..limit("0.001", "60000")
        };
        f.check(&reduce).unwrap();
        let halted = SymbolFilters {
            status: "SETTLING".into(),
            ..f.clone()
        };
        assert!(refusal(&halted, limit("0.002", "60000")).contains("not trading"));
    }

    #[test]
    fn a_position_above_the_market_maximum_splits_on_the_step() {
        let f = btcusdt();
        assert_eq!(f.market_chunks("0.5").unwrap(), ["0.5"]);
        assert_eq!(
            f.market_chunks("250.005").unwrap(),
            ["120", "120", "10.005"]
        );
        assert_eq!(f.market_chunks("240").unwrap(), ["120", "120"]);
    }

    #[test]
    fn unknown_filter_types_are_ignored_and_bad_bodies_are_parse_errors() {
        let body = json!({"symbols": [{"symbol": "X", "status": "TRADING",
            "filters": [{"filterType": "SOMETHING_NEW", "x": 1}]}]});
        let f = parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(f["X"].tick_size, None);
        assert!(matches!(
            parse(b"{\"symbols\": 5}"),
            Err(VenueError::Parse(_))
        ));
    }
}
