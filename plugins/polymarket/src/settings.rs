//! The venue's settings, read from the host on every call (the host may
//! reload them at any time, so nothing is cached).
//!
//! | setting | default | used for |
//! |---|---|---|
//! | `address` | required for authenticated calls | `POLY_ADDRESS`, the order's `signer` |
//! | `owner` | required for orders | the order body's `owner` (the API key) |
//! | `chain_id` | 137 | EIP-712 domain |
//! | `exchange_version` | 2 | order struct and exchange contract |
//! | `funder` | `address` | the order's `maker` (proxy or Safe wallet) |
//! | `signature_type` | 0 | 0 EOA, 1 POLY_PROXY, 2 POLY_GNOSIS_SAFE |
//! | `exchange_address`, `neg_risk_exchange_address` | from [`api::CONTRACTS`] | other chains |
//!
//! A missing or malformed setting is `unsupported` naming the setting: the
//! caller's params are fine, the venue is not configured for the call.

use resilience_guest::abi::encode_address;
use resilience_guest::prelude::*;

use crate::api;

fn misconfigured(setting: &str, why: impl std::fmt::Display) -> VenueError {
    VenueError::Unsupported(format!("venue setting `{setting}` {why}"))
}

fn address_setting(setting: &str) -> Result<Option<String>, VenueError> {
    match host::config(setting) {
        None => Ok(None),
        Some(a) => {
            encode_address(&a).map_err(|e| misconfigured(setting, e))?;
            Ok(Some(a))
        }
    }
}

/// `address`: the signer's EOA, checked to be `0x` + 40 hex digits.
pub fn address() -> Result<String, VenueError> {
    address_setting(api::SETTING_ADDRESS)?.ok_or_else(|| {
        misconfigured(
            api::SETTING_ADDRESS,
            "(the signer's address, sent as POLY_ADDRESS) is required for authenticated calls",
        )
    })
}

/// `owner`: the API key as the order body names it.
pub fn owner() -> Result<String, VenueError> {
    match host::config(api::SETTING_OWNER) {
        Some(o) if !o.trim().is_empty() => Ok(o),
        _ => Err(misconfigured(
            api::SETTING_OWNER,
            "(the API key, sent as the order's `owner`) is required to place orders",
        )),
    }
}

/// `signature_type`: 0, 1 or 2. POLY_1271 (3) needs an ERC-7739 wrapper
/// this plugin does not build.
pub fn signature_type() -> Result<u8, VenueError> {
    match host::config(api::SETTING_SIGNATURE_TYPE).as_deref() {
        None => Ok(0),
        Some("0") => Ok(0),
        Some("1") => Ok(1),
        Some("2") => Ok(2),
        Some("3") => Err(misconfigured(
            api::SETTING_SIGNATURE_TYPE,
            "3 (POLY_1271) is not supported: it needs the ERC-7739 TypedDataSign wrapper",
        )),
        Some(other) => Err(misconfigured(
            api::SETTING_SIGNATURE_TYPE,
            format!("is {other:?}; expected 0 (EOA), 1 (POLY_PROXY) or 2 (POLY_GNOSIS_SAFE)"),
        )),
    }
}

/// `exchange_version`: 1 or 2, default [`api::DEFAULT_EXCHANGE_VERSION`].
pub fn configured_version() -> Result<u8, VenueError> {
    match host::config(api::SETTING_EXCHANGE_VERSION).as_deref() {
        None => Ok(api::DEFAULT_EXCHANGE_VERSION),
        Some("1") => Ok(1),
        Some("2") => Ok(2),
        Some(other) => Err(misconfigured(
            api::SETTING_EXCHANGE_VERSION,
            format!("is {other:?}; expected 1 or 2"),
        )),
    }
}

/// Everything an order needs from the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderSettings {
    /// `signer`: the EOA whose key signs.
    pub signer: String,
    /// `maker`: the wallet holding the funds.
    pub maker: String,
    pub chain_id: u64,
    pub version: u8,
    pub signature_type: u8,
    /// The verifying contract for plain markets.
    pub exchange: String,
    /// The verifying contract for neg-risk markets.
    pub neg_risk_exchange: String,
}

impl OrderSettings {
    /// Read and check every order setting.
    pub fn read() -> Result<Self, VenueError> {
        Self::read_for(None)
    }

    /// As [`OrderSettings::read`], for exchange `version` when given (the
    /// version the venue asked for after `order_version_mismatch`) instead
    /// of the `exchange_version` setting.
    pub fn read_for(version: Option<u8>) -> Result<Self, VenueError> {
        let signer = address()?;
        let maker = address_setting(api::SETTING_FUNDER)?.unwrap_or_else(|| signer.clone());
        let chain_id = match host::config(api::SETTING_CHAIN_ID) {
            None => api::DEFAULT_CHAIN_ID,
            Some(c) => c.parse::<u64>().map_err(|_| {
                misconfigured(api::SETTING_CHAIN_ID, format!("is {c:?}, not an integer"))
            })?,
        };
        let version = match version {
            Some(v) => v,
            None => configured_version()?,
        };
        let known = api::CONTRACTS
            .iter()
            .find(|(c, v, _, _)| *c == chain_id && *v == version);
        let pick = |setting: &str, default: Option<&str>| -> Result<String, VenueError> {
            match (address_setting(setting)?, default) {
                (Some(a), _) => Ok(a),
                (None, Some(d)) => Ok(d.to_string()),
                (None, None) => Err(misconfigured(
                    setting,
                    format!(
                        "is required: no known V{version} exchange contract on chain {chain_id}"
                    ),
                )),
            }
        };
        let exchange = pick(api::SETTING_EXCHANGE_ADDRESS, known.map(|k| k.2))?;
        let neg_risk_exchange = pick(api::SETTING_NEG_RISK_EXCHANGE_ADDRESS, known.map(|k| k.3))?;
        Ok(Self {
            signer,
            maker,
            chain_id,
            version,
            signature_type: signature_type()?,
            exchange,
            neg_risk_exchange,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use resilience_guest::testing::MockHost;

    const SIGNER: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

    #[test]
    fn defaults_are_polygon_v2_eoa_with_the_signer_as_maker() {
        let mock = MockHost::new().setting("address", SIGNER);
        let s = mock.run(OrderSettings::read).unwrap();
        assert_eq!(
            s,
            OrderSettings {
                signer: SIGNER.into(),
                maker: SIGNER.into(),
                chain_id: 137,
                version: 2,
                signature_type: 0,
                exchange: "0xE111180000d2663C0091e4f400237545B87B996B".into(),
                neg_risk_exchange: "0xe2222d279d744050d28e00520010520000310F59".into(),
            }
        );
    }

    #[test]
    fn v1_on_polygon_uses_the_v1_contracts_and_funder_is_the_maker() {
        let funder = "0x1111111111111111111111111111111111111111";
        let mock = MockHost::new()
            .setting("address", SIGNER)
            .setting("exchange_version", "1")
            .setting("funder", funder)
            .setting("signature_type", "2");
        let s = mock.run(OrderSettings::read).unwrap();
        assert_eq!(s.exchange, "0x4bFb41d5B3570DeFd03C39a9A4D8dE6Bd8B8982E");
        assert_eq!(
            s.neg_risk_exchange,
            "0xC5d563A36AE78145C45a50134d48A1215220f80a"
        );
        assert_eq!((s.maker.as_str(), s.signer.as_str()), (funder, SIGNER));
        assert_eq!(s.signature_type, 2);
    }

    #[test]
    fn bad_or_missing_settings_are_unsupported_naming_the_setting() {
        let cases: [(&[(&str, &str)], &str); 7] = [
            (&[], "address"),
            (&[("address", "0x12")], "address"),
            (&[("address", SIGNER), ("chain_id", "polygon")], "chain_id"),
            (
                &[("address", SIGNER), ("exchange_version", "3")],
                "exchange_version",
            ),
            (&[("address", SIGNER), ("signature_type", "3")], "POLY_1271"),
            (
                &[("address", SIGNER), ("chain_id", "1")],
                "exchange_address",
            ),
            (&[("address", SIGNER), ("funder", "nope")], "funder"),
        ];
        for (settings, expected) in cases {
            let mut mock = MockHost::new();
            for (k, v) in settings {
                mock = mock.setting(k, v);
            }
            match mock.run(OrderSettings::read) {
                Err(VenueError::Unsupported(m)) => assert!(m.contains(expected), "{m}"),
                other => panic!("{settings:?}: expected unsupported, got {other:?}"),
            }
        }
        // An unknown chain works once both contracts are given.
        let mock = MockHost::new()
            .setting("address", SIGNER)
            .setting("chain_id", "1")
            .setting("exchange_address", SIGNER)
            .setting("neg_risk_exchange_address", SIGNER);
        assert_eq!(mock.run(OrderSettings::read).unwrap().chain_id, 1);
    }

    #[test]
    fn owner_is_required_and_not_blank() {
        assert!(MockHost::new().run(owner).is_err());
        assert!(MockHost::new().setting("owner", " ").run(owner).is_err());
        let mock = MockHost::new().setting("owner", "key-1");
        assert_eq!(mock.run(owner).unwrap(), "key-1");
    }
}
