//! Signed requests. The secret stays in the host either way:
//!
//! - **Per-attempt recipes** ([`Signing`], set with `Request::signed`): the
//!   host stamps and signs *each attempt* just before it leaves, so a retry
//!   never carries a stale timestamp. Use this for any signature that covers
//!   a timestamp (Binance `timestamp` + `signature`, Polymarket L2
//!   `POLY_TIMESTAMP` + `POLY_SIGNATURE`).
//! - **A MAC the plugin needs as a value** ([`hmac_hex`], [`hmac_base64`],
//!   [`hmac_base64url`] over the host's `hmac-sha256`), for signatures that
//!   do not go stale.
//!
//! Declare the key in `Plugin::SECRETS` with `SecretUse::HmacKey`. A secret
//! the plugin did not declare, or the venue did not configure, comes back as
//! `transport(denied(..))` naming the secret, like any refused host call.

use crate::bindings::resilience::venue::types;
pub use crate::bindings::resilience::venue::types::{MessagePart, SignatureEncoding, TimeUnit};
use crate::encoding::{base64_encode, base64url_encode, hex_encode};
use crate::error::VenueError;
use crate::host;

/// A per-attempt HMAC-SHA256 signing recipe (WIT `signing`), applied by the
/// host at each attempt.
///
/// ```
/// use resilience_guest::signing::{MessagePart, SignatureEncoding, Signing, TimeUnit};
/// // Binance: `timestamp` (ms) and `signature` (hex of HMAC(query + body)) in the query.
/// let binance = Signing::hmac_sha256("api_secret")
///     .timestamp_query("timestamp", TimeUnit::Milliseconds)
///     .message([MessagePart::Query, MessagePart::Body])
///     .signature_query("signature", SignatureEncoding::Hex);
/// // Polymarket L2: seconds in POLY_TIMESTAMP, base64url in POLY_SIGNATURE.
/// let poly = Signing::hmac_sha256("api_secret")
///     .timestamp_header("POLY_TIMESTAMP", TimeUnit::Seconds)
///     .message([MessagePart::Timestamp, MessagePart::Method, MessagePart::Path, MessagePart::Body])
///     .signature_header("POLY_SIGNATURE", SignatureEncoding::Base64url);
/// assert_eq!(poly.into_raw().message.len(), 4);
/// # let _ = binance;
/// ```
#[derive(Debug, Clone)]
pub struct Signing(types::Signing);

impl Signing {
    /// A recipe keyed with the venue secret `secret` (declared `hmac-key`):
    /// no timestamp, an empty message and a hex `signature` query parameter
    /// until set otherwise.
    pub fn hmac_sha256(secret: &str) -> Self {
        Self(types::Signing {
            secret: secret.to_string(),
            timestamp: None,
            timestamp_unit: TimeUnit::Milliseconds,
            clock_offset_ms: 0,
            message: Vec::new(),
            signature: types::Slot::Query("signature".into()),
            signature_encoding: SignatureEncoding::Hex,
        })
    }

    /// The attempt's timestamp goes in query parameter `name`, appended.
    pub fn timestamp_query(mut self, name: &str, unit: TimeUnit) -> Self {
        self.0.timestamp = Some(types::Slot::Query(name.to_string()));
        self.0.timestamp_unit = unit;
        self
    }

    /// The attempt's timestamp goes in header `name`.
    pub fn timestamp_header(mut self, name: &str, unit: TimeUnit) -> Self {
        self.0.timestamp = Some(types::Slot::Header(name.to_string()));
        self.0.timestamp_unit = unit;
        self
    }

    /// The venue's clock minus the host's, in ms, added to the timestamp.
    pub fn clock_offset_ms(mut self, offset: i64) -> Self {
        self.0.clock_offset_ms = offset;
        self
    }

    /// What is signed: the parts, concatenated in order.
    pub fn message(mut self, parts: impl IntoIterator<Item = MessagePart>) -> Self {
        self.0.message = parts.into_iter().collect();
        self
    }

    /// The signature goes in query parameter `name`, appended last.
    pub fn signature_query(mut self, name: &str, encoding: SignatureEncoding) -> Self {
        self.0.signature = types::Slot::Query(name.to_string());
        self.0.signature_encoding = encoding;
        self
    }

    /// The signature goes in header `name`.
    pub fn signature_header(mut self, name: &str, encoding: SignatureEncoding) -> Self {
        self.0.signature = types::Slot::Header(name.to_string());
        self.0.signature_encoding = encoding;
        self
    }

    /// The WIT record.
    pub fn into_raw(self) -> types::Signing {
        self.0
    }
}

/// Lower-case hex HMAC-SHA256 of `message` with the venue's secret `secret`.
///
/// ```no_run
/// let sig = resilience_guest::signing::hmac_hex("api_secret", "symbol=BTCUSDT&timestamp=1")?;
/// assert_eq!(sig.len(), 64);
/// # Ok::<(), resilience_guest::VenueError>(())
/// ```
pub fn hmac_hex(secret: &str, message: impl AsRef<[u8]>) -> Result<String, VenueError> {
    Ok(hex_encode(host::hmac_sha256(secret, message.as_ref())?))
}

/// Standard base64 (padded) HMAC-SHA256 of `message` with secret `secret`.
///
/// ```no_run
/// let sig = resilience_guest::signing::hmac_base64("api_secret", "1700000000GET/orders")?;
/// assert_eq!(sig.len(), 44);
/// # Ok::<(), resilience_guest::VenueError>(())
/// ```
pub fn hmac_base64(secret: &str, message: impl AsRef<[u8]>) -> Result<String, VenueError> {
    Ok(base64_encode(host::hmac_sha256(secret, message.as_ref())?))
}

/// URL-safe base64 HMAC-SHA256, `=` padding kept (Polymarket's
/// `POLY_SIGNATURE`).
///
/// ```no_run
/// let sig = resilience_guest::signing::hmac_base64url("poly_secret", "1000000GET/orders")?;
/// assert!(sig.ends_with('='));
/// # Ok::<(), resilience_guest::VenueError>(())
/// ```
pub fn hmac_base64url(secret: &str, message: impl AsRef<[u8]>) -> Result<String, VenueError> {
    Ok(base64url_encode(host::hmac_sha256(
        secret,
        message.as_ref(),
    )?))
}

#[cfg(all(test, feature = "testing", not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::error::SendError;
    use crate::testing::MockHost;

    #[test]
    fn polymarket_l2_signature_matches_official_vector() {
        // docs/venues/vectors/polymarket_l2_hmac_official.json: the secret
        // is base64url of 32 zero bytes; the host keys the HMAC with its bytes.
        let mock = MockHost::new().secret("poly_secret", [0u8; 32]);
        let sig = mock
            .run(|| hmac_base64url("poly_secret", r#"1000000test-sign/orders{"hash": "0x123"}"#))
            .unwrap();
        assert_eq!(sig, "ZwAdJKvoYRlEKDkNMwd5BuwNNtg93kNaR_oU2HrfVvc=");
        let std = mock
            .run(|| hmac_base64("poly_secret", r#"1000000test-sign/orders{"hash": "0x123"}"#))
            .unwrap();
        assert_eq!(std, "ZwAdJKvoYRlEKDkNMwd5BuwNNtg93kNaR/oU2HrfVvc=");
    }

    #[test]
    fn unknown_secret_is_a_denied_transport_error_naming_it() {
        let mock = MockHost::new();
        match mock.run(|| hmac_hex("nope", "x")) {
            Err(VenueError::Transport(SendError::Denied(m))) => {
                assert!(m.contains("\"nope\""), "{m}")
            }
            other => panic!("expected denied, got {other:?}"),
        }
    }
}
