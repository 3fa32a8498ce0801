//! Venue plugin for Chainlink price feeds on Ethereum and its L2s (Arbitrum,
//! OP Mainnet, Base), read with `eth_call` through any JSON-RPC provider.
//!
//! The venue's endpoints are JSON-RPC URLs (Alchemy, Infura, Ankr, public
//! nodes) of one chain, named by the venue setting `chain` ([`chains`]), in
//! failover order; providers that take the key in the path are configured as
//! `https://eth-mainnet.g.alchemy.com/v2/${secret:alchemy_key}`, so the key
//! stays in the host and is redacted wherever the URL is shown. The default
//! venue section is `plugins/chainlink/venue-defaults.toml`.
//!
//! | operation         | params            | requests | result |
//! |-------------------|-------------------|----------|--------|
//! | `get_price`       | `{pair}`          | see [`price`]: chain check, sequencer, `latestRoundData()`, cached `decimals()` and bounds | `{pair, chain, price, decimals, round_id, updated_at, age_s, at_bound}`, and `quorum` (the two endpoints that agreed) with `quorum = 2` |
//! | `get_prices`      | `{pairs: [..]}` (1 to 20) | the same for every pair, all at once | one entry per pair, in order: the `get_price` result or `{pair, error: {kind, message, ..}}` |
//! | `get_round`       | `{pair, round_id}` | chain check, `getRoundData(round_id)`, cached `decimals()` | `{pair, chain, price, decimals, round_id, phase_id, started_at, updated_at}` |
//! | `get_eth_balance` | `{address}`       | `eth_getBalance(address, "latest")` | `{address, wei, eth}` |
//! | `get_feed`        | `{pair}`          | `description()`, cached `decimals()` | `{pair, chain, address, source, description, decimals, heartbeat_s, max_age_s}` |
//!
//! Prices are exact decimal strings: the int256 answer scaled by the feed's
//! `decimals()`, digit by digit, never through floats. `round_id` is a decimal
//! string (uint80 does not fit a JSON number); `updated_at` is unix seconds.
//! `at_bound` is `true` when the answer sits at the aggregator's
//! `minAnswer`/`maxAnswer` ([`bounds`]), `null` when the aggregator has no
//! bounds to read.
//!
//! | error (kind, `code`)          | when |
//! |-------------------------------|------|
//! | `stale_data`                  | `now - updatedAt` > heartbeat + margin ([`feeds`]), or the round is incomplete |
//! | `upstream`, `wrong_chain`     | an endpoint's `eth_chainId` is not the configured chain; the message names the endpoint ([`chain_check`]) |
//! | `upstream`, `disagreement`    | with `quorum = 2`, the two providers' rounds disagree ([`quorum`]) |
//! | `upstream`, `sequencer_down`  | the L2 sequencer is down ([`sequencer`]) |
//! | `upstream`, `grace_period`    | the L2 sequencer came back less than the grace period ago |
//!
//! `get_prices` never fails because one feed did: each pair gets its own
//! result or error. Only when *every* pair failed does the call fail, with the
//! first pair's error, so an outage shows in the host's error kinds and
//! metrics. A wrong chain or an unsafe sequencer fails the whole call.
//!
//! # State
//!
//! Decimals, aggregator bounds and the chain check are cached per instance
//! ([`cache`]). The host may replace the instance at any time; the caches
//! then refill.
//!
//! # Provider overload
//!
//! HTTP 429 and the JSON-RPC overload codes ([`rpc::OVERLOAD_CODES`]) become
//! `transport(rate-limited)` for the caller (HTTP 429, kind `rate_limited`);
//! the host books a plugin-reported rate limit like a 429 from the endpoint
//! that answered (`retry.jsonrpc_overload_codes` lets it see the code itself).
//!
//! # Endpoints
//!
//! The chain check is made once per endpoint: each endpoint is asked
//! `eth_chainId`, pinned to it with the `endpoints` import (WIT 0.2.1), in
//! the first call's round trip ([`chain_check`]). The reads themselves go
//! through the host's failover, unless the venue setting `quorum = 2` asks for
//! every latest round from two endpoints and a price only when they agree
//! ([`quorum`]).
//!
//! Non-goals: verifying that a configured address is a feed (a wrong address
//! fails with a clear `parse` or `upstream` error).

pub mod batch;
pub mod bounds;
pub mod cache;
pub mod chain_check;
pub mod chains;
pub mod feeds;
pub mod params;
pub mod price;
pub mod quorum;
pub mod round;
pub mod rpc;
pub mod sequencer;

use resilience_guest::decimal::scale_integer;
use resilience_guest::prelude::*;
use serde_json::{Value, json};

use crate::batch::Batch;
use crate::cache::Cache;
use crate::params::{BalanceParams, PairParams, PairsParams, RoundParams};

/// Decimals of ether in wei.
const ETH_DECIMALS: u32 = 18;

/// The plugin: the instance's caches (see [`cache`]).
#[derive(Debug, Default)]
pub struct Chainlink {
    cache: Cache,
}

impl Plugin for Chainlink {
    const NAME: &'static str = "chainlink";
    const VERSION: &'static str = "0.2.0";

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
                "Latest answer of a Chainlink feed as an exact decimal, checked for staleness, \
                 chain, L2 sequencer and aggregator bounds",
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
                "get_round",
                "A past round of a feed (getRoundData), as an exact decimal",
                Self::get_round,
            )
            .schema(json!({
                "type": "object",
                "required": ["pair", "round_id"],
                "additionalProperties": false,
                "properties": {
                    "pair": {"type": "string", "examples": ["ETH/USD"]},
                    "round_id": {"type": "string", "pattern": "^[0-9]{1,25}$",
                                 "examples": ["110680464442257327894"]},
                },
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

impl Chainlink {
    fn get_price(&mut self, p: PairParams) -> Result<Value, VenueError> {
        let pair = params::pair(&p)?;
        let chain = chains::configured()?;
        let now_s = host::now_ms() / 1000;
        price::latest(&mut self.cache, chain, &[pair], now_s)?
            .pop()
            .unwrap_or_else(|| Err(VenueError::parse("no result for the pair")))
    }

    fn get_prices(&mut self, p: PairsParams) -> Result<Value, VenueError> {
        let pairs = params::pairs(&p)?;
        let chain = chains::configured()?;
        let now_s = host::now_ms() / 1000;
        let results = price::latest(&mut self.cache, chain, &pairs, now_s)?;
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

    /// A past round: no staleness (it is history) and no sequencer check
    /// (the round was final when it was written), but the chain is checked.
    fn get_round(&mut self, p: RoundParams) -> Result<Value, VenueError> {
        let (pair, round_id) = params::round(&p)?;
        let chain = chains::configured()?;
        let feed = feeds::resolve(chain, &pair)?;
        let now_s = host::now_ms() / 1000;
        let mut batch = Batch::default();
        let preamble = price::plan_preamble(&mut self.cache, chain, false, &mut batch, now_s)?;
        let main = batch.push(rpc::eth_call(
            &feed.address,
            &round::get_round_data_call(round_id),
        ));
        let cached = self.cache.decimals(&feed.address);
        let decimals_at = cached
            .is_none()
            .then(|| batch.push(rpc::eth_call(&feed.address, round::DECIMALS)));
        let mut answers = batch.send();
        price::check_preamble(&mut self.cache, chain, &preamble, &mut answers, now_s)?;
        let on = format!("on {} ({})", feed.address, feed.pair);
        let data = answers.data(main, &format!("eth_call getRoundData({round_id}) {on}"));
        let decimals = match (cached, decimals_at) {
            (Some(d), _) => d,
            (None, Some(i)) => {
                let d = round::decode_decimals(
                    &answers.data(i, &format!("eth_call decimals() {on}"))?,
                )?;
                self.cache.set_decimals(&feed.address, d);
                d
            }
            (None, None) => return Err(VenueError::parse("decimals(): not requested")),
        };
        if answers.saw_empty() {
            self.cache.chain.reset();
        }
        let round = round::decode_round(&data?, "getRoundData()")?;
        round::check(&round, &feed.pair)?;
        let price = scale_integer(&round.answer, u32::from(decimals))
            .map_err(|e| e.parse("getRoundData(): answer"))?;
        Ok(json!({
            "pair": feed.pair,
            "chain": chain.name,
            "price": price,
            "decimals": decimals,
            "round_id": round.round_id.to_string(),
            "phase_id": round::phase(round.round_id),
            "started_at": round.started_at,
            "updated_at": round.updated_at,
        }))
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
        let chain = chains::configured()?;
        let feed = feeds::resolve(chain, &params::pair(&p)?)?;
        let mut batch = Batch::default();
        let description_at = batch.push(rpc::eth_call(&feed.address, round::DESCRIPTION));
        let cached = self.cache.decimals(&feed.address);
        let decimals_at = cached
            .is_none()
            .then(|| batch.push(rpc::eth_call(&feed.address, round::DECIMALS)));
        let mut answers = batch.send();
        let on = format!("on {} ({})", feed.address, feed.pair);
        let description = round::decode_description(
            &answers.data(description_at, &format!("eth_call description() {on}"))?,
        )?;
        let decimals = match (cached, decimals_at) {
            (Some(d), _) => d,
            (None, Some(i)) => {
                let d = round::decode_decimals(
                    &answers.data(i, &format!("eth_call decimals() {on}"))?,
                )?;
                self.cache.set_decimals(&feed.address, d);
                d
            }
            (None, None) => return Err(VenueError::parse("decimals(): not requested")),
        };
        Ok(json!({
            "pair": feed.pair,
            "chain": chain.name,
            "address": feed.address,
            "source": feed.source.as_str(),
            "description": description,
            "decimals": decimals,
            "heartbeat_s": feed.heartbeat_s,
            "max_age_s": feed.max_age_s,
        }))
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
