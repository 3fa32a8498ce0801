//! Keccak-256, the hash of Ethereum (function selectors, EIP-712).
//!
//! This is the original Keccak padding that Ethereum uses, not the
//! standardised SHA3-256: `keccak256("")` is `c5d24601…`, SHA3-256 of the
//! same input is `a7ffc6f8…`.

use sha3::{Digest, Keccak256};

/// Keccak-256 of `data`.
///
/// ```
/// use resilience_guest::{encoding::hex_encode, hash::keccak256};
/// assert_eq!(
///     hex_encode(keccak256(b"")),
///     "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
/// );
/// ```
pub fn keccak256(data: impl AsRef<[u8]>) -> [u8; 32] {
    Keccak256::digest(data.as_ref()).into()
}

/// The 4-byte function selector of a Solidity signature: the first four
/// bytes of its Keccak-256. Write the canonical signature: no spaces, no
/// parameter names, `uint256` rather than `uint`.
///
/// ```
/// use resilience_guest::{encoding::hex_encode, hash::selector};
/// assert_eq!(hex_encode(selector("latestRoundData()")), "feaf968c");
/// ```
pub fn selector(signature: &str) -> [u8; 4] {
    let h = keccak256(signature.as_bytes());
    [h[0], h[1], h[2], h[3]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::hex_encode;

    #[test]
    fn keccak256_of_empty_input_is_the_ethereum_constant() {
        assert_eq!(
            hex_encode(keccak256(b"")),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
    }

    #[test]
    fn keccak256_known_vectors() {
        // keccak256("abc") as given by the Keccak team's test vectors.
        assert_eq!(
            hex_encode(keccak256(b"abc")),
            "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
        );
        // More than one 136-byte block.
        assert_eq!(keccak256([0u8; 200]), keccak256(vec![0u8; 200]));
        assert_ne!(keccak256([0u8; 200]), keccak256([0u8; 199]));
    }

    #[test]
    fn chainlink_selectors_match_the_vectors() {
        // docs/venues/vectors/chainlink_selectors.json
        let cases = [
            ("latestRoundData()", "feaf968c"),
            ("decimals()", "313ce567"),
            ("description()", "7284e416"),
            ("version()", "54fd4d50"),
            ("getRoundData(uint80)", "9a6fc8f5"),
            ("latestAnswer()", "50d25bcd"),
            ("latestTimestamp()", "8205bf6a"),
            ("latestRound()", "668a0f02"),
            ("aggregator()", "245a7bfc"),
            ("phaseId()", "58303b10"),
        ];
        for (signature, expected) in cases {
            assert_eq!(hex_encode(selector(signature)), expected, "{signature}");
        }
    }
}
