//! Resolving a pair to a feed: the chain's address book (see [`crate::chains`])
//! and the venue settings that override it, in one place.
//!
//! Decimals are always read from the contract, never assumed.
//!
//! # Settings (all values are strings)
//!
//! | key                     | value                         | effect |
//! |-------------------------|-------------------------------|--------|
//! | `feed.BASE/QUOTE`       | proxy address, `0x` + 40 hex  | overrides a built-in feed's address, or adds a feed for any pair |
//! | `heartbeat.BASE/QUOTE`  | seconds                       | the feed's heartbeat (built-in in the book; 3600 for added feeds) |
//! | `max_age.BASE/QUOTE`    | seconds                       | oldest accepted answer; replaces heartbeat + margin |
//! | `heartbeat_margin_s`    | seconds (default 120)         | added to every heartbeat to give the max age |
//!
//! Staleness is `now - updatedAt` against heartbeat + margin only:
//! `answeredInRound` is deprecated upstream and not consulted.
//!
//! Pairs are matched in upper case (`eth/usd` is `ETH/USD`), and setting keys
//! use the upper-case pair. A setting that does not parse makes calls for that
//! pair fail with `unsupported`, naming the setting, rather than silently
//! falling back to a default.

use resilience_guest::VenueError;
use resilience_guest::host;

use crate::chains::{Builtin, Chain, DEFAULT_HEARTBEAT_S};

/// Margin on top of the heartbeat: Chainlink starts a new round at the
/// heartbeat and "there may be a slight delay" before it lands on-chain
/// (docs/venues/chainlink.md; an earlier docs draft said about 40 s). Three times that.
pub const DEFAULT_HEARTBEAT_MARGIN_S: u64 = 120;

/// Setting prefixes and keys (see the module table).
pub const FEED_SETTING: &str = "feed.";
pub const HEARTBEAT_SETTING: &str = "heartbeat.";
pub const MAX_AGE_SETTING: &str = "max_age.";
pub const MARGIN_SETTING: &str = "heartbeat_margin_s";

/// Where a feed's address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The built-in table.
    Builtin,
    /// The venue's `feed.PAIR` setting.
    Settings,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Builtin => "builtin",
            Source::Settings => "settings",
        }
    }
}

/// A feed ready to be called: its address and staleness policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    /// Canonical (upper-case) pair.
    pub pair: String,
    /// Proxy address as configured (`0x` + 40 hex digits).
    pub address: String,
    pub source: Source,
    pub heartbeat_s: u64,
    /// Oldest accepted answer, in seconds.
    pub max_age_s: u64,
}

/// `pair` in canonical form: trimmed, upper case, `BASE/QUOTE` of letters and
/// digits. Anything else is `invalid_params` naming `field`.
pub fn canonical_pair(pair: &str, field: &str) -> Result<String, VenueError> {
    let p = pair.trim().to_ascii_uppercase();
    let valid_part = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric());
    match p.split_once('/') {
        Some((base, quote)) if valid_part(base) && valid_part(quote) => Ok(p),
        _ => Err(VenueError::invalid(format!(
            "{field}: {pair:?} is not a pair like \"ETH/USD\" (BASE/QUOTE, letters and digits)"
        ))),
    }
}

/// The feed for a canonical `pair`, from the built-in table and the venue's
/// settings (read through `host.config`).
pub fn resolve(chain: &Chain, pair: &str) -> Result<Feed, VenueError> {
    resolve_with(chain, pair, host::config)
}

/// [`resolve`] with the settings lookup passed in (pure, for tests).
pub fn resolve_with(
    chain: &Chain,
    pair: &str,
    setting: impl Fn(&str) -> Option<String>,
) -> Result<Feed, VenueError> {
    let builtin = chain.feeds.iter().find(|f| f.pair == pair);
    let feed_key = format!("{FEED_SETTING}{pair}");
    let (address, source) = match (setting(&feed_key), builtin) {
        (Some(configured), _) => {
            let configured = configured.trim().to_string();
            check_address(&configured).map_err(|why| {
                VenueError::Unsupported(format!("venue setting `{feed_key}`: {why}"))
            })?;
            (configured, Source::Settings)
        }
        (
            None,
            Some(Builtin {
                address: Some(a), ..
            }),
        ) => (a.to_string(), Source::Builtin),
        (None, Some(Builtin { address: None, .. })) => {
            return Err(VenueError::Unsupported(format!(
                "{pair} has no feed address on this venue yet: set the venue setting \
                 `{feed_key}` to the feed's proxy address"
            )));
        }
        (None, None) => {
            let known: Vec<&str> = chain.feeds.iter().map(|f| f.pair).collect();
            return Err(VenueError::Unsupported(format!(
                "no feed for {pair} on {}: built-in pairs are {}; add one with the venue setting \
                 `{feed_key}`",
                chain.name,
                known.join(", ")
            )));
        }
    };
    let seconds = |key: String, default: u64| -> Result<u64, VenueError> {
        match setting(&key) {
            None => Ok(default),
            Some(v) => v.trim().parse::<u64>().map_err(|_| {
                VenueError::Unsupported(format!(
                    "venue setting `{key}` = {v:?} is not a whole number of seconds"
                ))
            }),
        }
    };
    let heartbeat_s = seconds(
        format!("{HEARTBEAT_SETTING}{pair}"),
        builtin.map_or(DEFAULT_HEARTBEAT_S, |b| b.heartbeat_s),
    )?;
    let margin_s = seconds(MARGIN_SETTING.to_string(), DEFAULT_HEARTBEAT_MARGIN_S)?;
    let max_age_s = seconds(
        format!("{MAX_AGE_SETTING}{pair}"),
        heartbeat_s.saturating_add(margin_s),
    )?;
    Ok(Feed {
        pair: pair.to_string(),
        address,
        source,
        heartbeat_s,
        max_age_s,
    })
}

/// An Ethereum address: `0x` and 40 hex digits (either case; an EIP-55
/// checksum is not verified). The error says what is wrong, without a field.
pub fn check_address(address: &str) -> Result<(), String> {
    let hex = address
        .strip_prefix("0x")
        .ok_or_else(|| format!("{address:?} is not an address (0x and 40 hex digits)"))?;
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "{address:?} is not an address (0x and 40 hex digits)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chains;
    use std::collections::BTreeMap;

    fn eth_chain() -> &'static Chain {
        chains::from_setting(None).unwrap()
    }

    fn settings(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k: &str| map.get(k).cloned()
    }

    #[test]
    fn builtin_feeds_match_facts_md() {
        // docs/venues/chainlink.md "Mainnet proxy addresses and parameters".
        let eth = resolve_with(eth_chain(), "ETH/USD", settings(&[])).unwrap();
        assert_eq!(eth.address, "0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419");
        assert_eq!((eth.heartbeat_s, eth.max_age_s), (3600, 3720));
        assert_eq!(eth.source, Source::Builtin);
        let usdc = resolve_with(eth_chain(), "USDC/USD", settings(&[])).unwrap();
        assert_eq!(usdc.address, "0x8fFfFfd4AfB6115b954Bd326cbe7B4BA576818f6");
        assert_eq!(usdc.heartbeat_s, 86_400);
        let arb = chains::from_setting(Some("arbitrum")).unwrap();
        let eth = resolve_with(arb, "ETH/USD", settings(&[])).unwrap();
        assert_eq!(eth.address, "0x639Fe6ab55C921f74e7fac1ee960C0B6293ba612");
        assert!(matches!(
            resolve_with(arb, "TON/USD", settings(&[])),
            Err(VenueError::Unsupported(m)) if m.contains("on arbitrum")
        ));
    }

    #[test]
    fn ton_usd_is_refused_until_configured() {
        match resolve_with(eth_chain(), "TON/USD", settings(&[])) {
            Err(VenueError::Unsupported(m)) => assert!(m.contains("`feed.TON/USD`"), "{m}"),
            other => panic!("expected unsupported, got {other:?}"),
        }
        let addr = "0x1111111111111111111111111111111111111111";
        let ton =
            resolve_with(eth_chain(), "TON/USD", settings(&[("feed.TON/USD", addr)])).unwrap();
        assert_eq!((ton.address.as_str(), ton.source), (addr, Source::Settings));
        assert_eq!(
            ton.max_age_s,
            DEFAULT_HEARTBEAT_S + DEFAULT_HEARTBEAT_MARGIN_S
        );
    }

    #[test]
    fn settings_override_address_heartbeat_margin_and_max_age() {
        let addr = "0x2222222222222222222222222222222222222222";
        let s = settings(&[
            ("feed.ETH/USD", addr),
            ("heartbeat.ETH/USD", "600"),
            ("heartbeat_margin_s", "30"),
        ]);
        let eth = resolve_with(eth_chain(), "ETH/USD", s).unwrap();
        assert_eq!(
            (eth.address.as_str(), eth.heartbeat_s, eth.max_age_s),
            (addr, 600, 630)
        );
        let s = settings(&[("max_age.BTC/USD", "90"), ("heartbeat.BTC/USD", "600")]);
        let btc = resolve_with(eth_chain(), "BTC/USD", s).unwrap();
        assert_eq!((btc.heartbeat_s, btc.max_age_s), (600, 90));
    }

    #[test]
    fn unknown_pair_can_be_added_through_settings() {
        match resolve_with(eth_chain(), "LINK/USD", settings(&[])) {
            Err(VenueError::Unsupported(m)) => {
                assert!(
                    m.contains("ETH/USD") && m.contains("`feed.LINK/USD`"),
                    "{m}"
                )
            }
            other => panic!("expected unsupported, got {other:?}"),
        }
        let addr = "0x2c1d072e956AFFC0D435Cb7AC38EF18d24d9127c";
        let link = resolve_with(
            eth_chain(),
            "LINK/USD",
            settings(&[("feed.LINK/USD", addr)]),
        )
        .unwrap();
        assert_eq!(
            (link.heartbeat_s, link.source),
            (DEFAULT_HEARTBEAT_S, Source::Settings)
        );
    }

    #[test]
    fn bad_settings_are_refused_naming_the_key() {
        for (key, value) in [
            ("feed.ETH/USD", "0x123"),
            ("feed.ETH/USD", "5f4eC3Df9cbd43714FE2740f5E3616155c5b8419"),
            ("heartbeat.ETH/USD", "1h"),
            ("max_age.ETH/USD", "-5"),
            ("heartbeat_margin_s", ""),
        ] {
            match resolve_with(eth_chain(), "ETH/USD", settings(&[(key, value)])) {
                Err(VenueError::Unsupported(m)) => assert!(m.contains(key), "{key}: {m}"),
                other => panic!("{key}={value}: expected unsupported, got {other:?}"),
            }
        }
    }

    #[test]
    fn pairs_are_canonicalised_or_refused() {
        assert_eq!(canonical_pair(" eth/usd ", "pair").unwrap(), "ETH/USD");
        for bad in [
            "",
            "ETHUSD",
            "ETH/",
            "/USD",
            "ETH/USD/X",
            "ETH-USD",
            "ETH /USD",
        ] {
            match canonical_pair(bad, "pairs[1]") {
                Err(VenueError::InvalidParams(m)) => assert!(m.starts_with("pairs[1]:"), "{m}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}
