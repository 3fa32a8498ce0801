//! From an order's params to the order to sign, in two steps:
//!
//! 1. [`OrderIntent::complete`] (in `prepare`, again in `invoke`): ask the
//!    venue what it requires of the token ([`Markets`]), refuse params that
//!    contradict it or that it would refuse, and write into the params
//!    everything the order depends on (`tick_size`, `neg_risk`, V1
//!    `fee_rate_bps`, `salt`, `timestamp_ms`, a market order's `price`).
//! 2. [`OrderIntent::build`] (in `invoke` and `reconcile`): a pure function
//!    of the completed params and the settings, so the journaled params
//!    always rebuild the very order that was posted.
//!
//! | check | where | refused as |
//! |---|---|---|
//! | `neg_risk` / `tick_size` given and not the venue's | complete | `invalid_params` naming the field |
//! | V1 `fee_rate_bps` given, venue's fee nonzero and different | complete | `invalid_params` |
//! | `fee_rate_bps` on the V2 exchange | complete | `invalid_params` |
//! | price off the tick, precision ([`crate::amounts`]) | complete and build | `invalid_params` |
//! | shares below the book's `min_order_size` (limit size, market SELL amount) | complete | `invalid_params` |
//! | FOK/FAK limit order breaking market-order precision | complete | `invalid_params` |
//! | GTD expiring less than [`api::MIN_GTD_LEAD_S`] ahead | complete | `invalid_params` |

use resilience_guest::prelude::*;

use crate::amounts::{self, Tick};
use crate::market::{Markets, book_request};
use crate::order::{self, Order, OrderTerms, units};
use crate::params::{LimitOrderParams, MarketOrderParams, OrderType};
use crate::settings::OrderSettings;
use crate::{api, read};

/// An order ready to sign, and how to post it.
#[derive(Debug)]
pub struct Placement {
    pub order: Order,
    pub order_type: OrderType,
    pub post_only: bool,
    pub price: String,
    /// `("size", …)` of a limit order or `("amount", …)` of a market order,
    /// after the client's rounding down to 2 decimals.
    pub effective: (&'static str, String),
    pub tick: Tick,
    pub neg_risk: bool,
}

/// What `prepare`, `invoke` and `reconcile` need of an order's params.
pub trait OrderIntent {
    fn token_id(&self) -> &str;
    /// V1 only: the fee rate the order signs.
    fn fee_rate_bps_mut(&mut self) -> &mut Option<u32>;
    /// Step 1 (see the module docs); `salt` is used when the params have none.
    fn complete(
        &mut self,
        markets: &mut Markets,
        version: u8,
        salt: Option<u64>,
    ) -> Result<(), VenueError>;
    /// Step 2 (see the module docs).
    fn build(&self, s: &OrderSettings) -> Result<Placement, VenueError>;
}

/// Check the caller's `neg_risk` and `tick_size` against the venue's and
/// write the venue's into the params.
fn settle_facts(
    token_id: &str,
    info: crate::market::MarketInfo,
    neg_risk: &mut Option<bool>,
    tick_size: &mut Option<String>,
) -> Result<(), VenueError> {
    if let Some(given) = *neg_risk
        && given != info.neg_risk
    {
        return Err(VenueError::invalid(format!(
            "neg_risk: the venue says token {token_id} is {}a neg-risk market; leave neg_risk out \
             and the plugin signs for the right exchange",
            if info.neg_risk { "" } else { "not " }
        )));
    }
    if let Some(given) = tick_size.as_deref()
        && Tick::parse(given) != Some(info.tick)
    {
        return Err(VenueError::invalid(format!(
            "tick_size: the venue's tick size for token {token_id} is now {}, not {given}",
            info.tick.text
        )));
    }
    *neg_risk = Some(info.neg_risk);
    *tick_size = Some(info.tick.text.to_string());
    Ok(())
}

/// V2 signs no fee; V1 signs the venue's (`/fee-rate`), and a caller's
/// different rate is refused when the venue's is nonzero (as
/// py-clob-client-v2 `__resolve_fee_rate_bps`).
fn settle_fee(
    markets: &mut Markets,
    version: u8,
    token_id: &str,
    fee: &mut Option<u32>,
) -> Result<(), VenueError> {
    if version != 1 {
        return match fee {
            Some(_) => Err(VenueError::invalid(
                "fee_rate_bps: the V2 exchange does not sign a fee rate (exchange_version is 2)",
            )),
            None => Ok(()),
        };
    }
    let venue = markets.fee_rate_bps(token_id)?;
    if let Some(given) = *fee
        && venue > 0
        && given != venue
    {
        return Err(VenueError::invalid(format!(
            "fee_rate_bps: {given} is not the market's fee rate, {venue} bps"
        )));
    }
    *fee = Some(venue);
    Ok(())
}

fn check_min_size(shares: u128, min: u128, field: &str) -> Result<(), VenueError> {
    if shares < min {
        return Err(VenueError::invalid(format!(
            "{field}: {} shares is below the market's min_order_size of {}",
            shares_text(shares),
            shares_text(min)
        )));
    }
    Ok(())
}

fn shares_text(units: u128) -> String {
    resilience_guest::decimal::scale_integer(&units.to_string(), api::DECIMALS).unwrap_or_default()
}

/// Fill in a missing salt (fresh, from the params as they stand) and
/// timestamp. V1 does not sign the timestamp; it is journaled anyway, so
/// that a retry under V2 after `order_version_mismatch` rebuilds one order.
fn fill_salt_and_time<P: serde::Serialize>(
    params: &P,
    salt: &mut Option<u64>,
    timestamp_ms: &mut Option<u64>,
) {
    let now = host::now_ms();
    if salt.is_none() {
        let seed = serde_json::to_vec(params).unwrap_or_default();
        *salt = Some(order::new_salt(&seed, now));
    }
    timestamp_ms.get_or_insert(now);
}

fn journaled<T: Clone>(value: &Option<T>, field: &str) -> Result<T, VenueError> {
    value.clone().ok_or_else(|| {
        VenueError::invalid(format!(
            "{field}: missing; prepare fills it in before the order is built"
        ))
    })
}

fn tick_of(p: &Option<String>) -> Result<Tick, VenueError> {
    let text = journaled(p, "tick_size")?;
    Tick::parse(&text).ok_or_else(|| {
        VenueError::invalid(format!("tick_size: {text} is not a tick the venue uses"))
    })
}

impl OrderIntent for LimitOrderParams {
    fn token_id(&self) -> &str {
        &self.token_id
    }

    fn fee_rate_bps_mut(&mut self) -> &mut Option<u32> {
        &mut self.fee_rate_bps
    }

    fn complete(
        &mut self,
        markets: &mut Markets,
        version: u8,
        salt: Option<u64>,
    ) -> Result<(), VenueError> {
        self.check()?;
        settle_fee(markets, version, &self.token_id, &mut self.fee_rate_bps)?;
        let info = markets.info(&self.token_id)?;
        settle_facts(
            &self.token_id,
            info,
            &mut self.neg_risk,
            &mut self.tick_size,
        )?;
        let amounts = amounts::limit_amounts(self.side, &self.price, &self.size, info.tick)?;
        check_min_size(amounts.shares, info.min_order_size, "size")?;
        let order_type = self.order_type.unwrap_or(OrderType::Gtc);
        if matches!(order_type, OrderType::Fok | OrderType::Fak) {
            amounts::check_market_precision(&amounts, info.tick)?;
        }
        if order_type == OrderType::Gtd {
            let earliest = host::now_ms() / 1000 + api::MIN_GTD_LEAD_S;
            let expiration = self.expiration.unwrap_or(0);
            if expiration < earliest {
                return Err(VenueError::invalid(format!(
                    "expiration: {expiration} is less than {} s from now ({earliest} at the earliest): \
                     the venue keeps a one-minute security threshold on GTD orders",
                    api::MIN_GTD_LEAD_S
                )));
            }
        }
        self.salt = self.salt.or(salt);
        let (mut s, mut t) = (self.salt, self.timestamp_ms);
        fill_salt_and_time(&*self, &mut s, &mut t);
        (self.salt, self.timestamp_ms) = (s, t);
        Ok(())
    }

    fn build(&self, s: &OrderSettings) -> Result<Placement, VenueError> {
        let tick = tick_of(&self.tick_size)?;
        let neg_risk = journaled(&self.neg_risk, "neg_risk")?;
        let amounts = amounts::limit_amounts(self.side, &self.price, &self.size, tick)?;
        let terms = OrderTerms {
            token_id: self.token_id.clone(),
            side: self.side,
            maker_amount: amounts.maker,
            taker_amount: amounts.taker,
            salt: journaled(&self.salt, "salt")?,
            expiration: self.expiration.unwrap_or(0),
            fee_rate_bps: self.fee_rate_bps.unwrap_or(0),
            timestamp_ms: journaled(&self.timestamp_ms, "timestamp_ms")?,
            neg_risk,
        };
        Ok(Placement {
            order: Order::new(s, &terms),
            order_type: self.order_type.unwrap_or(OrderType::Gtc),
            post_only: self.post_only.unwrap_or(false),
            price: self.price.clone(),
            effective: ("size", amounts.effective),
            tick,
            neg_risk,
        })
    }
}

impl OrderIntent for MarketOrderParams {
    fn token_id(&self) -> &str {
        &self.token_id
    }

    fn fee_rate_bps_mut(&mut self) -> &mut Option<u32> {
        &mut self.fee_rate_bps
    }

    fn complete(
        &mut self,
        markets: &mut Markets,
        version: u8,
        salt: Option<u64>,
    ) -> Result<(), VenueError> {
        self.check()?;
        settle_fee(markets, version, &self.token_id, &mut self.fee_rate_bps)?;
        let info = match &self.price {
            Some(_) => markets.info(&self.token_id)?,
            None => {
                // The book gives both the worst price and the market's facts.
                let book = read::book(&book_request(&self.token_id).send()?)?;
                let info = markets.remember(&self.token_id, &book)?;
                let amount = units("amount", &self.amount)?;
                let fok = self.order_type.unwrap_or(OrderType::Fok) == OrderType::Fok;
                self.price = Some(read::market_price(&book, self.side, amount, fok)?);
                info
            }
        };
        settle_facts(
            &self.token_id,
            info,
            &mut self.neg_risk,
            &mut self.tick_size,
        )?;
        let price = journaled(&self.price, "price")?;
        let amounts = amounts::market_amounts(self.side, &self.amount, &price, info.tick)?;
        if self.side == order::Side::Sell {
            check_min_size(amounts.shares, info.min_order_size, "amount")?;
        }
        self.salt = self.salt.or(salt);
        let (mut s, mut t) = (self.salt, self.timestamp_ms);
        fill_salt_and_time(&*self, &mut s, &mut t);
        (self.salt, self.timestamp_ms) = (s, t);
        Ok(())
    }

    fn build(&self, s: &OrderSettings) -> Result<Placement, VenueError> {
        let tick = tick_of(&self.tick_size)?;
        let neg_risk = journaled(&self.neg_risk, "neg_risk")?;
        let price = journaled(&self.price, "price")?;
        let amounts = amounts::market_amounts(self.side, &self.amount, &price, tick)?;
        let terms = OrderTerms {
            token_id: self.token_id.clone(),
            side: self.side,
            maker_amount: amounts.maker,
            taker_amount: amounts.taker,
            salt: journaled(&self.salt, "salt")?,
            expiration: 0,
            fee_rate_bps: self.fee_rate_bps.unwrap_or(0),
            timestamp_ms: journaled(&self.timestamp_ms, "timestamp_ms")?,
            neg_risk,
        };
        Ok(Placement {
            order: Order::new(s, &terms),
            order_type: self.order_type.unwrap_or(OrderType::Fok),
            post_only: false,
            price,
            effective: ("amount", amounts.effective),
            tick,
            neg_risk,
        })
    }
}
