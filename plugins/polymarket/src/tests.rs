//! Whole operations against the SDK's mock host: the exact requests sent
//! (method, path, headers, body, idempotency, weight) and how answers read.

use super::*;
use crate::order::Order;
use resilience_guest::encoding::hex_encode;
use resilience_guest::signing::hmac_base64url;
use resilience_guest::testing::{self, Instance, MockHost, SentRequest};

/// The mock clock: POLY_TIMESTAMP is "1700000000", as in the constructed vectors.
const NOW: u64 = 1_700_000_000_000;
/// Hardhat account 0.
const KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ADDR: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const OWNER: &str = "000000000-0000-0000-0000-000000000000";
const TOKEN: &str = "71321045679252212594626385532706912750332728571942532289631379312455583992563";
const V2_EXCHANGE: &str = "0xE111180000d2663C0091e4f400237545B87B996B";

/// A venue configured like production: the vectors' L2 secret (32 zero
/// bytes, already base64url-decoded), fake key and passphrase, the Hardhat key.
fn venue() -> MockHost {
    MockHost::new()
        .now_ms(NOW)
        .setting("address", ADDR)
        .setting("owner", OWNER)
        .secret("api_secret", [0u8; 32])
        .secret("api_key", "fake-api-key")
        .secret("passphrase", "fake-passphrase")
        .secret("private_key", KEY)
}

fn headers(r: &SentRequest) -> Vec<(&str, &str)> {
    r.headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// The L2 headers the request must carry, the signature recomputed from the
/// expected message with the mock's real HMAC.
fn l2_headers(mock: &MockHost, method: &str, path: &str, body: &str) -> Vec<(String, String)> {
    let message = format!("1700000000{method}{path}{body}");
    let sig = mock.run(|| hmac_base64url("api_secret", &message)).unwrap();
    // As the venue receives them: the secret headers filled in by the host,
    // then the timestamp and signature it sets at each attempt.
    let mut h = vec![
        ("POLY_ADDRESS".to_string(), ADDR.to_string()),
        ("POLY_API_KEY".to_string(), "fake-api-key".to_string()),
        ("POLY_PASSPHRASE".to_string(), "fake-passphrase".to_string()),
    ];
    if !body.is_empty() {
        h.push(("Content-Type".to_string(), "application/json".to_string()));
    }
    h.push(("POLY_TIMESTAMP".to_string(), "1700000000".to_string()));
    h.push(("POLY_SIGNATURE".to_string(), sig));
    h
}

/// A `/book` answer carrying the token's facts.
fn book(tick: &str, neg_risk: bool) -> Value {
    json!({"market": "0x01", "asset_id": "1", "bids": [{"price": "0.48", "size": "10"}],
           "asks": [{"price": "0.52", "size": "5"}], "tick_size": tick, "neg_risk": neg_risk,
           "min_order_size": "1"})
}

/// `mock` answering one `/book` read of any token with tick 0.01, not neg-risk.
fn with_book(mock: MockHost) -> MockHost {
    mock.respond(Method::Get, "/book", 200, book("0.01", false))
}

fn posted() -> Value {
    json!({"success": true, "errorMsg": "", "orderID": "0xfeed", "status": "live",
           "takingAmount": "", "makingAmount": "", "transactionsHashes": [], "tradeIDs": []})
}

#[test]
fn describe_lists_every_operation_and_only_creates_mutate() {
    let info = testing::describe::<Polymarket>();
    assert_eq!(info.name, "polymarket");
    let ops: Vec<(&str, bool)> = info
        .operations
        .iter()
        .map(|o| (o.name.as_str(), o.mutating))
        .collect();
    assert_eq!(
        ops,
        [
            ("get_order_book", false),
            ("get_midpoint", false),
            ("get_price", false),
            ("create_limit_order", true),
            ("create_market_order", true),
            ("create_orders", true),
            ("cancel_order", false),
            ("cancel_orders", false),
            ("cancel_market_orders", false),
            ("cancel_all", false),
            ("get_order", false),
            ("get_open_orders", false),
            ("get_trades", false),
            ("heartbeat", false),
            ("get_balance", false),
        ]
    );
    assert!(
        info.operations
            .iter()
            .all(|o| o.params_schema.starts_with('{'))
    );
}

#[test]
fn get_order_book_is_one_unsigned_get() {
    let book = json!({"market": "0x01", "asset_id": TOKEN, "bids": [{"price": "0.48", "size": "10"}],
                      "asks": [{"price": "0.52", "size": "5"}], "tick_size": "0.01"});
    let mock = MockHost::new().respond(Method::Get, &format!("/book?token_id={TOKEN}"), 200, &book);
    let out =
        testing::call::<Polymarket>(&mock, "get_order_book", json!({"token_id": TOKEN})).unwrap();
    assert_eq!(out, book);
    let sent = mock.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].method, sent[0].path.as_str()),
        (Method::Get, &*format!("/book?token_id={TOKEN}"))
    );
    assert!(sent[0].headers.is_empty() && sent[0].body.is_empty());
    assert!(sent[0].idempotent);
    assert_eq!(sent[0].weight, 1);
}

#[test]
fn get_midpoint_accepts_mid_and_mid_price() {
    for body in [json!({"mid": "0.45"}), json!({"mid_price": "0.45"})] {
        let mock = MockHost::new().respond(Method::Get, "/midpoint?token_id=123", 200, &body);
        let out =
            testing::call::<Polymarket>(&mock, "get_midpoint", json!({"token_id": "123"})).unwrap();
        assert_eq!(out, json!({"token_id": "123", "mid": "0.45"}), "{body}");
        assert!(mock.requests()[0].headers.is_empty());
    }
}

#[test]
fn get_price_sends_token_and_side() {
    let mock = MockHost::new().respond(
        Method::Get,
        "/price?token_id=123&side=SELL",
        200,
        json!({"price": "0.52"}),
    );
    let out = testing::call::<Polymarket>(
        &mock,
        "get_price",
        json!({"token_id": "123", "side": "SELL"}),
    )
    .unwrap();
    assert_eq!(
        out,
        json!({"token_id": "123", "side": "SELL", "price": "0.52", "best_ask": "0.52"})
    );
    assert!(mock.unmatched().is_empty());
}

#[test]
fn create_limit_order_v2_posts_the_signed_order_with_l2_headers() {
    let mock = with_book(venue()).respond(Method::Post, "/order", 200, posted());
    let params = json!({"token_id": TOKEN, "side": "BUY", "price": "0.5", "size": "100",
                        "salt": 479249096354u64, "timestamp_ms": 1710000000000u64});
    let out = testing::call::<Polymarket>(&mock, "create_limit_order", params).unwrap();

    // The order the plugin had to build, signed independently with the mock's key.
    let order = Order {
        version: 2,
        chain_id: 137,
        exchange: V2_EXCHANGE.into(),
        salt: 479249096354,
        maker: ADDR.into(),
        signer: ADDR.into(),
        token_id: TOKEN.into(),
        maker_amount: "50000000".into(),
        taker_amount: "100000000".into(),
        side: order::Side::Buy,
        signature_type: 0,
        expiration: "0".into(),
        fee_rate_bps: "0".into(),
        timestamp_ms: 1710000000000,
    };
    let digest = order.digest().unwrap();
    let sig = mock
        .run(|| host::sign_secp256k1("private_key", &digest))
        .unwrap();
    let zero = api::BYTES32_ZERO;
    let body = format!(
        r#"{{"order":{{"salt":479249096354,"maker":"{ADDR}","signer":"{ADDR}","tokenId":"{TOKEN}","makerAmount":"50000000","takerAmount":"100000000","side":"BUY","expiration":"0","signatureType":0,"timestamp":"1710000000000","metadata":"{zero}","builder":"{zero}","signature":"0x{}"}},"owner":"{OWNER}","orderType":"GTC","deferExec":false,"postOnly":false}}"#,
        hex_encode(&sig)
    );

    let sent = mock.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].path, format!("/book?token_id={TOKEN}"));
    let req = &sent[1];
    assert_eq!((req.method, req.path.as_str()), (Method::Post, "/order"));
    assert_eq!(req.body_text(), body);
    assert_eq!(req.headers, l2_headers(&mock, "POST", "/order", &body));
    assert!(
        !req.idempotent,
        "POST /order is retried only when it never left"
    );
    assert_eq!(req.weight, 1);

    assert_eq!(out["orderID"], "0xfeed");
    assert_eq!(out["status"], "live");
    assert_eq!(out["order_hash"], format!("0x{}", hex_encode(digest)));
    assert_eq!(
        (out["maker_amount"].as_str(), out["taker_amount"].as_str()),
        (Some("50000000"), Some("100000000"))
    );
    assert_eq!(out["salt"], 479249096354u64);
    assert_eq!(
        (
            &out["size"],
            &out["tick_size"],
            &out["neg_risk"],
            &out["exchange_version"]
        ),
        (&json!("100"), &json!("0.01"), &json!(false), &json!(2))
    );
}

#[test]
fn create_limit_order_v1_signs_fee_nonce_and_taker() {
    let mock = venue()
        .setting("exchange_version", "1")
        .setting("funder", "0x1111111111111111111111111111111111111111")
        .setting("signature_type", "1")
        .respond(
            Method::Get,
            "/fee-rate?token_id=1234",
            200,
            json!({"base_fee": 100}),
        )
        .respond(Method::Get, "/book?token_id=1234", 200, book("0.01", true))
        .respond(Method::Post, "/order", 200, posted());
    let params = json!({"token_id": "1234", "side": "SELL", "price": "0.25", "size": "8",
                        "salt": 7, "fee_rate_bps": 100, "order_type": "GTD",
                        "expiration": 1_900_000_000u64, "post_only": true, "neg_risk": true});
    testing::call::<Polymarket>(&mock, "create_limit_order", params).unwrap();
    let req = &mock.requests()[2];
    let body = req.body_json();
    assert_eq!(
        body["order"],
        json!({"salt": 7, "maker": "0x1111111111111111111111111111111111111111", "signer": ADDR,
               "taker": api::ZERO_ADDRESS, "tokenId": "1234", "makerAmount": "8000000",
               "takerAmount": "2000000", "expiration": "1900000000", "nonce": "0",
               "feeRateBps": "100", "side": "SELL", "signatureType": 1,
               "signature": body["order"]["signature"]})
    );
    assert_eq!(
        (
            body["owner"].as_str(),
            body["orderType"].as_str(),
            body["postOnly"].as_bool()
        ),
        (Some(OWNER), Some("GTD"), Some(true))
    );
    assert!(body.get("deferExec").is_none(), "V1 body has no deferExec");
    // Signed for the V1 neg-risk exchange on Polygon.
    let order = Order {
        version: 1,
        chain_id: 137,
        exchange: "0xC5d563A36AE78145C45a50134d48A1215220f80a".into(),
        salt: 7,
        maker: "0x1111111111111111111111111111111111111111".into(),
        signer: ADDR.into(),
        token_id: "1234".into(),
        maker_amount: "8000000".into(),
        taker_amount: "2000000".into(),
        side: order::Side::Sell,
        signature_type: 1,
        expiration: "1900000000".into(),
        fee_rate_bps: "100".into(),
        timestamp_ms: 0,
    };
    let expected = mock.run(|| order.sign()).unwrap();
    assert_eq!(body["order"]["signature"], expected);
}

#[test]
fn prepare_fixes_salt_and_timestamp_and_keys_by_the_order_hash() {
    let mock = with_book(venue()).respond(Method::Post, "/order", 200, posted());
    let mut instance = Instance::<Polymarket>::new();
    let params = json!({"token_id": TOKEN, "side": "BUY", "price": "0.5", "size": "10"});
    let prepared = instance
        .prepare(&mock, "create_limit_order", params.clone())
        .unwrap();
    assert_eq!(
        mock.requests().len(),
        1,
        "preparing a limit order reads the market's facts only"
    );
    assert_eq!(
        (&prepared.params["tick_size"], &prepared.params["neg_risk"]),
        (&json!("0.01"), &json!(false))
    );
    let salt = prepared.params["salt"].as_u64().unwrap();
    assert!(salt <= api::MAX_SALT);
    assert_eq!(prepared.params["timestamp_ms"], NOW);
    let key = prepared.idempotency_key.clone().unwrap();
    assert!(key.starts_with("0x") && key.len() == 66, "{key}");

    // Invoking with the prepared params signs exactly the order keyed.
    let out = instance
        .call(&mock, "create_limit_order", prepared.params.clone())
        .unwrap();
    assert_eq!(out["order_hash"], key);
    assert_eq!(mock.requests()[1].body_json()["order"]["salt"], salt);
    // Later clock, same prepared params: still the same order.
    mock.advance_ms(5_000);
    let again = instance
        .prepare(&mock, "create_limit_order", prepared.params.clone())
        .unwrap();
    assert_eq!(again.idempotency_key.as_deref(), Some(key.as_str()));
    // A new intent gets a new salt.
    let other = instance
        .prepare(&mock, "create_limit_order", params)
        .unwrap();
    assert_ne!(other.idempotency_key, prepared.idempotency_key);
    // Other operations are passed through without a key.
    let p = instance
        .prepare(&mock, "cancel_order", json!({"order_id": "0xabc"}))
        .unwrap();
    assert_eq!(
        (p.idempotency_key, p.params),
        (None, json!({"order_id": "0xabc"}))
    );
}

#[test]
fn v1_prepare_journals_the_venue_fee_and_a_timestamp_for_a_version_switch() {
    let mock = with_book(venue().setting("exchange_version", "1")).respond(
        Method::Get,
        "/fee-rate",
        200,
        json!({"base_fee": 0}),
    );
    let prepared = Instance::<Polymarket>::new()
        .prepare(
            &mock,
            "create_limit_order",
            json!({"token_id": "1", "side": "BUY", "price": "0.5", "size": "2"}),
        )
        .unwrap();
    assert_eq!(prepared.params["timestamp_ms"], NOW);
    assert_eq!(prepared.params["fee_rate_bps"], 0);
    assert!(prepared.params["salt"].is_u64());
}

#[test]
fn market_order_without_price_reads_the_book_once_in_prepare() {
    let book = json!({"asks": [{"price": "0.60", "size": "100"}, {"price": "0.55", "size": "10"}], "bids": [],
                      "tick_size": "0.01", "neg_risk": false, "min_order_size": "5"});
    let mock = venue()
        .respond(Method::Get, "/book?token_id=1234", 200, &book)
        .respond(Method::Post, "/order", 200, posted());
    let mut instance = Instance::<Polymarket>::new();
    // 10 USDC: 5.5 at 0.55, the rest at 0.60.
    let prepared = instance
        .prepare(
            &mock,
            "create_market_order",
            json!({"token_id": "1234", "side": "BUY", "amount": "10"}),
        )
        .unwrap();
    assert_eq!(prepared.params["price"], "0.60");
    let out = instance
        .call(&mock, "create_market_order", prepared.params)
        .unwrap();
    let sent = mock.requests();
    assert_eq!(
        sent.iter()
            .map(|r| (r.method, r.path.as_str()))
            .collect::<Vec<_>>(),
        [
            (Method::Get, "/book?token_id=1234"),
            (Method::Post, "/order")
        ]
    );
    assert!(sent[0].headers.is_empty(), "the book is public");
    let order = sent[1].body_json();
    // 10 USDC / 0.60 = 16.6666… shares, 4 decimals at tick 0.01 (as the official client).
    assert_eq!(
        (
            order["order"]["makerAmount"].as_str(),
            order["order"]["takerAmount"].as_str()
        ),
        (Some("10000000"), Some("16666600"))
    );
    assert_eq!(order["orderType"], "FOK");
    assert_eq!(out["price"], "0.60");
}

#[test]
fn market_order_with_price_reads_only_the_market_facts() {
    let mock = with_book(venue()).respond(Method::Post, "/order", 200, posted());
    testing::call::<Polymarket>(
        &mock,
        "create_market_order",
        json!({"token_id": "1234", "side": "SELL", "amount": "10", "price": "0.52", "order_type": "FAK"}),
    )
    .unwrap();
    let sent = mock.requests();
    assert_eq!(sent.len(), 2);
    let body = sent[1].body_json();
    assert_eq!(
        (
            body["order"]["makerAmount"].as_str(),
            body["order"]["takerAmount"].as_str()
        ),
        (Some("10000000"), Some("5200000"))
    );
    assert_eq!(body["order"]["side"], "SELL");
    assert_eq!(body["orderType"], "FAK");
}

#[test]
fn fok_market_order_on_a_thin_book_sends_no_order() {
    let mock = venue().respond(
        Method::Get,
        "/book",
        200,
        json!({"asks": [{"price": "0.5", "size": "1"}], "bids": [], "tick_size": "0.01", "neg_risk": false}),
    );
    let err = testing::call::<Polymarket>(
        &mock,
        "create_market_order",
        json!({"token_id": "1", "side": "BUY", "amount": "100"}),
    )
    .unwrap_err();
    assert!(matches!(err, VenueError::InvalidParams(m) if m.starts_with("amount")));
    assert_eq!(mock.requests().len(), 1, "only the book was read");
}

#[test]
fn rejected_order_on_200_is_upstream_with_the_venue_message() {
    let mock = with_book(venue()).respond(
        Method::Post,
        "/order",
        200,
        json!({"success": false, "errorMsg": "not enough balance / allowance"}),
    );
    let err = testing::call::<Polymarket>(
        &mock,
        "create_limit_order",
        json!({"token_id": "1", "side": "BUY", "price": "0.5", "size": "1"}),
    )
    .unwrap_err();
    assert_eq!(
        err,
        VenueError::upstream(200, None, "not enough balance / allowance")
    );
}

#[test]
fn cancel_order_signs_the_delete_body_like_the_constructed_vector() {
    let mock = venue().respond(
        Method::Delete,
        "/order",
        200,
        json!({"canceled": ["0xabc"], "not_canceled": {}}),
    );
    let out =
        testing::call::<Polymarket>(&mock, "cancel_order", json!({"order_id": "0xabc"})).unwrap();
    assert_eq!(out, json!({"canceled": ["0xabc"], "not_canceled": {}}));
    let req = &mock.requests()[0];
    assert_eq!(
        (req.method, req.path.as_str(), req.body_text().as_str()),
        (Method::Delete, "/order", r#"{"orderID":"0xabc"}"#)
    );
    // polymarket_l2_hmac_constructed.json, DELETE /order.
    assert_eq!(
        req.header("POLY_SIGNATURE"),
        Some("ebd_Mp184tE7Z6KPR1h4np8gSxcgEPZ7MeKtDjVwf2g=")
    );
    assert_eq!(
        req.headers,
        l2_headers(&mock, "DELETE", "/order", r#"{"orderID":"0xabc"}"#)
    );
    assert!(req.idempotent);
}

#[test]
fn get_order_signs_its_path_like_the_constructed_vector() {
    let order = json!({"id": "0xabc", "status": "ORDER_STATUS_LIVE", "original_size": "100000000", "size_matched": "0"});
    let mock = venue().respond(Method::Get, "/data/order/0xabc", 200, &order);
    let out =
        testing::call::<Polymarket>(&mock, "get_order", json!({"order_id": "0xabc"})).unwrap();
    assert_eq!(out, order);
    let req = &mock.requests()[0];
    assert_eq!(
        headers(req).last(),
        Some(&(
            "POLY_SIGNATURE",
            "HI0aIsUCWs5xsnXuVoakCVkPSxZLMv18Jfh3au5Pt4E="
        ))
    );
    assert_eq!(
        req.headers,
        l2_headers(&mock, "GET", "/data/order/0xabc", "")
    );

    let missing = venue().respond(Method::Get, "/data/order/0xdef", 200, "null");
    let err = testing::call::<Polymarket>(&missing, "get_order", json!({"order_id": "0xdef"}))
        .unwrap_err();
    assert!(matches!(err, VenueError::Upstream(u) if u.message.contains("not found")));
}

#[test]
fn get_open_orders_follows_next_cursor_until_lte() {
    let page = |ids: &[&str], next: &str| json!({"data": ids.iter().map(|i| json!({"id": i})).collect::<Vec<_>>(), "next_cursor": next, "limit": 2, "count": ids.len()});
    let mock = venue()
        .respond(
            Method::Get,
            "/data/orders?asset_id=77&next_cursor=MA%3D%3D",
            200,
            page(&["a", "b"], "Mg=="),
        )
        .respond(
            Method::Get,
            "/data/orders?asset_id=77&next_cursor=Mg%3D%3D",
            200,
            page(&["c", "d"], "NA=="),
        )
        .respond(
            Method::Get,
            "/data/orders?asset_id=77&next_cursor=NA%3D%3D",
            200,
            page(&["e"], "LTE="),
        );
    let out =
        testing::call::<Polymarket>(&mock, "get_open_orders", json!({"asset_id": "77"})).unwrap();
    let ids: Vec<&str> = out["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a", "b", "c", "d", "e"]);
    assert_eq!(out["pages"], 3);
    assert!(mock.pending().is_empty() && mock.unmatched().is_empty());
    for req in mock.requests() {
        // Every page signs the path without its query (the constructed vector).
        assert_eq!(
            req.header("POLY_SIGNATURE"),
            Some("m6lGS9WyES7JjpAYNd7zIdW5bfHxAAI_pIa1St9vLO4=")
        );
    }
}

#[test]
fn get_open_orders_sends_both_filters_in_client_order() {
    let mock = venue().respond(
        Method::Get,
        "/data/orders?market=0xm&asset_id=77&next_cursor=MA%3D%3D",
        200,
        json!({"data": [], "next_cursor": "LTE="}),
    );
    let out = testing::call::<Polymarket>(
        &mock,
        "get_open_orders",
        json!({"market": "0xm", "asset_id": "77"}),
    )
    .unwrap();
    assert_eq!(out, json!({"orders": [], "pages": 1}));
    assert!(mock.unmatched().is_empty());
}

#[test]
fn get_open_orders_stops_at_the_page_cap_and_on_a_repeated_cursor() {
    let mut mock = venue();
    for i in 0..=api::MAX_OPEN_ORDER_PAGES {
        mock = mock.respond(
            Method::Get,
            "/data/orders",
            200,
            json!({"data": [{"id": i}], "next_cursor": format!("c{i}")}),
        );
    }
    let err = testing::call::<Polymarket>(&mock, "get_open_orders", json!({})).unwrap_err();
    assert!(
        matches!(&err, VenueError::Parse(m) if m.contains("50 pages")),
        "{err:?}"
    );
    assert_eq!(mock.requests().len(), api::MAX_OPEN_ORDER_PAGES);

    let looping = venue()
        .respond(
            Method::Get,
            "/data/orders",
            200,
            json!({"data": [], "next_cursor": "X"}),
        )
        .respond(
            Method::Get,
            "/data/orders",
            200,
            json!({"data": [], "next_cursor": "X"}),
        );
    let err = testing::call::<Polymarket>(&looping, "get_open_orders", json!({})).unwrap_err();
    assert!(
        matches!(&err, VenueError::Parse(m) if m.contains("again")),
        "{err:?}"
    );
}

#[test]
fn get_balance_asks_for_collateral_or_a_token() {
    let body = json!({"balance": "1000000", "allowances": {}});
    let mock = venue()
        .setting("signature_type", "2")
        .respond(
            Method::Get,
            "/balance-allowance?asset_type=COLLATERAL&signature_type=2",
            200,
            &body,
        )
        .respond(
            Method::Get,
            "/balance-allowance?asset_type=CONDITIONAL&token_id=9&signature_type=2",
            200,
            &body,
        );
    assert_eq!(
        testing::call::<Polymarket>(&mock, "get_balance", json!({})).unwrap(),
        body
    );
    testing::call::<Polymarket>(&mock, "get_balance", json!({"token_id": "9"})).unwrap();
    assert!(mock.unmatched().is_empty());
    let req = &mock.requests()[0];
    assert_eq!(
        req.headers,
        l2_headers(&mock, "GET", "/balance-allowance", "")
    );
}

#[test]
fn reconcile_rebuilds_the_order_from_the_journaled_params_and_looks_its_hash_up() {
    let params = json!({"token_id": TOKEN, "side": "BUY", "price": "0.5", "size": "10"});
    let prepared = Instance::<Polymarket>::new()
        .prepare(&with_book(venue()), "create_limit_order", params)
        .unwrap();
    let hash = prepared.idempotency_key.clone().unwrap();
    let mock = venue()
        .respond(
            Method::Get,
            &format!("/data/order/{hash}"),
            200,
            json!({"id": hash, "status": "MATCHED"}),
        )
        .respond(
            Method::Get,
            &format!("/data/order/{hash}"),
            404,
            json!({"error": "not found"}),
        );
    let mut instance = Instance::<Polymarket>::new();
    // The key the host journaled does not matter: the params name the order.
    let found = instance
        .reconcile(
            &mock,
            "create_limit_order",
            prepared.params.clone(),
            "caller-key",
        )
        .unwrap()
        .unwrap();
    assert_eq!(found["order"]["status"], "MATCHED");
    assert_eq!(found["order_hash"], hash);
    assert_eq!(
        instance
            .reconcile(&mock, "create_limit_order", prepared.params.clone(), &hash)
            .unwrap(),
        None
    );
    assert!(matches!(
        instance.reconcile(&mock, "get_order", json!({}), &hash),
        Err(VenueError::Unsupported(_))
    ));
    assert!(matches!(
        instance.reconcile(
            &mock,
            "create_market_order",
            json!({"token_id": TOKEN, "side": "BUY", "amount": "10"}),
            &hash
        ),
        Err(VenueError::InvalidParams(_))
    ));
}

#[test]
fn a_caller_key_fixes_the_salt_and_is_the_journal_key() {
    let params = json!({"token_id": TOKEN, "side": "BUY", "price": "0.5", "size": "10"});
    let prepare = |key: &str| {
        Instance::<Polymarket>::new()
            .prepare_keyed(
                &with_book(venue()),
                "create_limit_order",
                params.clone(),
                Some(key),
            )
            .unwrap()
    };
    let (a, b) = (prepare("order-7"), prepare("order-7"));
    assert_eq!(a.idempotency_key.as_deref(), Some("order-7"));
    assert_eq!(a.params["salt"], order::salt_from_key("order-7"));
    assert_eq!(a.params, b.params, "a retry prepares the same order");
    assert_ne!(prepare("order-8").params["salt"], a.params["salt"]);
}

#[test]
fn bad_params_send_nothing() {
    let mock = venue();
    let cases = [
        ("get_order_book", json!({})),
        ("get_order_book", json!({"token_id": " "})),
        ("get_price", json!({"token_id": "1", "side": "HOLD"})),
        (
            "create_limit_order",
            json!({"token_id": "1", "side": "BUY", "price": "1.5", "size": "1"}),
        ),
        (
            "create_limit_order",
            json!({"token_id": "1", "side": "BUY", "price": "0.5", "size": "1", "fee_rate_bps": 5}),
        ),
        (
            "create_market_order",
            json!({"token_id": "1", "side": "BUY", "amount": "0"}),
        ),
        ("cancel_order", json!({"order_id": "../data/orders"})),
        ("get_order", json!({"order_id": ""})),
        ("get_open_orders", json!({"market": ""})),
        ("get_balance", json!({"asset_type": "COLLATERAL"})),
    ];
    for (op, params) in cases {
        let err = testing::call::<Polymarket>(&mock, op, params.clone()).unwrap_err();
        assert!(
            matches!(err, VenueError::InvalidParams(_)),
            "{op} {params}: {err:?}"
        );
    }
    assert!(mock.requests().is_empty(), "{:?}", mock.requests());
}

#[test]
fn missing_configuration_is_named() {
    let no_owner = MockHost::new()
        .setting("address", ADDR)
        .secret("private_key", KEY);
    let err = testing::call::<Polymarket>(
        &no_owner,
        "create_limit_order",
        json!({"token_id": "1", "side": "BUY", "price": "0.5", "size": "1"}),
    )
    .unwrap_err();
    assert!(matches!(err, VenueError::Unsupported(m) if m.contains("owner")));
    let no_secret = MockHost::new().setting("address", ADDR);
    let err = testing::call::<Polymarket>(&no_secret, "get_order", json!({"order_id": "0x1"}))
        .unwrap_err();
    assert!(matches!(err, VenueError::Transport(SendError::Denied(m)) if m.contains("api_key")));
    assert!(no_owner.requests().is_empty());
    // The host refused it: recorded, with no secret value in it.
    let refused = &no_secret.requests()[0];
    assert!(
        refused
            .headers
            .iter()
            .all(|(k, v)| !k.starts_with("POLY_API") || v.is_empty())
    );
}

#[test]
fn signing_keys_never_leave_and_header_secrets_only_in_their_headers() {
    let mock = with_book(venue()).respond(Method::Post, "/order", 200, posted());
    testing::call::<Polymarket>(
        &mock,
        "create_limit_order",
        json!({"token_id": "1", "side": "BUY", "price": "0.5", "size": "1"}),
    )
    .unwrap();
    let req = &mock.requests()[1];
    let text = format!("{} {} {}", req.path, req.body_text(), hex_encode(&req.body));
    for secret in ["fake-api-key", "fake-passphrase", KEY] {
        assert!(
            !text.contains(secret),
            "{secret} leaked into the path or body"
        );
    }
    for (name, value) in &req.headers {
        let allowed = match value.as_str() {
            "fake-api-key" => name == "POLY_API_KEY",
            "fake-passphrase" => name == "POLY_PASSPHRASE",
            v => !v.contains(KEY),
        };
        assert!(allowed, "{name}: {value}");
    }
}

#[test]
fn order_version_mismatch_is_reported_with_its_code() {
    let mock = with_book(venue()).respond(
        Method::Post,
        "/order",
        400,
        json!({"error": "order_version_mismatch"}),
    );
    let err = testing::call::<Polymarket>(
        &mock,
        "create_limit_order",
        json!({"token_id": "1", "side": "BUY", "price": "0.5", "size": "1"}),
    )
    .unwrap_err();
    assert!(
        matches!(err, VenueError::Upstream(u) if u.code.as_deref() == Some("order_version_mismatch") && u.status == 400)
    );
}

#[test]
fn transport_errors_pass_through() {
    let mock = MockHost::new().fail(
        Method::Get,
        "/midpoint",
        SendError::Timeout("attempt timed out".into()),
    );
    let err =
        testing::call::<Polymarket>(&mock, "get_midpoint", json!({"token_id": "1"})).unwrap_err();
    assert!(matches!(err, VenueError::Transport(SendError::Timeout(_))));
}

#[test]
fn cancel_order_that_cancels_nothing_is_an_error() {
    let mock = venue().respond(
        Method::Delete,
        "/order",
        200,
        json!({"canceled": [], "not_canceled": {"0xabc": "order already filled"}}),
    );
    let err = testing::call::<Polymarket>(&mock, "cancel_order", json!({"order_id": "0xabc"}))
        .unwrap_err();
    assert!(
        matches!(&err, VenueError::Upstream(u) if u.code.as_deref() == Some("not_canceled") && u.message.contains("already filled")),
        "{err:?}"
    );
}

#[test]
fn bulk_cancels_send_the_client_requests_and_return_both_lists() {
    let answer = json!({"canceled": ["0xa"], "not_canceled": {"0xb": "not found"}});
    let mock = venue()
        .respond(Method::Delete, "/orders", 200, &answer)
        .respond(Method::Delete, "/cancel-market-orders", 200, &answer)
        .respond(Method::Delete, "/cancel-all", 200, &answer);
    let both = json!({"canceled": ["0xa"], "not_canceled": {"0xb": "not found"}});
    let out =
        testing::call::<Polymarket>(&mock, "cancel_orders", json!({"order_ids": ["0xa", "0xb"]}));
    assert_eq!(out.unwrap(), both);
    let out = testing::call::<Polymarket>(&mock, "cancel_market_orders", json!({"asset_id": "77"}));
    assert_eq!(out.unwrap(), both);
    assert_eq!(
        testing::call::<Polymarket>(&mock, "cancel_all", json!({})).unwrap(),
        both
    );
    let sent = mock.requests();
    let seen: Vec<(&str, String)> = sent
        .iter()
        .map(|r| (r.path.as_str(), r.body_text()))
        .collect();
    assert_eq!(
        seen,
        [
            ("/orders", r#"["0xa","0xb"]"#.to_string()),
            ("/cancel-market-orders", r#"{"asset_id":"77"}"#.to_string()),
            ("/cancel-all", String::new()),
        ]
    );
    for (req, (path, body)) in sent.iter().zip(&seen) {
        assert_eq!(req.method, Method::Delete);
        assert_eq!(req.headers, l2_headers(&mock, "DELETE", path, body));
        assert!(req.idempotent);
    }
    // Nothing named: refused rather than cancelling everything.
    let err = testing::call::<Polymarket>(&venue(), "cancel_market_orders", json!({})).unwrap_err();
    assert!(matches!(err, VenueError::InvalidParams(m) if m.contains("cancel_all")));
}

#[test]
fn get_trades_follows_pages_with_the_filters() {
    let mock = venue()
        .respond(
            Method::Get,
            "/data/trades?asset_id=77&after=1700000000&next_cursor=MA%3D%3D",
            200,
            json!({"data": [{"id": "t1"}], "next_cursor": "MQ=="}),
        )
        .respond(
            Method::Get,
            "/data/trades?asset_id=77&after=1700000000&next_cursor=MQ%3D%3D",
            200,
            json!({"data": [{"id": "t2"}], "next_cursor": "LTE="}),
        );
    let out = testing::call::<Polymarket>(
        &mock,
        "get_trades",
        json!({"asset_id": "77", "after": 1_700_000_000u64}),
    )
    .unwrap();
    assert_eq!(
        out,
        json!({"trades": [{"id": "t1"}, {"id": "t2"}], "pages": 2})
    );
    assert!(mock.unmatched().is_empty());
    assert_eq!(
        mock.requests()[0].headers,
        l2_headers(&mock, "GET", "/data/trades", "")
    );
}

#[test]
fn heartbeat_posts_the_id_and_may_be_retried() {
    let mock = venue().respond(
        Method::Post,
        "/v1/heartbeats",
        200,
        json!({"heartbeat_id": "hb-2"}),
    );
    let out =
        testing::call::<Polymarket>(&mock, "heartbeat", json!({"heartbeat_id": "hb-1"})).unwrap();
    assert_eq!(out, json!({"heartbeat_id": "hb-2"}));
    let req = &mock.requests()[0];
    assert_eq!(req.body_text(), r#"{"heartbeat_id":"hb-1"}"#);
    assert_eq!(
        req.headers,
        l2_headers(
            &mock,
            "POST",
            "/v1/heartbeats",
            r#"{"heartbeat_id":"hb-1"}"#
        )
    );
    assert!(req.idempotent);
}

#[test]
fn create_orders_posts_one_array_with_salts_from_the_key_and_reconcile_finds_each() {
    let orders = json!({"orders": [
        {"token_id": "1", "side": "BUY", "price": "0.5", "size": "10"},
        {"token_id": "1", "side": "SELL", "price": "0.6", "size": "5"},
    ]});
    let mock = with_book(venue()).respond(
        Method::Post,
        "/orders",
        200,
        json!([posted(), {"success": false, "errorMsg": "not enough balance"}]),
    );
    let mut instance = Instance::<Polymarket>::new();
    let prepared = instance
        .prepare_keyed(&mock, "create_orders", orders.clone(), Some("batch-1"))
        .unwrap();
    assert_eq!(prepared.idempotency_key.as_deref(), Some("batch-1"));
    for i in 0..2 {
        assert_eq!(
            prepared.params["orders"][i]["salt"],
            order::salt_from_key(&format!("batch-1/{i}"))
        );
    }
    let again = Instance::<Polymarket>::new()
        .prepare_keyed(
            &with_book(venue()),
            "create_orders",
            orders,
            Some("batch-1"),
        )
        .unwrap();
    assert_eq!(
        again.params, prepared.params,
        "a retry rebuilds the same orders"
    );

    let out = instance
        .call(&mock, "create_orders", prepared.params.clone())
        .unwrap();
    let sent = mock.requests();
    let post = &sent[1];
    assert_eq!((post.method, post.path.as_str()), (Method::Post, "/orders"));
    let body = post.body_json();
    assert_eq!(body.as_array().unwrap().len(), 2);
    assert_eq!(body[1]["order"]["side"], "SELL");
    assert_eq!(
        post.headers,
        l2_headers(&mock, "POST", "/orders", &post.body_text())
    );
    assert!(!post.idempotent);
    assert_eq!(out["orders"][0]["orderID"], "0xfeed");
    assert_eq!(
        out["orders"][1]["success"], false,
        "a refused order stays in place"
    );
    let hashes: Vec<String> = (0..2)
        .map(|i| out["orders"][i]["order_hash"].as_str().unwrap().to_string())
        .collect();

    let lookups = venue()
        .respond(
            Method::Get,
            &format!("/data/order/{}", hashes[0]),
            200,
            json!({"id": hashes[0]}),
        )
        .respond(
            Method::Get,
            &format!("/data/order/{}", hashes[1]),
            404,
            json!({"error": "not found"}),
        );
    let found = Instance::<Polymarket>::new()
        .reconcile(&lookups, "create_orders", prepared.params, "batch-1")
        .unwrap()
        .unwrap();
    assert_eq!(found["orders"][0]["order"]["id"], hashes[0]);
    assert_eq!(found["orders"][1]["order"], Value::Null);
    assert!(lookups.unmatched().is_empty());
}

#[test]
fn order_version_mismatch_reads_version_and_posts_once_more_for_it() {
    let mock = with_book(venue().setting("exchange_version", "1"))
        .respond(Method::Get, "/fee-rate", 200, json!({"base_fee": 0}))
        .respond(
            Method::Post,
            "/order",
            400,
            json!({"error": "order_version_mismatch"}),
        )
        .respond(Method::Get, "/version", 200, json!({"version": 2}))
        .respond(Method::Post, "/order", 200, posted());
    let mut instance = Instance::<Polymarket>::new();
    let out = instance
        .call(
            &mock,
            "create_limit_order",
            json!({"token_id": "1", "side": "BUY", "price": "0.5", "size": "10"}),
        )
        .unwrap();
    assert_eq!(out["exchange_version"], 2);
    let sent = mock.requests();
    let paths: Vec<&str> = sent.iter().map(|r| r.path_without_query()).collect();
    assert_eq!(
        paths,
        ["/fee-rate", "/book", "/order", "/version", "/order"]
    );
    assert!(
        sent[2].body_json()["order"].get("feeRateBps").is_some(),
        "V1 first"
    );
    assert!(
        sent[4].body_json()["order"].get("timestamp").is_some(),
        "then V2"
    );
    assert_eq!(
        sent[2].body_json()["order"]["salt"],
        sent[4].body_json()["order"]["salt"],
        "the same order"
    );
}

#[test]
fn orders_the_venue_would_refuse_are_refused_before_posting() {
    let cases = [
        (json!({"neg_risk": true}), "neg_risk"),
        (json!({"size": "0.5"}), "min_order_size"),
        (
            json!({"order_type": "FOK", "price": "0.52", "size": "10.12"}),
            "FOK/FAK",
        ),
        (
            json!({"order_type": "GTD", "expiration": 1_700_000_030u64}),
            "security threshold",
        ),
        (json!({"price": "0.505"}), "tick size 0.01"),
    ];
    for (patch, expected) in cases {
        let mut params = json!({"token_id": "1", "side": "BUY", "price": "0.5", "size": "10"});
        for (k, v) in patch.as_object().unwrap() {
            params[k] = v.clone();
        }
        let mock = with_book(venue());
        let err =
            testing::call::<Polymarket>(&mock, "create_limit_order", params.clone()).unwrap_err();
        assert!(
            matches!(&err, VenueError::InvalidParams(m) if m.contains(expected)),
            "{params}: {err:?}"
        );
        assert_eq!(mock.requests().len(), 1, "only the book was read: {params}");
    }
}

#[test]
fn a_tick_size_refusal_drops_the_cached_tick() {
    let mock = venue()
        .respond(Method::Get, "/book", 200, book("0.01", false))
        .respond(
            Method::Post,
            "/order",
            400,
            json!({"error": "order 0x1 is invalid. Price (0.5) breaks minimum tick size rule: 0.001"}),
        )
        .respond(Method::Get, "/book", 200, book("0.001", false))
        .respond(Method::Post, "/order", 200, posted());
    let mut instance = Instance::<Polymarket>::new();
    let params = json!({"token_id": "1", "side": "BUY", "price": "0.505", "size": "10"});
    // Cached 0.01: refused here, nothing posted.
    let err = instance
        .call(&mock, "create_limit_order", params.clone())
        .unwrap_err();
    assert!(matches!(err, VenueError::InvalidParams(_)));
    let ok = json!({"token_id": "1", "side": "BUY", "price": "0.5", "size": "10"});
    assert!(instance.call(&mock, "create_limit_order", ok).is_err());
    // The venue said the tick changed: the next order reads the book again.
    let out = instance.call(&mock, "create_limit_order", params).unwrap();
    assert_eq!(out["tick_size"], "0.001");
    assert_eq!(mock.requests().len(), 4);
}
