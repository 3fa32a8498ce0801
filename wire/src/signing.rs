//! Per-attempt signing recipes (WIT `signing`).
//!
//! A recipe says where the attempt's timestamp goes, which parts of the
//! request are signed with HMAC-SHA256, and where the signature goes:
//!
//! | venue      | timestamp                         | message                          | signature |
//! |------------|-----------------------------------|----------------------------------|-----------|
//! | Binance    | query `timestamp`, ms             | query + body                     | query `signature`, hex |
//! | Polymarket | header `POLY_TIMESTAMP`, seconds  | timestamp + method + path + body | header `POLY_SIGNATURE`, base64url |

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Where a computed value goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// A query parameter of this name, appended to the path.
    Query(String),
    /// A header of this name.
    Header(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Milliseconds,
    Seconds,
}

/// One piece of the signed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    /// The attempt's timestamp as decimal text, in the recipe's unit.
    Timestamp,
    /// The method in capitals.
    Method,
    /// The path without its query.
    Path,
    /// The query string without `?`, with the timestamp parameter when the
    /// timestamp goes there; never the signature.
    Query,
    /// The body, byte for byte.
    Body,
    /// Fixed text.
    Text(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Lower-case hex.
    Hex,
    /// Standard base64, padded.
    Base64,
    /// URL-safe base64, padded.
    Base64Url,
}

/// A recipe, without its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipe {
    pub timestamp: Option<Slot>,
    pub unit: TimeUnit,
    /// Added to the signer's clock: the venue's clock minus the signer's.
    pub clock_offset_ms: i64,
    pub message: Vec<Part>,
    pub signature: Slot,
    pub encoding: Encoding,
}

/// One attempt after signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    /// The path and query to send (with the timestamp and signature when
    /// they go in the query).
    pub path_and_query: String,
    /// Headers to set: the timestamp and signature when they go in headers.
    pub headers: Vec<(String, String)>,
    /// The timestamp used, in the recipe's unit.
    pub timestamp: i64,
}

/// A query parameter name a recipe may use: 1-64 letters, digits, `-`, `_`, `.`.
pub fn valid_param(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl Recipe {
    /// Sign one attempt of `method` (`GET`, ...) to `path_and_query` with
    /// `body`, keyed with `key`, at the signer's wall-clock `now_ms`.
    pub fn apply(
        &self,
        key: &[u8],
        method: &str,
        path_and_query: &str,
        body: &[u8],
        now_ms: i64,
    ) -> Signed {
        let at_ms = now_ms.saturating_add(self.clock_offset_ms);
        let timestamp = match self.unit {
            TimeUnit::Milliseconds => at_ms,
            TimeUnit::Seconds => at_ms.div_euclid(1000),
        };
        let stamp = timestamp.to_string();
        let mut target = path_and_query.to_string();
        let mut headers = Vec::new();
        match &self.timestamp {
            Some(Slot::Query(name)) => append_param(&mut target, name, &stamp),
            Some(Slot::Header(name)) => headers.push((name.clone(), stamp.clone())),
            None => {}
        }
        let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
        for part in &self.message {
            match part {
                Part::Timestamp => mac.update(stamp.as_bytes()),
                Part::Method => mac.update(method.as_bytes()),
                Part::Path => mac.update(path.as_bytes()),
                Part::Query => mac.update(query.as_bytes()),
                Part::Body => mac.update(body),
                Part::Text(t) => mac.update(t.as_bytes()),
            }
        }
        let digest = mac.finalize().into_bytes();
        let signature = match self.encoding {
            Encoding::Hex => digest.iter().map(|b| format!("{b:02x}")).collect(),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(digest),
            Encoding::Base64Url => base64::engine::general_purpose::URL_SAFE.encode(digest),
        };
        match &self.signature {
            Slot::Query(name) => append_param(&mut target, name, &query_escape(&signature)),
            Slot::Header(name) => headers.push((name.clone(), signature)),
        }
        Signed {
            path_and_query: target,
            headers,
            timestamp,
        }
    }
}

fn append_param(target: &mut String, name: &str, value: &str) {
    target.push(if target.contains('?') { '&' } else { '?' });
    target.push_str(name);
    target.push('=');
    target.push_str(value);
}

/// Percent-encode what base64 adds to a query value (`+`, `/`, `=`).
fn query_escape(v: &str) -> String {
    v.replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binance() -> Recipe {
        Recipe {
            timestamp: Some(Slot::Query("timestamp".into())),
            unit: TimeUnit::Milliseconds,
            clock_offset_ms: 0,
            message: vec![Part::Query, Part::Body],
            signature: Slot::Query("signature".into()),
            encoding: Encoding::Hex,
        }
    }

    /// Binance's documented example (USDⓈ-M "SIGNED endpoint examples").
    #[test]
    fn binance_recipe_reproduces_the_documented_signature() {
        let key = b"2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9";
        let r = Recipe {
            timestamp: None, // the example's query carries timestamp=1591702613943
            ..binance()
        };
        let s = r.apply(
            key,
            "POST",
            "/fapi/v1/order?symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000&timestamp=1591702613943",
            b"",
            0,
        );
        assert!(
            s.path_and_query.ends_with(
                "&signature=3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
            ),
            "{}",
            s.path_and_query
        );
    }

    #[test]
    fn each_attempt_gets_its_own_timestamp_and_signature() {
        let r = Recipe {
            clock_offset_ms: -250,
            ..binance()
        };
        let a = r.apply(b"k", "GET", "/fapi/v1/order?symbol=X", b"", 1_000_000);
        let b = r.apply(b"k", "GET", "/fapi/v1/order?symbol=X", b"", 1_002_000);
        assert_eq!(a.timestamp, 999_750, "the venue's offset is applied");
        assert!(
            a.path_and_query
                .starts_with("/fapi/v1/order?symbol=X&timestamp=999750&signature=")
        );
        assert_ne!(a.path_and_query, b.path_and_query);
        let c = r.apply(b"k", "GET", "/fapi/v2/balance", b"", 5_000);
        assert!(
            c.path_and_query
                .starts_with("/fapi/v2/balance?timestamp=4750&signature=")
        );
    }

    /// Polymarket L2, the constructed vector (zero key, GET /data/orders at
    /// 1700000000 s): the query is not signed.
    #[test]
    fn polymarket_recipe_signs_timestamp_method_path_and_body_into_headers() {
        let r = Recipe {
            timestamp: Some(Slot::Header("POLY_TIMESTAMP".into())),
            unit: TimeUnit::Seconds,
            clock_offset_ms: 0,
            message: vec![Part::Timestamp, Part::Method, Part::Path, Part::Body],
            signature: Slot::Header("POLY_SIGNATURE".into()),
            encoding: Encoding::Base64Url,
        };
        let s = r.apply(
            &[0u8; 32],
            "GET",
            "/data/orders?next_cursor=MA%3D%3D",
            b"",
            1_700_000_000_999,
        );
        assert_eq!(s.path_and_query, "/data/orders?next_cursor=MA%3D%3D");
        assert_eq!(
            s.headers,
            [
                ("POLY_TIMESTAMP".to_string(), "1700000000".to_string()),
                (
                    "POLY_SIGNATURE".to_string(),
                    "m6lGS9WyES7JjpAYNd7zIdW5bfHxAAI_pIa1St9vLO4=".to_string()
                )
            ]
        );
    }

    #[test]
    fn base64_signatures_are_escaped_in_a_query() {
        let r = Recipe {
            timestamp: None,
            encoding: Encoding::Base64,
            ..binance()
        };
        let s = r.apply(b"k", "GET", "/x", b"", 0);
        let sig = s.path_and_query.strip_prefix("/x?signature=").unwrap();
        assert!(!sig.contains(['+', '/', '=']), "{sig}");
    }
}
