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
    const SECRETS: &'static [(&'static str, SecretUse)] = &[(api::API_KEY, SecretUse::Header)];

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
        assert_eq!(out, json!({"address": ADDR, "balance": "5610477699352"}));
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
    fn rate_limit_429_body_becomes_upstream_with_its_text_and_code() {
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
            VenueError::upstream(429, Some("429".into()), "Ratelimit exceed")
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
    fn send_boc_is_not_idempotent_and_returns_the_result() {
        let boc = "te6ccgEBAQEAAgAAAA==";
        let mock = MockHost::new().respond(
            Method::Post,
            "/sendBoc",
            200,
            json!({"ok": true, "result": {"@type": "ok"}}),
        );
        let out = testing::call::<Ton>(&mock, "send_boc", json!({ "boc": boc })).unwrap();
        assert_eq!(out, json!({"@type": "ok"}));
        let req = &mock.requests()[0];
        assert_eq!(req.body_json(), json!({ "boc": boc }));
        assert!(!req.idempotent);
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
