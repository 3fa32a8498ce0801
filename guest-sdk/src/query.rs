//! Query strings with RFC 3986 percent-encoding.
//!
//! Venues sign the exact bytes they receive, so the encoding is fixed and
//! documented: every byte outside the unreserved set `A-Z a-z 0-9 - . _ ~` is
//! written as `%XX` (uppercase hex) of its UTF-8 encoding; pairs keep the order
//! they were added in.

use std::fmt::Write;

/// An ordered list of query parameters.
///
/// ```
/// use resilience_guest::Query;
/// let q = Query::new().push("symbol", "BTCUSDT").push("note", "a b&c").push_opt("limit", None::<u32>);
/// assert_eq!(q.encode(), "symbol=BTCUSDT&note=a%20b%26c");
/// assert_eq!(q.to_path("/fapi/v1/order"), "/fapi/v1/order?symbol=BTCUSDT&note=a%20b%26c");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// An empty query.
    ///
    /// ```
    /// assert_eq!(resilience_guest::Query::new().encode(), "");
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Append `key=value`.
    ///
    /// ```
    /// assert_eq!(resilience_guest::Query::new().push("n", 5).encode(), "n=5");
    /// ```
    pub fn push(mut self, key: &str, value: impl ToString) -> Self {
        self.pairs.push((key.to_string(), value.to_string()));
        self
    }

    /// Append `key=value` when `value` is `Some`.
    ///
    /// ```
    /// let q = resilience_guest::Query::new().push_opt("seqno", Some(7)).push_opt("x", None::<u8>);
    /// assert_eq!(q.encode(), "seqno=7");
    /// ```
    pub fn push_opt<V: ToString>(self, key: &str, value: Option<V>) -> Self {
        match value {
            Some(v) => self.push(key, v),
            None => self,
        }
    }

    /// True when no pair was added.
    ///
    /// ```
    /// assert!(resilience_guest::Query::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The encoded query without a leading `?`.
    ///
    /// ```
    /// assert_eq!(resilience_guest::Query::new().push("a", "ü").encode(), "a=%C3%BC");
    /// ```
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for (i, (k, v)) in self.pairs.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            percent_encode_into(&mut out, k);
            out.push('=');
            percent_encode_into(&mut out, v);
        }
        out
    }

    /// `path` followed by `?` and the encoded query, or just `path` when empty.
    ///
    /// ```
    /// assert_eq!(resilience_guest::Query::new().to_path("/ping"), "/ping");
    /// ```
    pub fn to_path(&self, path: &str) -> String {
        if self.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{}", self.encode())
        }
    }
}

/// Percent-encode `s` (see the module docs for the exact set).
///
/// ```
/// assert_eq!(resilience_guest::query::percent_encode("a+b/c~"), "a%2Bb%2Fc~");
/// ```
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    percent_encode_into(&mut out, s);
    out
}

fn percent_encode_into(out: &mut String, s: &str) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_and_unicode_bytes_are_encoded() {
        let q = Query::new()
            .push("a", "x=y&z")
            .push("b", "€")
            .push("c", "-._~");
        assert_eq!(q.encode(), "a=x%3Dy%26z&b=%E2%82%AC&c=-._~");
    }

    #[test]
    fn order_is_kept() {
        let q = Query::new().push("z", 1).push("a", 2);
        assert_eq!(q.encode(), "z=1&a=2");
    }
}
