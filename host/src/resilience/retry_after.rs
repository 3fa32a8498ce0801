//! What the venue asked us to wait: `Retry-After` (delta seconds or an
//! HTTP-date, RFC 9110 section 10.2.3), or a venue-specific reset header
//! (configured as `retry.reset_header`, read as delta seconds).
//!
//! The wait is rounded *up* to the next millisecond and never shortened:
//! retrying a few milliseconds early is the classic way to earn a ban.

use std::time::{Duration, SystemTime};

/// The wait requested by `headers`, if any. `reset_header` is an extra header
/// whose value is seconds until the venue's window resets.
pub fn requested_wait(
    headers: &[(String, String)],
    reset_header: Option<&str>,
    now: SystemTime,
) -> Option<Duration> {
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    };
    let retry_after = find("retry-after").and_then(|v| parse_retry_after(v, now));
    let reset = reset_header.and_then(find).and_then(parse_delta_seconds);
    match (retry_after, reset) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// Parse a `Retry-After` value: delta seconds (`"2"`, also `"1.5"`) or an
/// HTTP-date; a date in the past means zero.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    if let Some(d) = parse_delta_seconds(value) {
        return Some(d);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

fn parse_delta_seconds(value: &str) -> Option<Duration> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let secs: f64 = v.parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    // Round up to whole milliseconds: never wait less than asked.
    let ms = (secs * 1000.0).ceil();
    Some(Duration::from_millis(ms.min(u64::MAX as f64) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn delta_seconds_are_read_exactly() {
        let now = SystemTime::UNIX_EPOCH;
        assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("1.0005", now),
            Some(Duration::from_millis(1001)),
            "rounded up"
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn http_date_is_relative_to_now() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        let v = "Wed, 21 Oct 2015 07:28:07 GMT";
        assert_eq!(parse_retry_after(v, now), Some(Duration::from_secs(7)));
        let past = "Wed, 21 Oct 2015 07:27:00 GMT";
        assert_eq!(parse_retry_after(past, now), Some(Duration::ZERO));
    }

    #[test]
    fn the_longer_of_retry_after_and_reset_header_wins() {
        let now = SystemTime::UNIX_EPOCH;
        let headers = h(&[("Retry-After", "1"), ("X-Reset", "3")]);
        assert_eq!(
            requested_wait(&headers, Some("x-reset"), now),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            requested_wait(&headers, None, now),
            Some(Duration::from_secs(1))
        );
        assert_eq!(requested_wait(&h(&[]), Some("x-reset"), now), None);
    }
}
