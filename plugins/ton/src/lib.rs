//! Venue plugin for TON through toncenter HTTP API v2.
//!
//! Scope: reading accounts (`get_balance` with TON beside nanotons and an
//! optional `seqno`, `get_address_info`, `get_wallet_info`), history
//! (`get_transactions`, `find_transaction`), running get-methods
//! (`run_get_method`), fees (`estimate_fee`), broadcasting a signed external
//! message and returning its hash (`send_boc`), the chain head
//! (`get_masterchain_info`) and address forms (`detect_address`, computed
//! locally by [`address`]). Every address is checked by the plugin (form,
//! base64 alphabet, CRC16) before any request. Every answer goes through one
//! envelope reader ([`envelope::unwrap_envelope`]): toncenter's errors become
//! `upstream` errors with the venue's status, code and message, and its 429
//! envelope (text in `result`) becomes `rate_limited`.
//!
//! Non-goals: building or signing messages (the caller brings a finished BoC),
//! jetton wallets (their get-methods take and return cells, which needs a BoC
//! codec this plugin does not have; `run_get_method` reaches them with a
//! caller-built stack), and retries or rate limiting, which the host does.
//!
//! # Settings and secrets
//!
//! | venue setting | effect |
//! |---|---|
//! | `use_api_key = "true"` | every request carries the `X-API-Key` header, which the host fills with the venue's secret `api_key` (declared `header`) |
//! | absent or other value | no key is sent (toncenter allows 1 request per second without one) |
//!
//! The header is opt-in because the WIT contract cannot ask whether a secret
//! exists, and a header naming a missing secret is refused by the host.
//!
//! # Idempotency
//!
//! GETs and `runGetMethod` (a read-only POST) may be retried by the host after
//! they reached the venue. `sendBoc` is marked not idempotent: re-sending the
//! same BoC is harmless on TON (the wallet's seqno rejects the duplicate), but
//! the duplicate would surface as a confusing liteserver error instead of the
//! first attempt's outcome, so the host only retries it when the request
//! provably never left.

pub mod address;
pub mod api;
pub mod envelope;
pub mod params;
pub mod stack;
pub mod tx;

use resilience_guest::decimal::scale_integer;
use resilience_guest::prelude::*;
use serde_json::{Value, json};

use crate::envelope::unwrap_envelope;
use crate::params::{
    AddressInfoParams, BalanceParams, DetectParams, EstimateFeeParams, FindTransactionParams,
    NoParams, RunGetMethodParams, SendBocParams, TransactionsParams, WalletInfoParams,
};

/// The plugin. It keeps no state between calls.
#[derive(Debug, Default)]
pub struct Ton;

/// Page size of `get_transactions` when not given.
const DEFAULT_TRANSACTIONS: u32 = 10;
/// Transactions `find_transaction` searches when not told.
const DEFAULT_FIND_SCAN: u32 = 20;

impl Plugin for Ton {
    const NAME: &'static str = "ton";
    const VERSION: &'static str = "0.2.0";
    const SECRETS: &'static [(&'static str, SecretUse)] = &[(api::API_KEY, SecretUse::Header)];

    fn operations() -> Operations<Self> {
        let address_schema = json!({
            "type": "object",
            "required": ["address"],
            "properties": {"address": {"type": "string"}, "seqno": {"type": "integer"}},
        });
        Operations::new()
            .op(
                "get_balance",
                "Balance of an account in nanotons and TON (decimal strings)",
                Self::get_balance,
            )
            .schema(address_schema.clone())
            .op(
                "get_address_info",
                "Full account state (raw.fullAccountState)",
                Self::get_address_info,
            )
            .schema(address_schema.clone())
            .op(
                "run_get_method",
                "Run a get-method; numbers on the stack get a decimal form",
                Self::run_get_method,
            )
            .schema(json!({
                "type": "object",
                "required": ["address", "method"],
                "properties": {
                    "address": {"type": "string"},
                    "method": {"type": ["string", "integer"]},
                    "stack": {"type": "array"},
                    "seqno": {"type": "integer"},
                },
            }))
            // Not `.mutating`: a BoC carries no client id for the host to
            // journal, and the wallet's seqno already makes duplicates harmless.
            .op(
                "send_boc",
                "Broadcast a signed external message (standard base64 BoC); returns its hash",
                Self::send_boc,
            )
            .schema(json!({
                "type": "object",
                "required": ["boc"],
                "properties": {"boc": {"type": "string", "contentEncoding": "base64"}},
            }))
            .op(
                "get_masterchain_info",
                "Latest masterchain block (blocks.masterchainInfo)",
                Self::get_masterchain_info,
            )
            .schema(json!({"type": "object"}))
            .op(
                "get_transactions",
                "One page (up to 100) of an account's transactions, newest first, from an lt/hash cursor",
                Self::get_transactions,
            )
            .schema(json!({
                "type": "object",
                "required": ["address"],
                "properties": {
                    "address": {"type": "string"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": api::MAX_TRANSACTIONS},
                    "lt": {"type": "string"},
                    "hash": {"type": "string"},
                    "to_lt": {"type": "string"},
                    "archival": {"type": "boolean"},
                },
            }))
            .op(
                "find_transaction",
                "Find the transaction a sent message caused, among the account's newest (bounded)",
                Self::find_transaction,
            )
            .schema(json!({
                "type": "object",
                "required": ["address", "msg_hash"],
                "properties": {
                    "address": {"type": "string"},
                    "msg_hash": {"type": "string"},
                    "limit": {"type": "integer", "minimum": 1, "maximum": api::MAX_TRANSACTIONS},
                },
            }))
            .op(
                "get_wallet_info",
                "Wallet state: seqno, wallet type and id, balance in nanotons and TON",
                Self::get_wallet_info,
            )
            .schema(address_schema)
            .op(
                "estimate_fee",
                "Fees of a message to an account (query.fees), with the source total",
                Self::estimate_fee,
            )
            .schema(json!({
                "type": "object",
                "required": ["address", "body"],
                "properties": {
                    "address": {"type": "string"},
                    "body": {"type": "string", "contentEncoding": "base64"},
                    "init_code": {"type": "string"},
                    "init_data": {"type": "string"},
                    "ignore_chksig": {"type": "boolean"},
                },
            }))
            .op(
                "detect_address",
                "An address in raw, bounceable and non-bounceable forms (checked locally, no request)",
                Self::detect_address,
            )
            .schema(json!({
                "type": "object",
                "required": ["address"],
                "properties": {"address": {"type": "string"}},
            }))
    }
}

impl Ton {
    fn get_balance(&mut self, p: BalanceParams) -> Result<Value, VenueError> {
        params::check_address(&p.address)?;
        let path = Query::new()
            .push("address", &p.address)
            .push_opt("seqno", p.seqno)
            .to_path(api::GET_ADDRESS_BALANCE);
        let result = call(Request::get(path))?;
        let balance = params::check_balance(&result)?;
        let ton = to_ton(&balance, "result")?;
        let mut out = json!({ "address": p.address, "balance": balance, "balance_ton": ton });
        if let Some(seqno) = p.seqno {
            out["seqno"] = json!(seqno);
        }
        Ok(out)
    }

    fn get_address_info(&mut self, p: AddressInfoParams) -> Result<Value, VenueError> {
        params::check_address(&p.address)?;
        let path = Query::new()
            .push("address", &p.address)
            .push_opt("seqno", p.seqno)
            .to_path(api::GET_ADDRESS_INFORMATION);
        params::check_account_state(call(Request::get(path))?)
    }

    fn run_get_method(&mut self, p: RunGetMethodParams) -> Result<Value, VenueError> {
        params::check_address(&p.address)?;
        params::check_method(&p.method)?;
        // A get-method runs on a snapshot of the account and changes nothing,
        // so the POST may be retried like a GET.
        let req = Request::post(api::RUN_GET_METHOD).json(&p).idempotent(true);
        stack::run_result(&call(req)?)
    }

    fn send_boc(&mut self, p: SendBocParams) -> Result<Value, VenueError> {
        params::check_boc(&p.boc)?;
        // See the crate docs, "Idempotency".
        let req = Request::post(api::SEND_BOC_RETURN_HASH)
            .json(&p)
            .idempotent(false);
        let result = call(req)?;
        let hash = result
            .get("hash")
            .and_then(Value::as_str)
            .ok_or_else(|| VenueError::parse("result.hash: missing or not a string"))?;
        params::check_hash("result.hash", hash).map_err(|e| VenueError::parse(e.to_string()))?;
        let mut out = json!({ "hash": hash });
        if let Some(norm) = result.get("hash_norm").and_then(Value::as_str) {
            out["hash_norm"] = json!(norm);
        }
        Ok(out)
    }

    fn get_masterchain_info(&mut self, _: NoParams) -> Result<Value, VenueError> {
        call(Request::get(api::GET_MASTERCHAIN_INFO))
    }

    fn get_transactions(&mut self, p: TransactionsParams) -> Result<Value, VenueError> {
        params::check_address(&p.address)?;
        let limit = params::limit(
            "limit",
            p.limit,
            DEFAULT_TRANSACTIONS,
            api::MAX_TRANSACTIONS,
        )?;
        match (&p.lt, &p.hash) {
            (Some(lt), Some(hash)) => {
                params::check_lt("lt", lt)?;
                params::check_hash("hash", hash)?;
            }
            (None, None) => {}
            _ => {
                return Err(VenueError::invalid(
                    "lt: give lt and hash together (the cursor is one transaction)",
                ));
            }
        }
        if let Some(to_lt) = &p.to_lt {
            params::check_lt("to_lt", to_lt)?;
        }
        let path = Query::new()
            .push("address", &p.address)
            .push("limit", limit)
            .push_opt("lt", p.lt.as_deref())
            .push_opt("hash", p.hash.as_deref())
            .push_opt("to_lt", p.to_lt.as_deref())
            .push_opt("archival", p.archival)
            .to_path(api::GET_TRANSACTIONS);
        let result = call(Request::get(path))?;
        tx::list(&result)?;
        Ok(result)
    }

    fn find_transaction(&mut self, p: FindTransactionParams) -> Result<Value, VenueError> {
        params::check_address(&p.address)?;
        let hash = params::check_hash("msg_hash", &p.msg_hash)?;
        let limit = params::limit("limit", p.limit, DEFAULT_FIND_SCAN, api::MAX_TRANSACTIONS)?;
        let path = Query::new()
            .push("address", &p.address)
            .push("limit", limit)
            .to_path(api::GET_TRANSACTIONS);
        let result = call(Request::get(path))?;
        let txs = tx::list(&result)?;
        Ok(tx::found(tx::find(txs, &hash), txs.len()))
    }

    fn get_wallet_info(&mut self, p: WalletInfoParams) -> Result<Value, VenueError> {
        params::check_address(&p.address)?;
        let path = Query::new()
            .push("address", &p.address)
            .push_opt("seqno", p.seqno)
            .to_path(api::GET_WALLET_INFORMATION);
        let mut result = call(Request::get(path))?;
        let balance = params::check_balance(result.get("balance").unwrap_or(&Value::Null))
            .map_err(|_| {
                VenueError::parse("result.balance: expected a decimal string of nanotons")
            })?;
        if !result.get("wallet").is_some_and(Value::is_boolean) {
            return Err(VenueError::parse("result.wallet: missing or not a boolean"));
        }
        result["balance_ton"] = json!(to_ton(&balance, "result.balance")?);
        Ok(result)
    }

    fn estimate_fee(&mut self, p: EstimateFeeParams) -> Result<Value, VenueError> {
        params::check_address(&p.address)?;
        params::check_boc(&p.body).map_err(|e| rename(e, "boc", "body"))?;
        for (field, value) in [("init_code", &p.init_code), ("init_data", &p.init_data)] {
            if !value.is_empty() {
                params::check_boc(value).map_err(|e| rename(e, "boc", field))?;
            }
        }
        // Fees are computed on a snapshot: nothing is sent to the chain.
        let req = Request::post(api::ESTIMATE_FEE).json(&p).idempotent(true);
        let mut result = call(req)?;
        let total = source_total(&result)?;
        result["source_total"] = json!(total);
        result["source_total_ton"] = json!(to_ton(&total.to_string(), "source_fees")?);
        Ok(result)
    }

    fn detect_address(&mut self, p: DetectParams) -> Result<Value, VenueError> {
        Ok(address::check("address", &p.address)?.detect_json())
    }
}

/// Nanotons as TON, exactly.
fn to_ton(nanotons: &str, field: &str) -> Result<String, VenueError> {
    scale_integer(nanotons, api::TON_DECIMALS).map_err(|e| e.parse(field))
}

/// The sum of `source_fees` (`in_fwd_fee + storage_fee + gas_fee + fwd_fee`),
/// in nanotons.
fn source_total(result: &Value) -> Result<u64, VenueError> {
    ["in_fwd_fee", "storage_fee", "gas_fee", "fwd_fee"]
        .iter()
        .try_fold(0u64, |sum, key| {
            let fee = result
                .pointer(&format!("/source_fees/{key}"))
                .and_then(Value::as_u64)
                .ok_or_else(|| {
                    VenueError::parse(format!(
                        "result.source_fees.{key}: missing or not a whole number"
                    ))
                })?;
            sum.checked_add(fee)
                .ok_or_else(|| VenueError::parse("result.source_fees: the sum overflows"))
        })
}

/// The same error about another param.
fn rename(e: VenueError, from: &str, to: &str) -> VenueError {
    match e {
        VenueError::InvalidParams(m) => VenueError::InvalidParams(m.replacen(from, to, 1)),
        other => other,
    }
}

/// Send `req` (with the API key when configured) and read toncenter's envelope.
fn call(req: Request) -> Result<Value, VenueError> {
    let req = if host::config(api::USE_API_KEY_SETTING).as_deref() == Some("true") {
        req.secret_header(api::API_KEY_HEADER, api::API_KEY)
    } else {
        req
    };
    let resp = req.send()?;
    unwrap_envelope(&resp)
}

// Exported only for WebAssembly: the export names (`resilience:venue/adapter@0.1.0#…`)
// are not valid symbols for a native linker, and native builds only run tests.
#[cfg(target_arch = "wasm32")]
resilience_guest::export_plugin!(Ton);

// The venue section `resilience-host init` writes for this plugin.
resilience_guest::venue_defaults!("venue-defaults.toml");

#[cfg(test)]
mod tests {
    use super::*;
    use resilience_guest::testing::{self, MockHost};

    /// A mainnet wallet address (user-friendly form, only unreserved characters).
    const ADDR: &str = "EQDfvVvoSX_cDJ_L38Z2hkhA3fitZCPW1WV9mw6CcNbIrH-Q";
    /// vectors: getAddressInformation last_transaction_id.hash.
    const TX_HASH: &str = "iGEO9MSNROalIPhXSg1OS1AsLWn1+m11NCD6gCvpW8U=";

    #[test]
    fn operations_table_lists_all_operations_none_mutating() {
        let ops = Ton::operations();
        assert_eq!(
            ops.names(),
            vec![
                "get_balance",
                "get_address_info",
                "run_get_method",
                "send_boc",
                "get_masterchain_info",
                "get_transactions",
                "find_transaction",
                "get_wallet_info",
                "estimate_fee",
                "detect_address",
            ]
        );
        assert!(ops.names().iter().all(|n| !ops.is_mutating(n)));
        let info = testing::describe::<Ton>();
        assert!(info.operations.iter().all(|o| !o.mutating));
    }

    #[test]
    fn params_are_checked_before_any_host_call() {
        // These fail before `call`; the mock host proves nothing was sent.
        let ops = Ton::operations();
        let mut ton = Ton;
        let mock = MockHost::new();
        let cases = [
            ("get_balance", json!({}), "address"),
            ("get_balance", json!({"address": ""}), "address"),
            (
                "get_address_info",
                json!({"address": ADDR, "seqno": -1}),
                "seqno",
            ),
            (
                "run_get_method",
                json!({"address": ADDR, "method": 1.5}),
                "method",
            ),
            (
                "run_get_method",
                json!({"address": ADDR, "method": "seqno", "stack": {}}),
                "stack",
            ),
            ("get_balance", json!({"address": "EQbad"}), "address"),
            ("detect_address", json!({"address": "0:12"}), "address"),
            (
                "get_transactions",
                json!({"address": ADDR, "limit": 101}),
                "limit",
            ),
            (
                "get_transactions",
                json!({"address": ADDR, "lt": "1"}),
                "lt",
            ),
            (
                "get_transactions",
                json!({"address": ADDR, "lt": "x", "hash": TX_HASH}),
                "lt",
            ),
            (
                "find_transaction",
                json!({"address": ADDR, "msg_hash": "abc"}),
                "msg_hash",
            ),
            (
                "find_transaction",
                json!({"address": ADDR, "msg_hash": TX_HASH, "limit": 0}),
                "limit",
            ),
            (
                "estimate_fee",
                json!({"address": ADDR, "body": "te6c-_"}),
                "body",
            ),
            ("send_boc", json!({"boc": "not base64!"}), "boc"),
            ("send_boc", json!({"boc": ""}), "boc"),
            ("get_masterchain_info", json!({"extra": 1}), "extra"),
        ];
        for (op, params, field) in cases {
            match ops.call(&mut ton, op, params.clone()) {
                Err(VenueError::InvalidParams(m)) => {
                    assert!(m.contains(field), "{op} {params}: {m}")
                }
                other => panic!("{op} {params}: expected invalid_params, got {other:?}"),
            }
            match testing::call::<Ton>(&mock, op, params.clone()) {
                Err(VenueError::InvalidParams(m)) => {
                    assert!(m.contains(field), "{op} {params}: {m}")
                }
                other => panic!("{op} {params}: expected invalid_params, got {other:?}"),
            }
        }
        assert!(mock.requests().is_empty(), "{:?}", mock.requests());
    }

    #[test]
    fn get_balance_sends_one_get_with_the_address_and_no_key() {
        // vectors: getAddressBalance.response
        let mock = MockHost::new().respond(
            Method::Get,
            &format!("/getAddressBalance?address={ADDR}"),
            200,
            json!({"ok": true, "result": "5610477699352"}),
        );
        let out = testing::call::<Ton>(&mock, "get_balance", json!({ "address": ADDR })).unwrap();
        assert_eq!(
            out,
            json!({"address": ADDR, "balance": "5610477699352", "balance_ton": "5610.477699352"})
        );
        let sent = mock.requests();
        assert_eq!(sent.len(), 1);
        let req = &sent[0];
        assert_eq!(req.method, Method::Get);
        assert_eq!(req.path, format!("/getAddressBalance?address={ADDR}"));
        assert_eq!(req.headers, vec![], "no API key unless use_api_key=true");
        assert!(req.body.is_empty());
        assert!(req.idempotent);
        assert_eq!(req.weight, 1);
    }

    #[test]
    fn raw_address_is_percent_encoded_in_the_query() {
        let raw = "0:83dfd552e63729b472fcbcc8c45ebcc6691702558b68ec7527e1ba403a0f31a8";
        let mock = MockHost::new().respond(
            Method::Get,
            "/getAddressBalance",
            200,
            json!({"ok": true, "result": "0"}),
        );
        testing::call::<Ton>(&mock, "get_balance", json!({ "address": raw })).unwrap();
        assert_eq!(
            mock.requests()[0].path,
            "/getAddressBalance?address=0%3A83dfd552e63729b472fcbcc8c45ebcc6691702558b68ec7527e1ba403a0f31a8"
        );
    }

    #[test]
    fn api_key_header_is_sent_only_when_use_api_key_is_true() {
        let ok = json!({"ok": true, "result": "1"});
        // On: the header names the secret; the secret never enters the plugin.
        let mock = MockHost::new()
            .setting(api::USE_API_KEY_SETTING, "true")
            .secret("api_key", "fake-key")
            .respond(Method::Get, "/getAddressBalance", 200, &ok);
        testing::call::<Ton>(&mock, "get_balance", json!({ "address": ADDR })).unwrap();
        let req = &mock.requests()[0];
        assert_eq!(
            req.secret_headers,
            vec![("X-API-Key".to_string(), "api_key".to_string())]
        );
        assert_eq!(
            req.header("x-api-key"),
            Some("fake-key"),
            "what the venue receives"
        );

        // Off (absent, or any other value): no header at all.
        for setting in [None, Some("false"), Some("TRUE"), Some("1")] {
            let mut mock = MockHost::new().respond(Method::Get, "/getAddressBalance", 200, &ok);
            if let Some(value) = setting {
                mock = mock.setting(api::USE_API_KEY_SETTING, value);
            }
            testing::call::<Ton>(&mock, "get_balance", json!({ "address": ADDR })).unwrap();
            assert_eq!(mock.requests()[0].header("x-api-key"), None, "{setting:?}");
        }
    }

    #[test]
    fn api_key_on_without_the_secret_is_denied_like_the_host() {
        let mock = MockHost::new().setting(api::USE_API_KEY_SETTING, "true");
        match testing::call::<Ton>(&mock, "get_masterchain_info", json!({})) {
            Err(VenueError::Transport(SendError::Denied(m))) => {
                assert!(m.contains("api_key"), "{m}")
            }
            other => panic!("expected denied, got {other:?}"),
        }
    }

    #[test]
    fn rate_limit_429_envelope_becomes_rate_limited_with_its_text() {
        // vectors: error_envelopes.rate_limited_official_docs
        let mock = MockHost::new().respond(
            Method::Get,
            "/getAddressBalance",
            429,
            json!({"ok": false, "result": "Ratelimit exceed", "code": 429}),
        );
        let err =
            testing::call::<Ton>(&mock, "get_balance", json!({ "address": ADDR })).unwrap_err();
        assert_eq!(
            err,
            VenueError::rate_limited("toncenter: Ratelimit exceed", None)
        );
    }

    #[test]
    fn run_get_method_posts_the_checked_params_as_json() {
        // vectors: runGetMethod.response_capture
        let mock = MockHost::new().respond(
            Method::Post,
            "/runGetMethod",
            200,
            json!({"ok": true, "result": {"@type": "smc.runResult", "gas_used": 549, "stack": [["num", "0x157"]], "exit_code": 0}}),
        );
        let out = testing::call::<Ton>(
            &mock,
            "run_get_method",
            json!({"address": ADDR, "method": "seqno"}),
        )
        .unwrap();
        assert_eq!(out["stack"][0]["decimal"], "343");
        let req = &mock.requests()[0];
        assert_eq!(req.path, "/runGetMethod");
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert_eq!(
            req.body_json(),
            json!({"address": ADDR, "method": "seqno", "stack": []})
        );
        assert!(
            req.idempotent,
            "a get-method changes nothing, so it may be retried"
        );
    }

    #[test]
    fn send_boc_posts_to_send_boc_return_hash_and_returns_the_hash() {
        // Shape from ton-http-api `send_boc_return_hash` (tonlib raw.extMessageInfo);
        // the hash value is constructed.
        let boc = "te6ccgEBAQEAAgAAAA==";
        let mock = MockHost::new().respond(
            Method::Post,
            "/sendBocReturnHash",
            200,
            json!({"ok": true, "result": {"@type": "raw.extMessageInfo", "hash": TX_HASH, "@extra": "1:2:3"}}),
        );
        let out = testing::call::<Ton>(&mock, "send_boc", json!({ "boc": boc })).unwrap();
        assert_eq!(out, json!({"hash": TX_HASH}));
        let req = &mock.requests()[0];
        assert_eq!(req.path, "/sendBocReturnHash");
        assert_eq!(req.body_json(), json!({ "boc": boc }));
        assert!(!req.idempotent);

        let no_hash = MockHost::new().respond(
            Method::Post,
            "/sendBocReturnHash",
            200,
            json!({"ok": true, "result": {"@type": "ok"}}),
        );
        assert!(matches!(
            testing::call::<Ton>(&no_hash, "send_boc", json!({ "boc": boc })),
            Err(VenueError::Parse(m)) if m.contains("result.hash")
        ));
    }

    fn tx(lt: &str, in_hash: &str) -> Value {
        json!({"@type": "raw.transaction", "utime": 1716813146,
               "transaction_id": {"@type": "internal.transactionId", "lt": lt, "hash": TX_HASH},
               "in_msg": {"@type": "raw.message", "hash": in_hash, "source": "", "destination": ADDR}})
    }

    #[test]
    fn get_transactions_sends_the_cursor_and_limit() {
        let mock = MockHost::new().respond(
            Method::Get,
            "/getTransactions",
            200,
            json!({"ok": true, "result": [tx("46748895000001", TX_HASH)]}),
        );
        let out = testing::call::<Ton>(
            &mock,
            "get_transactions",
            json!({"address": ADDR, "limit": 100, "lt": "46748895000001", "hash": TX_HASH}),
        )
        .unwrap();
        assert_eq!(out[0]["transaction_id"]["lt"], "46748895000001");
        assert_eq!(
            mock.requests()[0].path,
            format!(
                "/getTransactions?address={ADDR}&limit=100&lt=46748895000001&hash=iGEO9MSNROalIPhXSg1OS1AsLWn1%2Bm11NCD6gCvpW8U%3D"
            )
        );
    }

    #[test]
    fn find_transaction_searches_one_bounded_page() {
        let other = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        let mock = MockHost::new()
            .respond(
                Method::Get,
                "/getTransactions",
                200,
                json!({"ok": true, "result": [tx("3", other), tx("2", TX_HASH)]}),
            )
            .respond(
                Method::Get,
                "/getTransactions",
                200,
                json!({"ok": true, "result": [tx("3", other)]}),
            );
        let params = json!({"address": ADDR, "msg_hash": TX_HASH});
        let out = testing::call::<Ton>(&mock, "find_transaction", params.clone()).unwrap();
        assert_eq!(out["found"], true);
        assert_eq!(out["transaction"]["transaction_id"]["lt"], "2");
        let out = testing::call::<Ton>(&mock, "find_transaction", params).unwrap();
        assert_eq!(out, json!({"found": false, "scanned": 1}));
        assert_eq!(
            mock.requests()[0].path,
            format!("/getTransactions?address={ADDR}&limit=20")
        );
    }

    #[test]
    fn get_wallet_info_adds_balance_in_ton() {
        // Shape from ton-http-api `get_wallet_information`; values constructed.
        let mock = MockHost::new().respond(
            Method::Get,
            &format!("/getWalletInformation?address={ADDR}"),
            200,
            json!({"ok": true, "result": {"wallet": true, "balance": "1500000000",
                "account_state": "active", "wallet_type": "wallet v4 r2", "seqno": 343,
                "wallet_id": 698983191, "last_transaction_id": {"lt": "1", "hash": TX_HASH}}}),
        );
        let out = testing::call::<Ton>(&mock, "get_wallet_info", json!({"address": ADDR})).unwrap();
        assert_eq!(out["seqno"], 343);
        assert_eq!(out["wallet_type"], "wallet v4 r2");
        assert_eq!(out["balance_ton"], "1.5");
    }

    #[test]
    fn estimate_fee_posts_the_message_and_totals_source_fees() {
        // Shape from tonlib query.fees; values constructed.
        let mock = MockHost::new().respond(
            Method::Post,
            "/estimateFee",
            200,
            json!({"ok": true, "result": {"@type": "query.fees",
                "source_fees": {"@type": "fees", "in_fwd_fee": 1000, "storage_fee": 2, "gas_fee": 300000, "fwd_fee": 0},
                "destination_fees": []}}),
        );
        let out = testing::call::<Ton>(
            &mock,
            "estimate_fee",
            json!({"address": ADDR, "body": "te6ccgEBAQEAAgAAAA=="}),
        )
        .unwrap();
        assert_eq!(out["source_total"], 301_002);
        assert_eq!(out["source_total_ton"], "0.000301002");
        let req = &mock.requests()[0];
        assert_eq!(
            req.body_json(),
            json!({"address": ADDR, "body": "te6ccgEBAQEAAgAAAA==", "init_code": "", "init_data": "", "ignore_chksig": true})
        );
        assert!(req.idempotent);
    }

    #[test]
    fn detect_address_answers_locally() {
        let mock = MockHost::new();
        let out = testing::call::<Ton>(
            &mock,
            "detect_address",
            json!({"address": "0:ca6e321c7cce9ecedf0a8ca2492ec8592494aa5fb5ce0387dff96ef6af982a3e"}),
        )
        .unwrap();
        assert_eq!(out["given_type"], "raw_form");
        assert_eq!(
            out["non_bounceable"]["b64url"],
            "UQDKbjIcfM6ezt8KjKJJLshZJJSqX7XOA4ff-W72r5gqPuwA"
        );
        assert!(mock.requests().is_empty());
    }

    #[test]
    fn get_balance_passes_seqno() {
        let mock = MockHost::new().respond(
            Method::Get,
            &format!("/getAddressBalance?address={ADDR}&seqno=38094008"),
            200,
            json!({"ok": true, "result": "1000000000"}),
        );
        let out = testing::call::<Ton>(
            &mock,
            "get_balance",
            json!({"address": ADDR, "seqno": 38094008}),
        )
        .unwrap();
        assert_eq!(out["seqno"], 38094008);
        assert_eq!(out["balance_ton"], "1");
        assert!(mock.unmatched().is_empty());
    }

    #[test]
    fn get_address_info_passes_seqno_and_checks_the_state() {
        let mock = MockHost::new().respond(
            Method::Get,
            &format!("/getAddressInformation?address={ADDR}&seqno=42"),
            200,
            json!({"ok": true, "result": {"@type": "raw.fullAccountState", "balance": "1", "state": "active"}}),
        );
        let out = testing::call::<Ton>(
            &mock,
            "get_address_info",
            json!({"address": ADDR, "seqno": 42}),
        )
        .unwrap();
        assert_eq!(out["state"], "active");
        assert!(mock.unmatched().is_empty());
    }

    #[test]
    fn transport_failure_is_passed_through() {
        let mock = MockHost::new().fail(
            Method::Get,
            "/getMasterchainInfo",
            SendError::CircuitOpen("every endpoint is open".into()),
        );
        assert!(matches!(
            testing::call::<Ton>(&mock, "get_masterchain_info", json!({})),
            Err(VenueError::Transport(SendError::CircuitOpen(_)))
        ));
    }
}
