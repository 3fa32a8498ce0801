//! Jettons (TEP-74): the owner's jetton wallet, asked of the jetton master,
//! and its balance, asked of the wallet; both through `/runGetMethod`.
//!
//! Source: TEP-74 (<https://github.com/ton-blockchain/TEPs/blob/master/text/0074-jettons-standard.md>),
//! toncenter's stack format (`tvm_valuetypes` `render_tvm_element` /
//! `serialize_tvm_element`, see [`crate::stack`]).
//!
//! | get-method | on | input stack | output stack |
//! |------------|----|-------------|--------------|
//! | `get_wallet_address` | jetton master | `[["tvm.Slice", <BoC of the owner address>]]` | `slice wallet_address` |
//! | `get_wallet_data`    | jetton wallet | `[]` | `int balance, slice owner, slice jetton (master), cell wallet_code` |
//!
//! toncenter writes a slice or a cell as `["cell", {"bytes": <base64 BoC>,
//! "object": …}]`; only `bytes` is read (`["slice", …]` and a bare base64
//! string are read too). The wallet code (4th entry) is not read.
//!
//! Decisions:
//!
//! | answer | outcome |
//! |--------|---------|
//! | `get_wallet_data` `exit_code` -13 (`ok: true`), or `ok: false` with `"Exit code -13 != 0"` | the wallet has no code: it was never deployed (no transfer reached it yet), so the balance is `"0"` with `active: false`; the stack is not read (toncenter leaves a stray number there) |
//! | any other non-zero `exit_code` | `upstream` with code `exit_code <N>`: the contract ran and failed, so it is not a jetton wallet this plugin can read (11: no such get-method) |
//! | owner or master in `get_wallet_data` not the ones asked for | `parse`: the wallet is not the one asked for (a master that answered another wallet, or a `jetton_wallet` of someone else) |
//! | `get_wallet_address` returning `addr_none`, anything but one `addr_std` cell, or `exit_code` ≠ 0 | `parse` (`upstream` for the exit code) |
//! | a negative balance, or one beyond 257 bits | `parse` |
//!
//! -13 is the exit code toncenter (tonlib) reports for a get-method on an
//! account without code; third-party toncenter clients read it the same way
//! (callers of tonweb's `JettonWallet.getData` map `exit_code == -13` to a
//! balance of 0, wallet clients map it to "not deployed"). No extra request
//! asks for the account state: an account that was deployed and later
//! frozen also has no code to run, and holds no spendable jettons either.
//! Newer toncenter deployments
//! document non-zero exit codes as `{"ok": false, "code": 500, "error":
//! "Exit code <N> != 0"}` (docs.ton.org, toncenter v2 runGetMethod), which
//! is read the same way.

use resilience_guest::VenueError;
use resilience_guest::decimal::scale_integer;
use serde_json::{Value, json};

use crate::address::Address;
use crate::boc;
use crate::stack::hex_to_decimal;

/// tonlib's exit code for an account without code (an undeployed wallet).
pub const EXIT_NO_CODE: i64 = -13;
/// TVM integers are 257-bit: at most 65 hex digits.
const MAX_HEX_DIGITS: usize = 65;
/// Decimals when the caller gives none (TEP-64's default, and TON's own).
pub const DEFAULT_DECIMALS: u8 = 9;

/// The `/runGetMethod` body asking `master` for `owner`'s jetton wallet.
pub fn wallet_address_request(master: &str, owner: &Address) -> Value {
    json!({
        "address": master,
        "method": "get_wallet_address",
        "stack": [["tvm.Slice", boc::address_boc(owner)]],
    })
}

/// The `/runGetMethod` body asking a jetton wallet for its data.
pub fn wallet_data_request(wallet: &str) -> Value {
    json!({"address": wallet, "method": "get_wallet_data", "stack": []})
}

/// The jetton wallet in a `get_wallet_address` result.
pub fn wallet_from_result(result: &Value) -> Result<Address, VenueError> {
    let exit_code = exit_code(result)?;
    if exit_code != 0 {
        return Err(VenueError::upstream(
            200,
            Some(format!("exit_code {exit_code}")),
            format!(
                "get_wallet_address exited with code {exit_code}: the address is not a jetton master this plugin can read"
            ),
        ));
    }
    let stack = stack(result)?;
    let entry = stack
        .first()
        .ok_or_else(|| VenueError::parse("result.stack: empty, expected the wallet address"))?;
    let bytes = entry_boc(entry, "result.stack[0]")?;
    boc::address_from_boc("result.stack[0]", bytes)?.ok_or_else(|| {
        VenueError::parse("result.stack[0]: the master returned addr_none, not a wallet address")
    })
}

/// What `get_wallet_data` said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalletData {
    /// The wallet runs: its balance in base units (a decimal string), owner
    /// and master (`None` for `addr_none`).
    Active {
        balance: String,
        owner: Option<Address>,
        master: Option<Address>,
    },
    /// The wallet has no code yet (exit code -13): it holds nothing.
    Uninitialized,
}

/// Read a `get_wallet_data` result.
pub fn wallet_data_from_result(result: &Value) -> Result<WalletData, VenueError> {
    let exit_code = exit_code(result)?;
    if exit_code == EXIT_NO_CODE {
        return Ok(WalletData::Uninitialized);
    }
    if exit_code != 0 {
        return Err(VenueError::upstream(
            200,
            Some(format!("exit_code {exit_code}")),
            format!(
                "get_wallet_data exited with code {exit_code}: the address is not a jetton wallet this plugin can read"
            ),
        ));
    }
    let stack = stack(result)?;
    if stack.len() < 3 {
        return Err(VenueError::parse(format!(
            "result.stack: {} entries, expected balance, owner, master and wallet code",
            stack.len()
        )));
    }
    let balance = balance(&stack[0])?;
    let owner = boc::address_from_boc("result.stack[1]", entry_boc(&stack[1], "result.stack[1]")?)?;
    let master =
        boc::address_from_boc("result.stack[2]", entry_boc(&stack[2], "result.stack[2]")?)?;
    Ok(WalletData::Active {
        balance,
        owner,
        master,
    })
}

/// Whether an error from `/runGetMethod` is toncenter's `ok: false` form
/// of exit code -13 (`"Exit code -13 != 0"`).
pub fn is_no_code_error(e: &VenueError) -> bool {
    let VenueError::Upstream(u) = e else {
        return false;
    };
    u.message
        .trim()
        .strip_prefix("Exit code ")
        .and_then(|rest| rest.strip_suffix(" != 0"))
        .and_then(|n| n.trim().parse::<i64>().ok())
        == Some(EXIT_NO_CODE)
}

/// Check that the answer's address `got` at `field` is `asked` (named `what`).
pub fn check_same(
    field: &str,
    what: &str,
    got: Option<&Address>,
    asked: &Address,
) -> Result<(), VenueError> {
    match got {
        Some(got) if got.same_account(asked) => Ok(()),
        other => Err(VenueError::parse(format!(
            "{field}: the wallet's {what} is {}, not {} as asked: this is not the jetton wallet asked for",
            other.map_or_else(|| "addr_none".to_string(), Address::raw),
            asked.raw()
        ))),
    }
}

/// `balance` base units with `decimals` places, exactly.
pub fn to_decimal(balance: &str, decimals: u8) -> Result<String, VenueError> {
    scale_integer(balance, u32::from(decimals)).map_err(|e| e.parse("result.stack[0]"))
}

/// The balance entry: a non-negative `num`, as a decimal string.
fn balance(entry: &Value) -> Result<String, VenueError> {
    let field = "result.stack[0]";
    let hex = match entry.as_array().map(Vec::as_slice) {
        Some([Value::String(kind), Value::String(hex)]) if kind == "num" => hex,
        _ => {
            return Err(VenueError::parse(format!(
                "{field}: expected [\"num\", <hex>] for the balance, got {}",
                snippet(entry)
            )));
        }
    };
    let digits = hex.trim_start_matches('-').len().saturating_sub(2);
    if digits > MAX_HEX_DIGITS {
        return Err(VenueError::parse(format!(
            "{field}: {digits} hex digits, more than a 257-bit TVM integer"
        )));
    }
    let decimal = hex_to_decimal(hex)
        .ok_or_else(|| VenueError::parse(format!("{field}: {hex:?} is not a hex number")))?;
    if decimal.starts_with('-') {
        return Err(VenueError::parse(format!(
            "{field}: negative balance {decimal}"
        )));
    }
    Ok(decimal)
}

/// The base64 BoC of a cell or slice entry.
fn entry_boc<'a>(entry: &'a Value, field: &str) -> Result<&'a str, VenueError> {
    let bad = || {
        VenueError::parse(format!(
            "{field}: expected [\"cell\", {{\"bytes\": <base64 BoC>}}], got {}",
            snippet(entry)
        ))
    };
    match entry.as_array().map(Vec::as_slice) {
        Some([Value::String(kind), value]) if kind == "cell" || kind == "slice" => match value {
            Value::Object(map) => map.get("bytes").and_then(Value::as_str).ok_or_else(bad),
            Value::String(bytes) => Ok(bytes),
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}

fn exit_code(result: &Value) -> Result<i64, VenueError> {
    result
        .get("exit_code")
        .and_then(Value::as_i64)
        .ok_or_else(|| VenueError::parse("result.exit_code: missing or not an integer"))
}

fn stack(result: &Value) -> Result<&Vec<Value>, VenueError> {
    result
        .get("stack")
        .and_then(Value::as_array)
        .ok_or_else(|| VenueError::parse("result.stack: missing or not an array"))
}

/// At most 120 characters of `v`, for error messages.
fn snippet(v: &Value) -> String {
    let text = v.to_string();
    match text.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// vectors: wallet-core `test_address_converter_get_jetton_usdt_address`
    /// (see `boc::tests`): the real toncenter answer's BoC for the USDT
    /// wallet of UQBjKqthWBE6GEcqb_epTRFrQ1niS6Z1Z1MHMwR-mnAYRoYr.
    const USDT_WALLET_BOC: &str =
        "te6cckEBAQEAJAAAQ4Aed71FEI46jdFXghsGUIG2GIR8wpbQaLzrKNj7BtHOEHBSO5Mf";
    const OWNER: &str = "UQBjKqthWBE6GEcqb_epTRFrQ1niS6Z1Z1MHMwR-mnAYRoYr";
    const USDT_MASTER: &str = "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs";

    fn cell(bytes: &str) -> Value {
        json!(["cell", {"bytes": bytes, "object": {}}])
    }

    fn addr(text: &str) -> Address {
        Address::parse(text).unwrap()
    }

    #[test]
    fn request_carries_the_owner_as_a_slice_boc() {
        let body = wallet_address_request(USDT_MASTER, &addr(OWNER));
        assert_eq!(
            body,
            json!({"address": USDT_MASTER, "method": "get_wallet_address",
                   "stack": [["tvm.Slice", "te6cckEBAQEAJAAAQ4AMZVVsKwInQwjlTf71KaItaGs8SXTOrOpg5mCP004DCNAptHQU"]]})
        );
    }

    #[test]
    fn wallet_address_result_is_read() {
        let result = json!({"@type": "smc.runResult", "gas_used": 4727,
            "stack": [cell(USDT_WALLET_BOC)], "exit_code": 0});
        let wallet = wallet_from_result(&result).unwrap();
        assert_eq!(
            wallet.friendly(false),
            "UQDzveoohHHUboq8ENgyhA2wxCPmFLaDRedZRsfYNo5wg4TL"
        );
        // The slice spellings other servers use.
        for entry in [
            json!(["slice", {"bytes": USDT_WALLET_BOC}]),
            json!(["cell", USDT_WALLET_BOC]),
        ] {
            let result = json!({"gas_used": 1, "stack": [entry], "exit_code": 0});
            assert!(wallet_from_result(&result).unwrap().same_account(&wallet));
        }
    }

    #[test]
    fn wallet_address_errors() {
        let cases = [
            (
                json!({"gas_used": 1, "stack": [], "exit_code": 11}),
                "exit_code 11",
            ),
            (json!({"gas_used": 1, "stack": [], "exit_code": 0}), "empty"),
            (
                json!({"gas_used": 1, "stack": [["num", "0x1"]], "exit_code": 0}),
                "stack[0]",
            ),
            (
                json!({"gas_used": 1, "stack": [cell("te6cckEBAQEAAwAAASCUQYZV")], "exit_code": 0}),
                "addr_none",
            ),
            (
                json!({"gas_used": 1, "stack": [cell("te6cckEBAQEAJAAAQ4Aed71FEI46jdFXghsGUIG2GIR8wpbQaLzrKNj7BtHOEHBSO5Mg")], "exit_code": 0}),
                "CRC32C",
            ),
            (json!({"stack": []}), "exit_code"),
        ];
        for (result, why) in cases {
            let err = wallet_from_result(&result).unwrap_err();
            let text = match &err {
                VenueError::Upstream(u) => format!("{:?} {}", u.code, u.message),
                VenueError::Parse(m) => m.clone(),
                other => panic!("{result}: {other:?}"),
            };
            assert!(text.contains(why), "{result}: {text}");
        }
    }

    #[test]
    fn wallet_data_is_read_and_negative_or_huge_balances_refused() {
        let owner = boc::address_boc(&addr(OWNER));
        let master = boc::address_boc(&addr(USDT_MASTER));
        let result = json!({"gas_used": 1, "exit_code": 0,
            "stack": [["num", "0x1dcd6500"], cell(&owner), cell(&master), cell("te6cc")]});
        match wallet_data_from_result(&result).unwrap() {
            WalletData::Active {
                balance,
                owner: Some(o),
                master: Some(m),
            } => {
                assert_eq!(balance, "500000000");
                assert!(o.same_account(&addr(OWNER)) && m.same_account(&addr(USDT_MASTER)));
            }
            other => panic!("{other:?}"),
        }
        for (bad, why) in [
            (json!(["num", "-0x1"]), "negative"),
            (json!(["num", format!("0x{}", "f".repeat(66))]), "257-bit"),
            (json!(["num", "12"]), "not a hex"),
            (json!(["cell", {}]), "balance"),
        ] {
            let mut r = result.clone();
            r["stack"][0] = bad.clone();
            let err = wallet_data_from_result(&r).unwrap_err();
            assert!(
                matches!(&err, VenueError::Parse(m) if m.contains(why) && m.starts_with("result.stack[0]")),
                "{bad}: {err:?}"
            );
        }
        let mut r = result.clone();
        r["stack"] = json!([["num", "0x1"]]);
        assert!(
            matches!(wallet_data_from_result(&r), Err(VenueError::Parse(m)) if m.contains("1 entries"))
        );
    }

    #[test]
    fn exit_code_minus_13_is_an_uninitialized_wallet_others_are_upstream() {
        // The shape toncenter gives for an account without code: a stray
        // number on the stack, exit code -13 (third-party client notes).
        let result = json!({"gas_used": 0, "stack": [["num", "0x14c97"]], "exit_code": -13});
        assert_eq!(
            wallet_data_from_result(&result).unwrap(),
            WalletData::Uninitialized
        );
        let result = json!({"gas_used": 0, "stack": [], "exit_code": 11});
        assert!(matches!(
            wallet_data_from_result(&result),
            Err(VenueError::Upstream(u)) if u.code.as_deref() == Some("exit_code 11")
        ));
        assert!(is_no_code_error(&VenueError::upstream(
            500,
            Some("500".into()),
            "Exit code -13 != 0"
        )));
        for other in [
            VenueError::upstream(500, None, "Exit code 11 != 0"),
            VenueError::upstream(500, None, "LITE_SERVER_UNKNOWN"),
            VenueError::parse("Exit code -13 != 0"),
        ] {
            assert!(!is_no_code_error(&other), "{other:?}");
        }
    }

    #[test]
    fn mismatched_owner_or_master_is_a_parse_error() {
        let asked = addr(OWNER);
        assert!(check_same("result.stack[1]", "owner", Some(&asked), &asked).is_ok());
        let other = addr(USDT_MASTER);
        let err = check_same("result.stack[1]", "owner", Some(&other), &asked).unwrap_err();
        assert!(
            matches!(&err, VenueError::Parse(m) if m.contains("not the jetton wallet asked for") && m.contains(&asked.raw())),
            "{err:?}"
        );
        assert!(
            matches!(check_same("result.stack[2]", "master", None, &asked), Err(VenueError::Parse(m)) if m.contains("addr_none"))
        );
    }

    #[test]
    fn decimals_place_the_point_without_floats() {
        assert_eq!(to_decimal("1234567", 6).unwrap(), "1.234567");
        assert_eq!(to_decimal("0", 9).unwrap(), "0");
        assert_eq!(to_decimal("5", 0).unwrap(), "5");
        assert_eq!(
            to_decimal("1", 255).unwrap(),
            format!("0.{}1", "0".repeat(254))
        );
        // Beyond u128: a 257-bit-sized balance still scales exactly.
        let big = "115792089237316195423570985008687907853269984665640564039457584007913129639935";
        assert_eq!(
            to_decimal(big, 18).unwrap(),
            "115792089237316195423570985008687907853269984665640564039457.584007913129639935"
        );
    }
}
