//! The L2 sequencer uptime check made before any L2 price is returned.
//!
//! While an L2's sequencer is down, its feeds cannot be updated and look
//! fresh-but-frozen to anyone reading them; right after it comes back, prices
//! move at once and users have had no chance to react. Chainlink's answer is
//! the sequencer uptime feed and a grace period
//! (<https://docs.chain.link/data-feeds/l2-sequencer-feeds>, "Example code",
//! `GRACE_PERIOD_TIME = 3600` in its `DataConsumerWithSequencerCheck.sol`):
//!
//! | uptime feed `latestRoundData()`     | outcome |
//! |-------------------------------------|---------|
//! | `answer == 1`                       | `upstream`, code `sequencer_down` |
//! | `startedAt == 0` (invalid round)    | `upstream`, code `sequencer_down` |
//! | `answer == 0`, `now - startedAt < grace` | `upstream`, code `grace_period`, with the seconds left |
//! | `answer == 0`, grace passed         | prices are read as usual |
//! | any other answer                    | `parse` |
//!
//! `startedAt` is when the status last changed. The errors are `upstream`
//! (HTTP 502 for the caller) with a stable `code`, so a client can tell
//! "the chain is unsafe to price" from a provider failure.
//!
//! | venue setting        | default | effect |
//! |----------------------|---------|--------|
//! | `sequencer_grace_s`  | 3600    | the grace period after the sequencer comes back |
//! | `sequencer_feed`     | the chain's (see [`crate::chains`]) | another uptime feed proxy |

use resilience_guest::VenueError;

use crate::round::RoundData;

/// Venue setting: the grace period in seconds.
pub const GRACE_SETTING: &str = "sequencer_grace_s";
/// Chainlink's example grace period.
pub const DEFAULT_GRACE_S: u64 = 3600;
/// Venue setting: the uptime feed proxy, overriding the chain's.
pub const FEED_SETTING: &str = "sequencer_feed";
/// `code` of the error when the sequencer is down.
pub const DOWN_CODE: &str = "sequencer_down";
/// `code` of the error inside the grace period.
pub const GRACE_CODE: &str = "grace_period";

/// Check the uptime feed's round at `now_s` with `grace_s`.
pub fn check(round: &RoundData, now_s: u64, grace_s: u64) -> Result<(), VenueError> {
    let started_at: u64 = round.started_at.parse().map_err(|_| {
        VenueError::parse(format!(
            "sequencer uptime feed: startedAt {} is not a timestamp",
            round.started_at
        ))
    })?;
    match round.answer.as_str() {
        "1" => Err(VenueError::upstream(
            200,
            Some(DOWN_CODE.to_string()),
            format!("the L2 sequencer is down (since {started_at}); no price is returned"),
        )),
        "0" if started_at == 0 => Err(VenueError::upstream(
            200,
            Some(DOWN_CODE.to_string()),
            "the sequencer uptime feed has no valid round (startedAt is 0); no price is returned",
        )),
        "0" => {
            let up_for = now_s.saturating_sub(started_at);
            if up_for < grace_s {
                return Err(VenueError::upstream(
                    200,
                    Some(GRACE_CODE.to_string()),
                    format!(
                        "the L2 sequencer came back {up_for} s ago (at {started_at}); prices are \
                         refused for {} s more (grace period {grace_s} s)",
                        grace_s - up_for
                    ),
                ));
            }
            Ok(())
        }
        other => Err(VenueError::parse(format!(
            "sequencer uptime feed answered {other}; expected 0 (up) or 1 (down)"
        ))),
    }
}

/// The grace period from the setting value `configured`; a value that is not
/// a whole number of seconds is `unsupported`, naming the setting.
pub fn grace_s(configured: Option<String>) -> Result<u64, VenueError> {
    match configured {
        None => Ok(DEFAULT_GRACE_S),
        Some(v) => v.trim().parse().map_err(|_| {
            VenueError::Unsupported(format!(
                "venue setting `{GRACE_SETTING}` = {v:?} is not a whole number of seconds"
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round(answer: &str, started_at: u64) -> RoundData {
        RoundData {
            round_id: 1,
            answer: answer.into(),
            started_at: started_at.to_string(),
            updated_at: started_at,
            answered_in_round: 1,
        }
    }

    fn code(r: Result<(), VenueError>) -> String {
        match r {
            Err(VenueError::Upstream(u)) => u.code.unwrap_or_default(),
            other => panic!("expected upstream, got {other:?}"),
        }
    }

    #[test]
    fn down_is_refused_whatever_the_time() {
        assert_eq!(code(check(&round("1", 100), 1_000_000, 3600)), DOWN_CODE);
    }

    #[test]
    fn invalid_round_is_refused_as_down() {
        assert_eq!(code(check(&round("0", 0), 1_000_000, 3600)), DOWN_CODE);
    }

    #[test]
    fn grace_period_is_exclusive_at_its_end() {
        let r = round("0", 10_000);
        match check(&r, 10_000 + 3599, 3600) {
            Err(VenueError::Upstream(u)) => {
                assert_eq!(u.code.as_deref(), Some(GRACE_CODE));
                assert!(u.message.contains("1 s more"), "{}", u.message);
            }
            other => panic!("{other:?}"),
        }
        assert!(check(&r, 10_000 + 3600, 3600).is_ok());
        assert!(check(&r, 10_000, 0).is_ok());
    }

    #[test]
    fn other_answers_are_parse_errors() {
        for a in ["2", "-1"] {
            assert!(matches!(
                check(&round(a, 5), 10, 0),
                Err(VenueError::Parse(_))
            ));
        }
    }

    #[test]
    fn grace_setting_parses_or_names_the_key() {
        assert_eq!(grace_s(None).unwrap(), 3600);
        assert_eq!(grace_s(Some(" 60 ".into())).unwrap(), 60);
        assert!(matches!(
            grace_s(Some("1h".into())),
            Err(VenueError::Unsupported(m)) if m.contains(GRACE_SETTING)
        ));
    }
}
