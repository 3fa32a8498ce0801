//! L2 authentication: the five `POLY_*` headers of every private endpoint
//! (docs/venues/polymarket.md "L2 authentication"; identical for V1 and V2).
//!
//! ```text
//! message        = timestamp + METHOD + path-without-query + body   (body omitted when empty)
//! POLY_SIGNATURE = base64url(HMAC-SHA256(base64url_decode(secret), message)), '=' padding kept
//! ```
//!
//! | header            | value |
//! |-------------------|-------|
//! | `POLY_ADDRESS`    | setting `address` |
//! | `POLY_SIGNATURE`  | the HMAC above, computed by the host **at each attempt** with secret `api_secret` (a signing recipe) |
//! | `POLY_TIMESTAMP`  | the host clock as the attempt leaves, unix **seconds** |
//! | `POLY_API_KEY`    | secret `api_key` (a secret header) |
//! | `POLY_PASSPHRASE` | secret `passphrase` (a secret header) |
//!
//! The body is signed byte for byte as it is sent: the host signs the very
//! bytes it sends. The query is sent but not signed (the message's path is
//! the path without the query).

use resilience_guest::prelude::*;
use resilience_guest::signing::{
    MessagePart, SignatureEncoding, Signing, TimeUnit, hmac_base64url,
};

use crate::{api, settings};

/// The L2 message for `timestamp` (seconds), `method`, the signed `path`
/// (no query) and `body` (empty = omitted).
pub fn message(timestamp: &str, method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(timestamp.len() + method.len() + path.len() + body.len());
    m.extend_from_slice(timestamp.as_bytes());
    m.extend_from_slice(method.as_bytes());
    m.extend_from_slice(path.as_bytes());
    m.extend_from_slice(body);
    m
}

/// The L2 recipe: `POLY_TIMESTAMP` (seconds) and `POLY_SIGNATURE`
/// (base64url HMAC of [`message`]'s parts) set by the host at each attempt.
pub fn signing() -> Signing {
    Signing::hmac_sha256(api::SECRET_API_SECRET)
        .timestamp_header(api::POLY_TIMESTAMP, TimeUnit::Seconds)
        .message([
            MessagePart::Timestamp,
            MessagePart::Method,
            MessagePart::Path,
            MessagePart::Body,
        ])
        .signature_header(api::POLY_SIGNATURE, SignatureEncoding::Base64url)
}

/// `POLY_SIGNATURE` of `message`, keyed by the venue's `api_secret`.
pub fn signature(message: &[u8]) -> Result<String, VenueError> {
    hmac_base64url(api::SECRET_API_SECRET, message)
}

/// A request to `path` (signed) plus `query` (sent, not signed), with the
/// L2 headers; a non-empty `body` is sent as JSON.
pub fn request(
    method: Method,
    path: &str,
    query: Option<&Query>,
    body: Vec<u8>,
) -> Result<Request, VenueError> {
    let address = settings::address()?;
    let full_path = match query {
        Some(q) => q.to_path(path),
        None => path.to_string(),
    };
    let mut req = Request::new(method, full_path)
        .header(api::POLY_ADDRESS, address)
        .secret_header(api::POLY_API_KEY, api::SECRET_API_KEY)
        .secret_header(api::POLY_PASSPHRASE, api::SECRET_PASSPHRASE)
        .signed(signing());
    if !body.is_empty() {
        req = req.header("Content-Type", "application/json").body(body);
    }
    Ok(req)
}

#[cfg(test)]
mod tests {
    use super::*;
    use resilience_guest::encoding::base64url_decode;
    use resilience_guest::testing::MockHost;

    /// docs/venues/vectors/polymarket_l2_hmac_official.json
    #[test]
    fn polymarket_l2_signature_matches_official_vector() {
        let key = base64url_decode("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
        let mock = MockHost::new().secret("api_secret", key);
        let msg = message("1000000", "test-sign", "/orders", br#"{"hash": "0x123"}"#);
        assert_eq!(msg, br#"1000000test-sign/orders{"hash": "0x123"}"#);
        assert_eq!(
            mock.run(|| signature(&msg)).unwrap(),
            "ZwAdJKvoYRlEKDkNMwd5BuwNNtg93kNaR_oU2HrfVvc="
        );
    }

    /// docs/venues/vectors/polymarket_l2_hmac_constructed.json
    #[test]
    fn polymarket_l2_signatures_match_constructed_vectors() {
        let key = base64url_decode("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
        let mock = MockHost::new().secret("api_secret", key);
        let order_body = r#"{"order":{"salt":479249096354},"owner":"000000000-0000-0000-0000-000000000000","orderType":"GTC","postOnly":false}"#;
        let cases = [
            (
                "GET",
                "/data/orders",
                "",
                "m6lGS9WyES7JjpAYNd7zIdW5bfHxAAI_pIa1St9vLO4=",
            ),
            (
                "GET",
                "/data/order/0xabc",
                "",
                "HI0aIsUCWs5xsnXuVoakCVkPSxZLMv18Jfh3au5Pt4E=",
            ),
            (
                "POST",
                "/order",
                order_body,
                "WTPeg2eyjjCU2MU4XD8DHrJibgb4AwHSEjcLvPLAtCM=",
            ),
            (
                "DELETE",
                "/order",
                r#"{"orderID":"0xabc"}"#,
                "ebd_Mp184tE7Z6KPR1h4np8gSxcgEPZ7MeKtDjVwf2g=",
            ),
            (
                "DELETE",
                "/cancel-all",
                "",
                "8VUKI2AEYjmyVeNfWGlCKhni-bOTLBi8KuegA7RDrxU=",
            ),
        ];
        for (method, path, body, expected) in cases {
            let msg = message("1700000000", method, path, body.as_bytes());
            assert_eq!(
                mock.run(|| signature(&msg)).unwrap(),
                expected,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn request_carries_the_five_headers_and_signs_the_path_without_query() {
        let key = base64url_decode("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
        let mock = MockHost::new()
            .now_ms(1_700_000_000_999)
            .setting("address", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
            .secret("api_secret", key)
            .secret("api_key", "k")
            .secret("passphrase", "p");
        let query = Query::new().push("next_cursor", "MA==");
        mock.run(|| -> Result<Response, VenueError> {
            Ok(request(Method::Get, "/data/orders", Some(&query), Vec::new())?.send()?)
        })
        .unwrap();
        // What the venue receives: the host fills in the secret headers and
        // signs the attempt (the path without its query) at its clock.
        let sent = &mock.requests()[0];
        assert_eq!(sent.path, "/data/orders?next_cursor=MA%3D%3D");
        assert_eq!(
            sent.headers,
            [
                ("POLY_ADDRESS", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"),
                ("POLY_API_KEY", "k"),
                ("POLY_PASSPHRASE", "p"),
                ("POLY_TIMESTAMP", "1700000000"),
                // Same as the constructed vector for GET /data/orders at 1700000000.
                (
                    "POLY_SIGNATURE",
                    "m6lGS9WyES7JjpAYNd7zIdW5bfHxAAI_pIa1St9vLO4="
                ),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert_eq!(
            sent.secret_headers,
            [
                ("POLY_API_KEY", "api_key"),
                ("POLY_PASSPHRASE", "passphrase")
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert!(sent.body.is_empty());
    }

    #[test]
    fn missing_address_setting_fails_before_signing() {
        let mock = MockHost::new();
        let err = mock
            .run(|| request(Method::Get, "/data/orders", None, Vec::new()))
            .unwrap_err();
        assert!(matches!(err, VenueError::Unsupported(m) if m.contains("address")));
    }
}
