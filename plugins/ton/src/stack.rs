//! TVM stacks as toncenter writes them, and the `runGetMethod` result.
//!
//! toncenter serialises a get-method's stack with `tvm_valuetypes`
//! (`serialize_tvm_element`): each entry is a pair `[type, value]`, and numbers
//! are Python `hex()` strings: `"0x2a"`, `"-0x1"`. TVM integers are 257-bit, so
//! the decimal form is computed on digit strings, never through `u64` or floats.
//!
//! | toncenter entry         | plugin entry                                            |
//! |-------------------------|---------------------------------------------------------|
//! | `["num", "0x157"]`      | `{"type":"num","value":"0x157","decimal":"343"}`        |
//! | `["cell", {…}]`, others | `{"type":"cell","value":{…}}`                           |

use resilience_guest::VenueError;
use serde_json::{Value, json};

/// Decimal form of a Python `hex()` string (`"0x157"` -> `"343"`,
/// `"-0x1"` -> `"-1"`), for any number of digits. `None` when `hex` is not of
/// that shape.
pub fn hex_to_decimal(hex: &str) -> Option<String> {
    let (negative, rest) = match hex.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, hex),
    };
    let digits = rest
        .strip_prefix("0x")
        .or_else(|| rest.strip_prefix("0X"))?;
    if digits.is_empty() {
        return None;
    }
    // Little-endian base-10 digits of the value read so far.
    let mut decimal: Vec<u8> = vec![0];
    for c in digits.chars() {
        let nibble = c.to_digit(16)?;
        // decimal = decimal * 16 + nibble
        let mut carry = nibble;
        for d in decimal.iter_mut() {
            let v = u32::from(*d) * 16 + carry;
            *d = (v % 10) as u8;
            carry = v / 10;
        }
        while carry > 0 {
            decimal.push((carry % 10) as u8);
            carry /= 10;
        }
    }
    while decimal.len() > 1 && decimal.last() == Some(&0) {
        decimal.pop();
    }
    let is_zero = decimal == [0];
    let mut out = String::with_capacity(decimal.len() + 1);
    if negative && !is_zero {
        out.push('-');
    }
    out.extend(decimal.iter().rev().map(|d| char::from(b'0' + d)));
    Some(out)
}

/// Turn toncenter stack entries into `{"type","value"}` objects, adding
/// `decimal` to numbers. An entry of another shape is a `parse` error naming
/// its index.
pub fn decode_stack(stack: &[Value]) -> Result<Vec<Value>, VenueError> {
    stack
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            decode_entry(entry)
                .map_err(|why| VenueError::parse(format!("result.stack[{i}]: {why}")))
        })
        .collect()
}

fn decode_entry(entry: &Value) -> Result<Value, String> {
    let (kind, value) = match entry.as_array().map(Vec::as_slice) {
        Some([Value::String(kind), value]) => (kind.as_str(), value),
        _ => return Err(format!("expected a [type, value] pair, got {entry}")),
    };
    if kind != "num" {
        return Ok(json!({ "type": kind, "value": value }));
    }
    let hex = value
        .as_str()
        .ok_or_else(|| format!("num value is not a string: {value}"))?;
    let decimal =
        hex_to_decimal(hex).ok_or_else(|| format!("num value {hex:?} is not a hex number"))?;
    Ok(json!({ "type": "num", "value": hex, "decimal": decimal }))
}

/// The plugin's answer for `run_get_method`, built from toncenter's
/// `smc.runResult`. A non-zero `exit_code` arrives with `ok: true` (TVM error,
/// e.g. 11 for an unknown method), so `success` says whether the method ran.
pub fn run_result(result: &Value) -> Result<Value, VenueError> {
    let exit_code = result
        .get("exit_code")
        .and_then(Value::as_i64)
        .ok_or_else(|| VenueError::parse("result.exit_code: missing or not an integer"))?;
    let gas_used = result
        .get("gas_used")
        .filter(|g| g.is_number())
        .ok_or_else(|| VenueError::parse("result.gas_used: missing or not a number"))?;
    let stack = result
        .get("stack")
        .and_then(Value::as_array)
        .ok_or_else(|| VenueError::parse("result.stack: missing or not an array"))?;
    Ok(json!({
        "gas_used": gas_used,
        "exit_code": exit_code,
        "success": exit_code == 0,
        "stack": decode_stack(stack)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_to_decimal_reads_python_hex() {
        assert_eq!(hex_to_decimal("0x157").as_deref(), Some("343"));
        assert_eq!(hex_to_decimal("0x0").as_deref(), Some("0"));
        assert_eq!(hex_to_decimal("0x2a").as_deref(), Some("42"));
        assert_eq!(hex_to_decimal("0xFF").as_deref(), Some("255"));
    }

    #[test]
    fn hex_to_decimal_keeps_the_sign() {
        assert_eq!(hex_to_decimal("-0x1").as_deref(), Some("-1"));
        assert_eq!(hex_to_decimal("-0x157").as_deref(), Some("-343"));
        assert_eq!(hex_to_decimal("-0x0").as_deref(), Some("0"));
    }

    #[test]
    fn hex_to_decimal_handles_values_beyond_u64() {
        // 40 hex digits = 160 bits; checked with Python int(..., 16).
        assert_eq!(
            hex_to_decimal("0xffffffffffffffffffffffffffffffffffffffff").as_deref(),
            Some("1461501637330902918203684832716283019655932542975")
        );
        assert_eq!(
            hex_to_decimal("0x0123456789abcdef0123456789abcdef01234567").as_deref(),
            Some("6495562832581790663061892574634853316331521383")
        );
        // 2^64 (one past u64::MAX) and a 257-bit TVM minimum.
        assert_eq!(
            hex_to_decimal("0x10000000000000000").as_deref(),
            Some("18446744073709551616")
        );
        assert_eq!(
            hex_to_decimal(&format!("-0x1{}", "0".repeat(64))).as_deref(),
            Some("-115792089237316195423570985008687907853269984665640564039457584007913129639936")
        );
    }

    #[test]
    fn hex_to_decimal_refuses_other_shapes() {
        for bad in [
            "", "0x", "-0x", "157", "0xg1", "0x 1", "--0x1", "+0x1", "0x-1",
        ] {
            assert_eq!(hex_to_decimal(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn run_result_decodes_numbers_and_reports_success() {
        // vectors: runGetMethod.response_capture result
        let result =
            json!({"@type":"smc.runResult","gas_used":549,"stack":[["num","0x157"]],"exit_code":0});
        assert_eq!(
            run_result(&result).unwrap(),
            json!({
                "gas_used": 549,
                "exit_code": 0,
                "success": true,
                "stack": [{"type":"num","value":"0x157","decimal":"343"}],
            })
        );
    }

    #[test]
    fn run_result_with_nonzero_exit_code_is_not_success() {
        let result = json!({"gas_used":0,"stack":[],"exit_code":11});
        let out = run_result(&result).unwrap();
        assert_eq!(out["success"], false);
        assert_eq!(out["exit_code"], 11);
    }

    #[test]
    fn non_number_entries_pass_through_as_type_and_value() {
        let stack = vec![json!(["cell", {"bytes": "te6cc"}]), json!(["num", "-0x1"])];
        assert_eq!(
            decode_stack(&stack).unwrap(),
            vec![
                json!({"type":"cell","value":{"bytes":"te6cc"}}),
                json!({"type":"num","value":"-0x1","decimal":"-1"}),
            ]
        );
    }

    #[test]
    fn malformed_entries_are_parse_errors_naming_the_index() {
        for bad in [
            json!("num"),
            json!(["num"]),
            json!(["num", 5]),
            json!(["num", "12"]),
            json!([1, 2]),
        ] {
            match decode_stack(&[json!(["num", "0x1"]), bad.clone()]) {
                Err(VenueError::Parse(m)) => assert!(m.contains("stack[1]"), "{bad}: {m}"),
                other => panic!("{bad}: expected parse, got {other:?}"),
            }
        }
    }

    #[test]
    fn run_result_without_exit_code_is_a_parse_error() {
        assert!(matches!(
            run_result(&json!({"gas_used":1,"stack":[]})),
            Err(VenueError::Parse(_))
        ));
    }
}
