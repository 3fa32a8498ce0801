//! EIP-712 typed-data hashing: what an Ethereum key signs for an off-chain
//! order (Polymarket CLOB) or a login message.
//!
//! The digest a wallet signs is
//! `keccak256(0x19 0x01 || domainSeparator || hashStruct(message))`, where
//! `hashStruct(s) = keccak256(typeHash || encodeData(s))` and every field of
//! `encodeData` is one 32-byte word:
//!
//! | field type                       | word                                      |
//! |----------------------------------|-------------------------------------------|
//! | `uint*`, `int*`, `address`, `bool`, `bytes32` | the ABI word ([`crate::abi`] `encode_*`) |
//! | `string`                         | [`string_field`]: keccak-256 of the UTF-8 bytes |
//! | `bytes`                          | [`bytes_field`]: keccak-256 of the bytes  |
//! | nested struct                    | its own [`hash_struct`]                   |
//!
//! Arrays and nested struct type strings are left to the plugin (none of our
//! venues sign them). Sign the digest with
//! [`host::sign_secp256k1`](crate::host::sign_secp256k1); the key never
//! leaves the host.

use crate::abi::{Word, encode_address, encode_uint};
use crate::error::FormatError;
use crate::hash::keccak256;

/// The domain type with a verifying contract (Polymarket orders).
///
/// ```
/// use resilience_guest::eip712::{DOMAIN_TYPE, type_hash};
/// assert_eq!(type_hash(DOMAIN_TYPE)[..4], [0x8b, 0x73, 0xc3, 0xc6]);
/// ```
pub const DOMAIN_TYPE: &str =
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";
/// The domain type without one (Polymarket's `ClobAuthDomain` login).
///
/// ```
/// use resilience_guest::eip712::{DOMAIN_TYPE, DOMAIN_TYPE_WITHOUT_CONTRACT};
/// assert!(DOMAIN_TYPE.starts_with(DOMAIN_TYPE_WITHOUT_CONTRACT.trim_end_matches(')')));
/// ```
pub const DOMAIN_TYPE_WITHOUT_CONTRACT: &str =
    "EIP712Domain(string name,string version,uint256 chainId)";

/// `typeHash`: keccak-256 of the encoded type string, e.g.
/// `Order(uint256 salt,address maker,…)`.
///
/// ```
/// use resilience_guest::{eip712::type_hash, encoding::hex_encode};
/// let t = type_hash("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)");
/// assert_eq!(hex_encode(t), "8b73c3c69bb8fe3d512ecc4cf759cc79239f7b179b0ffacaa9a75d522b39400f");
/// ```
pub fn type_hash(encoded_type: &str) -> Word {
    keccak256(encoded_type.as_bytes())
}

/// `hashStruct`: keccak-256 of the type hash followed by the field words, in
/// the order of the type string.
///
/// ```
/// use resilience_guest::{abi, eip712};
/// let t = eip712::type_hash("Mail(string contents,uint256 n)");
/// let h = eip712::hash_struct(&t, &[eip712::string_field("hi"), abi::encode_uint(1)]);
/// assert_ne!(h, eip712::hash_struct(&t, &[eip712::string_field("hi"), abi::encode_uint(2)]));
/// ```
pub fn hash_struct(type_hash: &Word, fields: &[Word]) -> Word {
    let mut data = Vec::with_capacity(32 * (fields.len() + 1));
    data.extend_from_slice(type_hash);
    for f in fields {
        data.extend_from_slice(f);
    }
    keccak256(data)
}

/// The word of a `string` field: keccak-256 of its UTF-8 bytes.
///
/// ```
/// use resilience_guest::{eip712::string_field, hash::keccak256};
/// assert_eq!(string_field("1"), keccak256(b"1"));
/// ```
pub fn string_field(value: &str) -> Word {
    keccak256(value.as_bytes())
}

/// The word of a dynamic `bytes` field: keccak-256 of the bytes.
///
/// ```
/// use resilience_guest::{eip712::bytes_field, hash::keccak256};
/// assert_eq!(bytes_field(&[1, 2]), keccak256([1, 2]));
/// ```
pub fn bytes_field(value: &[u8]) -> Word {
    keccak256(value)
}

/// The domain separator: `hashStruct(EIP712Domain{name, version, chainId,
/// verifyingContract})`, with [`DOMAIN_TYPE`] when a contract is given and
/// [`DOMAIN_TYPE_WITHOUT_CONTRACT`] when not.
///
/// ```
/// use resilience_guest::{eip712::domain_separator, encoding::hex_encode};
/// // Polymarket CTF Exchange V2 on Amoy (docs/venues/vectors/polymarket_order_v2_eip712.json).
/// let d = domain_separator("Polymarket CTF Exchange", "2", 80002,
///     Some("0xE111180000d2663C0091e4f400237545B87B996B")).unwrap();
/// assert_eq!(hex_encode(d), "a440cbd865bc0c6243d7a8df9a8bf48a8827b0a4abbb61c30e96d305423af148");
/// ```
pub fn domain_separator(
    name: &str,
    version: &str,
    chain_id: u64,
    verifying_contract: Option<&str>,
) -> Result<Word, FormatError> {
    let mut fields = vec![
        string_field(name),
        string_field(version),
        encode_uint(u128::from(chain_id)),
    ];
    let ty = match verifying_contract {
        Some(contract) => {
            fields.push(encode_address(contract)?);
            DOMAIN_TYPE
        }
        None => DOMAIN_TYPE_WITHOUT_CONTRACT,
    };
    Ok(hash_struct(&type_hash(ty), &fields))
}

/// The digest to sign: `keccak256(0x1901 || domain_separator || struct_hash)`.
///
/// ```
/// use resilience_guest::{eip712::digest, hash::keccak256};
/// let mut pre = vec![0x19, 0x01];
/// pre.extend_from_slice(&[1u8; 32]);
/// pre.extend_from_slice(&[2u8; 32]);
/// assert_eq!(digest(&[1u8; 32], &[2u8; 32]), keccak256(pre));
/// ```
pub fn digest(domain_separator: &Word, struct_hash: &Word) -> Word {
    let mut data = Vec::with_capacity(66);
    data.extend_from_slice(&[0x19, 0x01]);
    data.extend_from_slice(domain_separator);
    data.extend_from_slice(struct_hash);
    keccak256(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::{encode_bytes32, encode_uint_decimal};
    use crate::encoding::hex_encode;

    /// docs/venues/vectors/polymarket_order_v2_eip712.json
    const ORDER_V2: &str = "Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,bytes32 builder)";
    const EXCHANGE_V2: &str = "0xE111180000d2663C0091e4f400237545B87B996B";
    const MAKER: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

    fn eoa_order_hash() -> Word {
        let zero = format!("0x{}", "00".repeat(32));
        let fields = [
            encode_uint_decimal("479249096354").unwrap(),
            encode_address(MAKER).unwrap(),
            encode_address(MAKER).unwrap(),
            encode_uint_decimal("1234").unwrap(),
            encode_uint_decimal("100000000").unwrap(),
            encode_uint_decimal("50000000").unwrap(),
            encode_uint(0),
            encode_uint(0),
            encode_uint_decimal("1710000000000").unwrap(),
            encode_bytes32(&zero).unwrap(),
            encode_bytes32(&zero).unwrap(),
        ];
        hash_struct(&type_hash(ORDER_V2), &fields)
    }

    #[test]
    fn polymarket_v2_order_type_hash_matches_vector() {
        assert_eq!(
            hex_encode(type_hash(ORDER_V2)),
            "bb86318a2138f5fa8ae32fbe8e659f8fcf13cc6ae4014a707893055433818589"
        );
    }

    #[test]
    fn polymarket_v2_domain_separator_matches_vector() {
        let d = domain_separator("Polymarket CTF Exchange", "2", 80002, Some(EXCHANGE_V2)).unwrap();
        assert_eq!(
            hex_encode(d),
            "a440cbd865bc0c6243d7a8df9a8bf48a8827b0a4abbb61c30e96d305423af148"
        );
    }

    #[test]
    fn polymarket_v2_eoa_order_hash_and_digest_match_vector() {
        let h = eoa_order_hash();
        assert_eq!(
            hex_encode(h),
            "f6bf4212bfca4d6679afc2c54a54d814a91a6c7905de5ed193fe44f329c239f0"
        );
        let d = domain_separator("Polymarket CTF Exchange", "2", 80002, Some(EXCHANGE_V2)).unwrap();
        assert_eq!(
            hex_encode(digest(&d, &h)),
            "962c97b18bea292cc94b9479272aa74fb59a905e84a621a40eb339131e9fb6ba"
        );
    }

    #[test]
    fn domain_without_contract_uses_the_short_type() {
        let with = domain_separator("ClobAuthDomain", "1", 137, None).unwrap();
        let expected = hash_struct(
            &type_hash(DOMAIN_TYPE_WITHOUT_CONTRACT),
            &[
                string_field("ClobAuthDomain"),
                string_field("1"),
                encode_uint(137),
            ],
        );
        assert_eq!(with, expected);
        assert!(domain_separator("x", "1", 1, Some("0x12")).is_err());
    }
}
