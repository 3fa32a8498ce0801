//! What the host offers a plugin besides `send`: clock, settings, signing with
//! host-held secrets, logging and rate-limit usage reports.
//!
//! Everything is scoped to the venue of the current call: `config` reads that
//! venue's `settings`, and a secret name refers to that venue's `secrets`.

use crate::bindings::resilience::venue::types::LogLevel;
use crate::error::SendError;
use crate::sys as raw;

/// Milliseconds since the Unix epoch, from the host clock (the only clock a
/// plugin has; tests run it fixed).
///
/// ```no_run
/// let ts = resilience_guest::host::now_ms();
/// assert!(ts > 1_600_000_000_000);
/// ```
pub fn now_ms() -> u64 {
    raw::now_ms()
}

/// A non-secret setting of the current venue, from `settings` in the host config.
///
/// ```no_run
/// let window = resilience_guest::host::config("recv_window_ms").unwrap_or_else(|| "5000".into());
/// ```
pub fn config(key: &str) -> Option<String> {
    raw::config(key)
}

/// HMAC-SHA256 of `message` keyed with the venue's secret `secret`.
/// The secret's bytes stay in the host.
///
/// ```no_run
/// let mac = resilience_guest::host::hmac_sha256("api_secret", b"symbol=BTCUSDT").unwrap();
/// assert_eq!(mac.len(), 32);
/// ```
pub fn hmac_sha256(secret: &str, message: &[u8]) -> Result<Vec<u8>, SendError> {
    raw::hmac_sha256(secret, message)
}

/// Sign a 32-byte digest with the venue's secp256k1 key `secret`: 65 bytes
/// `r || s || v` with `v = 27 + recovery id` (RFC 6979, deterministic).
///
/// ```no_run
/// let sig = resilience_guest::host::sign_secp256k1("private_key", &[7u8; 32]).unwrap();
/// assert_eq!(sig.len(), 65);
/// ```
pub fn sign_secp256k1(secret: &str, digest: &[u8; 32]) -> Result<Vec<u8>, SendError> {
    raw::sign_secp256k1(secret, digest)
}

/// Tell the host the venue's own count of a rate-limit counter (Binance
/// `X-MBX-USED-WEIGHT-1M`), so the host's budget tracks the venue's.
///
/// ```no_run
/// resilience_guest::host::report_usage("weight", 40, 60_000);
/// ```
pub fn report_usage(counter: &str, used: u64, window_ms: u64) {
    raw::report_usage(&UsageReport {
        counter: counter.to_string(),
        used,
        window_ms,
    })
}

/// Write `message` to the host log at `level`, tagged with venue and plugin.
///
/// ```no_run
/// use resilience_guest::host::{log, Level};
/// log(Level::Info, "reading the order book");
/// ```
pub fn log(level: Level, message: &str) {
    raw::log(level, message)
}

/// Log level of [`log`].
///
/// ```
/// use resilience_guest::host::Level;
/// assert!(Level::Warn > Level::Info);
/// ```
pub type Level = LogLevel;

/// A usage report as [`report_usage`] sends it (the WIT `usage-report`).
///
/// ```
/// let r = resilience_guest::host::UsageReport { counter: "orders".into(), used: 3, window_ms: 10_000 };
/// assert_eq!(r.counter, "orders");
/// ```
pub type UsageReport = crate::bindings::resilience::venue::types::UsageReport;
