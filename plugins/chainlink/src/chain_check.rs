//! `eth_chainId` checked against the venue's configured chain.
//!
//! A provider URL for the wrong network (an Arbitrum URL in an Ethereum
//! venue) answers every feed read with empty data, which reads as "no
//! contract at this address". Asking the provider's chain first turns that
//! into an error that names both chains.
//!
//! The WIT contract gives a plugin no way to choose or even learn which of the
//! venue's endpoints answered, so "once per endpoint" is approximated per
//! instance (the host keeps instances per venue):
//!
//! | state            | next call |
//! |------------------|-----------|
//! | `Unchecked`      | sends `eth_chainId` with its reads (same `send-all`) |
//! | `Verified`       | sends no `eth_chainId` |
//!
//! `Verified` goes back to `Unchecked` whenever a feed read comes back empty
//! (`0x`), the symptom a wrong-chain provider shows after a failover, so the
//! next call asks again; a wrong chain id is never cached.

use resilience_guest::VenueError;
use serde_json::Value;

use crate::chains::{CHAIN_SETTING, Chain};
use crate::rpc;

/// `code` of the error when a provider serves another chain.
pub const WRONG_CHAIN_CODE: &str = "wrong_chain";

/// Whether this instance has seen its provider on the configured chain.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum ChainCheck {
    #[default]
    Unchecked,
    Verified,
}

/// Check the `eth_chainId` result against `chain`.
pub fn verify(result: &Value, chain: &Chain) -> Result<(), VenueError> {
    let decimal = rpc::quantity_to_decimal(result, "eth_chainId")?;
    let id: u64 = decimal
        .parse()
        .map_err(|_| VenueError::parse(format!("eth_chainId: {decimal} is not a chain id")))?;
    if id != chain.id {
        return Err(VenueError::upstream(
            200,
            Some(WRONG_CHAIN_CODE.to_string()),
            format!(
                "the provider serves chain id {id}, but this venue is configured for {} \
                 (chain id {}, venue setting `{CHAIN_SETTING}`): check the venue's endpoints",
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
                verify(&json!(hex), from_setting(Some(name)).unwrap()).is_ok(),
                "{name}"
            );
        }
    }

    #[test]
    fn another_chain_is_upstream_wrong_chain_naming_both() {
        match verify(&json!("0xa4b1"), from_setting(None).unwrap()) {
            Err(VenueError::Upstream(u)) => {
                assert_eq!(u.code.as_deref(), Some(WRONG_CHAIN_CODE));
                assert!(
                    u.message.contains("42161") && u.message.contains("ethereum"),
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
                    verify(&bad, from_setting(None).unwrap()),
                    Err(VenueError::Parse(_))
                ),
                "{bad}"
            );
        }
    }
}
