//! Requests to Binance and their answers: signing, the API key header,
//! usage reports and the venue's error codes.
//!
//! | step      | what happens |
//! |-----------|--------------|
//! | build     | params in the order given, percent-encoded as UTF-8 ([`Query`]); SIGNED endpoints add `recvWindow` (setting `recv_window_ms`, default 5000) and a signing recipe the host applies **at each attempt**: `timestamp` (the host clock as the attempt leaves, corrected by the offset to Binance's clock measured in `clock`), then `signature` = lower-case hex HMAC-SHA256 (secret `api_secret`) of the query, last; header `X-MBX-APIKEY` = secret `api_key` |
//! | send      | through the host, with the endpoint's weight and retry safety; params go in the query string and the body stays empty, so the signed bytes are exactly the query sent |
//! | report    | every `X-MBX-USED-WEIGHT-(n)(u)` as `weight` and `X-MBX-ORDER-COUNT-(n)(u)` as `orders`, with its window, whatever the status |
//! | read      | 2xx: the body as `T`; otherwise `upstream` with Binance's `code` and `msg` (`-1021` and `-1022` reworded to name the cause) |

use resilience_guest::envelope;
use resilience_guest::prelude::*;
use resilience_guest::signing::{MessagePart, SignatureEncoding, Signing, TimeUnit};
use serde::de::DeserializeOwned;

use crate::api::{self, Endpoint};

/// The request for `ep` with `params` (without the signing params);
/// `clock_offset_ms` is Binance's clock minus the host's ([`crate::clock`]).
pub fn request(ep: &Endpoint, params: Query, clock_offset_ms: i64) -> Result<Request, VenueError> {
    let req = if ep.signed {
        let query = params.push("recvWindow", recv_window_ms()?);
        Request::new(ep.method, query.to_path(ep.path))
            .secret_header(api::API_KEY_HEADER, api::API_KEY)
            .signed(signing().clock_offset_ms(clock_offset_ms))
    } else {
        Request::new(ep.method, params.to_path(ep.path))
    };
    Ok(req.weight(ep.weight).idempotent(ep.idempotent))
}

/// Binance's SIGNED-endpoint recipe: `timestamp` (ms) appended to the
/// query at each attempt, then `signature`, the hex HMAC-SHA256 of the query
/// and body (the body is empty here), appended last.
pub fn signing() -> Signing {
    Signing::hmac_sha256(api::API_SECRET)
        .timestamp_query(api::TIMESTAMP_PARAM, TimeUnit::Milliseconds)
        .message([MessagePart::Query, MessagePart::Body])
        .signature_query(api::SIGNATURE_PARAM, SignatureEncoding::Hex)
}

/// Send `req` through the host and report the venue's usage headers.
pub fn send(req: Request) -> Result<Response, VenueError> {
    let resp = req.send()?;
    report_usage(&resp);
    Ok(resp)
}

/// A 2xx body as `T`; anything else as [`venue_error`].
pub fn read<T: DeserializeOwned>(resp: &Response) -> Result<T, VenueError> {
    if resp.is_success() {
        resp.json()
    } else {
        Err(venue_error(resp))
    }
}

/// A non-2xx answer as `upstream` with Binance's code; 429 and 418 arrive
/// here only after the host's rate limiter has acted on them.
pub fn venue_error(resp: &Response) -> VenueError {
    match envelope::upstream_error(resp) {
        VenueError::Upstream(mut e) => {
            match e.code.as_deref() {
                Some(api::INVALID_TIMESTAMP) => {
                    let window = recv_window_ms().unwrap_or(api::DEFAULT_RECV_WINDOW_MS);
                    e.message = format!(
                        "Binance rejected the request timestamp (-1021): the host clock differs \
                         from Binance's server time by more than recvWindow ({window} ms), is \
                         more than 1000 ms ahead of it, or the request took that long to arrive; \
                         sync the host clock (NTP) or raise the venue setting {}. Binance said: {}",
                        api::RECV_WINDOW_SETTING,
                        e.message
                    );
                }
                Some(api::INVALID_SIGNATURE) => {
                    e.message = format!(
                        "Binance rejected the request signature (-1022): the HMAC-SHA256 of the \
                         query did not verify with the API key's secret; check that the venue \
                         secrets api_key and api_secret belong to the same HMAC key, and that \
                         nothing between the host and Binance rewrites the query. Binance said: {}",
                        e.message
                    );
                }
                _ => {}
            }
            VenueError::Upstream(e)
        }
        other => other,
    }
}

/// Binance's error code of an `upstream` error (`"-2013"`).
pub fn code(e: &VenueError) -> Option<&str> {
    match e {
        VenueError::Upstream(u) => u.code.as_deref(),
        _ => None,
    }
}

/// `recvWindow` from the venue setting, 1 to 60000 ms.
pub fn recv_window_ms() -> Result<u64, VenueError> {
    let Some(text) = host::config(api::RECV_WINDOW_SETTING) else {
        return Ok(api::DEFAULT_RECV_WINDOW_MS);
    };
    match text.trim().parse::<u64>() {
        Ok(ms) if (1..=api::MAX_RECV_WINDOW_MS).contains(&ms) => Ok(ms),
        _ => Err(VenueError::invalid(format!(
            "venue setting {}: expected whole milliseconds from 1 to {}, got {text:?}",
            api::RECV_WINDOW_SETTING,
            api::MAX_RECV_WINDOW_MS
        ))),
    }
}

/// Report the venue's own counters from `resp`'s headers to the host.
pub fn report_usage(resp: &Response) {
    for (name, value) in &resp.headers {
        let name = name.to_ascii_lowercase();
        let (counter, interval) = if let Some(i) = name.strip_prefix(api::USED_WEIGHT_PREFIX) {
            (api::WEIGHT_COUNTER, i)
        } else if let Some(i) = name.strip_prefix(api::ORDER_COUNT_PREFIX) {
            (api::ORDERS_COUNTER, i)
        } else {
            continue;
        };
        if let (Some(window_ms), Ok(used)) = (interval_ms(interval), value.trim().parse::<u64>()) {
            host::report_usage(counter, used, window_ms);
        }
    }
}

/// A header's interval (`1m`, `10s`, `1d`) in milliseconds.
fn interval_ms(interval: &str) -> Option<u64> {
    let unit_ms = match interval.bytes().last()? {
        b's' => 1_000,
        b'm' => 60_000,
        b'h' => 3_600_000,
        b'd' => 86_400_000,
        _ => return None,
    };
    let n: u64 = interval[..interval.len() - 1].parse().ok()?;
    n.checked_mul(unit_ms).filter(|ms| *ms > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_intervals_become_windows() {
        assert_eq!(interval_ms("1m"), Some(60_000));
        assert_eq!(interval_ms("10s"), Some(10_000));
        assert_eq!(interval_ms("1d"), Some(86_400_000));
        assert_eq!(interval_ms("1h"), Some(3_600_000));
        for bad in ["", "m", "0m", "1x", "-1m", "1.5m"] {
            assert_eq!(interval_ms(bad), None, "{bad:?}");
        }
    }
}
