//! Venue plugin for TON through toncenter HTTP API v2.
//!
//! Scope: reading accounts (`get_balance`, `get_address_info`), running
//! get-methods (`run_get_method`), broadcasting a signed external message
//! (`send_boc`) and reading the chain head (`get_masterchain_info`). Every
//! answer goes through one envelope reader ([`envelope::unwrap_envelope`]), so
//! toncenter's errors, including the 429 body that puts its text in `result`,
//! become `upstream` errors with the venue's status, code and message.
//!
//! Non-goals: building or signing messages (the caller brings a finished BoC),
//! address conversion, and retries or rate limiting, which the host does.
//!
//! # Settings and secrets
//!
//! | venue setting | effect |
//! |---|---|
//! | `use_api_key = "true"` | every request carries `X-API-Key: ${secret:api_key}`; the host fills in the venue's secret `api_key` |
//! | absent or other value | no key is sent (toncenter allows 1 request per second without one) |
//!
//! The header is opt-in because the WIT contract cannot ask whether a secret
//! exists, and a placeholder for a missing secret is refused by the host.
//!
//! # Idempotency
//!
//! GETs and `runGetMethod` (a read-only POST) may be retried by the host after
//! they reached the venue. `sendBoc` is marked not idempotent: re-sending the
//! same BoC is harmless on TON (the wallet's seqno rejects the duplicate), but
//! the duplicate would surface as a confusing liteserver error instead of the
//! first attempt's outcome, so the host only retries it when the request
//! provably never left.

pub mod api;
pub mod envelope;
pub mod params;
pub mod stack;

use resilience_guest::prelude::*;
use serde_json::{Value, json};

use crate::envelope::unwrap_envelope;
use crate::params::{
    AddressInfoParams, BalanceParams, NoParams, RunGetMethodParams, SendBocParams,
};

/// The plugin. It keeps no state between calls.
#[derive(Debug, Default)]
pub struct Ton;

impl Plugin for Ton {
    const NAME: &'static str = "ton";
    const VERSION: &'static str = "0.1.0";

    fn operations() -> Operations<Self> {
        Operations::new()
            .op(
                "get_balance",
                "Balance of an account in nanotons (decimal string)",
                Self::get_balance,
            )
            .schema(json!({
                "type": "object",
                "required": ["address"],
                "properties": {"address": {"type": "string"}},
            }))
            .op(
                "get_address_info",
                "Full account state (raw.fullAccountState)",
                Self::get_address_info,
            )
            .schema(json!({
                "type": "object",
                "required": ["address"],
                "properties": {"address": {"type": "string"}, "seqno": {"type": "integer"}},
            }))
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
                "Broadcast a signed external message (standard base64 BoC)",
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
    }
}

impl Ton {
    fn get_balance(&mut self, p: BalanceParams) -> Result<Value, VenueError> {
        params::check_address(&p.address)?;
        let path = Query::new()
            .push("address", &p.address)
            .to_path(api::GET_ADDRESS_BALANCE);
        let result = call(Request::get(path))?;
        let balance = params::check_balance(&result)?;
        Ok(json!({ "address": p.address, "balance": balance }))
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
        let req = Request::post(api::SEND_BOC).json(&p).idempotent(false);
        call(req)
    }

    fn get_masterchain_info(&mut self, _: NoParams) -> Result<Value, VenueError> {
        call(Request::get(api::GET_MASTERCHAIN_INFO))
    }
}

/// Send `req` (with the API key when configured) and read toncenter's envelope.
fn call(req: Request) -> Result<Value, VenueError> {
    let req = if host::config(api::USE_API_KEY_SETTING).as_deref() == Some("true") {
        req.header(api::API_KEY_HEADER, api::API_KEY_VALUE)
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

#[cfg(test)]
mod tests {
    use super::*;

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
                "get_masterchain_info"
            ]
        );
        assert!(ops.names().iter().all(|n| !ops.is_mutating(n)));
    }

    #[test]
    fn params_are_checked_before_any_host_call() {
        // These fail before `call`, so they run natively without the host.
        let ops = Ton::operations();
        let mut ton = Ton;
        let cases = [
            ("get_balance", json!({}), "address"),
            ("get_balance", json!({"address": ""}), "address"),
            (
                "get_address_info",
                json!({"address": "EQ", "seqno": -1}),
                "seqno",
            ),
            (
                "run_get_method",
                json!({"address": "EQ", "method": 1.5}),
                "method",
            ),
            (
                "run_get_method",
                json!({"address": "EQ", "method": "seqno", "stack": {}}),
                "stack",
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
        }
    }
}
