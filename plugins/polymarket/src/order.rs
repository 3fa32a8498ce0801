//! Orders: amounts in 6-decimal fixed point, the EIP-712 struct of each
//! exchange version, its digest, the host's signature, and the JSON body of
//! POST `/order` (docs/venues/polymarket.md "Order signature", "Endpoints").
//!
//! | field         | V1 signed | V2 signed | JSON (both)                   |
//! |---------------|-----------|-----------|-------------------------------|
//! | salt          | yes       | yes       | number                        |
//! | maker, signer | yes       | yes       | address text                  |
//! | taker         | yes (0x0) | -         | V1 only                       |
//! | tokenId, makerAmount, takerAmount | yes | yes | decimal text          |
//! | expiration    | yes       | **no**    | decimal text (unix seconds)   |
//! | nonce, feeRateBps | yes   | -         | V1 only                       |
//! | side          | uint8 0/1 | uint8 0/1 | `"BUY"`/`"SELL"`              |
//! | signatureType | yes       | yes       | number                        |
//! | timestamp (ms), metadata, builder | - | yes | V2 only                 |
//!
//! The amounts come from [`crate::amounts`], as the official client
//! computes them, in integers.

use resilience_guest::abi::{
    Word, encode_address, encode_bytes32, encode_uint, encode_uint_decimal,
};
use resilience_guest::decimal::to_fixed_units;
use resilience_guest::eip712::{digest, domain_separator, hash_struct, type_hash};
use resilience_guest::encoding::hex_encode;
use resilience_guest::prelude::*;
use serde::Serialize;

use crate::api;
use crate::settings::OrderSettings;

/// Order side; `0` and `1` in the signed struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "BUY",
            Side::Sell => "SELL",
        }
    }

    fn as_u8(self) -> u8 {
        match self {
            Side::Buy => 0,
            Side::Sell => 1,
        }
    }
}

/// A decimal string as 6-decimal units; `field` names it in errors.
pub fn units(field: &str, decimal: &str) -> Result<u128, VenueError> {
    let text = to_fixed_units(decimal, api::DECIMALS).map_err(|e| e.invalid(field))?;
    if text.starts_with('-') {
        return Err(VenueError::invalid(format!(
            "{field}: must not be negative"
        )));
    }
    text.parse::<u128>()
        .map_err(|_| VenueError::invalid(format!("{field}: {decimal} is too large")))
}

/// An unsigned order, everything the struct hash and the JSON need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    pub version: u8,
    pub chain_id: u64,
    /// The verifying contract.
    pub exchange: String,
    pub salt: u64,
    pub maker: String,
    pub signer: String,
    pub token_id: String,
    pub maker_amount: String,
    pub taker_amount: String,
    pub side: Side,
    pub signature_type: u8,
    /// Unix seconds as text, `"0"` for none.
    pub expiration: String,
    /// V1 only.
    pub fee_rate_bps: String,
    /// V2 only: milliseconds.
    pub timestamp_ms: u64,
}

/// What the caller decided about one order; [`Order::new`] adds the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderTerms {
    pub token_id: String,
    pub side: Side,
    pub maker_amount: u128,
    pub taker_amount: u128,
    pub salt: u64,
    pub expiration: u64,
    pub fee_rate_bps: u32,
    pub timestamp_ms: u64,
    pub neg_risk: bool,
}

impl Order {
    pub fn new(s: &OrderSettings, t: &OrderTerms) -> Self {
        Self {
            version: s.version,
            chain_id: s.chain_id,
            exchange: if t.neg_risk {
                s.neg_risk_exchange.clone()
            } else {
                s.exchange.clone()
            },
            salt: t.salt,
            maker: s.maker.clone(),
            signer: s.signer.clone(),
            token_id: t.token_id.clone(),
            maker_amount: t.maker_amount.to_string(),
            taker_amount: t.taker_amount.to_string(),
            side: t.side,
            signature_type: s.signature_type,
            expiration: t.expiration.to_string(),
            fee_rate_bps: t.fee_rate_bps.to_string(),
            timestamp_ms: t.timestamp_ms,
        }
    }

    /// `hashStruct(order)` for this order's exchange version.
    pub fn struct_hash(&self) -> Result<Word, VenueError> {
        let addr = |field: &str, a: &str| encode_address(a).map_err(|e| e.invalid(field));
        let uint = |field: &str, d: &str| encode_uint_decimal(d).map_err(|e| e.invalid(field));
        let salt = encode_uint(u128::from(self.salt));
        let side = encode_uint(u128::from(self.side.as_u8()));
        let signature_type = encode_uint(u128::from(self.signature_type));
        let fields: Vec<Word> = match self.version {
            1 => vec![
                salt,
                addr("maker", &self.maker)?,
                addr("signer", &self.signer)?,
                addr("taker", api::ZERO_ADDRESS)?,
                uint("token_id", &self.token_id)?,
                uint("makerAmount", &self.maker_amount)?,
                uint("takerAmount", &self.taker_amount)?,
                uint("expiration", &self.expiration)?,
                encode_uint(0),
                uint("fee_rate_bps", &self.fee_rate_bps)?,
                side,
                signature_type,
            ],
            _ => {
                let zero = encode_bytes32(api::BYTES32_ZERO).map_err(|e| e.invalid("metadata"))?;
                vec![
                    salt,
                    addr("maker", &self.maker)?,
                    addr("signer", &self.signer)?,
                    uint("token_id", &self.token_id)?,
                    uint("makerAmount", &self.maker_amount)?,
                    uint("takerAmount", &self.taker_amount)?,
                    side,
                    signature_type,
                    encode_uint(u128::from(self.timestamp_ms)),
                    zero,
                    zero,
                ]
            }
        };
        let ty = if self.version == 1 {
            api::ORDER_TYPE_V1
        } else {
            api::ORDER_TYPE_V2
        };
        Ok(hash_struct(&type_hash(ty), &fields))
    }

    /// The EIP-712 digest the key signs; `0x` + hex of it is the order hash.
    pub fn digest(&self) -> Result<Word, VenueError> {
        let version = self.version.to_string();
        let domain = domain_separator(
            api::DOMAIN_NAME,
            &version,
            self.chain_id,
            Some(&self.exchange),
        )
        .map_err(|e| VenueError::Unsupported(format!("exchange contract: {e}")))?;
        Ok(digest(&domain, &self.struct_hash()?))
    }

    /// `0x` + hex of [`Order::digest`].
    pub fn hash_hex(&self) -> Result<String, VenueError> {
        Ok(format!("0x{}", hex_encode(self.digest()?)))
    }

    /// The host's signature of the digest with secret `private_key`:
    /// `0x` + hex of `r || s || v` (v = 27 or 28, as eth_account writes it).
    pub fn sign(&self) -> Result<String, VenueError> {
        let sig = host::sign_secp256k1(api::SECRET_PRIVATE_KEY, &self.digest()?)?;
        Ok(format!("0x{}", hex_encode(sig)))
    }

    /// The POST `/order` body, compact JSON with the keys in the clients'
    /// order (these exact bytes are signed by L2 and sent).
    pub fn body(&self, signature: &str, owner: &str, order_type: &str, post_only: bool) -> Vec<u8> {
        let side = self.side.as_str();
        let encoded = if self.version == 1 {
            serde_json::to_vec(&PostOrder {
                order: OrderV1Json {
                    salt: self.salt,
                    maker: &self.maker,
                    signer: &self.signer,
                    taker: api::ZERO_ADDRESS,
                    token_id: &self.token_id,
                    maker_amount: &self.maker_amount,
                    taker_amount: &self.taker_amount,
                    expiration: &self.expiration,
                    nonce: "0",
                    fee_rate_bps: &self.fee_rate_bps,
                    side,
                    signature_type: self.signature_type,
                    signature,
                },
                owner,
                order_type,
                defer_exec: None,
                post_only,
            })
        } else {
            serde_json::to_vec(&PostOrder {
                order: OrderV2Json {
                    salt: self.salt,
                    maker: &self.maker,
                    signer: &self.signer,
                    token_id: &self.token_id,
                    maker_amount: &self.maker_amount,
                    taker_amount: &self.taker_amount,
                    side,
                    expiration: &self.expiration,
                    signature_type: self.signature_type,
                    timestamp: self.timestamp_ms.to_string(),
                    metadata: api::BYTES32_ZERO,
                    builder: api::BYTES32_ZERO,
                    signature,
                },
                owner,
                order_type,
                defer_exec: Some(false),
                post_only,
            })
        };
        // Plain strings, numbers and booleans always serialise.
        encoded.unwrap_or_default()
    }
}

/// V1 `SignedOrder.dict()` order (docs/venues/vectors/polymarket_response_examples.json `post_order_request_v1`).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderV1Json<'a> {
    salt: u64,
    maker: &'a str,
    signer: &'a str,
    taker: &'a str,
    token_id: &'a str,
    maker_amount: &'a str,
    taker_amount: &'a str,
    expiration: &'a str,
    nonce: &'a str,
    fee_rate_bps: &'a str,
    side: &'a str,
    signature_type: u8,
    signature: &'a str,
}

/// py-clob-client-v2 `order_to_json_v2` order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OrderV2Json<'a> {
    salt: u64,
    maker: &'a str,
    signer: &'a str,
    token_id: &'a str,
    maker_amount: &'a str,
    taker_amount: &'a str,
    side: &'a str,
    expiration: &'a str,
    signature_type: u8,
    timestamp: String,
    metadata: &'a str,
    builder: &'a str,
    signature: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PostOrder<'a, O> {
    order: O,
    owner: &'a str,
    order_type: &'a str,
    /// V2 only.
    #[serde(skip_serializing_if = "Option::is_none")]
    defer_exec: Option<bool>,
    post_only: bool,
}

/// A fresh salt below 2^53: Keccak of the order's terms, the host time and
/// 64 random bits from WASI (`std`'s `RandomState` keys come from
/// `wasi:random`), so two identical orders placed in the same millisecond
/// still differ. The salt is generated once, in `prepare`, and journaled
/// with the params: a retried call signs the very same order.
pub fn new_salt(seed: &[u8], now_ms: u64) -> u64 {
    use std::hash::BuildHasher;
    let random = std::collections::hash_map::RandomState::new().hash_one(seed);
    let mut data = seed.to_vec();
    data.extend_from_slice(&now_ms.to_be_bytes());
    data.extend_from_slice(&random.to_be_bytes());
    let h = resilience_guest::hash::keccak256(data);
    let mut word = [0u8; 8];
    word.copy_from_slice(&h[..8]);
    u64::from_be_bytes(word) & api::MAX_SALT
}

/// The salt for a caller's `Idempotency-Key`: the first 8 bytes of its
/// keccak-256, within [`api::MAX_SALT`]. A pure function, so a retry with the
/// same key signs the same salt.
pub fn salt_from_key(key: &str) -> u64 {
    let h = resilience_guest::hash::keccak256(key.as_bytes());
    let mut word = [0u8; 8];
    word.copy_from_slice(&h[..8]);
    u64::from_be_bytes(word) & api::MAX_SALT
}

#[cfg(test)]
mod tests {
    use super::*;
    use resilience_guest::testing::MockHost;

    /// Hardhat account 0; the key of both vector files.
    const KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    const ADDR: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

    fn vector_order(version: u8, exchange: &str) -> Order {
        Order {
            version,
            chain_id: 80002,
            exchange: exchange.into(),
            salt: 479249096354,
            maker: ADDR.into(),
            signer: ADDR.into(),
            token_id: "1234".into(),
            maker_amount: "100000000".into(),
            taker_amount: "50000000".into(),
            side: Side::Buy,
            signature_type: 0,
            expiration: "0".into(),
            fee_rate_bps: "100".into(),
            timestamp_ms: 1710000000000,
        }
    }

    /// docs/venues/vectors/polymarket_order_v2_eip712.json, `eoa_constructed`.
    #[test]
    fn v2_order_digest_and_signature_match_the_vector() {
        let order = vector_order(2, "0xE111180000d2663C0091e4f400237545B87B996B");
        assert_eq!(
            hex_encode(order.struct_hash().unwrap()),
            "f6bf4212bfca4d6679afc2c54a54d814a91a6c7905de5ed193fe44f329c239f0"
        );
        assert_eq!(
            order.hash_hex().unwrap(),
            "0x962c97b18bea292cc94b9479272aa74fb59a905e84a621a40eb339131e9fb6ba"
        );
        let mock = MockHost::new().secret("private_key", format!("0x{KEY}"));
        assert_eq!(
            mock.run(|| order.sign()).unwrap(),
            "0x518472f1b081f6bd713d638bb11d1bf0720ed577e93c52eb00ec9f5f325f7d510c65cbfdfe9130de2602185f4a500863d777d8b838cb28abc75ecc1b5330315d1c"
        );
    }

    /// py-clob-client-v2 tests/order_utils/test_exchange_order_builder_v1.py
    /// (official; Amoy V1 exchange and neg-risk exchange, fee 100 bps).
    #[test]
    fn v1_order_hash_and_signature_match_the_official_client_tests() {
        let cases = [
            (
                "0xdFE02Eb6733538f8Ea35D585af8DE5958AD99E40",
                "0x02ca1d1aa31103804173ad1acd70066cb6c1258a4be6dada055111f9a7ea4e55",
                "0x302cd9abd0b5fcaa202a344437ec0b6660da984e24ae9ad915a592a90facf5a51bb8a873cd8d270f070217fea1986531d5eec66f1162a81f66e026db653bf7ce1c",
            ),
            (
                "0xC5d563A36AE78145C45a50134d48A1215220f80a",
                "0xf15790d3edc4b5aed427b0b543a9206fcf4b1a13dfed016d33bfb313076263b8",
                "0x1b3646ef347e5bd144c65bd3357ba19c12c12abaeedae733cf8579bc51a2752c0454c3bc6b236957e393637982c769b8dc0706c0f5c399983d933850afd1cbcd1c",
            ),
        ];
        let mock = MockHost::new().secret("private_key", KEY);
        for (exchange, hash, sig) in cases {
            let order = vector_order(1, exchange);
            assert_eq!(order.hash_hex().unwrap(), hash, "{exchange}");
            assert_eq!(mock.run(|| order.sign()).unwrap(), sig, "{exchange}");
        }
    }

    #[test]
    fn v1_body_has_the_client_key_order() {
        let order = vector_order(1, "0xdFE02Eb6733538f8Ea35D585af8DE5958AD99E40");
        let body = String::from_utf8(order.body("0xsig", "owner-key", "GTC", false)).unwrap();
        assert_eq!(
            body,
            format!(
                r#"{{"order":{{"salt":479249096354,"maker":"{ADDR}","signer":"{ADDR}","taker":"0x0000000000000000000000000000000000000000","tokenId":"1234","makerAmount":"100000000","takerAmount":"50000000","expiration":"0","nonce":"0","feeRateBps":"100","side":"BUY","signatureType":0,"signature":"0xsig"}},"owner":"owner-key","orderType":"GTC","postOnly":false}}"#
            )
        );
    }

    #[test]
    fn v2_body_has_the_client_key_order() {
        let order = vector_order(2, "0xE111180000d2663C0091e4f400237545B87B996B");
        let body = String::from_utf8(order.body("0xsig", "owner-key", "FOK", false)).unwrap();
        let zero = api::BYTES32_ZERO;
        assert_eq!(
            body,
            format!(
                r#"{{"order":{{"salt":479249096354,"maker":"{ADDR}","signer":"{ADDR}","tokenId":"1234","makerAmount":"100000000","takerAmount":"50000000","side":"BUY","expiration":"0","signatureType":0,"timestamp":"1710000000000","metadata":"{zero}","builder":"{zero}","signature":"0xsig"}},"owner":"owner-key","orderType":"FOK","deferExec":false,"postOnly":false}}"#
            )
        );
    }

    #[test]
    fn salts_fit_in_53_bits_and_differ_between_calls() {
        let a = new_salt(b"same", 1);
        let b = new_salt(b"same", 1);
        assert!(a <= api::MAX_SALT && b <= api::MAX_SALT);
        assert_ne!(a, b, "the random part makes identical orders differ");
    }

    #[test]
    fn bad_token_id_is_invalid_params() {
        let mut order = vector_order(2, "0xE111180000d2663C0091e4f400237545B87B996B");
        order.token_id = "0xabc".into();
        assert!(
            matches!(order.digest(), Err(VenueError::InvalidParams(m)) if m.starts_with("token_id"))
        );
    }
}
