//! The account's position mode: one-way (one `BOTH` position per symbol) or
//! hedge (a `LONG` and a `SHORT` position per symbol).
//!
//! The mode decides what an order must carry: in hedge mode `positionSide`
//! (`LONG`/`SHORT`) and never `reduceOnly`; in one-way mode no `positionSide`
//! other than `BOTH`. A wrong guess is refused by the venue (`-4061`), so the
//! plugin knows the mode before it places an order:
//!
//! | setting `position_mode` | mode used |
//! |-------------------------|-----------|
//! | `auto` (default)        | read with Get Current Position Mode (`GET /fapi/v1/positionSide/dual`, weight 30), kept 10 minutes, read again at once after a `-4061` |
//! | `one-way` / `hedge`     | as set; no request |
//!
//! When the read fails the order goes out as the caller wrote it (the venue
//! refuses a wrong one with `-4061`) and the read is tried again after 30 s.

use resilience_guest::prelude::*;
use serde::Deserialize;

use crate::api;
use crate::params::PositionSide;
use crate::rest;

/// Venue setting: `auto`, `one-way` or `hedge`.
pub const SETTING: &str = "position_mode";
/// How long one read of the mode is used.
const TTL_MS: u64 = 600_000;
/// Wait before reading again after a failed read.
const RETRY_AFTER_FAILURE_MS: u64 = 30_000;

/// One-way or hedge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PositionMode {
    OneWay,
    Hedge,
}

impl PositionMode {
    /// How the venue's docs name it.
    pub fn name(self) -> &'static str {
        match self {
            PositionMode::OneWay => "one-way",
            PositionMode::Hedge => "hedge",
        }
    }
}

/// Refuse an order's `position_side` / `reduce_only` that the account's
/// mode (when known) does not allow, as the venue would with `-4061`.
pub fn check_position(
    mode: Option<PositionMode>,
    side: Option<PositionSide>,
    reduce_only: bool,
) -> Result<(), VenueError> {
    match (mode, side) {
        (Some(PositionMode::Hedge), None | Some(PositionSide::Both)) => Err(VenueError::invalid(
            "position_side: the account is in hedge mode; give LONG or SHORT",
        )),
        (Some(PositionMode::Hedge), _) if reduce_only => Err(VenueError::invalid(
            "reduce_only: cannot be sent in hedge mode; an order reduces a position when it is \
             SELL on LONG or BUY on SHORT",
        )),
        (Some(PositionMode::OneWay), Some(side @ (PositionSide::Long | PositionSide::Short))) => {
            Err(VenueError::invalid(format!(
                "position_side: {} needs hedge mode; the account is in one-way mode (send BOTH or \
                 nothing)",
                side.as_str()
            )))
        }
        _ => Ok(()),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DualSide {
    dual_side_position: bool,
}

/// The last read of the mode.
#[derive(Debug, Default)]
pub struct ModeCache {
    mode: Option<PositionMode>,
    /// Host time (ms) after which the mode is read again.
    fresh_until_ms: u64,
}

impl ModeCache {
    /// The account's mode; `None` when it cannot be read now.
    pub fn get(&mut self, clock_offset_ms: i64) -> Result<Option<PositionMode>, VenueError> {
        match host::config(SETTING).as_deref().map(str::trim) {
            None | Some("auto") => {}
            Some("one-way") => return Ok(Some(PositionMode::OneWay)),
            Some("hedge") => return Ok(Some(PositionMode::Hedge)),
            Some(other) => {
                return Err(VenueError::invalid(format!(
                    "venue setting {SETTING}: expected \"auto\", \"one-way\" or \"hedge\", got \
                     {other:?}"
                )));
            }
        }
        let now = host::now_ms();
        if now >= self.fresh_until_ms {
            self.read(now, clock_offset_ms);
        }
        Ok(self.mode)
    }

    /// Read the mode again at the next order.
    pub fn expire(&mut self) {
        self.fresh_until_ms = 0;
    }

    fn read(&mut self, now: u64, clock_offset_ms: i64) {
        let read = rest::request(&api::POSITION_MODE, Query::new(), clock_offset_ms)
            .and_then(rest::send)
            .and_then(|resp| rest::read::<DualSide>(&resp));
        match read {
            Ok(d) => {
                self.mode = Some(if d.dual_side_position {
                    PositionMode::Hedge
                } else {
                    PositionMode::OneWay
                });
                self.fresh_until_ms = now.saturating_add(TTL_MS);
            }
            Err(e) => {
                self.mode = None;
                self.fresh_until_ms = now.saturating_add(RETRY_AFTER_FAILURE_MS);
                host::log(
                    host::Level::Warn,
                    &format!(
                        "Binance position mode could not be read ({e}); orders go out as the \
                         caller wrote them"
                    ),
                );
            }
        }
    }
}
