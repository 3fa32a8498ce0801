//! `${secret:NAME}` in endpoint URLs: the operator's way to put a provider's
//! API key in its URL (`https://eth-mainnet.g.alchemy.com/v2/${secret:alchemy}`)
//! without writing it into the config. This module is the only reader of that
//! syntax, and it reads only configured endpoint URLs: plugin requests carry
//! secrets by structure (WIT 0.2) and are never scanned for it.

/// One piece of an endpoint URL template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    /// `${secret:NAME}`: the venue's secret NAME.
    Secret(&'a str),
}

const OPEN: &str = "${secret:";

/// Split `url` into text and secret references.
///
/// ```
/// use resilience_host::endpoint_secrets::{pieces, Piece};
/// assert_eq!(
///     pieces("https://x/v2/${secret:k}/y").unwrap(),
///     [Piece::Text("https://x/v2/"), Piece::Secret("k"), Piece::Text("/y")]
/// );
/// assert!(pieces("https://x/${secret:k").is_err());
/// ```
pub fn pieces(url: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = url;
    while let Some(i) = rest.find(OPEN) {
        if i > 0 {
            out.push(Piece::Text(&rest[..i]));
        }
        let after = &rest[i + OPEN.len()..];
        let end = after
            .find('}')
            .ok_or("has an unterminated ${secret:...} placeholder")?;
        out.push(Piece::Secret(&after[..end]));
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

/// Whether `text` holds a secret reference (for redaction).
pub fn mentions_secret(text: &str) -> bool {
    text.contains(OPEN)
}
