//! Operation params and the checks made before anything is sent.
//!
//! Addresses are checked by the plugin ([`crate::address`]: form, base64
//! alphabet, CRC16), so a mistyped address never costs a request or a
//! rate-limit token; the rest stays shallow, since toncenter validates too.

use resilience_guest::VenueError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `get_balance`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BalanceParams {
    /// Account address in any form toncenter accepts (raw `0:…` or user-friendly).
    pub address: String,
    /// Masterchain block seqno to read the balance at; latest when absent.
    #[serde(default)]
    pub seqno: Option<u64>,
}

/// `detect_address`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DetectParams {
    pub address: String,
}

/// `get_wallet_info`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalletInfoParams {
    pub address: String,
    #[serde(default)]
    pub seqno: Option<u64>,
}

/// `get_transactions`: one page, newest first. To page back, pass the last
/// transaction's `transaction_id.lt` and `.hash` as `lt` and `hash`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransactionsParams {
    pub address: String,
    /// 1 to 100 (default 10).
    #[serde(default)]
    pub limit: Option<u32>,
    /// Logical time of the transaction to start from (decimal string); with `hash`.
    #[serde(default)]
    pub lt: Option<String>,
    /// Hash of that transaction (base64); with `lt`.
    #[serde(default)]
    pub hash: Option<String>,
    /// Stop at this logical time (decimal string).
    #[serde(default)]
    pub to_lt: Option<String>,
    /// Ask an archival liteserver (history older than a few days).
    #[serde(default)]
    pub archival: Option<bool>,
}

/// `find_transaction`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FindTransactionParams {
    /// The account the message went to (the sending wallet, for an external message).
    pub address: String,
    /// The message hash `send_boc` returned (base64 or base64url).
    pub msg_hash: String,
    /// How many of the newest transactions to search, 1 to 100 (default 20).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// `estimate_fee`, also the body POSTed to `/estimateFee` once checked.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EstimateFeeParams {
    pub address: String,
    /// The message body as a base64 BoC.
    pub body: String,
    #[serde(default)]
    pub init_code: String,
    #[serde(default)]
    pub init_data: String,
    /// Estimate without checking the signature (default true: the caller may
    /// estimate before signing).
    #[serde(default = "yes")]
    pub ignore_chksig: bool,
}

fn yes() -> bool {
    true
}

/// A page size for `field`: 1 to `max`, `default` when absent.
pub fn limit(field: &str, value: Option<u32>, default: u32, max: u32) -> Result<u32, VenueError> {
    match value.unwrap_or(default) {
        n if (1..=max).contains(&n) => Ok(n),
        n => Err(VenueError::invalid(format!(
            "{field}: {n} is out of range (1 to {max})"
        ))),
    }
}

/// A logical time: a decimal u64 string.
pub fn check_lt(field: &str, lt: &str) -> Result<(), VenueError> {
    if lt.is_empty()
        || lt.len() > 20
        || !lt.bytes().all(|b| b.is_ascii_digit())
        || lt.parse::<u64>().is_err()
    {
        return Err(VenueError::invalid(format!(
            "{field}: {lt:?} is not a logical time (a decimal number)"
        )));
    }
    Ok(())
}

/// A 32-byte hash in base64 or base64url (44 characters with `=` or 43 without).
pub fn check_hash(field: &str, hash: &str) -> Result<Vec<u8>, VenueError> {
    let bad = || VenueError::invalid(format!("{field}: {hash:?} is not a 32-byte base64 hash"));
    let trimmed = hash.trim_end_matches('=');
    if trimmed.len() != 43 || hash.len() > 44 {
        return Err(bad());
    }
    let std = trimmed.replace('-', "+").replace('_', "/");
    let bytes = resilience_guest::encoding::base64_decode(&format!("{std}=")).map_err(|_| bad())?;
    if bytes.len() != 32 {
        return Err(bad());
    }
    Ok(bytes)
}

/// `get_address_info`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressInfoParams {
    pub address: String,
    /// Masterchain block seqno to read the state at; latest when absent.
    #[serde(default)]
    pub seqno: Option<u64>,
}

/// `run_get_method`, also the body POSTed to `/runGetMethod` once checked.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunGetMethodParams {
    pub address: String,
    /// Method name (`"seqno"`) or numeric method id.
    pub method: Value,
    /// Input stack entries as toncenter takes them (`[["num", 3]]`).
    #[serde(default)]
    pub stack: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seqno: Option<u64>,
}

/// `send_boc`, also the body POSTed to `/sendBoc` once checked.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SendBocParams {
    /// The external message as a bag of cells in standard, padded base64.
    pub boc: String,
}

/// `get_jetton_wallet`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JettonWalletParams {
    /// The wallet owner (any address form).
    pub owner: String,
    /// The jetton master (minter) contract.
    pub jetton_master: String,
}

/// `get_jetton_balance`: `owner` and `jetton_master` (the wallet is asked of
/// the master), or `jetton_wallet`; with `jetton_wallet`, an `owner` or
/// `jetton_master` given too is checked against the wallet's answer.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JettonBalanceParams {
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub jetton_master: Option<String>,
    #[serde(default)]
    pub jetton_wallet: Option<String>,
    /// Decimal places of the jetton (its metadata's `decimals`), 0 to 255;
    /// 9 when absent.
    #[serde(default)]
    pub decimals: Option<u8>,
}

/// `get_masterchain_info` takes nothing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// `address` must be a well-formed TON address ([`crate::address`]).
pub fn check_address(address: &str) -> Result<(), VenueError> {
    crate::address::check("address", address).map(|_| ())
}

/// `method` must be a non-empty name or an integer id.
pub fn check_method(method: &Value) -> Result<(), VenueError> {
    match method {
        Value::String(name) if !name.trim().is_empty() => Ok(()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Ok(()),
        other => Err(VenueError::invalid(format!(
            "method: expected a method name or an integer method id, got {other}"
        ))),
    }
}

/// `boc` must be non-empty standard base64 (`A-Z a-z 0-9 + /`) with `=`
/// padding only at the end and a length that is a multiple of 4: toncenter
/// decodes it with Python's `base64.b64decode`, which refuses bad padding.
/// URL-safe base64 (`-`, `_`) is refused rather than guessed at.
pub fn check_boc(boc: &str) -> Result<(), VenueError> {
    let fail = |why: &str| Err(VenueError::invalid(format!("boc: {why}")));
    if boc.is_empty() {
        return fail("must not be empty");
    }
    let body = boc.trim_end_matches('=');
    let padding = boc.len() - body.len();
    if let Some(bad) = body
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '+' || *c == '/'))
    {
        return fail(&format!(
            "{bad:?} is not a standard base64 character (A-Z a-z 0-9 + / =)"
        ));
    }
    if body.is_empty() || padding > 2 || !boc.len().is_multiple_of(4) {
        return fail(
            "is not padded base64 (length must be a multiple of 4, at most two trailing '=')",
        );
    }
    Ok(())
}

/// The balance must be a decimal string of nanotons (`"5610477699352"`).
pub fn check_balance(result: &Value) -> Result<String, VenueError> {
    match result {
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => Ok(s.clone()),
        other => Err(VenueError::parse(format!(
            "result: expected a decimal string of nanotons, got {other}"
        ))),
    }
}

/// The account state must be an object with at least `balance` and `state`.
pub fn check_account_state(result: Value) -> Result<Value, VenueError> {
    match &result {
        Value::Object(map) => {
            for field in ["balance", "state"] {
                if !map.contains_key(field) {
                    return Err(VenueError::parse(format!("result.{field}: missing")));
                }
            }
            Ok(result)
        }
        other => Err(VenueError::parse(format!(
            "result: expected a raw.fullAccountState object, got {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn invalid_message(r: Result<(), VenueError>) -> String {
        match r {
            Err(VenueError::InvalidParams(m)) => m,
            other => panic!("expected invalid_params, got {other:?}"),
        }
    }

    #[test]
    fn standard_padded_base64_boc_is_accepted() {
        for ok in ["te6ccgEBAQEAAgAAAA==", "te6c", "ab+/", "abc=", "AAAAAAAA"] {
            assert!(check_boc(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn bad_boc_is_invalid_params_naming_boc() {
        for bad in [
            "", "te6c-_", "te6 c", "abc", "a===", "====", "ab=c", "te6c\n",
        ] {
            let m = invalid_message(check_boc(bad));
            assert!(m.starts_with("boc:"), "{bad:?}: {m}");
        }
    }

    #[test]
    fn malformed_address_is_invalid_params_naming_address() {
        assert!(invalid_message(check_address("  ")).starts_with("address:"));
        assert!(invalid_message(check_address("EQbad")).starts_with("address:"));
        assert!(check_address("EQDfvVvoSX_cDJ_L38Z2hkhA3fitZCPW1WV9mw6CcNbIrH-Q").is_ok());
    }

    #[test]
    fn limits_lts_and_hashes_are_checked() {
        assert_eq!(limit("limit", None, 10, 100).unwrap(), 10);
        assert_eq!(limit("limit", Some(100), 10, 100).unwrap(), 100);
        for bad in [0, 101] {
            assert!(
                invalid_message(limit("limit", Some(bad), 10, 100).map(|_| ()))
                    .starts_with("limit:")
            );
        }
        assert!(check_lt("lt", "46748895000001").is_ok());
        for bad in ["", "-1", "1e9", "18446744073709551616"] {
            assert!(
                invalid_message(check_lt("lt", bad)).starts_with("lt:"),
                "{bad}"
            );
        }
        // vectors: getAddressInformation last_transaction_id.hash
        let h = "iGEO9MSNROalIPhXSg1OS1AsLWn1+m11NCD6gCvpW8U=";
        assert_eq!(check_hash("hash", h).unwrap().len(), 32);
        assert!(check_hash("hash", "iGEO9MSNROalIPhXSg1OS1AsLWn1-m11NCD6gCvpW8U").is_ok());
        for bad in ["", "abc", "iGEO9MSNROalIPhXSg1OS1AsLWn1+m11NCD6gCvpW8U=="] {
            assert!(
                invalid_message(check_hash("hash", bad).map(|_| ())).starts_with("hash:"),
                "{bad}"
            );
        }
    }

    #[test]
    fn method_is_a_name_or_an_integer_id() {
        assert!(check_method(&json!("seqno")).is_ok());
        assert!(check_method(&json!(85143)).is_ok());
        for bad in [json!(""), json!(1.5), json!(null), json!(["seqno"])] {
            assert!(
                invalid_message(check_method(&bad)).starts_with("method:"),
                "{bad}"
            );
        }
    }

    #[test]
    fn balance_must_be_a_decimal_string() {
        assert_eq!(
            check_balance(&json!("5610477699352")).unwrap(),
            "5610477699352"
        );
        for bad in [
            json!(""),
            json!("-1"),
            json!("1e9"),
            json!(5610477699352u64),
            json!(null),
        ] {
            assert!(
                matches!(check_balance(&bad), Err(VenueError::Parse(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn account_state_needs_balance_and_state() {
        let ok =
            json!({"@type":"raw.fullAccountState","balance":"1000000000","state":"uninitialized"});
        assert_eq!(check_account_state(ok.clone()).unwrap(), ok);
        assert!(
            matches!(check_account_state(json!({"balance":"1"})), Err(VenueError::Parse(m)) if m.contains("state"))
        );
        assert!(matches!(
            check_account_state(json!("x")),
            Err(VenueError::Parse(_))
        ));
    }

    #[test]
    fn run_get_method_body_defaults_the_stack_and_omits_absent_seqno() {
        let p: RunGetMethodParams =
            serde_json::from_value(json!({"address":"EQ","method":"seqno"})).unwrap();
        assert_eq!(
            serde_json::to_value(&p).unwrap(),
            json!({"address":"EQ","method":"seqno","stack":[]})
        );
    }
}
