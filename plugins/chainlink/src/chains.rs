//! The chains this plugin knows: chain ids, built-in feed address books and
//! the L2 sequencer uptime feeds, in one place.
//!
//! The venue setting `chain` says which chain the venue's endpoints serve
//! (default `ethereum`). It picks the address book, the chain id every
//! provider must report (`eth_chainId`, see [`crate::chain_check`]) and, on an
//! L2, the sequencer uptime feed checked before any price is returned (see
//! [`crate::sequencer`]).
//!
//! | `chain`    | chain id | sequencer uptime feed                        |
//! |------------|----------|----------------------------------------------|
//! | `ethereum` | 1        | none (L1)                                    |
//! | `arbitrum` | 42161    | `0xFdB631F5EE196F0ed6FAa767959853A9F217697D` |
//! | `optimism` | 10       | `0x371EAD81c9102C9BF4874A9075FFFf170F2Ee389` |
//! | `base`     | 8453     | `0xBCF85224fc0756B9Fa45aA7892530B47e10b6433` |
//!
//! Sources (docs/venues/chainlink.md): sequencer feeds from Chainlink's "L2
//! Sequencer Uptime Feeds" page, <https://docs.chain.link/data-feeds/l2-sequencer-feeds>;
//! Ethereum proxies as before; the L2 proxies are the ones Chainlink lists at
//! <https://docs.chain.link/data-feeds/price-feeds/addresses>, cross-checked in
//! several independent public repositories (the page itself could not be
//! fetched here). L2 heartbeats are not confirmed from an official page, so
//! the L2 books use one day, the longest heartbeat Chainlink uses for these
//! feeds: tighten it with `heartbeat.PAIR` where the deployment knows better.

use resilience_guest::VenueError;

/// Venue setting naming the chain.
pub const CHAIN_SETTING: &str = "chain";
/// Chain of a venue without the setting.
pub const DEFAULT_CHAIN: &str = "ethereum";

/// A built-in feed of a chain's address book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Builtin {
    pub pair: &'static str,
    /// Proxy address; `None` for a placeholder that must be configured.
    pub address: Option<&'static str>,
    pub heartbeat_s: u64,
}

/// A chain the plugin knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chain {
    /// The value of the `chain` setting.
    pub name: &'static str,
    /// What `eth_chainId` must answer.
    pub id: u64,
    /// The sequencer uptime feed proxy; `None` on L1.
    pub sequencer_feed: Option<&'static str>,
    pub feeds: &'static [Builtin],
}

/// Heartbeat of a feed added through settings, and of placeholders.
pub const DEFAULT_HEARTBEAT_S: u64 = 3600;
/// Heartbeat assumed for the L2 books (see the module docs).
pub const L2_HEARTBEAT_S: u64 = 86_400;

const fn feed(pair: &'static str, address: &'static str, heartbeat_s: u64) -> Builtin {
    Builtin {
        pair,
        address: Some(address),
        heartbeat_s,
    }
}

/// Ethereum mainnet (docs/venues/chainlink.md, "Mainnet proxy addresses").
const ETHEREUM: &[Builtin] = &[
    feed(
        "ETH/USD",
        "0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419",
        3600,
    ),
    feed(
        "BTC/USD",
        "0xF4030086522a5bEEa4988F8cA5B36dbC97BeE88c",
        3600,
    ),
    feed(
        "USDC/USD",
        "0x8fFfFfd4AfB6115b954Bd326cbe7B4BA576818f6",
        86_400,
    ),
    // Heartbeat not confirmed from an official page (docs/venues/chainlink.md).
    feed(
        "USDT/USD",
        "0x3E7d1eAB13ad0104d2750B8863b489D65364e32D",
        86_400,
    ),
    // No Ethereum mainnet proxy is known: configure `feed.TON/USD`.
    Builtin {
        pair: "TON/USD",
        address: None,
        heartbeat_s: DEFAULT_HEARTBEAT_S,
    },
];

/// Arbitrum One.
const ARBITRUM: &[Builtin] = &[
    feed(
        "ETH/USD",
        "0x639Fe6ab55C921f74e7fac1ee960C0B6293ba612",
        L2_HEARTBEAT_S,
    ),
    feed(
        "BTC/USD",
        "0x6ce185860a4963106506C203335A2910413708e9",
        L2_HEARTBEAT_S,
    ),
    feed(
        "USDC/USD",
        "0x50834F3163758fcC1Df9973b6e91f0F0F0434aD3",
        L2_HEARTBEAT_S,
    ),
    feed(
        "USDT/USD",
        "0x3f3f5dF88dC9F13eac63DF89EC16ef6e7E25DdE7",
        L2_HEARTBEAT_S,
    ),
];

/// OP Mainnet.
const OPTIMISM: &[Builtin] = &[
    feed(
        "ETH/USD",
        "0x13e3Ee699D1909E989722E753853AE30b17e08c5",
        L2_HEARTBEAT_S,
    ),
    feed(
        "BTC/USD",
        "0xD702DD976Fb76Fffc2D3963D037dfDae5b04E593",
        L2_HEARTBEAT_S,
    ),
    feed(
        "USDC/USD",
        "0x16a9FA2FDa030272Ce99B29CF780dFA30361E0f3",
        L2_HEARTBEAT_S,
    ),
    feed(
        "USDT/USD",
        "0xECef79E109e997bCA29c1c0897ec9d7b03647F5E",
        L2_HEARTBEAT_S,
    ),
];

/// Base mainnet.
const BASE: &[Builtin] = &[
    feed(
        "ETH/USD",
        "0x71041dddad3595F9CEd3DcCFBe3D1F4b0a16Bb70",
        L2_HEARTBEAT_S,
    ),
    feed(
        "BTC/USD",
        "0x64c911996D3c6aC71f9b455B1E8E7266BcbD848F",
        L2_HEARTBEAT_S,
    ),
    feed(
        "USDC/USD",
        "0x7e860098F58bBFC8648a4311b374B1D669a2bc6B",
        L2_HEARTBEAT_S,
    ),
];

/// Every chain, in the order of the module table.
pub const CHAINS: &[Chain] = &[
    Chain {
        name: "ethereum",
        id: 1,
        sequencer_feed: None,
        feeds: ETHEREUM,
    },
    Chain {
        name: "arbitrum",
        id: 42_161,
        sequencer_feed: Some("0xFdB631F5EE196F0ed6FAa767959853A9F217697D"),
        feeds: ARBITRUM,
    },
    Chain {
        name: "optimism",
        id: 10,
        sequencer_feed: Some("0x371EAD81c9102C9BF4874A9075FFFf170F2Ee389"),
        feeds: OPTIMISM,
    },
    Chain {
        name: "base",
        id: 8453,
        sequencer_feed: Some("0xBCF85224fc0756B9Fa45aA7892530B47e10b6433"),
        feeds: BASE,
    },
];

/// The chain named by the setting value `configured` (trimmed, any case;
/// `None` is the default). An unknown name is `unsupported`, naming the
/// setting and the known chains, so a typo never reads another chain's book.
pub fn from_setting(configured: Option<&str>) -> Result<&'static Chain, VenueError> {
    let name = configured
        .map(|c| c.trim().to_ascii_lowercase())
        .unwrap_or_else(|| DEFAULT_CHAIN.to_string());
    CHAINS.iter().find(|c| c.name == name).ok_or_else(|| {
        let known: Vec<&str> = CHAINS.iter().map(|c| c.name).collect();
        VenueError::Unsupported(format!(
            "venue setting `{CHAIN_SETTING}` = {name:?} is not a known chain: use one of {}",
            known.join(", ")
        ))
    })
}

/// The venue's chain, from `host.config`.
pub fn configured() -> Result<&'static Chain, VenueError> {
    from_setting(resilience_guest::host::config(CHAIN_SETTING).as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feeds::check_address;

    #[test]
    fn every_book_address_is_well_formed_and_pairs_are_unique_per_chain() {
        for chain in CHAINS {
            for (i, f) in chain.feeds.iter().enumerate() {
                if let Some(a) = f.address {
                    assert!(check_address(a).is_ok(), "{} {}", chain.name, f.pair);
                }
                assert!(
                    chain.feeds[..i].iter().all(|g| g.pair != f.pair),
                    "{} lists {} twice",
                    chain.name,
                    f.pair
                );
            }
            if let Some(s) = chain.sequencer_feed {
                assert!(check_address(s).is_ok(), "{}", chain.name);
            }
        }
    }

    #[test]
    fn l2_chains_have_sequencer_feeds_from_the_chainlink_page() {
        // https://docs.chain.link/data-feeds/l2-sequencer-feeds, "Available networks".
        let seq = |n: &str| from_setting(Some(n)).unwrap().sequencer_feed;
        assert_eq!(
            seq("arbitrum"),
            Some("0xFdB631F5EE196F0ed6FAa767959853A9F217697D")
        );
        assert_eq!(
            seq("optimism"),
            Some("0x371EAD81c9102C9BF4874A9075FFFf170F2Ee389")
        );
        assert_eq!(
            seq("Base"),
            Some("0xBCF85224fc0756B9Fa45aA7892530B47e10b6433")
        );
        assert_eq!(seq("ethereum"), None);
    }

    #[test]
    fn chain_ids_and_default() {
        assert_eq!(from_setting(None).unwrap().id, 1);
        let ids: Vec<(&str, u64)> = CHAINS.iter().map(|c| (c.name, c.id)).collect();
        assert_eq!(
            ids,
            [
                ("ethereum", 1),
                ("arbitrum", 42_161),
                ("optimism", 10),
                ("base", 8453)
            ]
        );
    }

    #[test]
    fn unknown_chain_is_unsupported_naming_the_setting() {
        match from_setting(Some("polygon")) {
            Err(VenueError::Unsupported(m)) => {
                assert!(m.contains("`chain`") && m.contains("arbitrum"), "{m}")
            }
            other => panic!("expected unsupported, got {other:?}"),
        }
    }
}
