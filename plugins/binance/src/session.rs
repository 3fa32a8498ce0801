//! What one plugin instance remembers between calls (the venue's clock
//! offset, the symbols' filters, the position mode) and the send path every
//! operation uses.
//!
//! **A `-1021` is answered once.** Binance refuses a request whose timestamp
//! is outside `recvWindow` before it does anything, so the refusal proves the
//! request had no effect; the plugin measures the clock again and sends the
//! same request once more, freshly stamped and signed by the host. This holds
//! for orders too: a refused New Order placed nothing. A second `-1021` is
//! returned to the caller (the clock is not the problem, or not only).

use resilience_guest::prelude::*;
use serde::de::DeserializeOwned;

use crate::api::{self, Endpoint};
use crate::clock::ServerClock;
use crate::filters::{self, FilterCache, OrderShape};
use crate::mode::{ModeCache, PositionMode};
use crate::rest;

/// The instance's view of the venue.
#[derive(Debug, Default)]
pub struct Session {
    pub clock: ServerClock,
    pub filters: FilterCache,
    pub mode: ModeCache,
}

impl Session {
    /// Send `params` to `ep`, signed with the current clock offset; a
    /// `-1021` is measured away and sent once more (module docs).
    pub fn send(&mut self, ep: &Endpoint, params: Query) -> Result<Response, VenueError> {
        let offset = if ep.signed {
            self.clock.offset_ms()?
        } else {
            0
        };
        let resp = rest::send(rest::request(ep, params.clone(), offset)?)?;
        if !ep.signed || resp.is_success() {
            return Ok(resp);
        }
        if rest::code(&rest::venue_error(&resp)) != Some(api::INVALID_TIMESTAMP) {
            return Ok(resp);
        }
        host::log(
            host::Level::Warn,
            &format!(
                "Binance refused the timestamp of {} {} (-1021); measuring its clock again and \
                 sending once more",
                method_name(ep),
                ep.path
            ),
        );
        self.clock.expire();
        let offset = self.clock.offset_ms()?;
        rest::send(rest::request(ep, params, offset)?)
    }

    /// Send and read one call: a 2xx body as `T`, anything else as the
    /// venue's error.
    pub fn call<T: DeserializeOwned>(
        &mut self,
        ep: &Endpoint,
        params: Query,
    ) -> Result<T, VenueError> {
        rest::read(&self.send(ep, params)?)
    }

    /// Refuse `order` on `symbol` when it breaks an exchange filter (unless
    /// the setting turns the checks off or the filters cannot be read now).
    pub fn check_filters(
        &mut self,
        symbol: &str,
        order: &OrderShape<'_>,
    ) -> Result<(), VenueError> {
        if !filters::enabled()? {
            return Ok(());
        }
        match self.filters.get(symbol)? {
            Some(f) => f.check(order),
            None => Ok(()),
        }
    }

    /// The account's position mode, when known.
    pub fn position_mode(&mut self) -> Result<Option<PositionMode>, VenueError> {
        let offset = self.clock.offset_ms()?;
        self.mode.get(offset)
    }

    /// Forget what `err` says is out of date: the filters after a filter
    /// refusal, the position mode after a `-4061`.
    pub fn learn_from(&mut self, err: &VenueError) {
        self.filters.expire_on(err);
        if rest::code(err) == Some(api::POSITION_SIDE_MISMATCH) {
            self.mode.expire();
        }
    }
}

fn method_name(ep: &Endpoint) -> &'static str {
    match ep.method {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Patch => "PATCH",
    }
}
