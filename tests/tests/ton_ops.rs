//! The TON plugin's issue-20 operations and errors through the real host
//! against a wiremock toncenter: `send_boc` returning the message hash,
//! `find_transaction`, `get_transactions` with its cursor, `get_wallet_info`,
//! `estimate_fee`, `detect_address` and `seqno` on `get_balance`; malformed
//! addresses refused before any request; the 429 envelope as `rate_limited`.
//! Jettons: `get_jetton_wallet` and `get_jetton_balance` (the owner as a
//! `tvm.Slice` BoC, the wallet's owner and master checked, an undeployed
//! wallet as balance 0).

use resilience_tests::TestHost;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ADDR: &str = "EQDfvVvoSX_cDJ_L38Z2hkhA3fitZCPW1WV9mw6CcNbIrH-Q";
/// vectors: getAddressInformation last_transaction_id.hash.
const HASH: &str = "iGEO9MSNROalIPhXSg1OS1AsLWn1+m11NCD6gCvpW8U=";
const BOC: &str = "te6ccgEBAQEAAgAAAA==";

async fn start() -> (MockServer, TestHost) {
    let server = MockServer::start().await;
    let venue = format!(
        "[venues.ton]\nplugin = \"ton\"\nendpoints = [\"{}/api/v2\"]\ntimeout_ms = 2000\ndeadline_ms = 5000\n\
         retry = {{ max_attempts = 1 }}\n",
        server.uri()
    );
    let host = TestHost::start(&["ton"], "", &venue).await;
    (server, host)
}

fn ok(result: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": result}))
}

fn tx(lt: &str, in_hash: &str) -> Value {
    json!({"@type": "raw.transaction", "utime": 1716813146,
           "transaction_id": {"@type": "internal.transactionId", "lt": lt, "hash": HASH},
           "in_msg": {"@type": "raw.message", "hash": in_hash}})
}

/// `status` and `body` are the error of `kind` whose message contains `fragment`.
#[track_caller]
fn assert_error(status: u16, body: &Value, want: u16, kind: &str, fragment: &str) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["error"]["kind"], kind, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(fragment), "{fragment:?} in {body}");
}

#[tokio::test]
async fn send_boc_returns_the_message_hash() {
    let (server, host) = start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/sendBocReturnHash"))
        .and(body_json(json!({"boc": BOC})))
        .respond_with(ok(json!({"@type": "raw.extMessageInfo", "hash": HASH})))
        .expect(1)
        .mount(&server)
        .await;
    let (status, body) = host
        .post("/v1/venues/ton/send_boc", &json!({"boc": BOC}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"hash": HASH}));
}

#[tokio::test]
async fn find_transaction_finds_the_message_or_says_not_found() {
    let (server, host) = start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/getTransactions"))
        .and(query_param("address", ADDR))
        .and(query_param("limit", "5"))
        .respond_with(ok(json!([
            tx("3", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            tx("2", HASH)
        ])))
        .mount(&server)
        .await;
    let (status, body) = host
        .post(
            "/v1/venues/ton/find_transaction",
            &json!({"address": ADDR, "msg_hash": HASH, "limit": 5}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["found"], true);
    assert_eq!(body["transaction"]["transaction_id"]["lt"], "2");

    let other = "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    let (status, body) = host
        .post(
            "/v1/venues/ton/find_transaction",
            &json!({"address": ADDR, "msg_hash": other, "limit": 5}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"found": false, "scanned": 2}));
}

#[tokio::test]
async fn get_transactions_passes_limit_and_cursor() {
    let (server, host) = start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/getTransactions"))
        .and(query_param("limit", "100"))
        .and(query_param("lt", "46748895000001"))
        .and(query_param("hash", HASH))
        .respond_with(ok(json!([tx("46748895000001", HASH)])))
        .expect(1)
        .mount(&server)
        .await;
    let (status, body) = host
        .post(
            "/v1/venues/ton/get_transactions",
            &json!({"address": ADDR, "limit": 100, "lt": "46748895000001", "hash": HASH}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["transaction_id"]["lt"], "46748895000001");
}

#[tokio::test]
async fn get_transactions_over_100_is_refused_before_any_request() {
    let (server, host) = start().await;
    let (status, body) = host
        .post(
            "/v1/venues/ton/get_transactions",
            &json!({"address": ADDR, "limit": 101}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["kind"], "invalid_params");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn get_wallet_info_and_balance_with_seqno_show_ton() {
    let (server, host) = start().await;
    Mock::given(path("/api/v2/getWalletInformation"))
        .respond_with(ok(json!({"wallet": true, "balance": "2500000000",
            "account_state": "active", "wallet_type": "wallet v4 r2", "seqno": 7, "wallet_id": 698983191})))
        .mount(&server)
        .await;
    Mock::given(path("/api/v2/getAddressBalance"))
        .and(query_param("seqno", "38094008"))
        .respond_with(ok(json!("5610477699352")))
        .expect(1)
        .mount(&server)
        .await;
    let (status, body) = host
        .post("/v1/venues/ton/get_wallet_info", &json!({"address": ADDR}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["seqno"].clone(), body["balance_ton"].clone()),
        (json!(7), json!("2.5"))
    );
    let (status, body) = host
        .post(
            "/v1/venues/ton/get_balance",
            &json!({"address": ADDR, "seqno": 38094008}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["balance_ton"], "5610.477699352");
    assert_eq!(body["seqno"], 38094008);
}

#[tokio::test]
async fn estimate_fee_totals_the_source_fees() {
    let (server, host) = start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/estimateFee"))
        .respond_with(ok(json!({"@type": "query.fees",
            "source_fees": {"in_fwd_fee": 1000, "storage_fee": 2, "gas_fee": 300000, "fwd_fee": 0},
            "destination_fees": []})))
        .expect(1)
        .mount(&server)
        .await;
    let (status, body) = host
        .post(
            "/v1/venues/ton/estimate_fee",
            &json!({"address": ADDR, "body": BOC}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["source_total"], 301_002);
    assert_eq!(body["source_total_ton"], "0.000301002");
}

#[tokio::test]
async fn detect_address_needs_no_request_and_bad_checksums_never_leave() {
    let (server, host) = start().await;
    let (status, body) = host
        .post(
            "/v1/venues/ton/detect_address",
            &json!({"address": "EQDKbjIcfM6ezt8KjKJJLshZJJSqX7XOA4ff-W72r5gqPrHF"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["raw_form"],
        "0:ca6e321c7cce9ecedf0a8ca2492ec8592494aa5fb5ce0387dff96ef6af982a3e"
    );
    assert_eq!(
        body["non_bounceable"]["b64url"],
        "UQDKbjIcfM6ezt8KjKJJLshZJJSqX7XOA4ff-W72r5gqPuwA"
    );
    // Last character changed: the CRC16 no longer matches.
    let typo = "EQDKbjIcfM6ezt8KjKJJLshZJJSqX7XOA4ff-W72r5gqPrHG";
    for op in ["get_balance", "get_wallet_info", "detect_address"] {
        let (status, body) = host
            .post(&format!("/v1/venues/ton/{op}"), &json!({"address": typo}))
            .await;
        assert_eq!(status, 400, "{op}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("checksum"),
            "{op}: {body}"
        );
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn rate_limit_envelope_is_rate_limited_for_every_new_operation() {
    let (server, host) = start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_json(json!({"ok": false, "result": "Ratelimit exceed", "code": 429})),
        )
        .mount(&server)
        .await;
    for (op, params) in [
        ("get_transactions", json!({"address": ADDR})),
        ("get_wallet_info", json!({"address": ADDR})),
        (
            "find_transaction",
            json!({"address": ADDR, "msg_hash": HASH}),
        ),
    ] {
        let (status, body) = host.post(&format!("/v1/venues/ton/{op}"), &params).await;
        assert_eq!(status, 429, "{op}: {body}");
        assert_eq!(body["error"]["kind"], "rate_limited", "{op}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("Ratelimit exceed"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn send_boc_without_a_hash_is_a_parse_error() {
    let (server, host) = start().await;
    Mock::given(path("/api/v2/sendBocReturnHash"))
        .respond_with(ok(json!({"@type": "ok"})))
        .mount(&server)
        .await;
    let (status, body) = host
        .post("/v1/venues/ton/send_boc", &json!({"boc": BOC}))
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["kind"], "parse");
}

// Jetton vectors (see plugins/ton/src/lib.rs tests for the full notes).
// Real: trustwallet/wallet-core rust/tw_tests/tests/chains/ton/
// ton_address_converter.rs (0a56079), test_address_converter_get_jetton_usdt_address:
// the owner BoC sent to toncenter's runGetMethod on the USDT master and the
// wallet BoC toncenter answered.
const OWNER: &str = "UQBjKqthWBE6GEcqb_epTRFrQ1niS6Z1Z1MHMwR-mnAYRoYr";
const OWNER_RAW: &str = "0:632aab6158113a18472a6ff7a94d116b4359e24ba67567530733047e9a701846";
const OWNER_BOC: &str = "te6cckEBAQEAJAAAQ4AMZVVsKwInQwjlTf71KaItaGs8SXTOrOpg5mCP004DCNAptHQU";
const USDT_MASTER: &str = "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs";
const USDT_WALLET_BOC: &str =
    "te6cckEBAQEAJAAAQ4Aed71FEI46jdFXghsGUIG2GIR8wpbQaLzrKNj7BtHOEHBSO5Mf";
/// Computed from the answer (bounceable form of UQDzveoohHH…g4TL).
const USDT_WALLET: &str = "EQDzveoohHHUboq8ENgyhA2wxCPmFLaDRedZRsfYNo5wg9kO";
const USDT_WALLET_RAW: &str = "0:f3bdea288471d46e8abc10d832840db0c423e614b68345e75946c7d8368e7083";
/// Constructed: the USDT master as an address cell.
const USDT_MASTER_BOC: &str =
    "te6cckEBAQEAJAAAQ4AWInUylqBJQs4z7SJyZR1usrLYcUS+sgUWKN/ZuGxDv9C6Xu/I";
/// Constructed BoC around the USDT wallet code library cell (real data).
const USDT_WALLET_CODE_BOC: &str =
    "te6cckEBAQEAIwAIQgKPRS16Tf10BmtoI2UXclntBXNENb52tf1L1divK3w9aCBrv3Y=";

fn cell(bytes: &str) -> Value {
    json!(["cell", {"bytes": bytes, "object": {}}])
}

/// Mount the `get_wallet_address` answer for OWNER on the USDT master.
async fn mount_wallet_address(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/api/v2/runGetMethod"))
        .and(body_json(
            json!({"address": USDT_MASTER, "method": "get_wallet_address",
            "stack": [["tvm.Slice", OWNER_BOC]]}),
        ))
        .respond_with(ok(json!({"@type": "smc.runResult", "gas_used": 4727,
            "stack": [cell(USDT_WALLET_BOC)], "exit_code": 0})))
        .expect(1)
        .mount(server)
        .await;
}

/// Mount a `get_wallet_data` answer on the USDT wallet (balance constructed:
/// 500 USDT).
async fn mount_wallet_data(server: &MockServer, owner_boc: &str, master_boc: &str) {
    Mock::given(method("POST"))
        .and(path("/api/v2/runGetMethod"))
        .and(body_json(
            json!({"address": USDT_WALLET, "method": "get_wallet_data", "stack": []}),
        ))
        .respond_with(ok(json!({"@type": "smc.runResult", "gas_used": 2532,
            "stack": [["num", "0x1dcd6500"], cell(owner_boc), cell(master_boc), cell(USDT_WALLET_CODE_BOC)],
            "exit_code": 0})))
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn get_jetton_wallet_asks_the_master_with_the_owner_slice() {
    let (server, host) = start().await;
    mount_wallet_address(&server).await;
    let (status, body) = host
        .post(
            "/v1/venues/ton/get_jetton_wallet",
            &json!({"owner": OWNER, "jetton_master": USDT_MASTER}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"owner": OWNER, "jetton_master": USDT_MASTER,
               "jetton_wallet": USDT_WALLET, "jetton_wallet_raw": USDT_WALLET_RAW})
    );
}

#[tokio::test]
async fn get_jetton_balance_finds_the_wallet_and_decodes_the_balance() {
    let (server, host) = start().await;
    mount_wallet_address(&server).await;
    mount_wallet_data(&server, OWNER_BOC, USDT_MASTER_BOC).await;
    let (status, body) = host
        .post(
            "/v1/venues/ton/get_jetton_balance",
            &json!({"owner": OWNER, "jetton_master": USDT_MASTER, "decimals": 6}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["jetton_wallet"], USDT_WALLET);
    assert_eq!(body["owner"], OWNER_RAW);
    assert_eq!(body["active"], true);
    assert_eq!(body["balance"], "500000000");
    assert_eq!(body["balance_decimal"], "500");
    assert_eq!(body["decimals"], 6);
}

#[tokio::test]
async fn get_jetton_balance_of_a_wallet_of_someone_else_is_a_parse_error() {
    let (server, host) = start().await;
    mount_wallet_address(&server).await;
    // The wallet says its owner is the master: not the wallet asked for.
    mount_wallet_data(&server, USDT_MASTER_BOC, USDT_MASTER_BOC).await;
    let (status, body) = host
        .post(
            "/v1/venues/ton/get_jetton_balance",
            &json!({"owner": OWNER, "jetton_master": USDT_MASTER}),
        )
        .await;
    assert_error(
        status,
        &body,
        502,
        "parse",
        "not the jetton wallet asked for",
    );
}

#[tokio::test]
async fn get_jetton_balance_of_an_undeployed_wallet_is_zero_and_inactive() {
    let (server, host) = start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/runGetMethod"))
        .respond_with(ok(json!({"@type": "smc.runResult", "gas_used": 0,
            "stack": [["num", "0x14c97"]], "exit_code": -13})))
        .expect(1)
        .mount(&server)
        .await;
    let (status, body) = host
        .post(
            "/v1/venues/ton/get_jetton_balance",
            &json!({"jetton_wallet": USDT_WALLET, "decimals": 6}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["active"], false);
    assert_eq!(body["balance"], "0");
    assert_eq!(body["balance_decimal"], "0");
    assert_eq!(body["owner"], Value::Null);
}

#[tokio::test]
async fn get_jetton_balance_on_a_non_jetton_contract_is_upstream() {
    let (server, host) = start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/runGetMethod"))
        .respond_with(ok(
            json!({"@type": "smc.runResult", "gas_used": 0, "stack": [], "exit_code": 11}),
        ))
        .mount(&server)
        .await;
    let (status, body) = host
        .post(
            "/v1/venues/ton/get_jetton_balance",
            &json!({"jetton_wallet": USDT_WALLET}),
        )
        .await;
    assert_error(status, &body, 502, "upstream", "exited with code 11");
}

#[tokio::test]
async fn get_jetton_wallet_with_a_cut_boc_answer_is_a_parse_error() {
    let (server, host) = start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/runGetMethod"))
        .respond_with(ok(json!({"@type": "smc.runResult", "gas_used": 1,
            "stack": [cell("te6cckEBAQEAJAAAQ4Aed71FEI46")], "exit_code": 0})))
        .mount(&server)
        .await;
    let (status, body) = host
        .post(
            "/v1/venues/ton/get_jetton_wallet",
            &json!({"owner": OWNER, "jetton_master": USDT_MASTER}),
        )
        .await;
    assert_error(status, &body, 502, "parse", "result.stack[0]");
}

#[tokio::test]
async fn jetton_params_are_checked_before_any_request() {
    let (server, host) = start().await;
    let typo = "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDt";
    for (op, params, field) in [
        (
            "get_jetton_wallet",
            json!({"owner": OWNER, "jetton_master": typo}),
            "jetton_master",
        ),
        (
            "get_jetton_wallet",
            json!({"owner": "EQbad", "jetton_master": USDT_MASTER}),
            "owner",
        ),
        (
            "get_jetton_balance",
            json!({"owner": OWNER}),
            "jetton_master",
        ),
        (
            "get_jetton_balance",
            json!({"jetton_wallet": USDT_WALLET, "decimals": 256}),
            "decimals",
        ),
        (
            "get_jetton_balance",
            json!({"jetton_wallet": typo}),
            "jetton_wallet",
        ),
    ] {
        let (status, body) = host.post(&format!("/v1/venues/ton/{op}"), &params).await;
        assert_eq!(status, 400, "{op} {params}: {body}");
        assert_eq!(body["error"]["kind"], "invalid_params");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(field),
            "{op} {params}: {body}"
        );
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn jetton_operations_pass_the_429_envelope_as_rate_limited() {
    let (server, host) = start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/runGetMethod"))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_json(json!({"ok": false, "result": "Ratelimit exceed", "code": 429})),
        )
        .mount(&server)
        .await;
    for (op, params) in [
        (
            "get_jetton_wallet",
            json!({"owner": OWNER, "jetton_master": USDT_MASTER}),
        ),
        ("get_jetton_balance", json!({"jetton_wallet": USDT_WALLET})),
    ] {
        let (status, body) = host.post(&format!("/v1/venues/ton/{op}"), &params).await;
        assert_eq!(status, 429, "{op}: {body}");
        assert_eq!(body["error"]["kind"], "rate_limited", "{op}");
    }
}
