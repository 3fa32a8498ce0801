//! Which paths a plugin may hand to the host. The host appends the path to
//! the venue's endpoint URL as text, so anything that could leave the
//! endpoint's base path or that a URI cannot hold is refused before any
//! attempt.

/// Why `path` may not be sent, or `None` when it may: one leading `/`, no
/// whitespace or control characters, no `.`/`..` segments (also
/// percent-encoded, `%2e`), only RFC 3986 characters.
///
/// ```
/// use resilience_wire::path::refusal;
/// assert_eq!(refusal("/api/v2/getAddressBalance?address=EQ-_"), None);
/// assert!(refusal("/a/%2E%2e/admin").is_some());
/// assert!(refusal("//evil.example/x").is_some());
/// ```
pub fn refusal(path: &str) -> Option<&'static str> {
    if !path.starts_with('/') || path.starts_with("//") {
        return Some("must start with a single '/' and is joined to the venue's endpoint");
    }
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Some("contains whitespace or control characters");
    }
    let segments = path.split_once('?').map_or(path, |(p, _)| p);
    if segments.split('/').any(is_dot_segment) {
        return Some("has a '.' or '..' segment");
    }
    if !uri_chars(path) {
        return Some(
            "is not a valid URI path and query (RFC 3986 characters, `%` and two hex digits)",
        );
    }
    None
}

/// Whether `seg` is `.` or `..`, each dot written as itself or as `%2e`
/// (either case): a segment a server may resolve upwards. Checked without
/// allocating, since every request a plugin sends passes here.
fn is_dot_segment(seg: &str) -> bool {
    let b = seg.as_bytes();
    let (mut dots, mut i) = (0, 0);
    while i < b.len() {
        if b[i] == b'.' {
            i += 1;
        } else if b[i..].len() >= 3 && b[i] == b'%' && b[i + 1] == b'2' && b[i + 2] | 0x20 == b'e' {
            i += 3;
        } else {
            return false;
        }
        dots += 1;
        if dots > 2 {
            return false;
        }
    }
    dots > 0
}

/// Only what RFC 3986 allows in a path and query: unreserved, sub-delims,
/// `:`, `@`, `/`, `?` and well-formed percent-escapes.
fn uri_chars(path: &str) -> bool {
    let b = path.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                if !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
                {
                    return false;
                }
                i += 3;
                continue;
            }
            c if c.is_ascii_alphanumeric() => {}
            b'-' | b'.' | b'_' | b'~' => {}
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' => {}
            b':' | b'@' | b'/' | b'?' => {}
            _ => return false,
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_venue_or_outside_rfc_3986_are_refused() {
        for p in [
            "https://evil.example/x",
            "//evil.example/x",
            "x",
            "/a/../admin",
            "/a/%2E%2E/admin",
            "/a/%2e./admin",
            "/./x",
            "/x/.",
            "/a b",
            "/a\u{7f}",
            "/a\"b",
            "/a<b>",
            "/a{b}",
            "/x?a=${secret:api_key}",
            "/a%2",
            "/a%zz",
            "/caf\u{e9}",
        ] {
            assert!(refusal(p).is_some(), "{p}");
        }
        for p in [
            "/",
            "/api/v2/getAddressBalance?address=EQ..",
            "/a.b/..c/x?q=..",
            "/%2e%2ex",
            "/x?b=%24%7Bsecret%3Aapi_key%7D",
        ] {
            assert_eq!(refusal(p), None, "{p}");
        }
    }

    #[test]
    fn dot_segments_are_recognised_in_every_spelling() {
        for seg in [".", "..", "%2e", "%2E", "%2e%2E", ".%2e", "%2E."] {
            assert!(is_dot_segment(seg), "{seg}");
        }
        for seg in [
            "",
            "...",
            "%2e%2e%2e",
            "a",
            ".a",
            "%2",
            "%2f",
            "%3e",
            "..x",
            "%2ex",
        ] {
            assert!(!is_dot_segment(seg), "{seg}");
        }
    }
}
