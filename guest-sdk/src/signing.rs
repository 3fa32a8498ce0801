//! Signed requests over the host's `hmac-sha256`: the secret stays in the
//! host, the plugin gets the MAC in the text form its venue expects.
//!
//! | venue style                          | helper              |
//! |--------------------------------------|---------------------|
//! | Binance: `&signature=<hex>` last in the query | [`sign_query`] (uses [`hmac_hex`]) |
//! | Polymarket L2: `POLY_SIGNATURE` url-safe base64, padded | [`hmac_base64url`] |
//! | Coinbase, Kraken, OKX: standard base64 | [`hmac_base64`]   |
//!
//! A secret the venue has not configured comes back as
//! `transport(denied(..))` naming the secret, like any refused host call.

use crate::encoding::{base64_encode, base64url_encode, hex_encode};
use crate::error::VenueError;
use crate::host;
use crate::query::Query;

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

/// `query` with `param=<hex HMAC of the encoded query>` appended last, as
/// Binance signs: the MAC covers the exact bytes sent, so add every other
/// parameter (including `timestamp`) first.
///
/// ```no_run
/// use resilience_guest::{Query, signing::sign_query};
/// let q = Query::new().push("symbol", "BTCUSDT").push("timestamp", 1591702613943u64);
/// let signed = sign_query(q, "api_secret", "signature")?;
/// assert!(signed.encode().starts_with("symbol=BTCUSDT&timestamp=1591702613943&signature="));
/// # Ok::<(), resilience_guest::VenueError>(())
/// ```
pub fn sign_query(query: Query, secret: &str, param: &str) -> Result<Query, VenueError> {
    let signature = hmac_hex(secret, query.encode())?;
    Ok(query.push(param, signature))
}

#[cfg(all(test, feature = "testing", not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::error::SendError;
    use crate::testing::MockHost;

    #[test]
    fn binance_signature_matches_official_vector() {
        // shared/venues/vectors/binance_usdm_hmac_official_example1.json
        let mock = MockHost::new().secret(
            "api_secret",
            "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9",
        );
        let q = Query::new()
            .push("symbol", "BTCUSDT")
            .push("side", "BUY")
            .push("type", "LIMIT")
            .push("quantity", 1)
            .push("price", 9000)
            .push("timeInForce", "GTC")
            .push("recvWindow", 5000)
            .push("timestamp", 1591702613943u64);
        let signed = mock
            .run(|| sign_query(q, "api_secret", "signature"))
            .unwrap();
        assert_eq!(
            signed.encode(),
            "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000&timestamp=1591702613943&signature=3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
        );
    }

    #[test]
    fn polymarket_l2_signature_matches_official_vector() {
        // shared/venues/vectors/polymarket_l2_hmac_official.json: the secret
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
