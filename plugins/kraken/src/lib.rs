//! Kraken spot, public market data: the example of a venue that answers
//! errors with HTTP 200 (see `docs/writing-a-plugin.md`, "Venues that answer
//! errors with HTTP 200").
//!
//! | operation         | request                          | result |
//! |-------------------|----------------------------------|--------|
//! | `get_server_time` | GET `/0/public/Time` (no params) | `{"unixtime": 1688669448, "rfc1123": "Thu, 06 Jul 23 18:50:48 +0000"}` |
//! | `get_ticker`      | GET `/0/public/Ticker?pair=XBTUSD` | `{"pair": "XXBTZUSD", "ask", "bid", "last", "open", "low_24h", "high_24h", "volume_24h", "vwap_24h", "trades_24h"}`, prices as decimal strings |
//!
//! Every answer is `{"error": [...], "result": ...}`, and a failure is a
//! non-empty `error` list, usually with HTTP 200, so answers are read with
//! `envelope::json_checked` and [`api::error_in`]. A rate limit in that list
//! is returned as `VenueError::rate_limited`: the host counts it, blocks the
//! venue as for a 429, and reruns the read on a 429's terms. Keyless: the
//! plugin declares no secrets and leaves the SDK feature `evm` off.
//!
//! Build: `cargo xtask plugins -p kraken` writes `target/plugins/kraken.wasm`.

pub mod api;

use resilience_guest::decimal::is_unsigned_decimal;
use resilience_guest::envelope;
use resilience_guest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The plugin: stateless.
#[derive(Debug, Default)]
pub struct Kraken;

/// Params of `get_ticker`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TickerParams {
    /// A Kraken pair: `XBTUSD`, `ETHUSD`, or Kraken's own name `XXBTZUSD`.
    pub pair: String,
}

/// What `get_server_time` returns: Kraken's `result` as it is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct ServerTime {
    /// Seconds since the epoch.
    pub unixtime: u64,
    pub rfc1123: String,
}

/// What `get_ticker` returns: Kraken's arrays named, decimals as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ticker {
    /// The pair as Kraken names it in the answer (`XXBTZUSD` for `XBTUSD`).
    pub pair: String,
    pub ask: String,
    pub bid: String,
    pub last: String,
    pub open: String,
    pub low_24h: String,
    pub high_24h: String,
    pub volume_24h: String,
    pub vwap_24h: String,
    pub trades_24h: u64,
}

/// Kraken's ticker entry: `a`/`b` are `[price, whole lot volume, lot
/// volume]`, `c` `[price, lot volume]`, `v`/`p`/`l`/`h`/`t` `[today, last
/// 24 hours]`, `o` today's opening price.
#[derive(Debug, Deserialize)]
struct RawTicker {
    a: Vec<String>,
    b: Vec<String>,
    c: Vec<String>,
    v: [String; 2],
    p: [String; 2],
    t: [u64; 2],
    l: [String; 2],
    h: [String; 2],
    o: String,
}

/// `{"error": [...], "result": T}` once the error list was found empty.
#[derive(Debug, Deserialize)]
struct Envelope<T> {
    result: T,
}

impl Plugin for Kraken {
    const NAME: &'static str = "kraken";
    const VERSION: &'static str = "0.1.0";

    fn operations() -> Operations<Self> {
        Operations::new()
            .op(
                "get_server_time",
                "Kraken's clock (no params)",
                Self::get_server_time,
            )
            .op(
                "get_ticker",
                "Ask, bid, last and the 24 h figures of one pair",
                Self::get_ticker,
            )
            .schema(json!({
                "type": "object",
                "required": ["pair"],
                "additionalProperties": false,
                "properties": {"pair": {"type": "string", "minLength": 1}},
            }))
    }
}

impl Kraken {
    /// An operation without params takes `serde_json::Value` (any object).
    fn get_server_time(&mut self, _: Value) -> Result<ServerTime, VenueError> {
        let resp = Request::get(api::TIME_PATH).send()?;
        read(&resp)
    }

    fn get_ticker(&mut self, p: TickerParams) -> Result<Ticker, VenueError> {
        if p.pair.is_empty()
            || !p
                .pair
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.')
        {
            return Err(VenueError::invalid(format!(
                "pair: {:?} is not a Kraken pair (letters, digits and dots, e.g. XBTUSD)",
                p.pair
            )));
        }
        let path = Query::new().push("pair", &p.pair).to_path(api::TICKER_PATH);
        let resp = Request::get(path).send()?;
        let tickers: Map<String, Value> = read(&resp)?;
        read_ticker(tickers)
    }
}

/// The `result` of an answer whose `error` list is empty.
fn read<T: serde::de::DeserializeOwned>(resp: &Response) -> Result<T, VenueError> {
    let envelope: Envelope<T> =
        envelope::json_checked(resp, |body| api::error_in(body, resp.status))?;
    Ok(envelope.result)
}

/// The one entry of a ticker `result`, named and checked.
fn read_ticker(tickers: Map<String, Value>) -> Result<Ticker, VenueError> {
    let mut entries = tickers.into_iter();
    let (Some((pair, raw)), None) = (entries.next(), entries.next()) else {
        return Err(VenueError::parse(
            "result: expected exactly one pair in the ticker answer",
        ));
    };
    let raw: RawTicker = serde_json::from_value(raw)
        .map_err(|e| VenueError::parse(format!("result.{pair}: {e}")))?;
    let first = |field: &str, list: &[String]| {
        list.first()
            .cloned()
            .ok_or_else(|| VenueError::parse(format!("result.{pair}.{field}: empty list")))
    };
    let ticker = Ticker {
        ask: first("a", &raw.a)?,
        bid: first("b", &raw.b)?,
        last: first("c", &raw.c)?,
        open: raw.o,
        low_24h: raw.l[1].clone(),
        high_24h: raw.h[1].clone(),
        volume_24h: raw.v[1].clone(),
        vwap_24h: raw.p[1].clone(),
        trades_24h: raw.t[1],
        pair,
    };
    for (field, value) in [
        ("ask", &ticker.ask),
        ("bid", &ticker.bid),
        ("last", &ticker.last),
        ("open", &ticker.open),
        ("low_24h", &ticker.low_24h),
        ("high_24h", &ticker.high_24h),
        ("volume_24h", &ticker.volume_24h),
        ("vwap_24h", &ticker.vwap_24h),
    ] {
        if !is_unsigned_decimal(value) {
            return Err(VenueError::parse(format!(
                "{field}: {value:?} is not a decimal number"
            )));
        }
    }
    Ok(ticker)
}

#[cfg(target_arch = "wasm32")]
resilience_guest::export_plugin!(Kraken);

// The venue section `resilience-host init` writes for this plugin.
resilience_guest::venue_defaults!("venue-defaults.toml");

#[cfg(test)]
mod tests;
