//! TON account addresses: the raw and user-friendly forms, checked and
//! converted by the plugin itself, so a malformed address is refused with
//! `invalid_params` before any request leaves.
//!
//! Source: TON docs, "Smart contract addresses"
//! (<https://docs.ton.org/learn/overviews/addresses>), and toncenter's own
//! `detect_address` (`pytonlib/utils/address.py` in toncenter/pytonlib), whose
//! answer shape `detect_address` mirrors.
//!
//! | form             | text                                   | bytes |
//! |------------------|----------------------------------------|-------|
//! | raw              | `<workchain>:<64 hex digits>`          | - |
//! | user-friendly    | 48 characters of base64 or base64url   | 36: flags, workchain (i8), 32-byte account id, CRC16 (big-endian) |
//!
//! | flags byte | meaning |
//! |------------|---------|
//! | `0x11`     | bounceable |
//! | `0x51`     | non-bounceable |
//! | `+ 0x80`   | test-only (testnet) |
//!
//! The checksum is CRC16-XMODEM (polynomial `0x1021`, initial value 0) of
//! the first 34 bytes. The base64 alphabet must be one or the other: a text
//! mixing `+`/`/` with `-`/`_` is refused rather than guessed at.

use resilience_guest::VenueError;
use resilience_guest::encoding::{base64_encode, base64url_encode, hex_decode, hex_encode};
use serde_json::{Value, json};

const BOUNCEABLE: u8 = 0x11;
const NON_BOUNCEABLE: u8 = 0x51;
const TEST_ONLY: u8 = 0x80;
/// Length of a user-friendly address in base64 characters (36 bytes).
const FRIENDLY_LEN: usize = 48;

/// How the caller wrote an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    Raw,
    Bounceable,
    NonBounceable,
}

impl Form {
    /// toncenter's `given_type` names.
    pub fn as_str(self) -> &'static str {
        match self {
            Form::Raw => "raw_form",
            Form::Bounceable => "friendly_bounceable",
            Form::NonBounceable => "friendly_non_bounceable",
        }
    }
}

/// A checked address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub workchain: i8,
    pub account: [u8; 32],
    pub form: Form,
    pub test_only: bool,
    /// The base64 alphabet the caller used, for user-friendly forms.
    pub url_safe: bool,
}

impl Address {
    /// Parse any form; the error says what is wrong, without a field name.
    pub fn parse(text: &str) -> Result<Self, String> {
        if text.contains(':') {
            Self::parse_raw(text)
        } else {
            Self::parse_friendly(text)
        }
    }

    fn parse_raw(text: &str) -> Result<Self, String> {
        let (wc, hex) = text.split_once(':').unwrap_or((text, ""));
        let workchain: i8 = wc
            .parse()
            .map_err(|_| format!("{text:?}: workchain {wc:?} is not -128..127"))?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!(
                "{text:?}: a raw address is <workchain>:<64 hex digits>"
            ));
        }
        let bytes = hex_decode(hex).map_err(|e| format!("{text:?}: {e}"))?;
        let account: [u8; 32] = bytes
            .try_into()
            .map_err(|_| format!("{text:?}: account id is not 32 bytes"))?;
        Ok(Self {
            workchain,
            account,
            form: Form::Raw,
            test_only: false,
            url_safe: true,
        })
    }

    fn parse_friendly(text: &str) -> Result<Self, String> {
        if text.len() != FRIENDLY_LEN {
            return Err(format!(
                "{text:?}: a user-friendly address has {FRIENDLY_LEN} characters, this has {}",
                text.len()
            ));
        }
        let standard = text.bytes().any(|b| b == b'+' || b == b'/');
        let url = text.bytes().any(|b| b == b'-' || b == b'_');
        if standard && url {
            return Err(format!(
                "{text:?}: mixes base64 (+ /) and base64url (- _) characters"
            ));
        }
        let bytes = decode_base64(text).ok_or_else(|| format!("{text:?}: not base64"))?;
        let (body, crc) = bytes.split_at(34);
        let want = crc16(body).to_be_bytes();
        if crc != want {
            return Err(format!(
                "{text:?}: checksum mismatch (the address is mistyped)"
            ));
        }
        let flags = body[0];
        let test_only = flags & TEST_ONLY != 0;
        let form = match flags & !TEST_ONLY {
            BOUNCEABLE => Form::Bounceable,
            NON_BOUNCEABLE => Form::NonBounceable,
            other => return Err(format!("{text:?}: unknown flags byte 0x{other:02x}")),
        };
        let mut account = [0u8; 32];
        account.copy_from_slice(&body[2..34]);
        Ok(Self {
            workchain: body[1] as i8,
            account,
            form,
            test_only,
            url_safe: !standard,
        })
    }

    /// `workchain:hex` (lower case).
    pub fn raw(&self) -> String {
        format!("{}:{}", self.workchain, hex_encode(self.account))
    }

    /// The user-friendly form in base64url (`EQ…` bounceable, `UQ…` not),
    /// keeping this address's test-only flag.
    pub fn friendly(&self, bounceable: bool) -> String {
        base64url_encode(self.friendly_bytes(bounceable))
    }

    /// Whether `other` names the same account (workchain and id), whatever
    /// the form either was written in.
    pub fn same_account(&self, other: &Address) -> bool {
        self.workchain == other.workchain && self.account == other.account
    }

    /// The 36 bytes of the user-friendly form.
    fn friendly_bytes(&self, bounceable: bool) -> Vec<u8> {
        let mut flags = if bounceable {
            BOUNCEABLE
        } else {
            NON_BOUNCEABLE
        };
        if self.test_only {
            flags |= TEST_ONLY;
        }
        let mut bytes = Vec::with_capacity(36);
        bytes.push(flags);
        bytes.push(self.workchain as u8);
        bytes.extend_from_slice(&self.account);
        let crc = crc16(&bytes);
        bytes.extend_from_slice(&crc.to_be_bytes());
        bytes
    }

    /// toncenter's `detectAddress` answer, computed locally.
    pub fn detect_json(&self) -> Value {
        let forms = |bounceable: bool| {
            let bytes = self.friendly_bytes(bounceable);
            json!({"b64": base64_encode(&bytes), "b64url": base64url_encode(&bytes)})
        };
        json!({
            "raw_form": self.raw(),
            "bounceable": forms(true),
            "non_bounceable": forms(false),
            "given_type": self.form.as_str(),
            "test_only": self.test_only,
        })
    }
}

/// Check the param `field` holds an address; `invalid_params` naming the
/// field otherwise.
pub fn check(field: &str, text: &str) -> Result<Address, VenueError> {
    Address::parse(text.trim()).map_err(|why| VenueError::invalid(format!("{field}: {why}")))
}

/// Decode either base64 alphabet, padded or not (48 characters never pad).
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let mut bits: u32 = 0;
    let mut n = 0;
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for b in text.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(v);
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    Some(out)
}

/// CRC16-XMODEM (poly 0x1021, init 0, no reflection, no final xor), a byte
/// at a time from a table: every user-friendly address in a call's params is
/// checked, and the bit-at-a-time loop was the plugin's costliest function
/// on `get_balance`.
pub fn crc16(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |crc, byte| {
        (crc << 8) ^ CRC16_TABLE[usize::from((crc >> 8) as u8 ^ byte)]
    })
}

/// The CRC of each byte value on its own (the table of [`crc16`]).
const CRC16_TABLE: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    /// A mainnet wallet from toncenter's docs vectors (getAddressBalance).
    const EQ: &str = "EQDfvVvoSX_cDJ_L38Z2hkhA3fitZCPW1WV9mw6CcNbIrH-Q";

    #[test]
    fn crc16_xmodem_check_value() {
        // The CRC catalogue's check value for CRC-16/XMODEM over "123456789".
        assert_eq!(crc16(b"123456789"), 0x31c3);
    }

    /// The table agrees with the definition, a bit at a time, on every
    /// length up to 64 of seeded bytes.
    #[test]
    fn crc16_table_matches_the_bitwise_definition() {
        fn bitwise(data: &[u8]) -> u16 {
            let mut crc: u16 = 0;
            for byte in data {
                crc ^= u16::from(*byte) << 8;
                for _ in 0..8 {
                    crc = if crc & 0x8000 != 0 {
                        (crc << 1) ^ 0x1021
                    } else {
                        crc << 1
                    };
                }
            }
            crc
        }
        let mut x: u32 = 0x2545_f491;
        let bytes: Vec<u8> = (0..64)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x as u8
            })
            .collect();
        for len in 0..=bytes.len() {
            assert_eq!(crc16(&bytes[..len]), bitwise(&bytes[..len]), "length {len}");
        }
    }

    #[test]
    fn the_three_forms_of_one_address_agree() {
        // docs.ton.org "Smart contract addresses" example:
        // raw 0:ca6e321c7cce9ecedf0a8ca2492ec8592494aa5fb5ce0387dff96ef6af982a3e,
        // bounceable EQDKbjIcfM6ezt8KjKJJLshZJJSqX7XOA4ff-W72r5gqPrHF,
        // non-bounceable UQDKbjIcfM6ezt8KjKJJLshZJJSqX7XOA4ff-W72r5gqPuwA.
        let raw = "0:ca6e321c7cce9ecedf0a8ca2492ec8592494aa5fb5ce0387dff96ef6af982a3e";
        let bounce = "EQDKbjIcfM6ezt8KjKJJLshZJJSqX7XOA4ff-W72r5gqPrHF";
        let non = "UQDKbjIcfM6ezt8KjKJJLshZJJSqX7XOA4ff-W72r5gqPuwA";
        for (text, form) in [
            (raw, Form::Raw),
            (bounce, Form::Bounceable),
            (non, Form::NonBounceable),
        ] {
            let a = Address::parse(text).unwrap();
            assert_eq!(a.form, form, "{text}");
            let d = a.detect_json();
            assert_eq!(d["raw_form"], raw);
            assert_eq!(d["bounceable"]["b64url"], bounce);
            assert_eq!(d["non_bounceable"]["b64url"], non);
            assert_eq!(d["test_only"], false);
        }
        let std = Address::parse(bounce).unwrap().detect_json()["bounceable"]["b64"].clone();
        assert_eq!(std, "EQDKbjIcfM6ezt8KjKJJLshZJJSqX7XOA4ff+W72r5gqPrHF");
        assert!(Address::parse(std.as_str().unwrap()).is_ok());
    }

    #[test]
    fn toncenter_vector_address_is_valid() {
        let a = Address::parse(EQ).unwrap();
        assert_eq!((a.workchain, a.form), (0, Form::Bounceable));
    }

    #[test]
    fn masterchain_and_testnet_flags() {
        let raw = format!("-1:{}", "ab".repeat(32));
        let a = Address::parse(&raw).unwrap();
        assert_eq!(a.raw(), raw);
        let b = a.detect_json()["bounceable"]["b64url"]
            .as_str()
            .unwrap()
            .to_string();
        // 0x11 0xff: "Ef" then the workchain's low bits.
        assert!(b.starts_with("Ef-"), "{b}");
        assert_eq!(Address::parse(&b).unwrap().workchain, -1);
        let mut bytes = a.friendly_bytes(true);
        bytes[0] |= TEST_ONLY;
        let crc = crc16(&bytes[..34]).to_be_bytes();
        bytes[34..].copy_from_slice(&crc);
        let t = Address::parse(&base64url_encode(&bytes)).unwrap();
        assert!(t.test_only);
        assert_eq!(t.detect_json()["test_only"], true);
    }

    #[test]
    fn malformed_addresses_are_refused_with_a_reason() {
        let mut flipped = EQ.to_string();
        flipped.replace_range(10..11, if &EQ[10..11] == "A" { "B" } else { "A" });
        for (bad, why) in [
            ("", "48 characters"),
            ("EQbad", "48 characters"),
            (flipped.as_str(), "checksum"),
            ("EQDKbjIcfM6ezt8KjKJJLshZJJSqX7XOA4ff+W72r5gqPr_F", "mixes"),
            (
                "EQDKbjIcfM6ezt8KjKJJLshZJJSqX7XOA4ff!W72r5gqPrHF",
                "not base64",
            ),
            ("0:abc", "64 hex"),
            (
                "x:ca6e321c7cce9ecedf0a8ca2492ec8592494aa5fb5ce0387dff96ef6af982a3e",
                "workchain",
            ),
            (
                "300:ca6e321c7cce9ecedf0a8ca2492ec8592494aa5fb5ce0387dff96ef6af982a3e",
                "workchain",
            ),
        ] {
            let err = Address::parse(bad).unwrap_err();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
        assert!(matches!(
            check("owner", "EQbad"),
            Err(VenueError::InvalidParams(m)) if m.starts_with("owner:")
        ));
    }

    #[test]
    fn unknown_flags_are_refused() {
        let a = Address::parse(EQ).unwrap();
        let mut bytes = a.friendly_bytes(true);
        bytes[0] = 0x22;
        let crc = crc16(&bytes[..34]).to_be_bytes();
        bytes[34..].copy_from_slice(&crc);
        let err = Address::parse(&base64url_encode(&bytes)).unwrap_err();
        assert!(err.contains("flags"), "{err}");
    }
}
