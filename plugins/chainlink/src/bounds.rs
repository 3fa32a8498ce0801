//! The aggregator's `minAnswer`/`maxAnswer`, and the `at_bound` flag.
//!
//! An OCR aggregator refuses any report whose median lies outside
//! `[minAnswer, maxAnswer]` (`require(minAnswer <= median && median <=
//! maxAnswer, "median is out of min-max range")` in smartcontractkit/libocr
//! `contract/OffchainAggregator.sol`), so during a crash or a spike the feed
//! stays at the last value inside the range instead of following the market
//! (Chainlink docs, "Selecting quality data feeds", bounded feeds:
//! <https://docs.chain.link/data-feeds/selecting-data-feeds>). An answer at a
//! bound must not be trusted as a price, and the plugin flags it
//! (`at_bound: true`). The bounds live on the aggregator, not on the proxy
//! the plugin reads, so they take two reads: `aggregator()` on the proxy,
//! then `minAnswer()` and `maxAnswer()` on the aggregator. They are fixed per
//! aggregator, and the proxy moves to a new aggregator only with a new phase
//! (the top 16 bits of the round id), so the plugin caches them per feed and
//! phase.
//!
//! | selector      | function        | on      | returns |
//! |---------------|-----------------|---------|---------|
//! | `0x245a7bfc`  | `aggregator()`  | proxy   | address |
//! | `0x22adbc78`  | `minAnswer()`   | aggregator | int192 (one word, sign-extended) |
//! | `0x70da2f67`  | `maxAnswer()`   | aggregator | int192 |
//!
//! Reading the bounds is best effort: an aggregator that does not have them
//! (a revert, no data) gives `at_bound: null`, never a failed price.

use std::cmp::Ordering;

use resilience_guest::VenueError;
use resilience_guest::abi;

/// `aggregator()` selector (vectors/chainlink_selectors.json).
pub const AGGREGATOR: &str = "0x245a7bfc";
/// `minAnswer()` selector.
pub const MIN_ANSWER: &str = "0x22adbc78";
/// `maxAnswer()` selector.
pub const MAX_ANSWER: &str = "0x70da2f67";

/// An aggregator's answer range, as signed decimal strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bounds {
    pub min: String,
    pub max: String,
}

impl Bounds {
    /// Whether `answer` (a signed decimal string) is at or beyond a bound.
    pub fn pins(&self, answer: &str) -> bool {
        cmp_signed(answer, &self.min) != Ordering::Greater
            || cmp_signed(answer, &self.max) != Ordering::Less
    }
}

/// Decode `aggregator()`: one word holding an address.
pub fn decode_aggregator(hex: &str) -> Result<String, VenueError> {
    let fail = |why: String| VenueError::parse(format!("aggregator(): {why}"));
    let w = abi::words_from_hex(hex).map_err(|e| fail(e.to_string()))?;
    match w.as_slice() {
        [word] => abi::address(word).map_err(|e| fail(e.to_string())),
        _ => Err(fail(format!("expected one word, got {}", w.len()))),
    }
}

/// Decode `minAnswer()` or `maxAnswer()` (`call` names it): one signed word.
pub fn decode_answer_bound(hex: &str, call: &str) -> Result<String, VenueError> {
    let fail = |why: String| VenueError::parse(format!("{call}: {why}"));
    let w = abi::words_from_hex(hex).map_err(|e| fail(e.to_string()))?;
    match w.as_slice() {
        [word] => Ok(abi::int256(word)),
        _ => Err(fail(format!("expected one word, got {}", w.len()))),
    }
}

/// Order two signed decimal integers (`-12`, `0`, `345`) without parsing
/// them into a fixed-width type: int192 bounds do not fit `i128`.
pub fn cmp_signed(a: &str, b: &str) -> Ordering {
    fn split(s: &str) -> (bool, &str) {
        match s.strip_prefix('-') {
            Some(digits) => (true, digits.trim_start_matches('0')),
            None => (false, s.trim_start_matches('0')),
        }
    }
    let (neg_a, da) = split(a);
    let (neg_b, db) = split(b);
    // "-0" is zero.
    let (neg_a, neg_b) = (neg_a && !da.is_empty(), neg_b && !db.is_empty());
    let magnitude = da.len().cmp(&db.len()).then_with(|| da.cmp(db));
    match (neg_a, neg_b) {
        (false, false) => magnitude,
        (true, true) => magnitude.reverse(),
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use resilience_guest::encoding::hex_encode;
    use resilience_guest::hash::selector;

    #[test]
    fn selectors_are_the_keccak_of_the_signatures() {
        for (signature, constant) in [
            ("aggregator()", AGGREGATOR),
            ("minAnswer()", MIN_ANSWER),
            ("maxAnswer()", MAX_ANSWER),
        ] {
            assert_eq!(
                format!("0x{}", hex_encode(selector(signature))),
                constant,
                "{signature}"
            );
        }
    }

    #[test]
    fn signed_decimals_compare_by_value() {
        use Ordering::*;
        for (a, b, want) in [
            ("1", "1", Equal),
            ("2", "10", Less),
            ("-2", "-10", Greater),
            ("-1", "0", Less),
            ("-0", "0", Equal),
            ("007", "7", Equal),
            (
                "6277101735386680763835789423207666416102355444464034512895",
                "1",
                Greater,
            ),
        ] {
            assert_eq!(cmp_signed(a, b), want, "{a} vs {b}");
        }
    }

    #[test]
    fn answers_at_or_beyond_a_bound_are_pinned() {
        let b = Bounds {
            min: "1".into(),
            max: "95780971304118053647396689196894323976171195136475135".into(),
        };
        assert!(b.pins("1"));
        assert!(b.pins("0"));
        assert!(!b.pins("2"));
        assert!(!b.pins("352098000000"));
        assert!(b.pins(&b.max.clone()));
    }

    #[test]
    fn bounds_decode_as_signed_words() {
        // int192 minAnswer = -1 is sign-extended to 256 bits.
        let minus_one = format!("0x{}", "ff".repeat(32));
        assert_eq!(
            decode_answer_bound(&minus_one, "minAnswer()").unwrap(),
            "-1"
        );
        assert_eq!(
            decode_answer_bound(&format!("0x{:064x}", 1), "minAnswer()").unwrap(),
            "1"
        );
        assert!(matches!(
            decode_answer_bound("0x", "maxAnswer()"),
            Err(VenueError::Parse(m)) if m.starts_with("maxAnswer():")
        ));
        let agg = format!("0x{}{}", "00".repeat(12), "ab".repeat(20));
        assert_eq!(
            decode_aggregator(&agg).unwrap(),
            format!("0x{}", "ab".repeat(20))
        );
        assert!(decode_aggregator(&format!("0x{}", "ff".repeat(32))).is_err());
    }
}
