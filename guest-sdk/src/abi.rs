//! Solidity ABI words: reading `eth_call` results and writing arguments.
//!
//! Return data is a list of 32-byte big-endian words ([`Word`]). Static
//! values sit in their own word; a dynamic `string` or `bytes` has a head word
//! holding the byte offset of its tail (a length word, then the bytes,
//! right-padded to 32).
//!
//! | Solidity  | read with    | Rust value                     | refused when                     |
//! |-----------|--------------|--------------------------------|----------------------------------|
//! | `uint256` | [`uint256`]  | decimal `String`               | never                            |
//! | `int256`  | [`int256`]   | decimal `String`, `-` if negative | never                         |
//! | `uint80`  | [`uint80`]   | `u128`                         | upper 176 bits are not zero      |
//! | `uint8..64` | [`to_u64`] | `u64`                          | upper 192 bits are not zero      |
//! | `address` | [`address`]  | `0x` + 40 lower-case hex       | upper 96 bits are not zero       |
//! | `bool`    | [`boolean`]  | `bool`                         | the word is not 0 or 1           |
//! | `string`  | [`string`]   | `String`                       | offset/length out of range, not UTF-8 |
//! | `bytes`   | [`bytes`]    | `Vec<u8>`                      | offset/length out of range       |
//!
//! Numbers never pass through floats or a fixed-width integer: 256-bit values
//! become decimal strings (scale them with [`crate::decimal::scale_integer`]).

use crate::encoding::{hex_decode, hex_encode};
use crate::error::FormatError;
use crate::hash::selector;

/// One 32-byte ABI word, big-endian.
///
/// ```
/// let w: resilience_guest::abi::Word = resilience_guest::abi::encode_uint(1);
/// assert_eq!((w[0], w[31]), (0, 1));
/// ```
pub type Word = [u8; 32];

/// Split ABI data into words; the length must be a multiple of 32.
///
/// ```
/// let w = resilience_guest::abi::words(&[0u8; 64]).unwrap();
/// assert_eq!(w.len(), 2);
/// assert!(resilience_guest::abi::words(&[0u8; 33]).is_err());
/// ```
pub fn words(data: &[u8]) -> Result<Vec<Word>, FormatError> {
    if !data.len().is_multiple_of(32) {
        return Err(FormatError::new(format!(
            "ABI data of {} bytes is not a whole number of 32-byte words",
            data.len()
        )));
    }
    Ok(data
        .chunks_exact(32)
        .map(|c| {
            let mut w = [0u8; 32];
            w.copy_from_slice(c);
            w
        })
        .collect())
}

/// [`words`] of a hex string (`0x…`, as `eth_call` returns it).
///
/// ```
/// let r = "0x0000000000000000000000000000000000000000000000000000000000000008";
/// let w = resilience_guest::abi::words_from_hex(r).unwrap();
/// assert_eq!(resilience_guest::abi::to_u64(&w[0]).unwrap(), 8);
/// ```
pub fn words_from_hex(hex: &str) -> Result<Vec<Word>, FormatError> {
    words(&hex_decode(hex)?)
}

/// A `uint256` as a decimal string.
///
/// ```
/// let mut w = [0u8; 32];
/// w[31] = 0x2a;
/// assert_eq!(resilience_guest::abi::uint256(&w), "42");
/// assert_eq!(resilience_guest::abi::uint256(&[0xff; 32]).len(), 78);
/// ```
pub fn uint256(word: &Word) -> String {
    be_to_decimal(word)
}

/// An `int256` (two's complement) as a decimal string, negative with `-`.
///
/// ```
/// assert_eq!(resilience_guest::abi::int256(&[0xff; 32]), "-1");
/// ```
pub fn int256(word: &Word) -> String {
    if word[0] & 0x80 == 0 {
        return be_to_decimal(word);
    }
    // Magnitude of a negative value: invert and add one.
    let mut magnitude = word.map(|b| !b);
    for b in magnitude.iter_mut().rev() {
        let (v, overflow) = b.overflowing_add(1);
        *b = v;
        if !overflow {
            break;
        }
    }
    format!("-{}", be_to_decimal(&magnitude))
}

/// A `uint80` (Chainlink round ids); the upper 176 bits must be zero.
///
/// ```
/// let r = "0x0000000000000000000000000000000000000000000000060000000000004716";
/// let w = resilience_guest::abi::words_from_hex(r).unwrap();
/// assert_eq!(resilience_guest::abi::uint80(&w[0]).unwrap(), (6u128 << 64) | 0x4716);
/// assert!(resilience_guest::abi::uint80(&[0xff; 32]).is_err());
/// ```
pub fn uint80(word: &Word) -> Result<u128, FormatError> {
    let low = low_bytes(word, 10, "uint80")?;
    Ok(low.iter().fold(0u128, |acc, b| acc << 8 | u128::from(*b)))
}

/// An unsigned value of at most 64 bits (`uint8` decimals, a timestamp).
///
/// ```
/// let mut w = [0u8; 32];
/// w[31] = 8;
/// assert_eq!(resilience_guest::abi::to_u64(&w).unwrap(), 8);
/// w[0] = 1;
/// assert!(resilience_guest::abi::to_u64(&w).is_err());
/// ```
pub fn to_u64(word: &Word) -> Result<u64, FormatError> {
    let low = low_bytes(word, 8, "u64")?;
    Ok(low.iter().fold(0u64, |acc, b| acc << 8 | u64::from(*b)))
}

/// An `address` as `0x` and 40 lower-case hex digits.
///
/// ```
/// let mut w = [0u8; 32];
/// w[12..].copy_from_slice(&[0xab; 20]);
/// assert_eq!(resilience_guest::abi::address(&w).unwrap(), format!("0x{}", "ab".repeat(20)));
/// ```
pub fn address(word: &Word) -> Result<String, FormatError> {
    let low = low_bytes(word, 20, "an address")?;
    Ok(format!("0x{}", hex_encode(low)))
}

/// A `bool`: the word must be exactly 0 or 1.
///
/// ```
/// let mut w = [0u8; 32];
/// assert!(!resilience_guest::abi::boolean(&w).unwrap());
/// w[31] = 1;
/// assert!(resilience_guest::abi::boolean(&w).unwrap());
/// w[31] = 2;
/// assert!(resilience_guest::abi::boolean(&w).is_err());
/// ```
pub fn boolean(word: &Word) -> Result<bool, FormatError> {
    match to_u64(word) {
        Ok(0) => Ok(false),
        Ok(1) => Ok(true),
        _ => Err(FormatError::new(format!(
            "word 0x{} is not a bool (0 or 1)",
            hex_encode(word)
        ))),
    }
}

/// The dynamic `bytes` whose head is word `index` of `data`.
///
/// ```
/// let mut data = vec![0u8; 96];
/// data[31] = 0x20; // offset of the tail
/// data[63] = 2;    // length
/// data[64..66].copy_from_slice(&[0xca, 0xfe]);
/// assert_eq!(resilience_guest::abi::bytes(&data, 0).unwrap(), vec![0xca, 0xfe]);
/// ```
pub fn bytes(data: &[u8], index: usize) -> Result<Vec<u8>, FormatError> {
    let word_at = |at: usize, what: &str| -> Result<u64, FormatError> {
        let w: Word = data
            .get(at..at.saturating_add(32))
            .and_then(|s| s.try_into().ok())
            .ok_or_else(|| {
                FormatError::new(format!(
                    "{what} at byte {at} is past the end of {} bytes of ABI data",
                    data.len()
                ))
            })?;
        to_u64(&w).map_err(|_| FormatError::new(format!("{what} at byte {at} is too large")))
    };
    let offset = word_at(index.saturating_mul(32), "offset")?;
    let offset = usize::try_from(offset).unwrap_or(usize::MAX);
    let len = word_at(offset, "length")?;
    let len = usize::try_from(len).unwrap_or(usize::MAX);
    let start = offset.saturating_add(32);
    data.get(start..start.saturating_add(len))
        .map(<[u8]>::to_vec)
        .ok_or_else(|| {
            FormatError::new(format!(
                "{len} bytes at byte {start} are past the end of {} bytes of ABI data",
                data.len()
            ))
        })
}

/// The dynamic `string` whose head is word `index` of `data` (Chainlink
/// `description()`); it must be UTF-8.
///
/// ```
/// use resilience_guest::{abi, encoding::hex_decode};
/// let r = "0x0000000000000000000000000000000000000000000000000000000000000020\
///          0000000000000000000000000000000000000000000000000000000000000009\
///          455448202f205553440000000000000000000000000000000000000000000000";
/// assert_eq!(abi::string(&hex_decode(r).unwrap(), 0).unwrap(), "ETH / USD");
/// ```
pub fn string(data: &[u8], index: usize) -> Result<String, FormatError> {
    String::from_utf8(bytes(data, index)?)
        .map_err(|e| FormatError::new(format!("ABI string is not UTF-8: {e}")))
}

/// A `uint` word of a small value.
///
/// ```
/// assert_eq!(resilience_guest::abi::encode_uint(0x0102)[30..], [1, 2]);
/// ```
pub fn encode_uint(value: u128) -> Word {
    let mut w = [0u8; 32];
    w[16..].copy_from_slice(&value.to_be_bytes());
    w
}

/// A `uint256` word from a decimal string of any size up to 2^256 - 1
/// (token ids, amounts). Only digits are accepted.
///
/// ```
/// use resilience_guest::abi::{encode_uint_decimal, uint256};
/// let big = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
/// assert_eq!(uint256(&encode_uint_decimal(big).unwrap()), big);
/// assert!(encode_uint_decimal("115792089237316195423570985008687907853269984665640564039457584007913129639936").is_err());
/// assert!(encode_uint_decimal("-1").is_err());
/// ```
pub fn encode_uint_decimal(decimal: &str) -> Result<Word, FormatError> {
    if decimal.is_empty() || !decimal.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FormatError::new(format!(
            "{decimal:?} is not an unsigned decimal integer"
        )));
    }
    // Little-endian 32-bit limbs.
    let mut limbs = [0u32; 8];
    for chunk in decimal.as_bytes().chunks(9) {
        let mut mul = 1u64;
        let mut add = 0u64;
        for d in chunk {
            mul *= 10;
            add = add * 10 + u64::from(d - b'0');
        }
        let mut carry = add;
        for limb in limbs.iter_mut() {
            let v = u64::from(*limb) * mul + carry;
            *limb = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            return Err(FormatError::new(format!(
                "{decimal} does not fit in 256 bits"
            )));
        }
    }
    let mut w = [0u8; 32];
    for (i, limb) in limbs.iter().enumerate() {
        let at = 28 - 4 * i;
        w[at..at + 4].copy_from_slice(&limb.to_be_bytes());
    }
    Ok(w)
}

/// An `address` word from `0x` and 40 hex digits (either case; an EIP-55
/// checksum is not verified).
///
/// ```
/// let w = resilience_guest::abi::encode_address("0xE111180000d2663C0091e4f400237545B87B996B").unwrap();
/// assert_eq!(w[12], 0xe1);
/// assert!(resilience_guest::abi::encode_address("0x1234").is_err());
/// ```
pub fn encode_address(address: &str) -> Result<Word, FormatError> {
    let bytes = address
        .strip_prefix("0x")
        .or_else(|| address.strip_prefix("0X"))
        .ok_or_else(|| FormatError::new(format!("address {address:?} does not start with 0x")))
        .and_then(hex_decode)?;
    if bytes.len() != 20 {
        return Err(FormatError::new(format!(
            "address {address:?} is {} bytes, not 20",
            bytes.len()
        )));
    }
    let mut w = [0u8; 32];
    w[12..].copy_from_slice(&bytes);
    Ok(w)
}

/// A `bool` word.
///
/// ```
/// assert_eq!(resilience_guest::abi::encode_bool(true)[31], 1);
/// ```
pub fn encode_bool(value: bool) -> Word {
    encode_uint(u128::from(value))
}

/// A `bytes32` word from hex (`0x` optional) of exactly 32 bytes.
///
/// ```
/// let zero = format!("0x{}", "00".repeat(32));
/// assert_eq!(resilience_guest::abi::encode_bytes32(&zero).unwrap(), [0u8; 32]);
/// assert!(resilience_guest::abi::encode_bytes32("0x00").is_err());
/// ```
pub fn encode_bytes32(hex: &str) -> Result<Word, FormatError> {
    let bytes = hex_decode(hex)?;
    bytes
        .as_slice()
        .try_into()
        .map_err(|_| FormatError::new(format!("bytes32 is {} bytes, not 32", bytes.len())))
}

/// `eth_call` data: `0x`, the selector of `signature`, then the argument words.
///
/// ```
/// use resilience_guest::abi::{call_data, encode_uint};
/// assert_eq!(call_data("latestRoundData()", &[]), "0xfeaf968c");
/// let data = call_data("getRoundData(uint80)", &[encode_uint(7)]);
/// assert_eq!(data.len(), 2 + 8 + 64);
/// ```
pub fn call_data(signature: &str, args: &[Word]) -> String {
    let mut bytes = selector(signature).to_vec();
    for w in args {
        bytes.extend_from_slice(w);
    }
    format!("0x{}", hex_encode(bytes))
}

/// The low `n` bytes of `word`, when every byte above them is zero.
fn low_bytes<'a>(word: &'a Word, n: usize, what: &str) -> Result<&'a [u8], FormatError> {
    let (high, low) = word.split_at(32 - n);
    if high.iter().any(|b| *b != 0) {
        return Err(FormatError::new(format!(
            "word 0x{} does not fit in {what} (the upper {} bits are not zero)",
            hex_encode(word),
            8 * (32 - n)
        )));
    }
    Ok(low)
}

/// Decimal digits of a big-endian unsigned integer of any length.
fn be_to_decimal(be: &[u8]) -> String {
    const CHUNK: u64 = 1_000_000_000;
    // Big-endian 32-bit limbs.
    let mut limbs: Vec<u32> = be
        .rchunks(4)
        .rev()
        .map(|c| c.iter().fold(0u32, |acc, b| acc << 8 | u32::from(*b)))
        .collect();
    // Base-1e9 digits, least significant first.
    let mut chunks: Vec<u32> = Vec::new();
    loop {
        let first = limbs.iter().position(|l| *l != 0);
        let Some(first) = first else { break };
        limbs.drain(..first);
        let mut rem = 0u64;
        for limb in limbs.iter_mut() {
            let cur = rem << 32 | u64::from(*limb);
            *limb = (cur / CHUNK) as u32;
            rem = cur % CHUNK;
        }
        chunks.push(rem as u32);
    }
    let Some((top, rest)) = chunks.split_last() else {
        return "0".to_string();
    };
    let mut out = top.to_string();
    for c in rest.iter().rev() {
        out.push_str(&format!("{c:09}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(hex: &str) -> Word {
        encode_bytes32(hex).unwrap()
    }

    #[test]
    fn int256_vectors_decode_with_sign() {
        // docs/venues/vectors/chainlink_int256_and_misc_constructed.json
        let cases = [
            (
                "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
                "-1",
            ),
            (
                "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffa0a1f00",
                "-100000000",
            ),
            (
                "ffffffffffffffffffffffffffffffffffffffffffffffffffffffae0552e380",
                "-352098000000",
            ),
            (
                "00000000000000000000000000000000000000000000000000000051faad1c80",
                "352098000000",
            ),
        ];
        for (w, expected) in cases {
            assert_eq!(int256(&word(w)), expected, "{w}");
        }
    }

    #[test]
    fn int256_extremes() {
        let mut min = [0u8; 32];
        min[0] = 0x80;
        assert_eq!(
            int256(&min),
            "-57896044618658097711785492504343953926634992332820282019728792003956564819968"
        );
        let mut max = [0xffu8; 32];
        max[0] = 0x7f;
        assert_eq!(
            int256(&max),
            "57896044618658097711785492504343953926634992332820282019728792003956564819967"
        );
        assert_eq!(int256(&[0u8; 32]), "0");
    }

    #[test]
    fn uint256_extremes_and_chunk_boundaries() {
        assert_eq!(uint256(&[0u8; 32]), "0");
        assert_eq!(
            uint256(&[0xffu8; 32]),
            "115792089237316195423570985008687907853269984665640564039457584007913129639935"
        );
        // 10^9 and 10^18 exercise the zero-padded middle chunks.
        assert_eq!(uint256(&encode_uint(1_000_000_000)), "1000000000");
        assert_eq!(
            uint256(&encode_uint(1_000_000_000_000_000_001)),
            "1000000000000000001"
        );
        assert_eq!(uint256(&encode_uint(u128::MAX)), u128::MAX.to_string());
    }

    #[test]
    fn latest_round_data_with_negative_answer_decodes() {
        // chainlink_int256_and_misc_constructed.json, latestRoundData_negative_answer_constructed
        let result = "0x0000000000000000000000000000000000000000000000060000000000004716fffffffffffffffffffffffffffffffffffffffffffffffffffffffffa0a1f00000000000000000000000000000000000000000000000000000000006669627b000000000000000000000000000000000000000000000000000000006669627b0000000000000000000000000000000000000000000000060000000000004716";
        let w = words_from_hex(result).unwrap();
        assert_eq!(w.len(), 5);
        let round_id = uint80(&w[0]).unwrap();
        assert_eq!(round_id >> 64, 6, "phase id");
        assert_eq!(round_id & u128::from(u64::MAX), 0x4716);
        assert_eq!(int256(&w[1]), "-100000000");
        assert_eq!(uint256(&w[2]), "1718182523");
        assert_eq!(to_u64(&w[3]).unwrap(), 0x6669627b);
        assert_eq!(uint80(&w[4]).unwrap(), round_id);
    }

    #[test]
    fn decimals_and_description_returns_decode() {
        // chainlink_int256_and_misc_constructed.json
        let decimals = "0x0000000000000000000000000000000000000000000000000000000000000008";
        assert_eq!(to_u64(&words_from_hex(decimals).unwrap()[0]).unwrap(), 8);
        let description = "0x00000000000000000000000000000000000000000000000000000000000000200000000000000000000000000000000000000000000000000000000000000009455448202f205553440000000000000000000000000000000000000000000000";
        let data = hex_decode(description).unwrap();
        assert_eq!(string(&data, 0).unwrap(), "ETH / USD");
    }

    #[test]
    fn words_refuses_partial_words() {
        let e = words(&[0u8; 31]).unwrap_err().to_string();
        assert!(e.contains("31 bytes"), "{e}");
        assert!(words_from_hex("0x00").is_err());
        assert!(words(&[]).unwrap().is_empty());
    }

    #[test]
    fn uint80_refuses_high_bits() {
        let mut w = [0u8; 32];
        w[21] = 1; // bit 80
        assert!(uint80(&w).unwrap_err().to_string().contains("176"));
        w[21] = 0;
        w[22] = 0xff;
        assert_eq!(uint80(&w).unwrap(), 0xff << 72);
    }

    #[test]
    fn address_is_lower_case_and_refuses_dirty_words() {
        let w = encode_address("0xE111180000d2663C0091e4f400237545B87B996B").unwrap();
        assert_eq!(
            address(&w).unwrap(),
            "0xe111180000d2663c0091e4f400237545b87b996b"
        );
        let mut dirty = w;
        dirty[0] = 1;
        assert!(address(&dirty).is_err());
        assert!(encode_address("E111180000d2663C0091e4f400237545B87B996B").is_err());
    }

    #[test]
    fn dynamic_values_out_of_range_are_errors_not_panics() {
        let mut data = vec![0u8; 64];
        data[31] = 0x20;
        data[63] = 40; // longer than what follows
        assert!(string(&data, 0).is_err());
        data[31] = 0xff; // offset past the end
        assert!(bytes(&data, 0).is_err());
        assert!(bytes(&data, 5).is_err());
        let mut huge = vec![0xffu8; 32];
        huge.extend_from_slice(&[0u8; 32]);
        assert!(bytes(&huge, 0).is_err());
        // Not UTF-8.
        let mut bad = vec![0u8; 96];
        bad[31] = 0x20;
        bad[63] = 1;
        bad[64] = 0xff;
        assert!(string(&bad, 0).unwrap_err().to_string().contains("UTF-8"));
    }

    #[test]
    fn encode_uint_decimal_round_trips() {
        for d in [
            "0",
            "1",
            "999999999",
            "1000000000",
            "479249096354",
            "18446744073709551616",
            "71321045679252212594626385532706912750332728571942532289631379312455583992563",
        ] {
            assert_eq!(uint256(&encode_uint_decimal(d).unwrap()), d);
        }
        for bad in ["", "1.5", " 1", "0x10", "+1"] {
            assert!(encode_uint_decimal(bad).is_err(), "{bad:?}");
        }
        assert_eq!(uint256(&encode_uint_decimal("0007").unwrap()), "7");
    }
}
