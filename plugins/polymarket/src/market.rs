//! What the venue says about a token before an order is built: its tick
//! size, whether it trades on the neg-risk exchange, its minimum order size
//! and (V1) its fee rate. Cached per token in the plugin, which lives as long
//! as its warm instance.
//!
//! | fact | read from | cached for | refreshed early when |
//! |---|---|---|---|
//! | `tick_size`, `neg_risk`, `min_order_size` | GET `/book?token_id=` (one request gives all three) | [`api::MARKET_INFO_TTL_MS`] | a market order reads the book anyway; the venue refuses an order for its tick ([`Markets::forget`]) |
//! | V1 `feeRateBps` | GET `/fee-rate?token_id=` → `base_fee` | [`api::MARKET_INFO_TTL_MS`] | never |
//!
//! Bound: at most [`api::MAX_CACHED_TOKENS`] tokens; the entry read longest
//! ago makes room for a new one.

use std::collections::BTreeMap;

use resilience_guest::decimal::to_fixed_units;
use resilience_guest::prelude::*;
use serde_json::{Map, Value};

use crate::amounts::Tick;
use crate::{api, read};

/// The venue's facts about one token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketInfo {
    pub tick: Tick,
    pub neg_risk: bool,
    /// Shares, 6-decimal units; 0 when the book does not say.
    pub min_order_size: u128,
}

#[derive(Debug, Clone, Copy)]
struct Cached<T> {
    value: T,
    read_at_ms: u64,
}

/// The per-token cache of [`MarketInfo`] and V1 fee rates.
#[derive(Debug, Default)]
pub struct Markets {
    info: BTreeMap<String, Cached<MarketInfo>>,
    fees: BTreeMap<String, Cached<u32>>,
}

fn fresh<T: Copy>(map: &BTreeMap<String, Cached<T>>, token: &str, now: u64) -> Option<T> {
    map.get(token)
        .filter(|c| now.saturating_sub(c.read_at_ms) < api::MARKET_INFO_TTL_MS)
        .map(|c| c.value)
}

fn insert<T>(map: &mut BTreeMap<String, Cached<T>>, token: &str, value: T, now: u64) {
    if map.len() >= api::MAX_CACHED_TOKENS && !map.contains_key(token) {
        let oldest = map
            .iter()
            .min_by_key(|(_, c)| c.read_at_ms)
            .map(|(k, _)| k.clone());
        if let Some(oldest) = oldest {
            map.remove(&oldest);
        }
    }
    map.insert(
        token.to_string(),
        Cached {
            value,
            read_at_ms: now,
        },
    );
}

impl Markets {
    /// The token's facts, from the cache while fresh, else from its book.
    pub fn info(&mut self, token_id: &str) -> Result<MarketInfo, VenueError> {
        if let Some(info) = fresh(&self.info, token_id, host::now_ms()) {
            return Ok(info);
        }
        let book = read::book(&book_request(token_id).send()?)?;
        self.remember(token_id, &book)
    }

    /// Read the facts from a `/book` answer and cache them.
    pub fn remember(
        &mut self,
        token_id: &str,
        book: &Map<String, Value>,
    ) -> Result<MarketInfo, VenueError> {
        let info = parse_info(book)?;
        insert(&mut self.info, token_id, info, host::now_ms());
        Ok(info)
    }

    /// Drop what is known about the token: the venue said it changed.
    pub fn forget(&mut self, token_id: &str) {
        self.info.remove(token_id);
    }

    /// The V1 fee rate the venue requires for the token, in basis points.
    pub fn fee_rate_bps(&mut self, token_id: &str) -> Result<u32, VenueError> {
        let now = host::now_ms();
        if let Some(fee) = fresh(&self.fees, token_id, now) {
            return Ok(fee);
        }
        let path = Query::new()
            .push("token_id", token_id)
            .to_path(api::FEE_RATE);
        let body = read::object(&Request::get(path).send()?)?;
        let fee = match body.get("base_fee") {
            None | Some(Value::Null) => 0,
            Some(Value::Number(n)) => {
                n.as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| {
                        VenueError::parse(format!("base_fee: {n} is not a fee rate in bps"))
                    })?
            }
            Some(other) => {
                return Err(VenueError::parse(format!(
                    "base_fee: expected an integer, got {other}"
                )));
            }
        };
        insert(&mut self.fees, token_id, fee, now);
        Ok(fee)
    }
}

/// The public `/book` request of a token.
pub fn book_request(token_id: &str) -> Request {
    Request::get(Query::new().push("token_id", token_id).to_path(api::BOOK))
}

fn text_field(book: &Map<String, Value>, field: &str) -> Result<Option<String>, VenueError> {
    match book.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(other) => Err(VenueError::parse(format!(
            "{field}: expected a decimal, got {other}"
        ))),
    }
}

fn parse_info(book: &Map<String, Value>) -> Result<MarketInfo, VenueError> {
    let tick_text = text_field(book, "tick_size")?.ok_or_else(|| {
        VenueError::parse("tick_size: the book does not give the market's tick size")
    })?;
    let tick = Tick::parse(&tick_text).ok_or_else(|| {
        VenueError::Unsupported(format!(
            "tick_size: the venue's tick {tick_text} has no rounding rule in the official client"
        ))
    })?;
    let neg_risk = match book.get("neg_risk") {
        Some(Value::Bool(b)) => *b,
        other => {
            return Err(VenueError::parse(format!(
                "neg_risk: expected a boolean in the book, got {}",
                other.map_or("nothing".to_string(), Value::to_string)
            )));
        }
    };
    let min_order_size = match text_field(book, "min_order_size")? {
        None => 0,
        Some(m) => to_fixed_units(&m, api::DECIMALS)
            .ok()
            .and_then(|u| u.parse::<u128>().ok())
            .ok_or_else(|| VenueError::parse(format!("min_order_size: {m:?} is not a size")))?,
    };
    Ok(MarketInfo {
        tick,
        neg_risk,
        min_order_size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use resilience_guest::testing::MockHost;
    use serde_json::json;

    fn book(tick: &str, neg_risk: bool) -> Value {
        json!({"bids": [], "asks": [], "tick_size": tick, "neg_risk": neg_risk, "min_order_size": "5"})
    }

    #[test]
    fn info_is_read_once_per_ttl_and_forgotten_on_request() {
        let mock = MockHost::new()
            .respond(Method::Get, "/book?token_id=7", 200, book("0.01", true))
            .respond(Method::Get, "/book?token_id=7", 200, book("0.001", true))
            .respond(Method::Get, "/book?token_id=7", 200, book("0.0001", true));
        let mut markets = Markets::default();
        let first = mock.run(|| markets.info("7")).unwrap();
        assert_eq!(
            (first.tick.text, first.neg_risk, first.min_order_size),
            ("0.01", true, 5_000_000)
        );
        assert_eq!(mock.run(|| markets.info("7")).unwrap(), first, "cached");
        assert_eq!(mock.requests().len(), 1);
        mock.advance_ms(api::MARKET_INFO_TTL_MS);
        assert_eq!(mock.run(|| markets.info("7")).unwrap().tick.text, "0.001");
        markets.forget("7");
        assert_eq!(mock.run(|| markets.info("7")).unwrap().tick.text, "0.0001");
        assert_eq!(mock.requests().len(), 3);
    }

    #[test]
    fn a_book_without_the_facts_is_a_parse_error() {
        let mut markets = Markets::default();
        let mock = MockHost::new();
        for (b, field) in [
            (json!({"bids": []}), "tick_size"),
            (json!({"tick_size": "0.01"}), "neg_risk"),
            (
                json!({"tick_size": "0.01", "neg_risk": false, "min_order_size": "x"}),
                "min_order_size",
            ),
        ] {
            let err = mock
                .run(|| markets.remember("1", b.as_object().unwrap()))
                .unwrap_err();
            assert!(
                matches!(&err, VenueError::Parse(m) if m.starts_with(field)),
                "{err:?}"
            );
        }
        let err = mock
            .run(|| markets.remember("1", book("0.02", false).as_object().unwrap()))
            .unwrap_err();
        assert!(matches!(err, VenueError::Unsupported(m) if m.contains("0.02")));
    }

    #[test]
    fn the_cache_is_bounded() {
        let mut map = BTreeMap::new();
        for i in 0..=api::MAX_CACHED_TOKENS as u64 {
            insert(&mut map, &i.to_string(), i, i);
        }
        assert_eq!(map.len(), api::MAX_CACHED_TOKENS);
        assert!(!map.contains_key("0"), "the oldest entry made room");
    }

    #[test]
    fn fee_rate_reads_base_fee() {
        let mock = MockHost::new().respond(
            Method::Get,
            "/fee-rate?token_id=9",
            200,
            json!({"base_fee": 100}),
        );
        let mut markets = Markets::default();
        assert_eq!(mock.run(|| markets.fee_rate_bps("9")).unwrap(), 100);
        assert_eq!(mock.run(|| markets.fee_rate_bps("9")).unwrap(), 100);
        assert_eq!(mock.requests().len(), 1);
    }
}
