//! Reading latest prices: which requests go into which round trip, and how
//! each pair's answers become its result.
//!
//! Round trip 1 (one `send-all-to`), in this order:
//!
//! 1. `eth_chainId` to each endpoint not yet verified ([`crate::chain_check`]);
//! 2. the sequencer uptime feed's `latestRoundData()`, on an L2 ([`crate::sequencer`]);
//! 3. per pair: `latestRoundData()` (from two endpoints with `quorum = 2`,
//!    see [`crate::quorum`]), `decimals()` until cached, `aggregator()`
//!    until the feed's bounds are cached.
//!
//! A wrong chain, a down sequencer or the grace period fails the whole call:
//! no pair's price is safe then. Round trip 2 reads `aggregator()` again for
//! a feed whose phase changed since its bounds were cached, and round trip 3
//! reads `minAnswer()`/`maxAnswer()` for feeds whose bounds are not known for
//! the current phase; both are skipped when empty, which is the usual case.

use resilience_guest::decimal::scale_integer;
use resilience_guest::prelude::*;
use serde_json::{Value, json};

use crate::batch::{Answers, Batch};
use crate::bounds::{self, Bounds};
use crate::cache::{Cache, PhaseBounds};
use crate::chain_check;
use crate::chains::Chain;
use crate::feeds::{self, Feed};
use crate::quorum::{self, Quorum};
use crate::round::{self, RoundData};
use crate::rpc;
use crate::sequencer;

/// The indices of the chain and sequencer reads in round trip 1.
#[derive(Debug, Default)]
pub struct Preamble {
    /// `(endpoint, index)` of each `eth_chainId`.
    chain_ids: Vec<(u32, usize)>,
    sequencer: Option<usize>,
}

/// Add the chain check of every endpoint that is due ([`crate::chain_check`])
/// and, with `sequencer` on an L2, the uptime feed read to `batch`.
pub fn plan_preamble(
    cache: &mut Cache,
    chain: &Chain,
    sequencer: bool,
    batch: &mut Batch,
    now_s: u64,
) -> Result<Preamble, VenueError> {
    let chain_ids = cache
        .chain
        .due(resilience_guest::endpoints::count(), now_s)
        .into_iter()
        .map(|e| (e, batch.push_to(e, rpc::eth_chain_id())))
        .collect();
    let sequencer = match (sequencer, sequencer_feed(chain)?) {
        (true, Some(feed)) => Some(batch.push(rpc::eth_call(&feed, round::LATEST_ROUND_DATA))),
        _ => None,
    };
    Ok(Preamble {
        chain_ids,
        sequencer,
    })
}

/// The chain's uptime feed, or the `sequencer_feed` setting's.
fn sequencer_feed(chain: &Chain) -> Result<Option<String>, VenueError> {
    match host::config(sequencer::FEED_SETTING) {
        Some(configured) => {
            let configured = configured.trim().to_string();
            feeds::check_address(&configured).map_err(|why| {
                VenueError::Unsupported(format!(
                    "venue setting `{}`: {why}",
                    sequencer::FEED_SETTING
                ))
            })?;
            Ok(Some(configured))
        }
        None => Ok(chain.sequencer_feed.map(str::to_string)),
    }
}

/// Check the preamble's answers: each endpoint's chain id (then cached; an
/// endpoint that could not be asked is asked again later) and the
/// sequencer's status.
pub fn check_preamble(
    cache: &mut Cache,
    chain: &Chain,
    preamble: &Preamble,
    answers: &mut Answers,
    now_s: u64,
) -> Result<(), VenueError> {
    let mut unasked = None;
    for &(endpoint, i) in &preamble.chain_ids {
        match answers.result(i, &format!("eth_chainId at endpoint {endpoint}")) {
            Ok(id) => {
                chain_check::verify(endpoint, &id, chain)?;
                cache.chain.verified(endpoint);
            }
            // A parked send is no failure: the host runs the call again with
            // the answer, so the endpoint is not marked.
            Err(VenueError::Transport(t)) if t.is_parked() => {
                return Err(VenueError::Transport(t));
            }
            Err(e @ VenueError::Transport(_)) => {
                cache.chain.unreachable(endpoint, now_s);
                unasked.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    // No price before some endpoint has shown the right chain; after that, a
    // read an unchecked endpoint served is caught by its empty answer.
    if let Some(e) = unasked
        && !cache.chain.any_verified()
    {
        return Err(e);
    }
    if let Some(i) = preamble.sequencer {
        let what = "eth_call latestRoundData() on the sequencer uptime feed";
        let round = round::decode_round(&answers.data(i, what)?, "sequencer latestRoundData()")?;
        let grace = sequencer::grace_s(host::config(sequencer::GRACE_SETTING))?;
        sequencer::check(&round, now_s, grace)?;
    }
    Ok(())
}

/// How a pair's decimals are known.
#[derive(Debug, Clone, Copy)]
enum Decimals {
    Cached(u8),
    Requested(usize),
}

/// Where a pair's `latestRoundData()` answers are in round trip 1.
#[derive(Debug)]
enum Main {
    /// One read, through the host's failover.
    Any(usize),
    /// `(endpoint, index)` of each provider's read (`quorum = 2`).
    Pinned(Vec<(u32, usize)>),
}

/// A pair's `latestRoundData()` as each endpoint answered it (`None`: the
/// endpoint the host picked).
type Rounds = Vec<(Option<u32>, Result<RoundData, VenueError>)>;

/// A pair's requests in round trip 1.
#[derive(Debug)]
struct Plan {
    feed: Feed,
    main: Main,
    decimals: Decimals,
    aggregator: Option<usize>,
}

/// What round trip 1 gave for a pair.
struct Read {
    feed: Feed,
    round: Result<RoundData, VenueError>,
    decimals: Result<u8, VenueError>,
    aggregator: Option<Result<String, VenueError>>,
    /// Known bounds for the round's phase: `Some(None)` = the aggregator has none.
    bounds: Option<Option<Bounds>>,
    /// The endpoints that agreed on the round (`quorum = 2`).
    agreed_by: Option<Vec<u32>>,
}

/// Latest prices of `pairs` on `chain`: one result per pair, in order. The
/// outer error is one that makes every price unsafe (wrong chain, sequencer).
pub fn latest(
    cache: &mut Cache,
    chain: &Chain,
    pairs: &[String],
    now_s: u64,
) -> Result<Vec<Result<Value, VenueError>>, VenueError> {
    let resolved: Vec<Result<Feed, VenueError>> = pairs
        .iter()
        .map(|pair| feeds::resolve(chain, pair))
        .collect();
    if resolved.iter().all(Result::is_err) {
        // Nothing to read: no request at all.
        return Ok(resolved
            .into_iter()
            .map(|r| r.map(|_| Value::Null))
            .collect());
    }
    let quorum = quorum::configured()?;
    let count = resilience_guest::endpoints::count();
    let sides = match quorum {
        Some(_) => Some(quorum::first_pair(count)?),
        None => None,
    };
    let mut batch = Batch::default();
    let preamble = plan_preamble(cache, chain, true, &mut batch, now_s)?;
    let plans: Vec<Result<Plan, VenueError>> = resolved
        .into_iter()
        .map(|feed| {
            let feed = feed?;
            let call = || rpc::eth_call(&feed.address, round::LATEST_ROUND_DATA);
            let main = match sides {
                Some(sides) => Main::Pinned(
                    sides
                        .iter()
                        .map(|&e| (e, batch.push_to(e, call())))
                        .collect(),
                ),
                None => Main::Any(batch.push(call())),
            };
            let decimals = match cache.decimals(&feed.address) {
                Some(d) => Decimals::Cached(d),
                None => {
                    Decimals::Requested(batch.push(rpc::eth_call(&feed.address, round::DECIMALS)))
                }
            };
            let aggregator = cache
                .bounds(&feed.address)
                .is_none()
                .then(|| batch.push(rpc::eth_call(&feed.address, bounds::AGGREGATOR)));
            Ok(Plan {
                feed,
                main,
                decimals,
                aggregator,
            })
        })
        .collect();
    let mut answers = batch.send();
    let checked = check_preamble(cache, chain, &preamble, &mut answers, now_s);
    let mut rounds: Vec<Rounds> = plans
        .iter()
        .map(|plan| match plan {
            Ok(p) => take_rounds(p, &mut answers),
            Err(_) => Vec::new(),
        })
        .collect();
    let replacements_saw_empty =
        quorum.is_some() && replace_silent_endpoints(&plans, &mut rounds, count);
    let mut reads: Vec<Result<Read, VenueError>> = plans
        .into_iter()
        .zip(rounds)
        .map(|(plan, rounds)| {
            plan.map(|p| {
                let (round, agreed_by) = combine(&p.feed.pair, quorum, rounds);
                read(cache, p, round, agreed_by, &mut answers)
            })
        })
        .collect();
    if answers.saw_empty() || replacements_saw_empty {
        cache.chain.reset();
    }
    checked?;
    read_bounds(cache, &mut reads);
    Ok(reads
        .into_iter()
        .map(|r| r.and_then(|r| price(r, chain, now_s)))
        .collect())
}

/// Take a pair's `latestRoundData()` answers from round trip 1.
fn take_rounds(plan: &Plan, answers: &mut Answers) -> Rounds {
    let on = format!("on {} ({})", plan.feed.address, plan.feed.pair);
    let mut decode = |i: usize, what: String| {
        answers
            .data(i, &what)
            .and_then(|d| round::decode_round_data(&d))
    };
    match &plan.main {
        Main::Any(i) => vec![(None, decode(*i, format!("eth_call latestRoundData() {on}")))],
        Main::Pinned(sides) => sides
            .iter()
            .map(|&(e, i)| {
                let what = format!("eth_call latestRoundData() {on} at endpoint {e}");
                (Some(e), decode(i, what))
            })
            .collect(),
    }
}

/// With a quorum: an endpoint whose every read failed in transport is
/// replaced by the next unused one, read again in one more round trip,
/// until one answers or none is left. Returns whether a replacement's read
/// came back empty (see [`crate::chain_check`]).
fn replace_silent_endpoints(
    plans: &[Result<Plan, VenueError>],
    rounds: &mut [Rounds],
    count: u32,
) -> bool {
    let mut saw_empty = false;
    let sides = rounds.iter().map(Vec::len).max().unwrap_or(0);
    let mut next = u32::try_from(sides).unwrap_or(u32::MAX);
    for side in 0..sides {
        loop {
            let silent = rounds
                .iter()
                .filter(|r| !r.is_empty())
                .all(|r| matches!(r.get(side), Some((_, Err(VenueError::Transport(_))))));
            if !silent || next >= count {
                break;
            }
            let endpoint = next;
            next += 1;
            let mut batch = Batch::default();
            let asked: Vec<(usize, usize)> = plans
                .iter()
                .enumerate()
                .filter_map(|(k, plan)| {
                    let feed = &plan.as_ref().ok()?.feed;
                    let call = rpc::eth_call(&feed.address, round::LATEST_ROUND_DATA);
                    Some((k, batch.push_to(endpoint, call)))
                })
                .collect();
            let mut answers = batch.send();
            for (k, i) in asked {
                let Ok(plan) = &plans[k] else { continue };
                let what = format!(
                    "eth_call latestRoundData() on {} ({}) at endpoint {endpoint}",
                    plan.feed.address, plan.feed.pair
                );
                let round = answers
                    .data(i, &what)
                    .and_then(|d| round::decode_round_data(&d));
                rounds[k][side] = (Some(endpoint), round);
            }
            saw_empty |= answers.saw_empty();
        }
    }
    saw_empty
}

/// A pair's round: the one read, or the one its providers agree on (and
/// which endpoints those were).
fn combine(
    pair: &str,
    quorum: Option<Quorum>,
    rounds: Rounds,
) -> (Result<RoundData, VenueError>, Option<Vec<u32>>) {
    let mut rounds = rounds.into_iter();
    match (quorum, rounds.next(), rounds.next()) {
        (Some(q), Some((Some(ea), a)), Some((Some(eb), b))) => match (a, b) {
            (Ok(a), Ok(b)) => (quorum::agree(pair, q, (ea, a), (eb, b)), Some(vec![ea, eb])),
            (Err(e), _) | (_, Err(e)) => (Err(e), None),
        },
        (_, Some((_, round)), _) => (round, None),
        (_, None, _) => (
            Err(VenueError::parse(format!(
                "{pair}: no latestRoundData() read"
            ))),
            None,
        ),
    }
}

/// Take a pair's other answers from round trip 1 (caching its decimals even
/// when its round failed).
fn read(
    cache: &mut Cache,
    plan: Plan,
    round: Result<RoundData, VenueError>,
    agreed_by: Option<Vec<u32>>,
    answers: &mut Answers,
) -> Read {
    let feed = plan.feed;
    let on = format!("on {} ({})", feed.address, feed.pair);
    let decimals = match plan.decimals {
        Decimals::Cached(d) => Ok(d),
        Decimals::Requested(i) => answers
            .data(i, &format!("eth_call decimals() {on}"))
            .and_then(|d| round::decode_decimals(&d))
            .inspect(|d| cache.set_decimals(&feed.address, *d)),
    };
    let aggregator = plan.aggregator.map(|i| {
        answers
            .data(i, &format!("eth_call aggregator() {on}"))
            .and_then(|d| bounds::decode_aggregator(&d))
    });
    let bounds = match (&round, cache.bounds(&feed.address)) {
        (Ok(r), Some(cached)) if cached.phase == round::phase(r.round_id) => {
            Some(cached.bounds.clone())
        }
        _ => None,
    };
    Read {
        feed,
        round,
        decimals,
        aggregator,
        bounds,
        agreed_by,
    }
}

/// Round trips 2 and 3: the aggregator of feeds whose phase changed, then the
/// bounds of every feed without them. A read that fails for good (a revert,
/// no data, a bad word) caches "no bounds" for the phase; a transport failure
/// caches nothing, so the next call tries again.
fn read_bounds(cache: &mut Cache, reads: &mut [Result<Read, VenueError>]) {
    let wanted = |r: &Read| r.round.is_ok() && r.bounds.is_none();
    // Round trip 2.
    let mut batch = Batch::default();
    let mut asked = Vec::new();
    for (i, r) in reads.iter().enumerate() {
        if let Ok(r) = r
            && wanted(r)
            && r.aggregator.is_none()
        {
            asked.push((
                i,
                batch.push(rpc::eth_call(&r.feed.address, bounds::AGGREGATOR)),
            ));
        }
    }
    let mut answers = batch.send();
    for (i, j) in asked {
        if let Ok(r) = &mut reads[i] {
            let what = format!("eth_call aggregator() on {}", r.feed.address);
            r.aggregator = Some(
                answers
                    .data(j, &what)
                    .and_then(|d| bounds::decode_aggregator(&d)),
            );
        }
    }
    // Round trip 3.
    let mut batch = Batch::default();
    let mut asked = Vec::new();
    for (i, r) in reads.iter_mut().enumerate() {
        let Ok(r) = r else { continue };
        if !wanted(r) {
            continue;
        }
        match &r.aggregator {
            Some(Ok(aggregator)) => {
                let min = batch.push(rpc::eth_call(aggregator, bounds::MIN_ANSWER));
                let max = batch.push(rpc::eth_call(aggregator, bounds::MAX_ANSWER));
                asked.push((i, aggregator.clone(), min, max));
            }
            Some(Err(e)) => settle(cache, r, Err(e.clone())),
            None => {}
        }
    }
    let mut answers = batch.send();
    for (i, aggregator, min, max) in asked {
        let Ok(r) = &mut reads[i] else { continue };
        let mut bound = |j: usize, call: &str| {
            answers
                .data(j, &format!("eth_call {call} on {aggregator}"))
                .and_then(|d| bounds::decode_answer_bound(&d, call))
        };
        let found = bound(min, "minAnswer()")
            .and_then(|min| bound(max, "maxAnswer()").map(|max| Bounds { min, max }));
        settle(cache, r, found);
    }
}

/// Record the outcome of reading a feed's bounds.
fn settle(cache: &mut Cache, read: &mut Read, found: Result<Bounds, VenueError>) {
    let Ok(round) = &read.round else { return };
    let bounds = match found {
        Ok(b) => Some(b),
        Err(VenueError::Transport(_)) => {
            read.bounds = Some(None);
            return;
        }
        Err(e) => {
            host::log(
                host::Level::Debug,
                &format!(
                    "{}: aggregator bounds unavailable, at_bound is null: {e}",
                    read.feed.pair
                ),
            );
            None
        }
    };
    read.bounds = Some(bounds.clone());
    cache.set_bounds(
        &read.feed.address,
        PhaseBounds {
            phase: round::phase(round.round_id),
            bounds,
        },
    );
}

/// A pair's result from its reads.
fn price(read: Read, chain: &Chain, now_s: u64) -> Result<Value, VenueError> {
    let feed = &read.feed;
    let round = read.round?;
    round::check(&round, &feed.pair)?;
    let age_s = round::check_age(&round, &feed.pair, now_s, feed.max_age_s)?;
    let decimals = read.decimals?;
    let price = scale_integer(&round.answer, u32::from(decimals))
        .map_err(|e| e.parse("latestRoundData(): answer"))?;
    let at_bound = read.bounds.flatten().map(|b| b.pins(&round.answer));
    let mut result = json!({
        "pair": feed.pair,
        "chain": chain.name,
        "price": price,
        "decimals": decimals,
        "round_id": round.round_id.to_string(),
        "updated_at": round.updated_at,
        "age_s": age_s,
        "at_bound": at_bound,
    });
    if let Some(endpoints) = read.agreed_by {
        result["quorum"] = json!(endpoints);
    }
    Ok(result)
}
