//! Exact decimal arithmetic for the exchange filters: a decimal string as an
//! integer count of `10^-scale` units, so "is this quantity a multiple of the
//! step" is an integer remainder, never a float comparison.
//!
//! The venue's decimals are short (a tick of `0.00001000`, a quantity of
//! `10000000`), so 38 significant digits of `u128` hold any product this
//! plugin forms; a value that does not fit is refused, not rounded.

use std::cmp::Ordering;

/// Most fractional digits accepted (Binance writes at most 8).
const MAX_SCALE: u32 = 18;

/// A non-negative decimal: `units * 10^-scale`.
#[derive(Debug, Clone, Copy)]
pub struct Fixed {
    units: u128,
    scale: u32,
}

impl Fixed {
    /// `text` as a decimal (`"0.010"`, `"5"`); `None` when it is not an
    /// unsigned decimal or has too many digits.
    pub fn parse(text: &str) -> Option<Self> {
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        if int.is_empty()
            || text.ends_with('.')
            || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let scale = u32::try_from(frac.len()).ok().filter(|s| *s <= MAX_SCALE)?;
        let digits = format!("{int}{frac}");
        let units = digits.parse::<u128>().ok()?;
        Some(Self { units, scale })
    }

    /// Whether this is zero.
    pub fn is_zero(self) -> bool {
        self.units == 0
    }

    /// Both values at the larger scale.
    fn aligned(self, other: Self) -> Option<(u128, u128, u32)> {
        let scale = self.scale.max(other.scale);
        let a = self
            .units
            .checked_mul(10u128.checked_pow(scale - self.scale)?)?;
        let b = other
            .units
            .checked_mul(10u128.checked_pow(scale - other.scale)?)?;
        Some((a, b, scale))
    }

    /// `self` compared with `other`; `None` only when aligning overflows.
    pub fn compare(self, other: Self) -> Option<Ordering> {
        let (a, b, _) = self.aligned(other)?;
        Some(a.cmp(&b))
    }

    /// Whether `self` is a whole multiple of `step` (a zero step allows
    /// anything, as Binance writes "0" for "no step").
    pub fn is_multiple_of(self, step: Self) -> Option<bool> {
        let (a, b, _) = self.aligned(step)?;
        Some(b == 0 || a % b == 0)
    }

    /// `self * other`, exactly.
    pub fn times(self, other: Self) -> Option<Self> {
        Some(Self {
            units: self.units.checked_mul(other.units)?,
            scale: self.scale + other.scale,
        })
    }

    /// `self` rounded down to a multiple of `step`.
    pub fn floor_to(self, step: Self) -> Option<Self> {
        let (a, b, scale) = self.aligned(step)?;
        let units = if b == 0 { a } else { a - a % b };
        Some(Self { units, scale })
    }

    /// `self - other`, when `other <= self`.
    pub fn minus(self, other: Self) -> Option<Self> {
        let (a, b, scale) = self.aligned(other)?;
        Some(Self {
            units: a.checked_sub(b)?,
            scale,
        })
    }

    /// The decimal text without trailing fractional zeros (`"0.5"`, `"12"`).
    pub fn text(self) -> String {
        let digits = self.units.to_string();
        let scale = self.scale as usize;
        let (int, frac) = if digits.len() > scale {
            digits.split_at(digits.len() - scale)
        } else {
            ("0", digits.as_str())
        };
        let frac = format!("{frac:0>scale$}");
        let frac = frac.trim_end_matches('0');
        if frac.is_empty() {
            int.to_string()
        } else {
            format!("{int}.{frac}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(s: &str) -> Fixed {
        Fixed::parse(s).unwrap()
    }

    #[test]
    fn parses_unsigned_decimals_only() {
        for ok in ["0", "5", "0.010", "10000000", "0.00000001"] {
            assert!(Fixed::parse(ok).is_some(), "{ok}");
        }
        for bad in [
            "",
            ".5",
            "5.",
            "-1",
            "1e3",
            "1,5",
            " 1",
            "0.0000000000000000001",
        ] {
            assert!(Fixed::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn multiples_compare_and_products_are_exact() {
        assert_eq!(f("0.30").is_multiple_of(f("0.10")), Some(true));
        assert_eq!(f("0.3").is_multiple_of(f("0.1")), Some(true));
        assert_eq!(f("0.35").is_multiple_of(f("0.1")), Some(false));
        assert_eq!(f("12").is_multiple_of(f("0")), Some(true));
        assert_eq!(f("0.001").compare(f("0.0010")), Some(Ordering::Equal));
        assert_eq!(f("5").compare(f("4.99999999")), Some(Ordering::Greater));
        assert_eq!(f("0.002").times(f("2500")).unwrap().text(), "5");
        assert_eq!(f("2.57").floor_to(f("0.5")).unwrap().text(), "2.5");
        assert_eq!(f("7").minus(f("2.5")).unwrap().text(), "4.5");
        assert!(f("1").minus(f("2")).is_none());
        assert_eq!(f("0.00012").text(), "0.00012");
        assert_eq!(f("120.000").text(), "120");
    }
}
