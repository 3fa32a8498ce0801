//! Hex and base64 as venues write them.
//!
//! | function             | alphabet          | padding on encode | accepted on decode                  |
//! |----------------------|-------------------|-------------------|-------------------------------------|
//! | [`hex_encode`]       | `0-9 a-f`         | -                 | -                                   |
//! | [`hex_decode`]       | `0-9 a-f A-F`     | -                 | optional `0x`/`0X`, even length     |
//! | [`base64_encode`]    | `A-Z a-z 0-9 + /` | `=`               | -                                   |
//! | [`base64_decode`]    | `A-Z a-z 0-9 + /` | -                 | canonical `=` padding required      |
//! | [`base64url_encode`] | `A-Z a-z 0-9 - _` | `=` (Polymarket keeps it) | -                           |
//! | [`base64url_decode`] | `A-Z a-z 0-9 - _` | -                 | padded or unpadded                  |
//!
//! Base64 decoding ignores non-zero bits in the last character, like
//! Python's `base64.b64decode` and JavaScript's `atob` (the decoders venues
//! run), so a value they accept is accepted here too.
//!
//! Errors are [`FormatError`]s: the plugin names the field and picks the kind
//! with [`FormatError::invalid`] or [`FormatError::parse`].

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

use crate::error::FormatError;

const STANDARD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical)
        .with_decode_allow_trailing_bits(true),
);

const URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Lower-case hex of `bytes`, without a prefix.
///
/// ```
/// assert_eq!(resilience_guest::encoding::hex_encode([0xde, 0xad, 0x01]), "dead01");
/// ```
pub fn hex_encode(bytes: impl AsRef<[u8]>) -> String {
    let bytes = bytes.as_ref();
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(HEX_DIGITS[usize::from(b >> 4)]));
        out.push(char::from(HEX_DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Bytes of a hex string, with or without a `0x` prefix, in either case.
/// An odd number of digits or a non-hex character is an error naming it.
///
/// ```
/// use resilience_guest::encoding::hex_decode;
/// assert_eq!(hex_decode("0xDEad01").unwrap(), vec![0xde, 0xad, 0x01]);
/// assert_eq!(hex_decode("").unwrap(), Vec::<u8>::new());
/// assert!(hex_decode("0x123").unwrap_err().to_string().contains("odd"));
/// ```
pub fn hex_decode(text: &str) -> Result<Vec<u8>, FormatError> {
    let digits = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .unwrap_or(text);
    let prefix = text.len() - digits.len();
    if !digits.len().is_multiple_of(2) {
        return Err(FormatError::new(format!(
            "hex has an odd number of digits ({})",
            digits.len()
        )));
    }
    let nibble = |i: usize| -> Result<u8, FormatError> {
        let c = digits.as_bytes()[i];
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => {
                // Name the character, not the byte: it may be part of UTF-8.
                let shown = text[prefix + i..].chars().next().unwrap_or('?');
                Err(FormatError::new(format!(
                    "{shown:?} at position {} is not a hex digit",
                    prefix + i
                )))
            }
        }
    };
    (0..digits.len() / 2)
        .map(|i| Ok(nibble(2 * i)? << 4 | nibble(2 * i + 1)?))
        .collect()
}

/// Standard base64 (`+`, `/`) with `=` padding.
///
/// ```
/// assert_eq!(resilience_guest::encoding::base64_encode(b"\xfb\xff"), "+/8=");
/// ```
pub fn base64_encode(bytes: impl AsRef<[u8]>) -> String {
    STANDARD.encode(bytes)
}

/// Decode standard base64 with canonical `=` padding (the length is a
/// multiple of 4). URL-safe characters are refused, not guessed at.
///
/// ```
/// use resilience_guest::encoding::base64_decode;
/// assert_eq!(base64_decode("+/8=").unwrap(), b"\xfb\xff");
/// assert!(base64_decode("-_8=").is_err());
/// assert!(base64_decode("+/8").is_err());
/// ```
pub fn base64_decode(text: &str) -> Result<Vec<u8>, FormatError> {
    STANDARD
        .decode(text)
        .map_err(|e| base64_error(e, "standard (A-Z a-z 0-9 + /)"))
}

/// URL-safe base64 (`-`, `_`) keeping the `=` padding, as Polymarket's
/// `POLY_SIGNATURE` is written.
///
/// ```
/// assert_eq!(resilience_guest::encoding::base64url_encode(b"\xfb\xff"), "-_8=");
/// ```
pub fn base64url_encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE.encode(bytes)
}

/// Decode URL-safe base64, padded or not.
///
/// ```
/// use resilience_guest::encoding::base64url_decode;
/// assert_eq!(base64url_decode("-_8=").unwrap(), b"\xfb\xff");
/// assert_eq!(base64url_decode("-_8").unwrap(), b"\xfb\xff");
/// assert!(base64url_decode("+/8=").is_err());
/// ```
pub fn base64url_decode(text: &str) -> Result<Vec<u8>, FormatError> {
    URL_SAFE
        .decode(text)
        .map_err(|e| base64_error(e, "URL-safe (A-Z a-z 0-9 - _)"))
}

fn base64_error(e: base64::DecodeError, alphabet: &str) -> FormatError {
    use base64::DecodeError as E;
    FormatError::new(match e {
        E::InvalidByte(offset, b'=') => {
            format!("'=' at offset {offset} is padding in the middle of {alphabet} base64")
        }
        E::InvalidByte(offset, byte) => format!(
            "{:?} at offset {offset} is not a {alphabet} base64 character",
            char::from(byte)
        ),
        E::InvalidLength(len) => {
            format!("{len} characters is not a valid {alphabet} base64 length")
        }
        E::InvalidLastSymbol(offset, byte) => format!(
            "{:?} at offset {offset} is not a valid last {alphabet} base64 character",
            char::from(byte)
        ),
        E::InvalidPadding => {
            format!("bad '=' padding for {alphabet} base64 (the padded length is a multiple of 4)")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_encodes_lower_case() {
        let bytes: Vec<u8> = (0..=255).collect();
        let text = hex_encode(&bytes);
        assert_eq!(&text[..8], "00010203");
        assert_eq!(&text[text.len() - 4..], "feff");
        assert_eq!(hex_decode(&text).unwrap(), bytes);
        assert_eq!(hex_decode(&text.to_uppercase()).unwrap(), bytes);
    }

    #[test]
    fn hex_errors_name_the_problem() {
        assert!(hex_decode("abc").unwrap_err().to_string().contains("odd"));
        let e = hex_decode("0x0g").unwrap_err().to_string();
        assert!(e.contains("'g'") && e.contains("position 3"), "{e}");
        let e = hex_decode("0xé00").unwrap_err().to_string();
        assert!(e.contains("'é'"), "{e}");
        assert!(hex_decode("0x").unwrap().is_empty());
    }

    #[test]
    fn rfc4648_base64_vectors() {
        // RFC 4648 section 10.
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in cases {
            assert_eq!(base64_encode(plain), encoded);
            assert_eq!(base64_decode(encoded).unwrap(), plain.as_bytes());
            assert_eq!(base64url_encode(plain), encoded);
            assert_eq!(base64url_decode(encoded).unwrap(), plain.as_bytes());
            let unpadded = encoded.trim_end_matches('=');
            assert_eq!(base64url_decode(unpadded).unwrap(), plain.as_bytes());
        }
    }

    #[test]
    fn base64url_keeps_padding_and_uses_url_safe_characters() {
        // Polymarket's official L2 vector: the HMAC comes out as this string,
        // padding kept (polymarket_l2_hmac_official.json).
        let mac = base64url_decode("ZwAdJKvoYRlEKDkNMwd5BuwNNtg93kNaR_oU2HrfVvc=").unwrap();
        assert_eq!(mac.len(), 32);
        assert_eq!(
            base64url_encode(&mac),
            "ZwAdJKvoYRlEKDkNMwd5BuwNNtg93kNaR_oU2HrfVvc="
        );
        assert_eq!(
            base64_encode(&mac),
            "ZwAdJKvoYRlEKDkNMwd5BuwNNtg93kNaR/oU2HrfVvc="
        );
        // The vector's secret: 32 zero bytes.
        assert_eq!(
            base64url_decode("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap(),
            vec![0u8; 32]
        );
    }

    #[test]
    fn standard_base64_requires_canonical_padding() {
        for bad in [
            "Zg", "Zg=", "Zg===", "Z===", "====", "Zm=v", "Zm9v\n", "Zm-_",
        ] {
            assert!(base64_decode(bad).is_err(), "{bad:?}");
        }
        let e = base64_decode("Zm-_").unwrap_err().to_string();
        assert!(e.contains("'-'") && e.contains("offset 2"), "{e}");
    }

    #[test]
    fn non_zero_trailing_bits_are_accepted_like_python() {
        // Python: base64.b64decode("Zh==") == b"f"
        assert_eq!(base64_decode("Zh==").unwrap(), b"f");
        assert_eq!(base64url_decode("Zh").unwrap(), b"f");
    }
}
