//! Operation params and the checks made before anything is sent.

use resilience_guest::VenueError;
use serde::Deserialize;

use crate::feeds::{canonical_pair, check_address};

/// Most pairs one `get_prices` takes: up to three requests each
/// (`latestRoundData`, and until cached `decimals` and `aggregator`) plus the
/// chain check and the sequencer read, within the host's 64 per `send-all`
/// (20 * 3 + 2 = 62).
pub const MAX_PAIRS: usize = 20;

/// `get_price` and `get_feed`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairParams {
    /// `BASE/QUOTE`, e.g. `ETH/USD` (any case).
    pub pair: String,
}

/// `get_prices`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairsParams {
    pub pairs: Vec<String>,
}

/// `get_round`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoundParams {
    pub pair: String,
    /// The proxy round id as a decimal string (`phaseId << 64 | aggregatorRoundId`,
    /// as `get_price` returns it); uint80 does not fit a JSON number.
    pub round_id: String,
}

/// `get_eth_balance`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalanceParams {
    /// `0x` and 40 hex digits.
    pub address: String,
}

/// The canonical pair of `get_price`/`get_feed`.
pub fn pair(p: &PairParams) -> Result<String, VenueError> {
    canonical_pair(&p.pair, "pair")
}

/// The canonical pairs of `get_prices`: 1 to [`MAX_PAIRS`], each well formed,
/// none twice.
pub fn pairs(p: &PairsParams) -> Result<Vec<String>, VenueError> {
    if p.pairs.is_empty() || p.pairs.len() > MAX_PAIRS {
        return Err(VenueError::invalid(format!(
            "pairs: expected 1 to {MAX_PAIRS} pairs, got {}",
            p.pairs.len()
        )));
    }
    let mut out: Vec<String> = Vec::with_capacity(p.pairs.len());
    for (i, raw) in p.pairs.iter().enumerate() {
        let pair = canonical_pair(raw, &format!("pairs[{i}]"))?;
        if out.contains(&pair) {
            return Err(VenueError::invalid(format!(
                "pairs[{i}]: {pair} is listed twice"
            )));
        }
        out.push(pair);
    }
    Ok(out)
}

/// The canonical pair and round id of `get_round`: the id is a non-zero
/// uint80 in decimal.
pub fn round(p: &RoundParams) -> Result<(String, u128), VenueError> {
    let pair = canonical_pair(&p.pair, "pair")?;
    let bad = || {
        VenueError::invalid(format!(
            "round_id: {:?} is not a round id (a decimal uint80 above 0, as get_price returns it)",
            p.round_id
        ))
    };
    if p.round_id.is_empty() || !p.round_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let id: u128 = p.round_id.parse().map_err(|_| bad())?;
    if id == 0 || id >= 1 << 80 {
        return Err(bad());
    }
    Ok((pair, id))
}

/// The address of `get_eth_balance`.
pub fn address(p: &BalanceParams) -> Result<&str, VenueError> {
    check_address(&p.address).map_err(|why| VenueError::invalid(format!("address: {why}")))?;
    Ok(&p.address)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(r: Result<Vec<String>, VenueError>) -> String {
        match r {
            Err(VenueError::InvalidParams(m)) => m,
            other => panic!("expected invalid_params, got {other:?}"),
        }
    }

    #[test]
    fn pairs_are_canonical_bounded_and_unique() {
        let p = |v: &[&str]| PairsParams {
            pairs: v.iter().map(|s| s.to_string()).collect(),
        };
        assert_eq!(
            pairs(&p(&["eth/usd", "BTC/USD"])).unwrap(),
            ["ETH/USD", "BTC/USD"]
        );
        assert!(invalid(pairs(&p(&[]))).starts_with("pairs:"));
        let many: Vec<String> = (0..=MAX_PAIRS).map(|i| format!("A{i}/USD")).collect();
        assert!(invalid(pairs(&PairsParams { pairs: many })).contains("21"));
        assert!(
            invalid(pairs(&p(&["ETH/USD", "eth/usd"])))
                .starts_with("pairs[1]: ETH/USD is listed twice")
        );
        assert!(invalid(pairs(&p(&["ETH/USD", "ETHUSD"]))).starts_with("pairs[1]:"));
    }

    #[test]
    fn round_ids_are_decimal_uint80_above_zero() {
        let r = |id: &str| RoundParams {
            pair: "eth/usd".into(),
            round_id: id.into(),
        };
        assert_eq!(
            round(&r("110680464442257327894")).unwrap(),
            ("ETH/USD".to_string(), (6u128 << 64) | 0x4716)
        );
        assert_eq!(
            round(&r("1208925819614629174706175")).unwrap().1,
            (1 << 80) - 1
        );
        for bad in [
            "",
            "0",
            "-1",
            "0x10",
            "1.5",
            "1208925819614629174706176",
            " 1",
        ] {
            assert!(
                matches!(round(&r(bad)), Err(VenueError::InvalidParams(m)) if m.starts_with("round_id:")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn address_must_be_0x_and_40_hex_digits() {
        let a = |s: &str| BalanceParams {
            address: s.to_string(),
        };
        assert!(address(&a("0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419")).is_ok());
        for bad in [
            "",
            "0x",
            "5f4eC3Df9cbd43714FE2740f5E3616155c5b8419",
            "0x5f4eC3Df9cbd43714FE2740f5E3616155c5b841",
            "0xZZ4eC3Df9cbd43714FE2740f5E3616155c5b8419",
        ] {
            assert!(
                matches!(address(&a(bad)), Err(VenueError::InvalidParams(m)) if m.starts_with("address:")),
                "{bad}"
            );
        }
    }
}
