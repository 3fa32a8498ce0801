//! Kraken spot REST, public market data: the constants and the venue's error
//! envelope. Every fact here has its source beside it.
//!
//! Sources:
//! - Server time: <https://docs.kraken.com/api/docs/rest-api/get-server-time>
//! - Ticker: <https://docs.kraken.com/api/docs/rest-api/get-ticker-information>
//! - Errors: <https://support.kraken.com/hc/en-us/articles/360001491786-API-error-messages>
//! - Public rate limits (per IP): <https://docs.kraken.com/api/docs/guides/spot-rest-ratelimits>

use resilience_guest::VenueError;
use serde_json::Value;

/// GET, no params: `{"error":[],"result":{"unixtime":1688669448,"rfc1123":"Thu, 06 Jul 23 18:50:48 +0000"}}`.
pub const TIME_PATH: &str = "/0/public/Time";
/// GET `?pair=XBTUSD`: the result is keyed by Kraken's own pair name
/// (`XBTUSD` answers under `XXBTZUSD`), so the one entry is taken as it is.
pub const TICKER_PATH: &str = "/0/public/Ticker";

/// Errors that mean "slow down": the public API's per-IP limit
/// (`EAPI:Rate limit exceeded`) and the counter that guards against floods
/// (`EGeneral:Too many requests`). Kraken names no wait in either.
const RATE_LIMIT_ERRORS: [&str; 2] = ["EAPI:Rate limit exceeded", "EGeneral:Too many requests"];

/// The venue's error in an answer, whatever its HTTP status.
///
/// Kraken answers every request, failed or not, with
/// `{"error": [...], "result": ...}`; a non-empty `error` list is a failure,
/// most often with HTTP 200. Each entry reads
/// `<severity><category>:<type>[:<extra>]`, severity `E` (error) or `W`
/// (warning, which does not fail the request). The first error is the
/// venue's code and message: a rate limit becomes
/// [`VenueError::rate_limited`], so the host blocks the venue as for a 429;
/// anything else is `upstream` with the full string as the code
/// (`EQuery:Unknown asset pair`).
pub fn error_in(body: &Value, status: u16) -> Option<VenueError> {
    let first = body
        .get("error")?
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .find(|e| e.starts_with('E'))?;
    Some(if RATE_LIMIT_ERRORS.iter().any(|r| first.starts_with(r)) {
        VenueError::rate_limited(format!("Kraken: {first}"), None)
    } else {
        VenueError::upstream(status, Some(first.to_string()), first)
    })
}
