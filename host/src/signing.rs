//! Per-attempt signing: a plugin hands over a *recipe* with its request
//! (WIT `signing`), and the upstream applies it at each attempt, just before
//! the attempt leaves: the timestamp comes from the host clock at that
//! moment (plus the venue clock offset the plugin measured), then
//! HMAC-SHA256 over the declared parts, keyed with a venue secret the plugin
//! declared `hmac-key`, goes into the declared query parameter or header.
//! The recipe itself is `resilience-wire`, shared with the guest SDK's
//! test harness.
//!
//! Why: a signature computed once in the plugin carries the first attempt's
//! timestamp, and a retry after a slow attempt reaches the venue outside its
//! clock window (Binance answers `-1021` past `recvWindow`). The key never
//! enters plugin memory, and the plugin never sees the per-attempt output.

use http::{HeaderName, HeaderValue};
pub use resilience_wire::{Encoding, Part, Slot, TimeUnit};

use crate::config::Secret;

/// A checked recipe with its key. Its header slots are valid header names
/// (checked by [`crate::outbound`]); the key is never printed.
#[derive(Clone)]
pub struct Recipe {
    pub key: Secret,
    /// The secret's name, for messages.
    pub key_name: String,
    pub recipe: resilience_wire::Recipe,
}

impl std::fmt::Debug for Recipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recipe")
            .field("key", &self.key_name)
            .field("recipe", &self.recipe)
            .finish()
    }
}

/// One attempt's request after signing.
#[derive(Debug, Clone)]
pub struct Signed {
    pub path_and_query: String,
    /// Headers to set (timestamp and signature, when they go in headers),
    /// marked sensitive so they stay out of logs.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl Recipe {
    /// Sign one attempt of `method` `path_and_query` with `body` at host
    /// wall-clock time `now_ms`.
    pub fn apply(
        &self,
        method: &http::Method,
        path_and_query: &str,
        body: &[u8],
        now_ms: i64,
    ) -> Signed {
        let s = self.recipe.apply(
            self.key.expose(),
            method.as_str(),
            path_and_query,
            body,
            now_ms,
        );
        let headers = s
            .headers
            .into_iter()
            .filter_map(|(name, value)| {
                // Names were checked when the recipe was accepted; values are
                // digits, hex or base64.
                let name = HeaderName::from_bytes(name.as_bytes()).ok()?;
                let mut value = HeaderValue::from_str(&value).ok()?;
                value.set_sensitive(true);
                Some((name, value))
            })
            .collect();
        Signed {
            path_and_query: s.path_and_query,
            headers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_outputs_are_sensitive_and_the_key_is_never_printed() {
        let r = Recipe {
            key: Secret::new(*b"hunter2-key"),
            key_name: "api_secret".into(),
            recipe: resilience_wire::Recipe {
                timestamp: Some(Slot::Header("POLY_TIMESTAMP".into())),
                unit: TimeUnit::Seconds,
                clock_offset_ms: 0,
                message: vec![Part::Timestamp, Part::Method, Part::Path],
                signature: Slot::Header("POLY_SIGNATURE".into()),
                encoding: Encoding::Base64Url,
            },
        };
        let s = r.apply(&http::Method::GET, "/data/orders", b"", 1_700_000_000_000);
        assert_eq!(s.headers.len(), 2);
        assert_eq!(s.headers[0].1, "1700000000");
        assert!(s.headers.iter().all(|(_, v)| v.is_sensitive()));
        assert!(!format!("{r:?}").contains("hunter2"), "{r:?}");
    }
}
