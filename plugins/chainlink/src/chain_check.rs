//! `eth_chainId` checked against the venue's configured chain, once per
//! endpoint.
//!
//! A provider URL for the wrong network (an Arbitrum URL in an Ethereum
//! venue) answers every feed read with empty data, which reads as "no
//! contract at this address". Asking each provider's chain first turns that
//! into an error that names the endpoint and both chains.
//!
//! The question is pinned to each endpoint (the `endpoints` import), in the
//! same `send-all-to` as the call's reads, so it costs no round trip:
//!
//! | endpoint state | next call |
//! |----------------|-----------|
//! | unchecked      | asks it `eth_chainId` |
//! | verified       | asks nothing |
//! | unreachable (the question failed in transport) | asks again once [`RETRY_UNREACHABLE_S`] have passed, so a dead endpoint does not slow every call; while no endpoint is verified, at every call |
//!
//! A wrong chain id fails the call (naming the endpoint) and is never
//! cached. No price is returned before at least one endpoint has answered
//! the right chain: while none has, a check that failed in transport fails
//! the call. Every endpoint goes back to unchecked whenever a feed read comes
//! back empty (`0x`), the symptom a wrong-chain provider shows.

use resilience_guest::VenueError;
use serde_json::Value;

use crate::chains::{CHAIN_SETTING, Chain};
use crate::rpc;

/// `code` of the error when a provider serves another chain.
pub const WRONG_CHAIN_CODE: &str = "wrong_chain";

/// Seconds before an endpoint whose check failed in transport is asked again.
pub const RETRY_UNREACHABLE_S: u64 = 60;

/// One endpoint's check.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum State {
    #[default]
    Unchecked,
    Verified,
    Unreachable {
        until_s: u64,
    },
}

/// The chain check of each of the venue's endpoints, by index.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ChainCheck {
    states: Vec<State>,
}

impl ChainCheck {
    /// The endpoints (of `count`) to ask `eth_chainId` at `now_s`. While
    /// none is verified an unreachable one is asked at every call: a price
    /// may only follow a check that some endpoint passed.
    pub fn due(&mut self, count: u32, now_s: u64) -> Vec<u32> {
        self.states
            .resize(usize::try_from(count).unwrap_or(0), State::Unchecked);
        let none_verified = !self.any_verified();
        (0..count)
            .filter(|&i| match self.states[i as usize] {
                State::Unchecked => true,
                State::Verified => false,
                State::Unreachable { until_s } => none_verified || now_s >= until_s,
            })
            .collect()
    }

    /// Endpoint `i` answered the configured chain.
    pub fn verified(&mut self, i: u32) {
        self.set(i, State::Verified);
    }

    /// Endpoint `i` could not be asked; ask again after [`RETRY_UNREACHABLE_S`].
    pub fn unreachable(&mut self, i: u32, now_s: u64) {
        self.set(
            i,
            State::Unreachable {
                until_s: now_s.saturating_add(RETRY_UNREACHABLE_S),
            },
        );
    }

    /// Ask every endpoint again (a feed read answered no data).
    pub fn reset(&mut self) {
        self.states.clear();
    }

    /// Whether every endpoint is verified.
    pub fn all_verified(&self) -> bool {
        !self.states.is_empty() && self.states.iter().all(|s| *s == State::Verified)
    }

    /// Whether some endpoint is verified.
    pub fn any_verified(&self) -> bool {
        self.states.contains(&State::Verified)
    }

    fn set(&mut self, i: u32, state: State) {
        if let Some(s) = self.states.get_mut(i as usize) {
            *s = state;
        }
    }
}

/// Check endpoint `endpoint`'s `eth_chainId` result against `chain`.
pub fn verify(endpoint: u32, result: &Value, chain: &Chain) -> Result<(), VenueError> {
    let decimal = rpc::quantity_to_decimal(result, "eth_chainId")?;
    let id: u64 = decimal
        .parse()
        .map_err(|_| VenueError::parse(format!("eth_chainId: {decimal} is not a chain id")))?;
    if id != chain.id {
        return Err(VenueError::upstream(
            200,
            Some(WRONG_CHAIN_CODE.to_string()),
            format!(
                "endpoint {endpoint} (numbered from 0 in the venue's `endpoints`) serves chain id \
                 {id}, but this venue is configured for {} (chain id {}, venue setting \
                 `{CHAIN_SETTING}`): check the venue's endpoints",
                chain.name, chain.id
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chains::from_setting;
    use serde_json::json;

    #[test]
    fn matching_chain_ids_pass() {
        // EIP-695 answers: "0x1" (Ethereum), "0xa4b1" (Arbitrum One 42161),
        // "0xa" (OP Mainnet), "0x2105" (Base 8453).
        for (name, hex) in [
            ("ethereum", "0x1"),
            ("arbitrum", "0xa4b1"),
            ("optimism", "0xa"),
            ("base", "0x2105"),
        ] {
            assert!(
                verify(0, &json!(hex), from_setting(Some(name)).unwrap()).is_ok(),
                "{name}"
            );
        }
    }

    #[test]
    fn another_chain_is_upstream_wrong_chain_naming_both() {
        match verify(1, &json!("0xa4b1"), from_setting(None).unwrap()) {
            Err(VenueError::Upstream(u)) => {
                assert_eq!(u.code.as_deref(), Some(WRONG_CHAIN_CODE));
                assert!(
                    u.message.contains("42161")
                        && u.message.contains("ethereum")
                        && u.message.contains("endpoint 1 "),
                    "{}",
                    u.message
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn malformed_chain_id_is_parse() {
        for bad in [json!(1), json!("1"), json!("0x")] {
            assert!(
                matches!(
                    verify(0, &bad, from_setting(None).unwrap()),
                    Err(VenueError::Parse(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn while_no_endpoint_is_verified_an_unreachable_one_is_asked_at_every_call() {
        let mut check = ChainCheck::default();
        assert_eq!(check.due(2, 1_000), [0, 1]);
        check.unreachable(0, 1_000);
        check.unreachable(1, 1_000);
        assert_eq!(
            check.due(2, 1_001),
            [0, 1],
            "no endpoint has shown the right chain: no price without asking"
        );
        check.verified(1);
        assert!(
            check.due(2, 1_001).is_empty(),
            "once one is verified, the dead one waits its minute"
        );
    }

    #[test]
    fn each_endpoint_is_asked_until_verified_and_a_dead_one_once_a_minute() {
        let mut check = ChainCheck::default();
        assert_eq!(check.due(3, 1_000), [0, 1, 2]);
        check.verified(0);
        check.unreachable(2, 1_000);
        assert_eq!(check.due(3, 1_000), [1]);
        assert_eq!(check.due(3, 1_000 + RETRY_UNREACHABLE_S - 1), [1]);
        assert_eq!(check.due(3, 1_000 + RETRY_UNREACHABLE_S), [1, 2]);
        assert!(check.any_verified() && !check.all_verified());
        check.verified(1);
        check.verified(2);
        assert!(check.all_verified());
        assert!(check.due(3, 5_000).is_empty());
        check.reset();
        assert_eq!(check.due(3, 5_000), [0, 1, 2]);
    }
}
