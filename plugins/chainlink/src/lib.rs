//! Venue plugin for Chainlink price feeds on Ethereum, read with `eth_call`
//! through any JSON-RPC provider.
//!
//! The venue's endpoints are JSON-RPC URLs (Alchemy, Infura, Ankr, public
//! nodes), in failover order; providers that take the key in the path are
//! configured as `https://eth-mainnet.g.alchemy.com/v2/${secret:alchemy_key}`,
//! so the key stays in the host and is redacted wherever the URL is shown.
//! A proposed venue section is in `plugins/chainlink/venue.toml`.
//!
//! | operation         | params            | requests (one `send-all`, one round trip) | result |
//! |-------------------|-------------------|-------------------------------------------|--------|
//! | `get_price`       | `{pair}`          | `eth_call latestRoundData()`, plus `decimals()` until cached | `{pair, price, decimals, round_id, updated_at, age_s}` |
//! | `get_prices`      | `{pairs: [..]}` (1 to 32) | the same for every pair, all at once | one entry per pair, in order: the `get_price` result or `{pair, error: {kind, message, ..}}` |
//! | `get_eth_balance` | `{address}`       | `eth_getBalance(address, "latest")`       | `{address, wei, eth}` |
//! | `get_feed`        | `{pair}`          | `eth_call description()`, plus `decimals()` until cached | `{pair, address, source, description, decimals, heartbeat_s, max_age_s}` |
//!
//! Prices are exact decimal strings: the int256 answer scaled by the feed's
//! `decimals()`, digit by digit, never through floats. `round_id` is a decimal
//! string (uint80 does not fit a JSON number); `updated_at` is unix seconds.
//! Feeds, heartbeats and the staleness margin are in [`feeds`] (with the
//! settings that override them), the calls and checks in [`round`], the
//! JSON-RPC envelope and error mapping in [`rpc`].
//!
//! `get_prices` never fails because one feed did: each pair gets its own
//! result or error. Only when *every* pair failed does the call fail, with the
//! first pair's error, so an outage shows in the host's error kinds and metrics.
//!
//! # State
//!
//! `decimals()` answers are cached per instance, by feed address: a feed's
//! decimals do not change, and the cache saves one request per feed and call.
//! The host may replace the instance at any time; the cache then refills.
//!
//! # Provider overload
//!
//! HTTP 429 and the JSON-RPC overload codes ([`rpc::OVERLOAD_CODES`]) become
//! `transport(rate-limited)` for the caller (HTTP 429, kind `rate_limited`).
//! The host classifies attempts by HTTP status only, so a `-32005` inside an
//! HTTP 200 is a success to it: it neither retries nor moves to the next
//! provider, and a plugin cannot choose the endpoint. Failing over on it
//! needs host support (a per-venue list of JSON-RPC error codes that classify
//! a 2xx answer as rate limited, and rotating to the next endpoint on a
//! rate-limited attempt for venues whose endpoints have separate quotas).
//!
//! Non-goals: historical rounds (`getRoundData`), chains other than the one
//! the endpoints serve, and verifying that a configured address is a feed
//! (a wrong address fails with a clear `parse` or `upstream` error).

pub mod feeds;
pub mod params;
pub mod round;
pub mod rpc;

use std::collections::BTreeMap;

use resilience_guest::decimal::scale_integer;
use resilience_guest::prelude::*;
use serde_json::{Value, json};

use crate::feeds::Feed;
use crate::params::{BalanceParams, PairParams, PairsParams};

/// Decimals of ether in wei.
const ETH_DECIMALS: u32 = 18;

/// The plugin: a cache of `decimals()` by feed address (lower case).
#[derive(Debug, Default)]
pub struct Chainlink {
    decimals: BTreeMap<String, u8>,
}

impl Plugin for Chainlink {
    const NAME: &'static str = "chainlink";
    const VERSION: &'static str = "0.1.0";

    fn operations() -> Operations<Self> {
        let pair_schema = json!({
            "type": "object",
            "required": ["pair"],
            "additionalProperties": false,
            "properties": {"pair": {"type": "string", "examples": ["ETH/USD"]}},
        });
        Operations::new()
            .op(
                "get_price",
                "Latest answer of a Chainlink feed as an exact decimal, checked for staleness",
                Self::get_price,
            )
            .schema(pair_schema.clone())
            .op(
                "get_prices",
                "Latest answers of several feeds, fetched concurrently, one result or error per pair",
                Self::get_prices,
            )
            .schema(json!({
                "type": "object",
                "required": ["pairs"],
                "additionalProperties": false,
                "properties": {"pairs": {
                    "type": "array",
                    "items": {"type": "string"},
                    "minItems": 1,
                    "maxItems": params::MAX_PAIRS,
                }},
            }))
            .op(
                "get_eth_balance",
                "Ether balance of an address in wei (decimal string)",
                Self::get_eth_balance,
            )
            .schema(json!({
                "type": "object",
                "required": ["address"],
                "additionalProperties": false,
                "properties": {"address": {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"}},
            }))
            .op(
                "get_feed",
                "A feed's address, description, decimals, heartbeat and max age",
                Self::get_feed,
            )
            .schema(pair_schema)
    }
}

/// How a pair's decimals are known: from the cache, or from the answer to
/// request number `.0` of the batch.
#[derive(Debug, Clone, Copy)]
enum Decimals {
    Cached(u8),
    Requested(usize),
}

/// A pair's requests within one `send-all`.
#[derive(Debug)]
struct Plan {
    feed: Feed,
    main: usize,
    decimals: Decimals,
}

/// The answers of one `send-all`, taken by index.
struct Answers(Vec<Option<Result<Response, SendError>>>);

impl Answers {
    fn send(requests: Vec<Request>) -> Self {
        if requests.is_empty() {
            return Self(Vec::new());
        }
        Self(Request::send_all(requests).into_iter().map(Some).collect())
    }

    /// The JSON-RPC `result` of request `i` as `0x…` data.
    fn data(&mut self, i: usize, what: &str) -> Result<String, VenueError> {
        let resp =
            self.0.get_mut(i).and_then(Option::take).ok_or_else(|| {
                VenueError::parse(format!("{what}: the host returned no answer"))
            })??;
        rpc::hex_result(&rpc::result(&resp, what)?, what)
    }
}

impl Chainlink {
    fn get_price(&mut self, p: PairParams) -> Result<Value, VenueError> {
        let pair = params::pair(&p)?;
        let mut results = self.prices(vec![pair]);
        results
            .pop()
            .unwrap_or_else(|| Err(VenueError::parse("no result for the pair")))
    }

    fn get_prices(&mut self, p: PairsParams) -> Result<Value, VenueError> {
        let pairs = params::pairs(&p)?;
        let results = self.prices(pairs.clone());
        if results.iter().all(Result::is_err) {
            if let Some(Err(first)) = results.into_iter().next() {
                return Err(first);
            }
            return Err(VenueError::parse("no result for any pair"));
        }
        let entries = pairs
            .iter()
            .zip(results)
            .map(|(pair, r)| match r {
                Ok(price) => price,
                Err(e) => json!({ "pair": pair, "error": error_json(&e) }),
            })
            .collect();
        Ok(Value::Array(entries))
    }

    fn get_eth_balance(&mut self, p: BalanceParams) -> Result<Value, VenueError> {
        let address = params::address(&p)?;
        let what = format!("eth_getBalance of {address}");
        let resp = rpc::eth_get_balance(address).send()?;
        let wei = rpc::quantity_to_decimal(&rpc::result(&resp, &what)?, &what)?;
        let eth = scale_integer(&wei, ETH_DECIMALS).map_err(|e| e.parse("wei"))?;
        Ok(json!({ "address": address, "wei": wei, "eth": eth }))
    }

    fn get_feed(&mut self, p: PairParams) -> Result<Value, VenueError> {
        let feed = feeds::resolve(&params::pair(&p)?)?;
        let (mut requests, decimals) = (Vec::new(), self.plan_decimals(&feed, 1));
        requests.push(rpc::eth_call(&feed.address, round::DESCRIPTION));
        if let Decimals::Requested(_) = decimals {
            requests.push(rpc::eth_call(&feed.address, round::DECIMALS));
        }
        let mut answers = Answers::send(requests);
        let what = format!("eth_call description() on {} ({})", feed.address, feed.pair);
        let description = round::decode_description(&answers.data(0, &what)?)?;
        let decimals = self.read_decimals(&feed, decimals, &mut answers)?;
        Ok(json!({
            "pair": feed.pair,
            "address": feed.address,
            "source": feed.source.as_str(),
            "description": description,
            "decimals": decimals,
            "heartbeat_s": feed.heartbeat_s,
            "max_age_s": feed.max_age_s,
        }))
    }

    /// The `get_price` result of every pair, fetched with one `send-all`.
    fn prices(&mut self, pairs: Vec<String>) -> Vec<Result<Value, VenueError>> {
        let mut requests = Vec::new();
        let plans: Vec<Result<Plan, VenueError>> = pairs
            .iter()
            .map(|pair| {
                let feed = feeds::resolve(pair)?;
                let main = requests.len();
                requests.push(rpc::eth_call(&feed.address, round::LATEST_ROUND_DATA));
                let decimals = self.plan_decimals(&feed, requests.len());
                if let Decimals::Requested(_) = decimals {
                    requests.push(rpc::eth_call(&feed.address, round::DECIMALS));
                }
                Ok(Plan {
                    feed,
                    main,
                    decimals,
                })
            })
            .collect();
        let mut answers = Answers::send(requests);
        let now_s = host::now_ms() / 1000;
        plans
            .into_iter()
            .map(|plan| self.price(plan?, &mut answers, now_s))
            .collect()
    }

    fn price(
        &mut self,
        plan: Plan,
        answers: &mut Answers,
        now_s: u64,
    ) -> Result<Value, VenueError> {
        let feed = &plan.feed;
        let what = format!(
            "eth_call latestRoundData() on {} ({})",
            feed.address, feed.pair
        );
        let data = answers.data(plan.main, &what);
        // Read (and cache) decimals even when the round failed.
        let decimals = self.read_decimals(feed, plan.decimals, answers);
        let round = round::decode_round_data(&data?)?;
        round::check(&round, &feed.pair)?;
        let age_s = round::check_age(&round, &feed.pair, now_s, feed.max_age_s)?;
        let decimals = decimals?;
        let price = scale_integer(&round.answer, u32::from(decimals))
            .map_err(|e| e.parse("latestRoundData(): answer"))?;
        Ok(json!({
            "pair": feed.pair,
            "price": price,
            "decimals": decimals,
            "round_id": round.round_id.to_string(),
            "updated_at": round.updated_at,
            "age_s": age_s,
        }))
    }

    /// Cached decimals of `feed`, or the index its `decimals()` request will
    /// have (`next`).
    fn plan_decimals(&self, feed: &Feed, next: usize) -> Decimals {
        match self.decimals.get(&feed.address.to_ascii_lowercase()) {
            Some(d) => Decimals::Cached(*d),
            None => Decimals::Requested(next),
        }
    }

    /// The feed's decimals, from the cache or its answer (then cached).
    fn read_decimals(
        &mut self,
        feed: &Feed,
        decimals: Decimals,
        answers: &mut Answers,
    ) -> Result<u8, VenueError> {
        match decimals {
            Decimals::Cached(d) => Ok(d),
            Decimals::Requested(i) => {
                let what = format!("eth_call decimals() on {} ({})", feed.address, feed.pair);
                let d = round::decode_decimals(&answers.data(i, &what)?)?;
                self.decimals.insert(feed.address.to_ascii_lowercase(), d);
                Ok(d)
            }
        }
    }
}

/// One pair's error in a `get_prices` result, shaped like the host's API
/// errors (`kind`, `message`, and `upstream_status`/`code` or `retry_after_ms`).
fn error_json(e: &VenueError) -> Value {
    let (kind, message) = match e {
        VenueError::InvalidParams(m) => ("invalid_params", m.clone()),
        VenueError::Upstream(u) => {
            return json!({
                "kind": "upstream",
                "message": u.message,
                "upstream_status": u.status,
                "code": u.code,
            });
        }
        VenueError::StaleData(m) => ("stale_data", m.clone()),
        VenueError::Parse(m) => ("parse", m.clone()),
        VenueError::Unsupported(m) => ("unsupported", m.clone()),
        VenueError::Transport(t) => match t {
            SendError::Timeout(m) => ("timeout", m.clone()),
            SendError::Connection(m) => ("connection", m.clone()),
            SendError::CircuitOpen(m) => ("circuit_open", m.clone()),
            SendError::RateLimited(r) => {
                return json!({
                    "kind": "rate_limited",
                    "message": r.message,
                    "retry_after_ms": r.retry_after_ms,
                });
            }
            SendError::Denied(m) => ("plugin", format!("denied: {m}")),
        },
    };
    json!({ "kind": kind, "message": message })
}

// Exported only for WebAssembly: the export names are not valid symbols for a
// native linker, and native builds only run tests.
#[cfg(target_arch = "wasm32")]
resilience_guest::export_plugin!(Chainlink);

// The venue section `resilience-host init` writes for this plugin.
resilience_guest::venue_defaults!("venue-defaults.toml");

#[cfg(test)]
mod tests;
