//! Fixed-point decimals as strings, without floats.
//!
//! Venues write amounts two ways: as decimal strings (`"0.52"`) and as
//! integers of smallest units (`"520000"` with 6 decimals, Chainlink's
//! `352098000000` with 8). Converting through `f64` loses digits
//! (`0.1 + 0.2`); these functions work on the digits themselves, at any size.
//!
//! | function            | from                 | to                   | policy                                      |
//! |---------------------|----------------------|----------------------|---------------------------------------------|
//! | [`scale_integer`]   | integer of units     | decimal string       | trailing fractional zeros and a bare `.` removed; `-0` is `0` |
//! | [`to_fixed_units`]  | decimal string       | integer of units     | refuses digits that would be lost; extra trailing zeros are fine |
//!
//! Accepted decimal syntax: an optional `-`, digits, and optionally one `.`
//! followed by digits (`"12"`, `"-0.5"`). Refused: `""`, `".5"`, `"5."`,
//! `"+1"`, `"1e5"`, spaces, `,`. Leading zeros are accepted and dropped.

use crate::error::FormatError;

/// Whether `s` is digits with at most one `.` between digits, no sign
/// (`"123"`, `"0.001"`; not `".5"`, `"5."`, `"-1"`, `"1e5"`).
///
/// ```
/// use resilience_guest::decimal::is_unsigned_decimal;
/// assert!(is_unsigned_decimal("123.45"));
/// assert!(!is_unsigned_decimal("-1") && !is_unsigned_decimal("1e5") && !is_unsigned_decimal(""));
/// ```
pub fn is_unsigned_decimal(s: &str) -> bool {
    split_unsigned(s).is_some()
}

/// Whether `s` is an optional `-` followed by an unsigned decimal.
///
/// ```
/// use resilience_guest::decimal::is_decimal;
/// assert!(is_decimal("-0.0001") && is_decimal("7"));
/// assert!(!is_decimal("--1") && !is_decimal("+1") && !is_decimal("1."));
/// ```
pub fn is_decimal(s: &str) -> bool {
    is_unsigned_decimal(s.strip_prefix('-').unwrap_or(s))
}

/// An integer of smallest units as a decimal with `decimals` places:
/// `("123456789", 8)` -> `"1.23456789"`. Trailing fractional zeros are
/// removed, so equal values compare equal as strings (`("100000000", 8)` ->
/// `"1"`); leading zeros are dropped and `-0` becomes `0`.
///
/// ```
/// use resilience_guest::decimal::scale_integer;
/// assert_eq!(scale_integer("123456789", 8).unwrap(), "1.23456789");
/// assert_eq!(scale_integer("352098000000", 8).unwrap(), "3520.98");
/// assert_eq!(scale_integer("-5", 2).unwrap(), "-0.05");
/// assert!(scale_integer("1.5", 2).is_err());
/// ```
pub fn scale_integer(value: &str, decimals: u32) -> Result<String, FormatError> {
    let (negative, digits) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FormatError::new(format!("{value:?} is not an integer")));
    }
    let digits = digits.trim_start_matches('0');
    let places = usize::try_from(decimals).unwrap_or(usize::MAX);
    let (whole, frac) = if digits.len() > places {
        digits.split_at(digits.len() - places)
    } else {
        ("", digits)
    };
    // `frac` holds the last `places` digits, short of leading zeros.
    let frac = frac.trim_end_matches('0');
    let leading_zeros = places.saturating_sub(digits.len());
    let mut out = String::with_capacity(digits.len() + leading_zeros + 3);
    if negative && !digits.is_empty() {
        out.push('-');
    }
    out.push_str(if whole.is_empty() { "0" } else { whole });
    if !frac.is_empty() {
        out.push('.');
        out.extend(std::iter::repeat_n('0', leading_zeros));
        out.push_str(frac);
    }
    Ok(out)
}

/// A decimal string as an integer of smallest units with `decimals` places:
/// `("0.52", 6)` -> `"520000"`. A value with more significant fractional
/// digits than `decimals` is refused (it cannot be sent without rounding);
/// surplus trailing zeros (`"0.5200000"`) are fine.
///
/// ```
/// use resilience_guest::decimal::to_fixed_units;
/// assert_eq!(to_fixed_units("0.52", 6).unwrap(), "520000");
/// assert_eq!(to_fixed_units("-1.5", 1).unwrap(), "-15");
/// assert!(to_fixed_units("0.1234567", 6).is_err());
/// assert!(to_fixed_units("1e5", 6).is_err());
/// ```
pub fn to_fixed_units(decimal: &str, decimals: u32) -> Result<String, FormatError> {
    let (negative, unsigned) = match decimal.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, decimal),
    };
    let Some((whole, frac)) = split_unsigned(unsigned) else {
        return Err(FormatError::new(format!(
            "{decimal:?} is not a decimal number (digits, optionally one '.' between digits, optional leading '-')"
        )));
    };
    let places = usize::try_from(decimals).unwrap_or(usize::MAX);
    let significant = frac.trim_end_matches('0');
    if significant.len() > places {
        return Err(FormatError::new(format!(
            "{decimal} has {} decimal places; at most {decimals} are allowed",
            significant.len()
        )));
    }
    let mut units = String::with_capacity(whole.len() + places);
    units.push_str(whole.trim_start_matches('0'));
    units.push_str(significant);
    units.extend(std::iter::repeat_n('0', places - significant.len()));
    let units = units.trim_start_matches('0');
    Ok(match (units.is_empty(), negative) {
        (true, _) => "0".to_string(),
        (false, true) => format!("-{units}"),
        (false, false) => units.to_string(),
    })
}

/// `(whole, fraction)` digits of an unsigned decimal, `None` when `s` is not one.
fn split_unsigned(s: &str) -> Option<(&str, &str)> {
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (s, None),
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !frac.is_none_or(digits) {
        return None;
    }
    Some((whole, frac.unwrap_or("")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_integer_places_the_point() {
        let cases = [
            ("123456789", 8, "1.23456789"),
            ("100000000", 8, "1"),
            ("352098000000", 8, "3520.98"),
            ("-100000000", 8, "-1"),
            ("-352098000000", 8, "-3520.98"),
            ("1", 8, "0.00000001"),
            ("-1", 8, "-0.00000001"),
            ("0", 8, "0"),
            ("-0", 8, "0"),
            ("000120", 2, "1.2"),
            ("5610477699352", 9, "5610.477699352"),
            ("42", 0, "42"),
            ("0042", 0, "42"),
        ];
        for (value, decimals, expected) in cases {
            assert_eq!(
                scale_integer(value, decimals).unwrap(),
                expected,
                "{value} {decimals}"
            );
        }
    }

    #[test]
    fn scale_integer_handles_int256_sized_values() {
        // -2^255 with 18 decimals.
        let min = "-57896044618658097711785492504343953926634992332820282019728792003956564819968";
        assert_eq!(
            scale_integer(min, 18).unwrap(),
            "-57896044618658097711785492504343953926634992332820282019728.792003956564819968"
        );
    }

    #[test]
    fn scale_integer_refuses_non_integers() {
        for bad in ["", "-", "1.0", "1e3", " 1", "+1", "--1", "0x10"] {
            assert!(scale_integer(bad, 2).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn to_fixed_units_scales_up() {
        let cases = [
            ("0.52", 6, "520000"),
            ("0.5", 6, "500000"),
            ("100", 6, "100000000"),
            ("0.000001", 6, "1"),
            ("0", 6, "0"),
            ("-0.0", 6, "0"),
            ("007.10", 2, "710"),
            ("0.5200000", 6, "520000"),
            ("-1.5", 1, "-15"),
            ("12", 0, "12"),
            (
                "123456789012345678901234567890.123456789012345678",
                18,
                "123456789012345678901234567890123456789012345678",
            ),
        ];
        for (value, decimals, expected) in cases {
            assert_eq!(
                to_fixed_units(value, decimals).unwrap(),
                expected,
                "{value} {decimals}"
            );
        }
    }

    #[test]
    fn to_fixed_units_refuses_lost_digits_and_junk() {
        let e = to_fixed_units("0.1234567", 6).unwrap_err().to_string();
        assert!(
            e.contains("7 decimal places") && e.contains("at most 6"),
            "{e}"
        );
        assert!(to_fixed_units("1.5", 0).is_err());
        for bad in [
            "", ".5", "5.", "+1", "1e5", " 1", "1 ", "1,5", "1.2.3", "-", "--1", "0x1", "١",
        ] {
            assert!(to_fixed_units(bad, 6).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn round_trip_between_units_and_decimals() {
        for (units, decimals) in [("520000", 6), ("1", 18), ("-123456789", 8), ("7", 0)] {
            let d = scale_integer(units, decimals).unwrap();
            assert_eq!(to_fixed_units(&d, decimals).unwrap(), units, "{d}");
        }
    }

    #[test]
    fn decimal_syntax_checks() {
        for ok in ["0", "123", "123.45", "0.001"] {
            assert!(is_unsigned_decimal(ok), "{ok}");
            assert!(is_decimal(&format!("-{ok}")), "-{ok}");
        }
        for bad in ["", ".5", "5.", "1.2.3", "-1", "1e5", " 1"] {
            assert!(!is_unsigned_decimal(bad), "{bad}");
        }
    }
}
