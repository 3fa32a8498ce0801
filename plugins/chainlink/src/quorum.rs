//! The agreement check across providers (`quorum = 2`).
//!
//! One provider can lie or lag: a node that fell behind, a misconfigured
//! proxy, a compromised RPC service. With the venue setting `quorum = 2`,
//! every `latestRoundData()` of `get_price` and `get_prices` is read from two
//! different endpoints (pinned with the `endpoints` import, in the same round
//! trip), and a price is returned only when they agree:
//!
//! | the two rounds                      | result |
//! |-------------------------------------|--------|
//! | same `roundId`, same answer and `updatedAt` | the round |
//! | same `roundId`, anything else differs | `upstream`, code `disagreement` |
//! | different `roundId` (one provider is a block behind a new round), answers within `quorum_tolerance_bps` of each other | the newer round (later `updatedAt`) |
//! | different `roundId`, answers further apart | `upstream`, code `disagreement` |
//! | one read fails (revert, bad data)   | that error, naming the endpoint |
//!
//! Endpoints are tried in configured order: 0 and 1 first; an endpoint
//! whose reads all failed in transport is replaced by the next unused one
//! (one more round trip each), so with three providers one may be down. With
//! fewer than two answering, the call fails with the last transport error.
//! The staleness, bounds and sequencer checks then apply to the agreed round
//! as without a quorum.

use resilience_guest::prelude::*;

use crate::round::RoundData;

/// Venue setting: how many providers must agree, `1` (default) or `2`.
pub const SETTING: &str = "quorum";
/// Venue setting: how far apart (basis points of the larger answer) two
/// answers of different rounds may be.
pub const TOLERANCE_SETTING: &str = "quorum_tolerance_bps";
/// Default tolerance: 1%, above the 0.5% deviation threshold of the major
/// feeds, so a new round one provider has not seen yet still agrees.
pub const DEFAULT_TOLERANCE_BPS: u32 = 100;
/// `code` of the error when the providers disagree.
pub const DISAGREE_CODE: &str = "disagreement";

/// The configured agreement check, `None` for `quorum = 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quorum {
    pub tolerance_bps: u32,
}

/// Read the settings; a bad value is `unsupported`, naming the setting.
pub fn configured() -> Result<Option<Quorum>, VenueError> {
    from_settings(
        host::config(SETTING).as_deref(),
        host::config(TOLERANCE_SETTING).as_deref(),
    )
}

fn from_settings(
    quorum: Option<&str>,
    tolerance: Option<&str>,
) -> Result<Option<Quorum>, VenueError> {
    match quorum.map(str::trim) {
        None | Some("1") => Ok(None),
        Some("2") => {
            let tolerance_bps = match tolerance.map(str::trim) {
                None => DEFAULT_TOLERANCE_BPS,
                Some(t) => t.parse::<u32>().ok().filter(|t| *t <= 10_000).ok_or_else(|| {
                    VenueError::Unsupported(format!(
                        "venue setting `{TOLERANCE_SETTING}`: {t:?} is not a whole number of basis points from 0 to 10000"
                    ))
                })?,
            };
            Ok(Some(Quorum { tolerance_bps }))
        }
        Some(other) => Err(VenueError::Unsupported(format!(
            "venue setting `{SETTING}`: {other:?} is not 1 or 2"
        ))),
    }
}

/// The two endpoints to read first, refusing a venue with fewer than two.
pub fn first_pair(count: u32) -> Result<[u32; 2], VenueError> {
    if count < 2 {
        return Err(VenueError::Unsupported(format!(
            "venue setting `{SETTING}` = 2 needs at least two endpoints; this venue has {count}"
        )));
    }
    Ok([0, 1])
}

/// The round `pair`'s two providers agree on, or why they do not.
pub fn agree(
    pair: &str,
    q: Quorum,
    (ea, a): (u32, RoundData),
    (eb, b): (u32, RoundData),
) -> Result<RoundData, VenueError> {
    let disagree = |why: String| {
        Err(VenueError::upstream(
            200,
            Some(DISAGREE_CODE.to_string()),
            format!(
                "{pair}: endpoint {ea} answers {} (round {}, updated at {}) and endpoint {eb} \
                 answers {} (round {}, updated at {}): {why}",
                a.answer, a.round_id, a.updated_at, b.answer, b.round_id, b.updated_at
            ),
        ))
    };
    if a.round_id == b.round_id {
        if a.answer == b.answer && a.updated_at == b.updated_at {
            return Ok(a);
        }
        return disagree("the same round differs".to_string());
    }
    if !within(&a.answer, &b.answer, q.tolerance_bps) {
        return disagree(format!(
            "further apart than the quorum tolerance of {} bps",
            q.tolerance_bps
        ));
    }
    Ok(if b.updated_at > a.updated_at { b } else { a })
}

/// Whether two decimal integer answers are within `bps` of the larger one.
/// Answers beyond `i128` (never seen on a Chainlink feed) agree only when equal.
fn within(a: &str, b: &str, bps: u32) -> bool {
    let (Ok(x), Ok(y)) = (a.parse::<i128>(), b.parse::<i128>()) else {
        return a == b;
    };
    let diff = x.abs_diff(y);
    let larger = x.unsigned_abs().max(y.unsigned_abs());
    match (
        diff.checked_mul(10_000),
        larger.checked_mul(u128::from(bps)),
    ) {
        (Some(d), Some(l)) => d <= l,
        _ => diff == 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(id: u128, answer: &str, updated_at: u64) -> RoundData {
        RoundData {
            round_id: id,
            answer: answer.to_string(),
            started_at: updated_at.to_string(),
            updated_at,
            answered_in_round: id,
        }
    }

    const Q: Quorum = Quorum { tolerance_bps: 100 };

    fn code(r: Result<RoundData, VenueError>) -> String {
        match r {
            Err(VenueError::Upstream(u)) => u.code.unwrap_or_default(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn settings_default_to_one_and_refuse_anything_else() {
        assert_eq!(from_settings(None, None).unwrap(), None);
        assert_eq!(from_settings(Some("1"), Some("5")).unwrap(), None);
        assert_eq!(
            from_settings(Some("2"), None).unwrap(),
            Some(Quorum {
                tolerance_bps: DEFAULT_TOLERANCE_BPS
            })
        );
        assert_eq!(
            from_settings(Some(" 2 "), Some("25")).unwrap(),
            Some(Quorum { tolerance_bps: 25 })
        );
        for (q, t) in [
            (Some("3"), None),
            (Some("two"), None),
            (Some("2"), Some("-1")),
            (Some("2"), Some("10001")),
        ] {
            assert!(
                matches!(from_settings(q, t), Err(VenueError::Unsupported(_))),
                "{q:?} {t:?}"
            );
        }
        assert!(first_pair(1).is_err());
        assert_eq!(first_pair(3).unwrap(), [0, 1]);
    }

    #[test]
    fn the_same_round_must_be_identical() {
        let a = round(7, "200012000000", 1_700_000_000);
        assert_eq!(
            agree("ETH/USD", Q, (0, a.clone()), (1, a.clone())).unwrap(),
            a
        );
        let forged = round(7, "200012000001", 1_700_000_000);
        let r = agree("ETH/USD", Q, (0, a.clone()), (1, forged));
        let message = format!("{r:?}");
        assert_eq!(code(r), DISAGREE_CODE);
        assert!(
            message.contains("endpoint 0") && message.contains("endpoint 1"),
            "{message}"
        );
        let moved = round(7, "200012000000", 1_700_000_001);
        assert_eq!(code(agree("ETH/USD", Q, (0, a), (1, moved))), DISAGREE_CODE);
    }

    #[test]
    fn a_newer_round_within_the_tolerance_wins_and_beyond_it_disagrees() {
        let old = round(7, "200000000000", 1_700_000_000);
        // 0.99% higher: within 100 bps.
        let new = round(8, "201980000000", 1_700_000_600);
        assert_eq!(
            agree("ETH/USD", Q, (0, old.clone()), (1, new.clone())).unwrap(),
            new
        );
        assert_eq!(
            agree("ETH/USD", Q, (1, new.clone()), (0, old.clone())).unwrap(),
            new
        );
        // Exactly 1% of the larger answer is within; just above is not.
        let edge = round(8, "202020202020", 1_700_000_600);
        assert!(agree("ETH/USD", Q, (0, old.clone()), (1, edge)).is_ok());
        let far = round(8, "202100000000", 1_700_000_600);
        assert_eq!(code(agree("ETH/USD", Q, (0, old), (1, far))), DISAGREE_CODE);
    }

    #[test]
    fn answers_of_opposite_sign_or_beyond_i128_are_compared_safely() {
        assert!(!within("-5", "5", 10_000));
        let huge = "1".repeat(60);
        assert!(within(&huge, &huge, 0));
        assert!(!within(&huge, &format!("{huge}0"), 10_000));
        assert!(within("0", "0", 0));
    }
}
