//! Binance's clock as this instance last measured it.
//!
//! Binance refuses a signed request whose `timestamp` is more than 1000 ms
//! ahead of its server time, or older than `recvWindow` when it arrives
//! (`-1021`). The host stamps each attempt as it leaves (the signing recipe),
//! so a retry never carries a stale timestamp; what the host clock cannot know
//! is how far it is from Binance's. This module measures that offset with
//! Check Server Time (`GET /fapi/v1/time`, weight 1) and hands it to the recipe
//! as `clock-offset-ms`:
//!
//! | when                                   | what happens |
//! |----------------------------------------|--------------|
//! | first signed request of the instance   | measure: `serverTime - (sent + received) / 2` |
//! | `time_sync_s` seconds after the last measurement (setting, default 300; `0` turns syncing off and the offset stays 0) | measure again |
//! | a `-1021` answer                        | measure again now, then the request is sent once more ([`crate::session`]) |
//! | the measurement fails                   | keep the last offset (0 at first), log a warning, try again after 30 s: a clock check never blocks an order |

use resilience_guest::prelude::*;
use serde::Deserialize;

use crate::api;
use crate::rest;

/// Venue setting: seconds between two measurements; `0` turns syncing off.
pub const SYNC_SETTING: &str = "time_sync_s";
/// Seconds between measurements when the setting is absent.
const DEFAULT_SYNC_S: u64 = 300;
/// Wait before measuring again after a failed measurement.
const RETRY_AFTER_FAILURE_MS: u64 = 30_000;

/// The measured offset and when to measure next.
#[derive(Debug, Default)]
pub struct ServerClock {
    offset_ms: i64,
    /// Host time (ms) at or after which the next signed request measures.
    next_sync_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServerTime {
    server_time: u64,
}

impl ServerClock {
    /// Binance's clock minus the host's, measuring first when due.
    pub fn offset_ms(&mut self) -> Result<i64, VenueError> {
        let Some(interval_ms) = sync_interval_ms()? else {
            return Ok(0);
        };
        let now = host::now_ms();
        if self.next_sync_ms.is_none_or(|next| now >= next) {
            self.measure(interval_ms);
        }
        Ok(self.offset_ms)
    }

    /// Measure at the next signed request, whatever the schedule says.
    pub fn expire(&mut self) {
        self.next_sync_ms = None;
    }

    fn measure(&mut self, interval_ms: u64) {
        let sent = host::now_ms();
        let answer = rest::request(&api::SERVER_TIME, Query::new(), 0)
            .and_then(rest::send)
            .and_then(|resp| rest::read::<ServerTime>(&resp));
        let received = host::now_ms();
        match answer {
            Ok(t) => {
                let midpoint = sent / 2 + received / 2 + (sent % 2 + received % 2) / 2;
                self.offset_ms = offset(t.server_time, midpoint);
                self.next_sync_ms = Some(received.saturating_add(interval_ms));
                host::log(
                    host::Level::Debug,
                    &format!("Binance clock offset {} ms", self.offset_ms),
                );
            }
            Err(e) => {
                self.next_sync_ms = Some(received.saturating_add(RETRY_AFTER_FAILURE_MS));
                host::log(
                    host::Level::Warn,
                    &format!(
                        "Binance server time could not be read ({e}); signing with the last \
                         offset, {} ms",
                        self.offset_ms
                    ),
                );
            }
        }
    }
}

/// `server - host` in ms, saturating.
fn offset(server_ms: u64, host_ms: u64) -> i64 {
    let diff = i128::from(server_ms) - i128::from(host_ms);
    i64::try_from(diff).unwrap_or(if diff < 0 { i64::MIN } else { i64::MAX })
}

/// The setting `time_sync_s` in ms; `None` when syncing is off.
fn sync_interval_ms() -> Result<Option<u64>, VenueError> {
    let seconds = match host::config(SYNC_SETTING) {
        None => DEFAULT_SYNC_S,
        Some(text) => text.trim().parse::<u64>().map_err(|_| {
            VenueError::invalid(format!(
                "venue setting {SYNC_SETTING}: expected whole seconds (0 turns syncing off), \
                 got {text:?}"
            ))
        })?,
    };
    Ok((seconds > 0).then(|| seconds.saturating_mul(1000)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_are_signed_and_saturate() {
        assert_eq!(offset(1_000, 1_250), -250);
        assert_eq!(offset(1_250, 1_000), 250);
        assert_eq!(offset(u64::MAX, 0), i64::MAX);
        assert_eq!(offset(0, u64::MAX), i64::MIN);
    }
}
