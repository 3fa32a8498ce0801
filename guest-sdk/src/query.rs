//! Query strings with RFC 3986 percent-encoding.
//!
//! Venues sign the exact bytes they receive, so the encoding is fixed and
//! documented: every byte outside the unreserved set `A-Z a-z 0-9 - . _ ~` is
//! written as `%XX` (uppercase hex) of its UTF-8 encoding; pairs keep the order
//! they were added in.

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
        self.encode_into(&mut out);
        out
    }

    fn encode_into(&self, out: &mut String) {
        for (i, (k, v)) in self.pairs.iter().enumerate() {
            if i > 0 {
                out.push('&');
            }
            percent_encode_into(out, k);
            out.push('=');
            percent_encode_into(out, v);
        }
    }

    /// `path` followed by `?` and the encoded query, or just `path` when empty.
    ///
    /// ```
    /// assert_eq!(resilience_guest::Query::new().to_path("/ping"), "/ping");
    /// ```
    pub fn to_path(&self, path: &str) -> String {
        let mut out = path.to_string();
        if !self.is_empty() {
            out.push('?');
            self.encode_into(&mut out);
        }
        out
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
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.reserve(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            // Table lookups: this runs for every request a plugin builds,
            // and `write!` costs a formatter per byte.
            out.extend([
                '%',
                char::from(HEX[usize::from(b >> 4)]),
                char::from(HEX[usize::from(b & 0xF)]),
            ]);
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
    fn every_byte_outside_the_unreserved_set_is_percent_encoded() {
        let mut text: String = (0u8..=127).map(char::from).collect();
        text.push_str("é€😀");
        let want: String = text
            .bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    char::from(b).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect();
        assert_eq!(percent_encode(&text), want);
        assert_eq!(
            Query::new().push(&text, &text).to_path("/p"),
            format!("/p?{want}={want}")
        );
    }

    #[test]
    fn order_is_kept() {
        let q = Query::new().push("z", 1).push("a", 2);
        assert_eq!(q.encode(), "z=1&a=2");
    }
}
