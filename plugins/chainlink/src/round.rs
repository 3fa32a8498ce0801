//! `AggregatorV3Interface` calls: their call data, and reading what they
//! return, with the consumer checks of docs/venues/chainlink.md.
//!
//! Source: `docs/venues/chainlink.md` (interface from smartcontractkit/chainlink
//! `AggregatorV3Interface.sol`; selectors computed with keccak-256, checked
//! against `vectors/chainlink_selectors.json` in the tests).
//!
//! `latestRoundData()` returns five static words, exactly 160 bytes:
//!
//! | word | field             | type    | read as |
//! |------|-------------------|---------|---------|
//! | 0    | `roundId`         | uint80  | `u128` (`phaseId << 64 \| aggregatorRoundId`) |
//! | 1    | `answer`          | int256  | decimal string, two's complement |
//! | 2    | `startedAt`       | uint256 | not used |
//! | 3    | `updatedAt`       | uint256 | `u64` unix seconds |
//! | 4    | `answeredInRound` | uint80  | `u128` |
//!
//! | check                              | on failure    | why |
//! |------------------------------------|---------------|-----|
//! | exactly 160 bytes, uint80 words fit | `parse`      | not a `latestRoundData` answer |
//! | `answer > 0`                       | `parse`       | a USD price is never zero or negative; the value is unusable |
//! | `updatedAt != 0`                   | `stale_data`  | the round is not complete |
//! | `now - updatedAt <= max age`       | `stale_data`  | no update within heartbeat + margin; the message has the age |
//!
//! `answeredInRound` is decoded (it is part of the shape) but not checked:
//! Chainlink deprecated it, and on OCR feeds it always equals `roundId`, so
//! staleness rests on `updatedAt` and the heartbeat alone.
//!
//! `getRoundData(uint80)` returns the same five words for a past round.

use resilience_guest::VenueError;
use resilience_guest::abi::{self, Word};
use resilience_guest::encoding::hex_decode;

/// `latestRoundData()` selector (docs/venues/chainlink.md).
pub const LATEST_ROUND_DATA: &str = "0xfeaf968c";
/// `decimals()` selector.
pub const DECIMALS: &str = "0x313ce567";
/// `description()` selector.
pub const DESCRIPTION: &str = "0x7284e416";
/// `getRoundData(uint80)` selector.
pub const GET_ROUND_DATA: &str = "0x9a6fc8f5";
/// Length of a `latestRoundData()` answer: five words.
pub const ROUND_DATA_BYTES: usize = 5 * 32;

/// A decoded `latestRoundData()` answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundData {
    pub round_id: u128,
    /// int256 as a decimal string, `-` when negative.
    pub answer: String,
    pub started_at: String,
    /// Unix seconds.
    pub updated_at: u64,
    pub answered_in_round: u128,
}

/// Decode a `latestRoundData()` result (`0x` + 320 hex digits). Only the
/// shape is checked here; see [`check`] for the values.
pub fn decode_round_data(hex: &str) -> Result<RoundData, VenueError> {
    decode_round(hex, "latestRoundData()")
}

/// Call data of `getRoundData(round_id)`.
pub fn get_round_data_call(round_id: u128) -> String {
    format!(
        "{GET_ROUND_DATA}{}",
        resilience_guest::encoding::hex_encode(abi::encode_uint(round_id))
    )
}

/// Decode the five words of `latestRoundData()` or `getRoundData()` (`call`
/// names the function in messages).
pub fn decode_round(hex: &str, call: &str) -> Result<RoundData, VenueError> {
    let fail = |why: String| VenueError::parse(format!("{call}: {why}"));
    let bytes = hex_decode(hex).map_err(|e| fail(e.to_string()))?;
    if bytes.len() != ROUND_DATA_BYTES {
        return Err(fail(format!(
            "expected exactly {ROUND_DATA_BYTES} bytes (five words), got {}",
            bytes.len()
        )));
    }
    let w = abi::words(&bytes).map_err(|e| fail(e.to_string()))?;
    let word = |i: usize, name: &str| -> Result<&Word, VenueError> {
        w.get(i)
            .ok_or_else(|| fail(format!("{name}: word {i} is missing")))
    };
    let uint80 = |i: usize, name: &str| -> Result<u128, VenueError> {
        abi::uint80(word(i, name)?).map_err(|e| fail(format!("{name}: {e}")))
    };
    Ok(RoundData {
        round_id: uint80(0, "roundId")?,
        answer: abi::int256(word(1, "answer")?),
        started_at: abi::uint256(word(2, "startedAt")?),
        updated_at: abi::to_u64(word(3, "updatedAt")?)
            .map_err(|e| fail(format!("updatedAt: {e}")))?,
        answered_in_round: uint80(4, "answeredInRound")?,
    })
}

/// The phase of a proxy round id (`phaseId << 64 | aggregatorRoundId`): it
/// changes when the proxy moves to a new aggregator.
pub fn phase(round_id: u128) -> u16 {
    // A uint80 shifted right by 64 leaves 16 bits.
    (round_id >> 64) as u16
}

/// The consumer checks on a decoded round (not staleness, see [`check_age`]).
pub fn check(round: &RoundData, pair: &str) -> Result<(), VenueError> {
    if round.answer.starts_with('-') || round.answer == "0" {
        return Err(VenueError::parse(format!(
            "{pair} answered {} in round {}: a price must be greater than zero",
            round.answer, round.round_id
        )));
    }
    if round.updated_at == 0 {
        return Err(VenueError::StaleData(format!(
            "{pair} round {} is not complete (updatedAt is 0)",
            round.round_id
        )));
    }
    Ok(())
}

/// The answer's age in seconds at `now_s`, when it is at most `max_age_s`.
/// An `updatedAt` ahead of the clock counts as age 0.
pub fn check_age(
    round: &RoundData,
    pair: &str,
    now_s: u64,
    max_age_s: u64,
) -> Result<u64, VenueError> {
    let age_s = now_s.saturating_sub(round.updated_at);
    if age_s > max_age_s {
        return Err(VenueError::StaleData(format!(
            "{pair} answer is {age_s} s old (updated at {}, round {}); at most {max_age_s} s is allowed",
            round.updated_at, round.round_id
        )));
    }
    Ok(age_s)
}

/// Decode a `decimals()` result: one word holding a `uint8`.
pub fn decode_decimals(hex: &str) -> Result<u8, VenueError> {
    let fail = |why: String| VenueError::parse(format!("decimals(): {why}"));
    let w = abi::words_from_hex(hex).map_err(|e| fail(e.to_string()))?;
    match w.as_slice() {
        [word] => {
            let v = abi::to_u64(word).map_err(|e| fail(e.to_string()))?;
            u8::try_from(v).map_err(|_| fail(format!("{v} does not fit in a uint8")))
        }
        _ => Err(fail(format!("expected one word, got {}", w.len()))),
    }
}

/// Decode a `description()` result: an ABI `string`.
pub fn decode_description(hex: &str) -> Result<String, VenueError> {
    let fail = |why: String| VenueError::parse(format!("description(): {why}"));
    let bytes = hex_decode(hex).map_err(|e| fail(e.to_string()))?;
    abi::string(&bytes, 0).map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use resilience_guest::encoding::hex_encode;
    use resilience_guest::hash::selector;

    /// `latestRoundData()` return data for the given values (answer as i128,
    /// sign-extended to 256 bits).
    pub(crate) fn round_hex(
        round_id: u128,
        answer: i128,
        started_at: u64,
        updated_at: u64,
        answered_in_round: u128,
    ) -> String {
        let mut answer_word = if answer < 0 { [0xff; 32] } else { [0; 32] };
        answer_word[16..].copy_from_slice(&answer.to_be_bytes());
        let words = [
            abi::encode_uint(round_id),
            answer_word,
            abi::encode_uint(started_at.into()),
            abi::encode_uint(updated_at.into()),
            abi::encode_uint(answered_in_round),
        ];
        format!("0x{}", hex_encode(words.concat()))
    }

    /// The round id of the vector: phase 6, aggregator round 0x4716.
    const VECTOR_ROUND: u128 = (6 << 64) | 0x4716;

    #[test]
    fn selectors_match_the_vectors() {
        // vectors/chainlink_selectors.json
        for (signature, constant) in [
            ("latestRoundData()", LATEST_ROUND_DATA),
            ("decimals()", DECIMALS),
            ("description()", DESCRIPTION),
            ("getRoundData(uint80)", GET_ROUND_DATA),
        ] {
            assert_eq!(format!("0x{}", hex_encode(selector(signature))), constant);
            assert_eq!(abi::call_data(signature, &[]), constant);
        }
    }

    #[test]
    fn constructed_negative_answer_vector_decodes_and_fails_the_check() {
        // vectors/chainlink_int256_and_misc_constructed.json,
        // latestRoundData_negative_answer_constructed.
        let result = "0x0000000000000000000000000000000000000000000000060000000000004716fffffffffffffffffffffffffffffffffffffffffffffffffffffffffa0a1f00000000000000000000000000000000000000000000000000000000006669627b000000000000000000000000000000000000000000000000000000006669627b0000000000000000000000000000000000000000000000060000000000004716";
        let round = decode_round_data(result).unwrap();
        assert_eq!(
            round,
            RoundData {
                round_id: VECTOR_ROUND,
                answer: "-100000000".into(),
                started_at: "1718182523".into(),
                updated_at: 0x6669627b,
                answered_in_round: VECTOR_ROUND,
            }
        );
        assert_eq!(round.round_id.to_string(), "110680464442257327894");
        match check(&round, "ETH/USD") {
            Err(VenueError::Parse(m)) => assert!(m.contains("-100000000"), "{m}"),
            other => panic!("expected parse, got {other:?}"),
        }
        // The helper builds the same bytes.
        assert_eq!(
            round_hex(
                VECTOR_ROUND,
                -100_000_000,
                0x6669627b,
                0x6669627b,
                VECTOR_ROUND
            ),
            result
        );
    }

    #[test]
    fn int256_vector_words_decode_in_the_answer_position() {
        // vectors/chainlink_int256_and_misc_constructed.json, int256_twos_complement.
        let zero = "00".repeat(32);
        let one = format!("{:064x}", 1);
        for (value, word) in [
            (
                "-1",
                "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
            ),
            (
                "-100000000",
                "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffa0a1f00",
            ),
            (
                "-352098000000",
                "ffffffffffffffffffffffffffffffffffffffffffffffffffffffae0552e380",
            ),
            (
                "352098000000",
                "00000000000000000000000000000000000000000000000000000051faad1c80",
            ),
        ] {
            let hex = format!("0x{one}{word}{one}{one}{one}");
            let round = decode_round_data(&hex).unwrap();
            assert_eq!(round.answer, value);
            assert_eq!(
                check(&round, "X/USD").is_ok(),
                !value.starts_with('-'),
                "{value}"
            );
        }
        let zero_answer = format!("0x{one}{zero}{one}{one}{one}");
        let round = decode_round_data(&zero_answer).unwrap();
        assert_eq!(round.answer, "0");
        assert!(
            matches!(check(&round, "X/USD"), Err(VenueError::Parse(m)) if m.contains("greater than zero"))
        );
    }

    #[test]
    fn positive_answer_decodes_and_passes() {
        let round = decode_round_data(&round_hex(
            VECTOR_ROUND,
            352_098_000_000,
            1,
            2,
            VECTOR_ROUND,
        ))
        .unwrap();
        assert_eq!(round.answer, "352098000000");
        assert_eq!(round.updated_at, 2);
        assert!(check(&round, "ETH/USD").is_ok());
    }

    #[test]
    fn max_uint80_round_id_decodes_and_one_bit_more_is_refused() {
        let max = (1u128 << 80) - 1;
        let round = decode_round_data(&round_hex(max, 1, 1, 1, max)).unwrap();
        assert_eq!(round.round_id, max);
        assert_eq!(round.round_id.to_string(), "1208925819614629174706175");
        let too_big = round_hex(1 << 80, 1, 1, 1, 1 << 80);
        match decode_round_data(&too_big) {
            Err(VenueError::Parse(m)) => {
                assert!(m.contains("roundId") && m.contains("uint80"), "{m}")
            }
            other => panic!("expected parse, got {other:?}"),
        }
    }

    #[test]
    fn short_extra_and_malformed_input_is_a_parse_error() {
        let good = round_hex(1, 1, 1, 1, 1);
        let cases = [
            good[..good.len() - 64].to_string(),  // four words
            good[..good.len() - 2].to_string(),   // 159 bytes
            format!("{good}{}", "00".repeat(32)), // six words
            format!("{good}00"),                  // 161 bytes
            "0x".to_string(),
            format!("{}zz", &good[..good.len() - 2]),
            format!("{good}0"), // odd number of digits
        ];
        for (i, hex) in cases.iter().enumerate() {
            match decode_round_data(hex) {
                Err(VenueError::Parse(m)) => assert!(m.starts_with("latestRoundData():"), "{m}"),
                other => panic!("case {i}: expected parse, got {other:?}"),
            }
        }
        match decode_round_data(&cases[0]) {
            Err(VenueError::Parse(m)) => assert!(m.contains("got 128"), "{m}"),
            other => panic!("{other:?}"),
        }
        // updatedAt beyond 64 bits.
        let mut huge = good.clone();
        huge.replace_range(2 + 3 * 64..2 + 3 * 64 + 2, "01");
        assert!(
            matches!(decode_round_data(&huge), Err(VenueError::Parse(m)) if m.contains("updatedAt"))
        );
    }

    #[test]
    fn incomplete_round_is_stale_and_answered_in_round_is_ignored() {
        let round = decode_round_data(&round_hex(5, 1, 1, 0, 5)).unwrap();
        assert!(
            matches!(check(&round, "ETH/USD"), Err(VenueError::StaleData(m)) if m.contains("not complete"))
        );
        // answeredInRound is deprecated upstream: an older one is not refused.
        for answered in [0, 4, 5, 6] {
            let round = decode_round_data(&round_hex(5, 1, 1, 1, answered)).unwrap();
            assert!(check(&round, "ETH/USD").is_ok(), "{answered}");
        }
    }

    #[test]
    fn get_round_data_call_encodes_the_round_id_as_one_word() {
        // vectors/chainlink_selectors.json: getRoundData(uint80) = 0x9a6fc8f5.
        assert_eq!(
            get_round_data_call(VECTOR_ROUND),
            abi::call_data("getRoundData(uint80)", &[abi::encode_uint(VECTOR_ROUND)])
        );
        assert_eq!(
            get_round_data_call(VECTOR_ROUND),
            "0x9a6fc8f50000000000000000000000000000000000000000000000060000000000004716"
        );
        assert_eq!(phase(VECTOR_ROUND), 6);
        assert_eq!(phase(0x4716), 0);
    }

    #[test]
    fn age_is_checked_against_the_max_age_inclusively() {
        let round = decode_round_data(&round_hex(5, 1, 1, 1_000, 5)).unwrap();
        assert_eq!(check_age(&round, "ETH/USD", 4_720, 3_720).unwrap(), 3_720);
        match check_age(&round, "ETH/USD", 4_721, 3_720) {
            Err(VenueError::StaleData(m)) => {
                assert!(m.contains("3721 s old") && m.contains("3720 s"), "{m}")
            }
            other => panic!("expected stale, got {other:?}"),
        }
        // A clock behind the chain is not stale.
        assert_eq!(check_age(&round, "ETH/USD", 900, 10).unwrap(), 0);
    }

    #[test]
    fn decimals_and_description_vectors() {
        // vectors/chainlink_int256_and_misc_constructed.json
        assert_eq!(
            decode_decimals("0x0000000000000000000000000000000000000000000000000000000000000008")
                .unwrap(),
            8
        );
        assert_eq!(
            decode_description("0x00000000000000000000000000000000000000000000000000000000000000200000000000000000000000000000000000000000000000000000000000000009455448202f205553440000000000000000000000000000000000000000000000").unwrap(),
            "ETH / USD"
        );
        for bad in [
            "0x".to_string(),
            format!("0x{:064x}", 256),
            format!("0x{:064x}{:064x}", 8, 8),
            "0x08".to_string(),
        ] {
            assert!(
                matches!(decode_decimals(&bad), Err(VenueError::Parse(m)) if m.starts_with("decimals():")),
                "{bad}"
            );
        }
        assert!(matches!(
            decode_description(&format!("0x{:064x}", 32)),
            Err(VenueError::Parse(_))
        ));
    }
}
