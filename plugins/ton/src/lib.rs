//! Venue plugin for TON through toncenter HTTP API v2.
//!
//! Scope: reading accounts (`get_balance` with TON beside nanotons and an
//! optional `seqno`, `get_address_info`, `get_wallet_info`), history
//! (`get_transactions`, `find_transaction`), running get-methods
//! (`run_get_method`), fees (`estimate_fee`), broadcasting a signed external
//! message and returning its hash (`send_boc`), the chain head
//! (`get_masterchain_info`), address forms (`detect_address`, computed
//! locally by [`address`]) and jettons (`get_jetton_wallet`,
//! `get_jetton_balance`, read through the TEP-74 get-methods with the small
//! BoC codec in [`boc`]; see [`jetton`]). Every address is checked by the
//! plugin (form, base64 alphabet, CRC16) before any request. Every answer
//! goes through one envelope reader ([`envelope::unwrap_envelope`]):
//! toncenter's errors become `upstream` errors with the venue's status, code
//! and message, and its 429 envelope (text in `result`) becomes
//! `rate_limited`.
//!
//! | jetton operation     | requests (POST `/runGetMethod`) | answer |
//! |----------------------|---------------------------------|--------|
//! | `get_jetton_wallet`  | `get_wallet_address` on the master, the owner as a `tvm.Slice` BoC | `jetton_wallet` (bounceable) and `jetton_wallet_raw` |
//! | `get_jetton_balance` | the same (unless `jetton_wallet` is given), then `get_wallet_data` on the wallet | `balance` (base units), `balance_decimal` (`decimals`, default 9), `active`; the wallet's owner and master must be the ones asked for |
//!
//! Non-goals: building or signing messages (the caller brings a finished BoC),
//! a general BoC codec or TL-B (the [`boc`] module reads cells and addresses,
//! nothing more; `run_get_method` reaches other get-methods with a
//! caller-built stack), jetton metadata (`decimals` comes from the caller),
//! and retries or rate limiting, which the host does.
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
pub mod boc;
pub mod envelope;
pub mod jetton;
pub mod params;
pub mod stack;
pub mod tx;

use resilience_guest::decimal::scale_integer;
use resilience_guest::prelude::*;
use serde_json::{Value, json};

use crate::address::{Address, Form};
use crate::envelope::unwrap_envelope;
use crate::jetton::WalletData;
use crate::params::{
    AddressInfoParams, BalanceParams, DetectParams, EstimateFeeParams, FindTransactionParams,
    JettonBalanceParams, JettonWalletParams, NoParams, RunGetMethodParams, SendBocParams,
    TransactionsParams, WalletInfoParams,
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
    const VERSION: &'static str = "0.3.0";
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
            .op(
                "get_jetton_wallet",
                "The owner's jetton wallet, asked of the jetton master (get_wallet_address)",
                Self::get_jetton_wallet,
            )
            .schema(json!({
                "type": "object",
                "required": ["owner", "jetton_master"],
                "properties": {
                    "owner": {"type": "string"},
                    "jetton_master": {"type": "string"},
                },
                "additionalProperties": false,
            }))
            .op(
                "get_jetton_balance",
                "Jetton balance in base units and decimals (get_wallet_data), checked against the owner and master asked for",
                Self::get_jetton_balance,
            )
            .schema(json!({
                "type": "object",
                "properties": {
                    "owner": {"type": "string"},
                    "jetton_master": {"type": "string"},
                    "jetton_wallet": {"type": "string"},
                    "decimals": {"type": "integer", "minimum": 0, "maximum": 255},
                },
                "anyOf": [
                    {"required": ["jetton_wallet"]},
                    {"required": ["owner", "jetton_master"]},
                ],
                "additionalProperties": false,
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

    fn get_jetton_wallet(&mut self, p: JettonWalletParams) -> Result<Value, VenueError> {
        let owner = address::check("owner", &p.owner)?;
        let master = address::check("jetton_master", &p.jetton_master)?;
        let wallet = find_jetton_wallet(p.jetton_master.trim(), &owner, &master)?;
        Ok(json!({
            "owner": p.owner.trim(),
            "jetton_master": p.jetton_master.trim(),
            "jetton_wallet": wallet.friendly(true),
            "jetton_wallet_raw": wallet.raw(),
        }))
    }

    fn get_jetton_balance(&mut self, p: JettonBalanceParams) -> Result<Value, VenueError> {
        let check = |field: &str, text: &Option<String>| {
            text.as_deref()
                .map(|t| address::check(field, t))
                .transpose()
        };
        let owner = check("owner", &p.owner)?;
        let master = check("jetton_master", &p.jetton_master)?;
        let given = check("jetton_wallet", &p.jetton_wallet)?;
        let decimals = p.decimals.unwrap_or(jetton::DEFAULT_DECIMALS);
        let (wallet, wallet_text) = match (given, &owner, &master) {
            (Some(w), _, _) => {
                let text = p.jetton_wallet.as_deref().unwrap_or_default().trim();
                (w, text.to_string())
            }
            (None, Some(o), Some(m)) => {
                let w = find_jetton_wallet(
                    p.jetton_master.as_deref().unwrap_or_default().trim(),
                    o,
                    m,
                )?;
                let text = w.friendly(true);
                (w, text)
            }
            (None, o, _) => {
                let field = if o.is_none() {
                    "owner"
                } else {
                    "jetton_master"
                };
                return Err(VenueError::invalid(format!(
                    "{field}: give owner and jetton_master, or jetton_wallet"
                )));
            }
        };
        // A get-method changes nothing: the POST may be retried like a GET.
        let req = Request::post(api::RUN_GET_METHOD)
            .json(&jetton::wallet_data_request(&wallet_text))
            .idempotent(true);
        let data = match call(req) {
            Ok(result) => jetton::wallet_data_from_result(&result)?,
            Err(e) if jetton::is_no_code_error(&e) => WalletData::Uninitialized,
            Err(e) => return Err(e),
        };
        let (active, balance, owner_out, master_out) = match data {
            WalletData::Active {
                balance,
                owner: got_owner,
                master: got_master,
            } => {
                if let Some(asked) = &owner {
                    jetton::check_same("result.stack[1]", "owner", got_owner.as_ref(), asked)?;
                }
                if let Some(asked) = &master {
                    jetton::check_same(
                        "result.stack[2]",
                        "jetton master",
                        got_master.as_ref(),
                        asked,
                    )?;
                }
                (true, balance, got_owner, got_master)
            }
            WalletData::Uninitialized => (false, "0".to_string(), owner, master),
        };
        let balance_decimal = jetton::to_decimal(&balance, decimals)?;
        Ok(json!({
            "jetton_wallet": wallet.friendly(true),
            "jetton_wallet_raw": wallet.raw(),
            "owner": owner_out.as_ref().map(Address::raw),
            "jetton_master": master_out.as_ref().map(Address::raw),
            "active": active,
            "balance": balance,
            "balance_decimal": balance_decimal,
            "decimals": decimals,
        }))
    }
}

/// Ask the jetton master (as the caller wrote it, `master_text`) for
/// `owner`'s jetton wallet. The wallet keeps the master's test-only flag, so
/// a testnet master gives testnet forms.
fn find_jetton_wallet(
    master_text: &str,
    owner: &Address,
    master: &Address,
) -> Result<Address, VenueError> {
    // A get-method changes nothing: the POST may be retried like a GET.
    let req = Request::post(api::RUN_GET_METHOD)
        .json(&jetton::wallet_address_request(master_text, owner))
        .idempotent(true);
    let mut wallet = jetton::wallet_from_result(&call(req)?)?;
    wallet.test_only = master.test_only;
    wallet.form = Form::Bounceable;
    Ok(wallet)
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

    // Jetton vectors. Real: trustwallet/wallet-core
    // rust/tw_tests/tests/chains/ton/ton_address_converter.rs (0a56079),
    // `test_address_converter_get_jetton_usdt_address`: the request toncenter
    // got (`OWNER_BOC` for `OWNER`, on the USDT master) and the wallet BoC it
    // answered (`USDT_WALLET_BOC`, which wallet-core reads as
    // UQDzveoohHHUboq8ENgyhA2wxCPmFLaDRedZRsfYNo5wg4TL).
    const OWNER: &str = "UQBjKqthWBE6GEcqb_epTRFrQ1niS6Z1Z1MHMwR-mnAYRoYr";
    const OWNER_BOC: &str = "te6cckEBAQEAJAAAQ4AMZVVsKwInQwjlTf71KaItaGs8SXTOrOpg5mCP004DCNAptHQU";
    const USDT_MASTER: &str = "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs";
    const USDT_WALLET_BOC: &str =
        "te6cckEBAQEAJAAAQ4Aed71FEI46jdFXghsGUIG2GIR8wpbQaLzrKNj7BtHOEHBSO5Mf";
    /// The same wallet, bounceable (computed from the answer: CRC16 over the
    /// 0x11 flags).
    const USDT_WALLET: &str = "EQDzveoohHHUboq8ENgyhA2wxCPmFLaDRedZRsfYNo5wg9kO";
    const USDT_WALLET_RAW: &str =
        "0:f3bdea288471d46e8abc10d832840db0c423e614b68345e75946c7d8368e7083";
    /// Constructed: the USDT master as an address cell (this plugin's
    /// serializer; the same bytes a Python serializer gives).
    const USDT_MASTER_BOC: &str =
        "te6cckEBAQEAJAAAQ4AWInUylqBJQs4z7SJyZR1usrLYcUS+sgUWKN/ZuGxDv9C6Xu/I";
    /// Constructed BoC around real data: the library cell (exotic, `02` +
    /// hash 8f452d7a…) that the USDT master's state holds as its wallet code
    /// (broxus/nekoton `usdt_root_token_contract` test state).
    const USDT_WALLET_CODE_BOC: &str =
        "te6cckEBAQEAIwAIQgKPRS16Tf10BmtoI2UXclntBXNENb52tf1L1divK3w9aCBrv3Y=";

    fn cell(bytes: &str) -> Value {
        json!(["cell", {"bytes": bytes, "object": {}}])
    }

    /// A `get_wallet_address` answer in toncenter's shape.
    fn wallet_address_answer(boc: &str) -> Value {
        json!({"ok": true, "result": {"@type": "smc.runResult", "gas_used": 4727,
            "stack": [cell(boc)], "exit_code": 0}})
    }

    /// A `get_wallet_data` answer in toncenter's shape; the balance is
    /// constructed (500 USDT = 500000000 base units, 6 decimals).
    fn wallet_data_answer(owner_boc: &str, master_boc: &str) -> Value {
        json!({"ok": true, "result": {"@type": "smc.runResult", "gas_used": 2532,
            "stack": [["num", "0x1dcd6500"], cell(owner_boc), cell(master_boc), cell(USDT_WALLET_CODE_BOC)],
            "exit_code": 0}})
    }

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
                "get_jetton_wallet",
                "get_jetton_balance",
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
            (
                "get_jetton_wallet",
                json!({"owner": "EQbad", "jetton_master": USDT_MASTER}),
                "owner",
            ),
            (
                "get_jetton_wallet",
                json!({"owner": OWNER, "jetton_master": "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDt"}),
                "checksum",
            ),
            (
                "get_jetton_wallet",
                json!({"owner": OWNER}),
                "jetton_master",
            ),
            ("get_jetton_balance", json!({}), "owner"),
            (
                "get_jetton_balance",
                json!({"owner": OWNER}),
                "jetton_master",
            ),
            (
                "get_jetton_balance",
                json!({"jetton_master": USDT_MASTER}),
                "owner",
            ),
            (
                "get_jetton_balance",
                json!({"jetton_wallet": "0:12"}),
                "jetton_wallet",
            ),
            (
                "get_jetton_balance",
                json!({"jetton_wallet": USDT_WALLET, "owner": "x"}),
                "owner",
            ),
            (
                "get_jetton_balance",
                json!({"jetton_wallet": USDT_WALLET, "decimals": 256}),
                "decimals",
            ),
            (
                "get_jetton_balance",
                json!({"jetton_wallet": USDT_WALLET, "decimals": -1}),
                "decimals",
            ),
            (
                "get_jetton_balance",
                json!({"jetton_wallet": USDT_WALLET, "wallet": USDT_WALLET}),
                "wallet",
            ),
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

    #[test]
    fn get_jetton_wallet_posts_the_owner_as_a_slice_and_reads_the_wallet() {
        let mock = MockHost::new().respond(
            Method::Post,
            "/runGetMethod",
            200,
            wallet_address_answer(USDT_WALLET_BOC),
        );
        let out = testing::call::<Ton>(
            &mock,
            "get_jetton_wallet",
            json!({"owner": OWNER, "jetton_master": USDT_MASTER}),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({"owner": OWNER, "jetton_master": USDT_MASTER,
                   "jetton_wallet": USDT_WALLET, "jetton_wallet_raw": USDT_WALLET_RAW})
        );
        let sent = mock.requests();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].path, "/runGetMethod");
        assert_eq!(
            sent[0].body_json(),
            json!({"address": USDT_MASTER, "method": "get_wallet_address",
                   "stack": [["tvm.Slice", OWNER_BOC]]}),
            "byte for byte the request wallet-core sent to toncenter"
        );
        assert!(sent[0].idempotent);
    }

    #[test]
    fn get_jetton_wallet_keeps_the_masters_testnet_flag_and_refuses_bad_answers() {
        let testnet_master = Address::parse(USDT_MASTER).unwrap();
        let testnet_master = Address {
            test_only: true,
            ..testnet_master
        }
        .friendly(true);
        let mock = MockHost::new().respond(
            Method::Post,
            "/runGetMethod",
            200,
            wallet_address_answer(USDT_WALLET_BOC),
        );
        let out = testing::call::<Ton>(
            &mock,
            "get_jetton_wallet",
            json!({"owner": OWNER, "jetton_master": testnet_master}),
        )
        .unwrap();
        assert!(
            out["jetton_wallet"].as_str().unwrap().starts_with("kQ"),
            "{out}"
        );

        // addr_none, a cut BoC, and a failed method.
        for (answer, kind) in [
            (wallet_address_answer("te6cckEBAQEAAwAAASCUQYZV"), "parse"),
            (
                wallet_address_answer("te6cckEBAQEAJAAAQ4Aed71FEI46"),
                "parse",
            ),
            (
                json!({"ok": true, "result": {"gas_used": 0, "stack": [], "exit_code": 11}}),
                "upstream",
            ),
        ] {
            let mock = MockHost::new().respond(Method::Post, "/runGetMethod", 200, &answer);
            let err = testing::call::<Ton>(
                &mock,
                "get_jetton_wallet",
                json!({"owner": OWNER, "jetton_master": USDT_MASTER}),
            )
            .unwrap_err();
            let got = match err {
                VenueError::Parse(_) => "parse",
                VenueError::Upstream(_) => "upstream",
                _ => "other",
            };
            assert_eq!(got, kind, "{answer}");
        }
    }

    #[test]
    fn get_jetton_balance_finds_the_wallet_then_reads_and_checks_it() {
        let mock = MockHost::new()
            .respond(
                Method::Post,
                "/runGetMethod",
                200,
                wallet_address_answer(USDT_WALLET_BOC),
            )
            .respond(
                Method::Post,
                "/runGetMethod",
                200,
                wallet_data_answer(OWNER_BOC, USDT_MASTER_BOC),
            );
        let out = testing::call::<Ton>(
            &mock,
            "get_jetton_balance",
            json!({"owner": OWNER, "jetton_master": USDT_MASTER, "decimals": 6}),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({
                "jetton_wallet": USDT_WALLET,
                "jetton_wallet_raw": USDT_WALLET_RAW,
                "owner": "0:632aab6158113a18472a6ff7a94d116b4359e24ba67567530733047e9a701846",
                "jetton_master": "0:b113a994b5024a16719f69139328eb759596c38a25f59028b146fecdc3621dfe",
                "active": true,
                "balance": "500000000",
                "balance_decimal": "500",
                "decimals": 6,
            })
        );
        let sent = mock.requests();
        assert_eq!(sent.len(), 2);
        assert_eq!(
            sent[1].body_json(),
            json!({"address": USDT_WALLET, "method": "get_wallet_data", "stack": []})
        );
        assert!(sent.iter().all(|r| r.idempotent));
    }

    #[test]
    fn get_jetton_balance_of_a_given_wallet_sends_one_request_and_defaults_to_9_decimals() {
        let mock = MockHost::new().respond(
            Method::Post,
            "/runGetMethod",
            200,
            wallet_data_answer(OWNER_BOC, USDT_MASTER_BOC),
        );
        let out = testing::call::<Ton>(
            &mock,
            "get_jetton_balance",
            json!({"jetton_wallet": USDT_WALLET_RAW, "owner": OWNER}),
        )
        .unwrap();
        assert_eq!(out["balance"], "500000000");
        assert_eq!(out["balance_decimal"], "0.5");
        assert_eq!(out["decimals"], 9);
        assert_eq!(out["jetton_wallet"], USDT_WALLET);
        let sent = mock.requests();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].body_json()["address"], USDT_WALLET_RAW);
    }

    #[test]
    fn get_jetton_balance_of_an_undeployed_wallet_is_zero_and_inactive() {
        // exit_code -13 with ok: true (the stray number toncenter leaves is
        // ignored), and the ok: false form newer toncenter documents.
        let answers = [
            (
                200,
                json!({"ok": true, "result": {"@type": "smc.runResult", "gas_used": 0,
                    "stack": [["num", "0x14c97"]], "exit_code": -13}}),
            ),
            (
                500,
                json!({"ok": false, "code": 500, "error": "Exit code -13 != 0"}),
            ),
        ];
        for (status, answer) in answers {
            let mock = MockHost::new()
                .respond(
                    Method::Post,
                    "/runGetMethod",
                    200,
                    wallet_address_answer(USDT_WALLET_BOC),
                )
                .respond(Method::Post, "/runGetMethod", status, &answer);
            let out = testing::call::<Ton>(
                &mock,
                "get_jetton_balance",
                json!({"owner": OWNER, "jetton_master": USDT_MASTER, "decimals": 6}),
            )
            .unwrap();
            assert_eq!(out["active"], false, "{answer}");
            assert_eq!(out["balance"], "0");
            assert_eq!(out["balance_decimal"], "0");
            assert_eq!(out["jetton_wallet"], USDT_WALLET);
            assert_eq!(
                out["owner"],
                "0:632aab6158113a18472a6ff7a94d116b4359e24ba67567530733047e9a701846"
            );
        }
        // Any other failure stays an error.
        let mock = MockHost::new().respond(
            Method::Post,
            "/runGetMethod",
            500,
            json!({"ok": false, "code": 500, "error": "Exit code 11 != 0"}),
        );
        assert!(matches!(
            testing::call::<Ton>(&mock, "get_jetton_balance", json!({"jetton_wallet": USDT_WALLET})),
            Err(VenueError::Upstream(u)) if u.status == 500
        ));
    }

    #[test]
    fn get_jetton_balance_refuses_a_wallet_of_another_owner_or_master() {
        // Owner swapped for the master, then the master for the owner.
        for (owner_boc, master_boc, field) in [
            (USDT_MASTER_BOC, USDT_MASTER_BOC, "stack[1]"),
            (OWNER_BOC, OWNER_BOC, "stack[2]"),
            (OWNER_BOC, "te6cckEBAQEAAwAAASCUQYZV", "stack[2]"),
        ] {
            let mock = MockHost::new()
                .respond(
                    Method::Post,
                    "/runGetMethod",
                    200,
                    wallet_address_answer(USDT_WALLET_BOC),
                )
                .respond(
                    Method::Post,
                    "/runGetMethod",
                    200,
                    wallet_data_answer(owner_boc, master_boc),
                );
            match testing::call::<Ton>(
                &mock,
                "get_jetton_balance",
                json!({"owner": OWNER, "jetton_master": USDT_MASTER}),
            ) {
                Err(VenueError::Parse(m)) => {
                    assert!(
                        m.contains(field) && m.contains("not the jetton wallet asked for"),
                        "{m}"
                    )
                }
                other => panic!("{field}: expected parse, got {other:?}"),
            }
        }
    }
}
