//! Order amounts exactly as the official client computes them
//! (py-clob-client-v2 1.2.1 `order_builder/builder.py`: `ROUNDING_CONFIG`,
//! `get_order_amounts`, `get_market_order_amounts`), in integers.
//!
//! The official client does this arithmetic in `float`; here every value is
//! an integer count of `10^-k` units, so `0.29` stays `0.29`. What each input
//! becomes:
//!
//! | input | rule (tick's `price`/`amount` decimals from [`Tick`]) | when it does not fit |
//! |---|---|---|
//! | price (limit and market) | a multiple of the tick, within `[tick, 1 - tick]` | **refused** (`invalid_params`, "price: … tick …"): the client rounds it (half-even for limits, down for markets), which moves the price the caller chose |
//! | size (limit, shares) | rounded **down** to 2 decimals | rounded; the effective size is returned; 0 after rounding is refused |
//! | amount (market: BUY USDC, SELL shares) | rounded **down** to 2 decimals | rounded; the effective amount is returned; 0 is refused |
//! | USDC of a limit order (price × size) | exact: it has at most `amount` decimals | never rounds |
//! | shares of a market BUY (amount / price) | `ceil` at `amount + 4` decimals, then down to `amount` decimals (the client's tolerance step) | rounded as the client does |
//! | USDC of a market SELL (amount × price) | exact | never rounds |
//!
//! Amounts are then 6-decimal units (USDC and outcome shares both have 6).

use resilience_guest::decimal::{is_unsigned_decimal, scale_integer, to_fixed_units};
use resilience_guest::prelude::*;

use crate::order::Side;

/// Sizes and market amounts keep 2 decimals (`RoundConfig.size` is 2 for every tick).
const SIZE_DECIMALS: u32 = 2;
/// USDC and shares are both 6-decimal tokens.
const TOKEN_DECIMALS: u32 = 6;
/// The official client's tolerance: `round_up` at `amount + 4` decimals
/// before rounding down to `amount`.
const TOLERANCE_DECIMALS: u32 = 4;
/// Most digits before the point of a size or amount (10^15 shares is far
/// beyond any market); keeps every product below `u128::MAX`.
const MAX_WHOLE_DIGITS: usize = 15;

/// A market's minimum tick and the decimals the official client keeps for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tick {
    /// As the venue writes it (`"0.01"`).
    pub text: &'static str,
    /// The tick in 6-decimal units.
    units: u128,
    /// Decimals of a price (`RoundConfig.price`).
    price_decimals: u32,
    /// Decimals of a computed amount (`RoundConfig.amount`).
    amount_decimals: u32,
}

/// py-clob-client-v2 1.2.1 `ROUNDING_CONFIG`, every tick it knows.
const TICKS: [Tick; 6] = [
    Tick::new("0.1", 100_000, 1, 3),
    Tick::new("0.01", 10_000, 2, 4),
    Tick::new("0.005", 5_000, 3, 5),
    Tick::new("0.0025", 2_500, 4, 6),
    Tick::new("0.001", 1_000, 3, 5),
    Tick::new("0.0001", 100, 4, 6),
];

impl Tick {
    const fn new(
        text: &'static str,
        units: u128,
        price_decimals: u32,
        amount_decimals: u32,
    ) -> Self {
        Self {
            text,
            units,
            price_decimals,
            amount_decimals,
        }
    }

    /// The tick the venue wrote (`"0.01"`, `"0.010"`, `0.01`), if the official
    /// client has a rounding rule for it.
    pub fn parse(text: &str) -> Option<Tick> {
        let units: u128 = to_fixed_units(text, TOKEN_DECIMALS).ok()?.parse().ok()?;
        TICKS.into_iter().find(|t| t.units == units)
    }

    /// A price on this tick, in units of `10^-price_decimals`.
    pub fn price(&self, field: &str, price: &str) -> Result<u128, VenueError> {
        let units: u128 = to_fixed_units(price, TOKEN_DECIMALS)
            .map_err(|e| e.invalid(field))?
            .parse()
            .map_err(|_| VenueError::invalid(format!("{field}: {price} is not a price")))?;
        if !units.is_multiple_of(self.units) {
            return Err(VenueError::invalid(format!(
                "{field}: {price} is not a multiple of the market's tick size {} \
                 (the venue refuses prices off the tick; this plugin does not round them)",
                self.text
            )));
        }
        if units < self.units || units > 10u128.pow(TOKEN_DECIMALS) - self.units {
            return Err(VenueError::invalid(format!(
                "{field}: {price} is outside [{}, 1 - {}], the prices of a market with tick size {}",
                self.text, self.text, self.text
            )));
        }
        Ok(units / 10u128.pow(TOKEN_DECIMALS - self.price_decimals))
    }

    /// 6-decimal units of `num / den` (a value with any number of
    /// decimals) as the client rounds a computed amount: up at
    /// `amount + 4` decimals, then down to `amount` decimals.
    fn amount_units(&self, num: u128, den: u128) -> Result<u128, VenueError> {
        let scaled = num
            .checked_mul(10u128.pow(self.amount_decimals + TOLERANCE_DECIMALS))
            .ok_or_else(|| VenueError::invalid("size: too large"))?;
        let rounded = scaled.div_ceil(den) / 10u128.pow(TOLERANCE_DECIMALS);
        Ok(rounded * 10u128.pow(TOKEN_DECIMALS - self.amount_decimals))
    }

    /// Whether 6-decimal `units` have at most this tick's amount decimals.
    fn fits_amount(&self, units: u128) -> bool {
        units.is_multiple_of(10u128.pow(TOKEN_DECIMALS - self.amount_decimals))
    }
}

/// What an order signs, and the inputs after the client's rounding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amounts {
    /// `makerAmount`, 6-decimal units.
    pub maker: u128,
    /// `takerAmount`, 6-decimal units.
    pub taker: u128,
    /// The size (limit) or amount (market) after rounding down to 2 decimals.
    pub effective: String,
    /// Shares the order trades, 6-decimal units (size; a market BUY's taker).
    pub shares: u128,
}

/// `text` rounded down to 2 decimals, in hundredths; `field` names it.
fn round_down_2(field: &str, text: &str) -> Result<u128, VenueError> {
    if !is_unsigned_decimal(text) {
        return Err(VenueError::invalid(format!(
            "{field}: {text:?} is not a decimal number (digits, optionally one '.' between digits)"
        )));
    }
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let whole = whole.trim_start_matches('0');
    if whole.len() > MAX_WHOLE_DIGITS {
        return Err(VenueError::invalid(format!("{field}: {text} is too large")));
    }
    let mut digits = String::with_capacity(whole.len() + 2);
    digits.push_str(whole);
    digits.extend(frac.chars().chain(std::iter::repeat('0')).take(2));
    let hundredths: u128 = digits.parse().unwrap_or(0);
    if hundredths == 0 {
        return Err(VenueError::invalid(format!(
            "{field}: {text} is 0 once rounded down to {SIZE_DECIMALS} decimals (the venue's size precision)"
        )));
    }
    Ok(hundredths)
}

/// Whether `text` is a size or amount the official client keeps nonzero
/// (checked before anything is sent).
pub fn check_size(field: &str, text: &str) -> Result<(), VenueError> {
    round_down_2(field, text).map(|_| ())
}

/// Whether `text` can be a price at all (strictly between 0 and 1, at most
/// 6 decimals), checked before the market's tick is known.
pub fn check_price_range(field: &str, text: &str) -> Result<(), VenueError> {
    let units: u128 = to_fixed_units(text, TOKEN_DECIMALS)
        .map_err(|e| e.invalid(field))?
        .parse()
        .map_err(|_| VenueError::invalid(format!("{field}: {text} is not a price")))?;
    if units == 0 || units >= 10u128.pow(TOKEN_DECIMALS) {
        return Err(VenueError::invalid(format!(
            "{field}: {text} must be between 0 and 1 (exclusive)"
        )));
    }
    Ok(())
}

fn decimal_text(units: u128, decimals: u32) -> String {
    // An integer's digits always scale.
    scale_integer(&units.to_string(), decimals).unwrap_or_default()
}

/// A limit order: BUY gives USDC (price × size) for `size` shares, SELL the
/// other way round (`get_order_amounts`).
pub fn limit_amounts(
    side: Side,
    price: &str,
    size: &str,
    tick: Tick,
) -> Result<Amounts, VenueError> {
    let p = tick.price("price", price)?;
    let s = round_down_2("size", size)?;
    let shares = s * 10u128.pow(TOKEN_DECIMALS - SIZE_DECIMALS);
    let usdc = tick.amount_units(s * p, 10u128.pow(SIZE_DECIMALS + tick.price_decimals))?;
    let (maker, taker) = match side {
        Side::Buy => (usdc, shares),
        Side::Sell => (shares, usdc),
    };
    Ok(Amounts {
        maker,
        taker,
        effective: decimal_text(s, SIZE_DECIMALS),
        shares,
    })
}

/// A market order at worst price `price`: BUY spends `amount` USDC for
/// `amount / price` shares, SELL sells `amount` shares for `amount × price`
/// USDC (`get_market_order_amounts`).
pub fn market_amounts(
    side: Side,
    amount: &str,
    price: &str,
    tick: Tick,
) -> Result<Amounts, VenueError> {
    let p = tick.price("price", price)?;
    let a = round_down_2("amount", amount)?;
    let maker = a * 10u128.pow(TOKEN_DECIMALS - SIZE_DECIMALS);
    let taker = match side {
        Side::Buy => tick.amount_units(a * 10u128.pow(tick.price_decimals), 100 * p)?,
        Side::Sell => tick.amount_units(a * p, 10u128.pow(SIZE_DECIMALS + tick.price_decimals))?,
    };
    if taker == 0 {
        return Err(VenueError::invalid(format!(
            "amount: {amount} buys no share at price {price}"
        )));
    }
    let shares = match side {
        Side::Buy => taker,
        Side::Sell => maker,
    };
    Ok(Amounts {
        maker,
        taker,
        effective: decimal_text(a, SIZE_DECIMALS),
        shares,
    })
}

/// FOK and FAK orders are market orders to the venue: maker amount at most
/// 2 decimals, taker amount at most the tick's amount decimals ("invalid
/// amounts, the market buy orders maker amount supports a max accuracy of 2
/// decimals, taker amount a max of 4 decimals" at tick 0.01). Only a limit
/// BUY can break it: its USDC is price × size.
pub fn check_market_precision(amounts: &Amounts, tick: Tick) -> Result<(), VenueError> {
    let maker_ok = amounts
        .maker
        .is_multiple_of(10u128.pow(TOKEN_DECIMALS - SIZE_DECIMALS));
    if maker_ok && tick.fits_amount(amounts.taker) {
        return Ok(());
    }
    Err(VenueError::invalid(format!(
        "size: a FOK/FAK order must give an amount with at most {SIZE_DECIMALS} decimals and take one \
         with at most {} (the venue's market-order precision at tick {}); this one gives {} for {}. \
         Choose a size whose price × size has at most {SIZE_DECIMALS} decimals, or use create_market_order",
        tick.amount_decimals,
        tick.text,
        decimal_text(amounts.maker, TOKEN_DECIMALS),
        decimal_text(amounts.taker, TOKEN_DECIMALS),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(t: &str) -> Tick {
        Tick::parse(t).unwrap()
    }

    fn pair(a: Amounts) -> (u128, u128) {
        (a.maker, a.taker)
    }

    /// The four rows of issue 16's table: what py-clob-client-v2 sends.
    #[test]
    fn amounts_match_the_official_client_examples() {
        let t = tick("0.01");
        assert_eq!(
            pair(market_amounts(Side::Buy, "10", "0.52", t).unwrap()),
            (10_000_000, 19_230_700)
        );
        assert_eq!(
            pair(market_amounts(Side::Buy, "25", "0.37", t).unwrap()),
            (25_000_000, 67_567_500)
        );
        let limit = limit_amounts(Side::Buy, "0.52", "10.123", t).unwrap();
        assert_eq!(pair(limit.clone()), (5_262_400, 10_120_000));
        assert_eq!(limit.effective, "10.12");
        // 0.505 is off the 0.01 tick: the client rounds it to 0.5; refused here.
        assert!(matches!(
            limit_amounts(Side::Buy, "0.505", "10", t),
            Err(VenueError::InvalidParams(m)) if m.contains("tick size 0.01")
        ));
    }

    #[test]
    fn sizes_round_down_to_cents_without_float_artifacts() {
        let t = tick("0.1");
        // float: floor(0.29 * 100) = 28; exact: 29.
        let a = limit_amounts(Side::Sell, "0.1", "0.29", t).unwrap();
        assert_eq!(
            (a.maker, a.taker, a.effective.as_str()),
            (290_000, 29_000, "0.29")
        );
        assert_eq!(
            limit_amounts(Side::Buy, "0.5", "7.999", t)
                .unwrap()
                .effective,
            "7.99"
        );
        assert!(matches!(
            limit_amounts(Side::Buy, "0.5", "0.009", t),
            Err(VenueError::InvalidParams(m)) if m.starts_with("size")
        ));
    }

    #[test]
    fn prices_outside_the_tick_range_are_refused() {
        let t = tick("0.001");
        for bad in ["0", "0.0005", "0.9995", "1", "1.5", "0.1234567", "x"] {
            assert!(
                matches!(limit_amounts(Side::Buy, bad, "1", t), Err(VenueError::InvalidParams(m)) if m.starts_with("price")),
                "{bad}"
            );
        }
        assert!(limit_amounts(Side::Buy, "0.001", "1", t).is_ok());
        assert!(limit_amounts(Side::Buy, "0.999", "1", t).is_ok());
        assert!(limit_amounts(Side::Buy, "0.5", "1", tick("0.005")).is_ok());
        assert!(limit_amounts(Side::Buy, "0.503", "1", tick("0.005")).is_err());
    }

    #[test]
    fn ticks_parse_as_the_venue_writes_them() {
        assert_eq!(Tick::parse("0.010").map(|t| t.text), Some("0.01"));
        assert_eq!(Tick::parse("0.0001").map(|t| t.text), Some("0.0001"));
        assert_eq!(Tick::parse("0.02"), None);
        assert_eq!(Tick::parse("abc"), None);
    }

    #[test]
    fn fok_buy_needs_whole_cents() {
        let t = tick("0.01");
        let ok = limit_amounts(Side::Buy, "0.5", "10", t).unwrap();
        assert!(check_market_precision(&ok, t).is_ok());
        let cents = limit_amounts(Side::Buy, "0.52", "10.12", t).unwrap();
        assert!(matches!(
            check_market_precision(&cents, t),
            Err(VenueError::InvalidParams(m)) if m.contains("FOK/FAK")
        ));
        // A SELL gives shares (2 decimals) for USDC with the tick's decimals.
        let sell = limit_amounts(Side::Sell, "0.52", "10.12", t).unwrap();
        assert!(check_market_precision(&sell, t).is_ok());
    }
}
