//! Redaction of endpoint URLs for labels, logs and API answers.
//!
//! | in the configured URL                          | shown as |
//! |------------------------------------------------|----------|
//! | `${secret:NAME}` placeholder                   | `<redacted>` |
//! | `user:password@` userinfo                      | `<redacted>@` |
//! | a path segment that looks like a key (>= 20 characters of letters, digits, `-`/`_`, with both letters and digits) | `<redacted>` |
//!
//! Providers such as Alchemy or Infura put the API key in the path
//! (`https://eth-mainnet.g.alchemy.com/v2/<key>`); configure it as
//! `${secret:alchemy_key}` so the key is never in the config at all, and the
//! heuristic catches keys written there literally.

const MARK: &str = "<redacted>";

/// The display form of an endpoint URL.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s), r),
        None => (None, url),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((_, host)) => format!("{MARK}@{host}"),
        None => authority.to_string(),
    };
    let path: Vec<String> = path
        .split('/')
        .map(|seg| {
            if crate::endpoint_secrets::mentions_secret(seg) || looks_like_key(seg) {
                MARK.to_string()
            } else {
                seg.to_string()
            }
        })
        .collect();
    let path = path.join("/");
    match scheme {
        Some(s) => format!("{s}://{authority}{path}"),
        None => format!("{authority}{path}"),
    }
}

fn looks_like_key(seg: &str) -> bool {
    seg.len() >= 20
        && seg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && seg.chars().any(|c| c.is_ascii_digit())
        && seg.chars().any(|c| c.is_ascii_alphabetic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_in_paths_placeholders_and_userinfo_are_redacted() {
        assert_eq!(
            redact_url("https://eth-mainnet.g.alchemy.com/v2/${secret:alchemy}"),
            "https://eth-mainnet.g.alchemy.com/v2/<redacted>"
        );
        assert_eq!(
            redact_url("https://mainnet.infura.io/v3/9aa3d95b3bc440fa88ea12eaa4456161"),
            "https://mainnet.infura.io/v3/<redacted>"
        );
        assert_eq!(
            redact_url("https://u:p@rpc.example/x"),
            "https://<redacted>@rpc.example/x"
        );
    }

    #[test]
    fn ordinary_urls_are_unchanged() {
        for u in [
            "https://toncenter.com/api/v2",
            "https://fapi.binance.com",
            "http://127.0.0.1:8080/base",
            "https://clob.polymarket.com",
        ] {
            assert_eq!(redact_url(u), u);
        }
    }
}
