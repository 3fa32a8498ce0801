//! Whole operations against the SDK's mock host, whose HMAC is real: every
//! signed request is checked by recomputing the HMAC over the exact bytes the
//! plugin handed over.

use super::*;
use resilience_guest::host::UsageReport;
use resilience_guest::signing::hmac_hex;
use resilience_guest::testing::{self, Instance, MockHost, SentRequest};

/// The secret of the official docs' example (docs/venues/binance.md "Official signing vectors").
const SECRET: &str = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9";
/// The official example's API key; it must never appear in a request.
const API_KEY: &str = "dbefbc809e3e83c283a984c3a1459732ea7db1360ca80c5c2c8867408d28cc83";
const NOW: u64 = 1_700_000_000_000;

/// A venue whose requests are exactly the operation's: the reads that may
/// precede an order (server time, exchange filters, position mode) are
/// turned off by settings here and tested in `session_tests`.
fn venue() -> MockHost {
    MockHost::new()
        .now_ms(NOW)
        .secret("api_secret", SECRET)
        .secret("api_key", API_KEY)
        .setting("time_sync_s", "0")
        .setting("exchange_filters", "off")
        .setting("position_mode", "one-way")
}

/// vectors: new_order_response, with the values of the order it answers.
fn order_body(cid: &str, side: &str, kind: &str, qty: &str, price: &str, status: &str) -> Value {
    json!({
        "clientOrderId": cid, "cumQty": "0", "cumQuote": "0", "executedQty": "0",
        "orderId": 22542179, "avgPrice": "0.00000", "origQty": qty, "price": price,
        "reduceOnly": false, "side": side, "positionSide": "BOTH", "status": status,
        "stopPrice": "0", "closePosition": false, "symbol": "BTCUSDT", "timeInForce": "GTC",
        "type": kind, "origType": kind, "updateTime": 1566818724722u64,
        "workingType": "CONTRACT_PRICE", "priceProtect": false, "priceMatch": "NONE",
        "selfTradePreventionMode": "NONE", "goodTillDate": 0,
    })
}

fn error_body(code: i64, msg: &str) -> Value {
    json!({ "code": code, "msg": msg })
}

/// A New Algo Order answer: the fields of the official SDK's
/// `NewAlgoOrderResponse` model, values constructed.
fn algo_body(client_algo_id: &str) -> Value {
    json!({
        "algoId": 2146760, "clientAlgoId": client_algo_id, "algoType": "CONDITIONAL",
        "orderType": "STOP_MARKET", "symbol": "BTCUSDT", "side": "SELL", "positionSide": "BOTH",
        "timeInForce": "GTC", "quantity": "0.001", "algoStatus": "NEW", "triggerPrice": "39000.5",
        "price": "0.00", "icebergQuantity": null, "selfTradePreventionMode": "EXPIRE_MAKER",
        "workingType": "MARK_PRICE", "priceMatch": "NONE", "closePosition": false,
        "priceProtect": true, "reduceOnly": false, "activatePrice": "", "callbackRate": "",
        "createTime": 1750485492076u64, "updateTime": 1750485492076u64, "triggerTime": 0,
        "goodTillDate": 0,
    })
}

/// vectors: positionRisk_v3, as one BTCUSDT entry with `amt`.
fn position_body(amt: &str, side: &str) -> Value {
    json!({
        "symbol": "BTCUSDT", "positionSide": side, "positionAmt": amt, "entryPrice": "0.385",
        "breakEvenPrice": "0.385077", "markPrice": "0.41047590", "unRealizedProfit": "0.76427700",
        "liquidationPrice": "0", "isolatedMargin": "0", "notional": "12.31427700",
        "marginAsset": "USDT", "isolatedWallet": "0", "initialMargin": "0.61571385",
        "maintMargin": "0.08004280", "positionInitialMargin": "0.61571385",
        "openOrderInitialMargin": "0", "adl": 2, "bidNotional": "0", "askNotional": "0",
        "updateTime": 1720736417660u64,
    })
}

/// Check a signed request and return its query without the signature:
/// `signature` is last, 64 lower-case hex digits, and equals the HMAC of the
/// exact query bytes before it (recomputed with the mock's real HMAC); the
/// API key header is the secret `api_key`; the body is empty.
#[track_caller]
fn verify_signed(mock: &MockHost, req: &SentRequest) -> String {
    let (_, query) = req
        .path
        .split_once('?')
        .unwrap_or_else(|| panic!("no query: {}", req.path));
    let (signed, signature) = query
        .rsplit_once("&signature=")
        .unwrap_or_else(|| panic!("signature is not the last param: {query}"));
    assert!(
        !signed.contains("signature="),
        "one signature only: {query}"
    );
    assert_eq!(signature.len(), 64, "{signature}");
    assert!(
        signature
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "lower-case hex: {signature}"
    );
    let expected = mock.run(|| hmac_hex("api_secret", signed)).unwrap();
    assert_eq!(
        signature, expected,
        "signature over the exact bytes sent: {signed}"
    );
    assert_eq!(req.header("X-MBX-APIKEY"), Some(API_KEY));
    assert_eq!(
        req.secret_headers,
        [("X-MBX-APIKEY".to_string(), "api_key".to_string())]
    );
    assert!(req.body.is_empty(), "params go in the query only");
    signed.to_string()
}

#[test]
fn binance_signature_matches_official_vector() {
    // vectors/binance_usdm_hmac_official_example1.json, through the plugin's
    // own request builder: business params, then recvWindow, timestamp, signature.
    let mock = MockHost::new()
        .now_ms(1_591_702_613_943)
        .secret("api_secret", SECRET)
        .secret("api_key", API_KEY);
    let params = Query::new()
        .push("symbol", "BTCUSDT")
        .push("side", "BUY")
        .push("type", "LIMIT")
        .push("quantity", "1")
        .push("price", "9000")
        .push("timeInForce", "GTC");
    let req = mock
        .run(|| rest::request(&api::NEW_ORDER, params, 0))
        .unwrap();
    // The plugin hands over the query without timestamp and signature; the
    // host adds both at each attempt (here: the mock, at its clock).
    assert_eq!(
        req.path(),
        "/fapi/v1/order?symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC\
         &recvWindow=5000"
    );
    assert_eq!(req.secret_header_name("X-MBX-APIKEY"), Some("api_key"));
    let _ = mock.run(|| req.send());
    assert_eq!(
        mock.requests()[0].path,
        "/fapi/v1/order?symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC\
         &recvWindow=5000&timestamp=1591702613943\
         &signature=3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
    );
}

#[test]
fn constructed_vectors_verify_with_the_docs_secret() {
    // vectors/binance_usdm_hmac_constructed.json (their param orders as given).
    let mock = venue();
    let cases = [
        (
            "timestamp=1700000000000&recvWindow=5000",
            "9b5594f10f56fa6cfdfd8978179b8c21c2b362fe8ffa2831a97680cd784bad4e",
        ),
        (
            "symbol=BTCUSDT&timestamp=1700000000000&recvWindow=5000",
            "7a8b67f1d1f95267cccea247047195ecd14452745260c46d2bd7d5e9aba86063",
        ),
    ];
    for (payload, signature) in cases {
        assert_eq!(
            mock.run(|| hmac_hex("api_secret", payload)).unwrap(),
            signature
        );
    }
}

#[test]
fn limit_order_request_matches_constructed_vector_byte_for_byte() {
    // vectors/binance_usdm_hmac_constructed.json, "POST /fapi/v1/order".
    let mock = venue().respond(
        Method::Post,
        "/fapi/v1/order",
        200,
        order_body("adapter-test-0001", "BUY", "LIMIT", "0.001", "30000", "NEW"),
    );
    let out = testing::call::<Binance>(
        &mock,
        "create_limit_order",
        json!({"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.001", "price": "30000",
               "client_order_id": "adapter-test-0001"}),
    )
    .unwrap();
    assert_eq!(out["client_order_id"], "adapter-test-0001");
    assert_eq!(out["order_id"], 22542179);
    let sent = mock.requests();
    assert_eq!(sent.len(), 1);
    let req = &sent[0];
    assert_eq!(req.method, Method::Post);
    assert_eq!(
        req.path,
        "/fapi/v1/order?symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001\
         &price=30000&newClientOrderId=adapter-test-0001&newOrderRespType=RESULT&recvWindow=5000\
         &timestamp=1700000000000\
         &signature=5f68727b49b927009eeac1e0b991a307f49805da8e681221083f09bc22a86a4b"
    );
    assert_eq!(req.weight, 0, "New Order costs no IP weight");
    assert!(
        !req.idempotent,
        "a create is never retried by the host once it may have reached Binance"
    );
    verify_signed(&mock, req);
}

#[test]
fn cancel_request_matches_constructed_vector_byte_for_byte() {
    // vectors/binance_usdm_hmac_constructed.json, "DELETE /fapi/v1/order".
    let mock = venue().respond(
        Method::Delete,
        "/fapi/v1/order",
        200,
        order_body(
            "adapter-test-0001",
            "BUY",
            "LIMIT",
            "0.001",
            "30000",
            "CANCELED",
        ),
    );
    let out = testing::call::<Binance>(
        &mock,
        "cancel_order",
        json!({"symbol": "BTCUSDT", "client_order_id": "adapter-test-0001"}),
    )
    .unwrap();
    assert_eq!(out["status"], "CANCELED");
    let req = &mock.requests()[0];
    assert_eq!(
        req.path,
        "/fapi/v1/order?symbol=BTCUSDT&origClientOrderId=adapter-test-0001&recvWindow=5000\
         &timestamp=1700000000000\
         &signature=ba1e4fe58882bc8151e911a52a1a1e76ff4b2984a485d5b7bfefd40d6dedeb30"
    );
    assert_eq!((req.method, req.weight), (Method::Delete, 1));
}

#[test]
fn every_operation_sends_its_documented_request_and_weight() {
    let order = order_body("cid-1", "SELL", "MARKET", "0.010", "0", "NEW");
    let ts = format!("recvWindow=5000&timestamp={NOW}");
    // (operation, params, method, path, query before the signature (None: unsigned), weight, answer)
    type Case<'a> = (&'a str, Value, Method, &'a str, Option<String>, u32, Value);
    let cases: Vec<Case> = vec![
        (
            "create_market_order",
            json!({"symbol": "BTCUSDT", "side": "SELL", "quantity": "0.010",
                   "client_order_id": "cid-1", "reduce_only": true}),
            Method::Post,
            "/fapi/v1/order",
            Some(format!(
                "symbol=BTCUSDT&side=SELL&type=MARKET&reduceOnly=true&quantity=0.010&newClientOrderId=cid-1&newOrderRespType=RESULT&{ts}"
            )),
            0,
            order.clone(),
        ),
        (
            "create_market_order",
            json!({"symbol": "BTCUSDT", "side": "BUY", "quantity": "1", "client_order_id": "cid-2"}),
            Method::Post,
            "/fapi/v1/order",
            Some(format!(
                "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1&newClientOrderId=cid-2&newOrderRespType=RESULT&{ts}"
            )),
            0,
            order_body("cid-2", "BUY", "MARKET", "1", "0", "FILLED"),
        ),
        (
            "create_limit_order",
            json!({"symbol": "ETHUSDT", "side": "SELL", "quantity": "0.5", "price": "3500.10",
                   "time_in_force": "GTX", "client_order_id": "cid-3"}),
            Method::Post,
            "/fapi/v1/order",
            Some(format!(
                "symbol=ETHUSDT&side=SELL&type=LIMIT&timeInForce=GTX&quantity=0.5&price=3500.10&newClientOrderId=cid-3&newOrderRespType=RESULT&{ts}"
            )),
            0,
            order_body("cid-3", "SELL", "LIMIT", "0.5", "3500.10", "NEW"),
        ),
        (
            "cancel_order",
            json!({"symbol": "BTCUSDT", "order_id": 283194212}),
            Method::Delete,
            "/fapi/v1/order",
            Some(format!("symbol=BTCUSDT&orderId=283194212&{ts}")),
            1,
            order.clone(),
        ),
        (
            "get_order",
            json!({"symbol": "BTCUSDT", "client_order_id": "abc"}),
            Method::Get,
            "/fapi/v1/order",
            Some(format!("symbol=BTCUSDT&origClientOrderId=abc&{ts}")),
            1,
            order.clone(),
        ),
        (
            "get_order",
            json!({"symbol": "BTCUSDT", "order_id": "1573346959"}),
            Method::Get,
            "/fapi/v1/order",
            Some(format!("symbol=BTCUSDT&orderId=1573346959&{ts}")),
            1,
            order.clone(),
        ),
        (
            "get_open_orders",
            json!({"symbol": "BTCUSDT"}),
            Method::Get,
            "/fapi/v1/openOrders",
            Some(format!("symbol=BTCUSDT&{ts}")),
            1,
            json!([order.clone()]),
        ),
        (
            "get_open_orders",
            json!({}),
            Method::Get,
            "/fapi/v1/openOrders",
            Some(ts.clone()),
            40,
            json!([]),
        ),
        (
            "get_position",
            json!({"symbol": "BTCUSDT"}),
            Method::Get,
            "/fapi/v3/positionRisk",
            Some(format!("symbol=BTCUSDT&{ts}")),
            5,
            json!([position_body("30", "BOTH")]),
        ),
        (
            "get_funding_rate",
            json!({"symbol": "BTCUSDT"}),
            Method::Get,
            "/fapi/v1/premiumIndex",
            None,
            1,
            json!({"symbol": "BTCUSDT", "markPrice": "11793.63104562", "indexPrice": "11781.80495970",
                   "estimatedSettlePrice": "11781.16138815", "lastFundingRate": "0.00038246",
                   "interestRate": "0.00010000", "nextFundingTime": 1597392000000u64,
                   "time": 1597370495002u64}),
        ),
        (
            "create_limit_order",
            json!({"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.002", "price": "60000",
                   "time_in_force": "GTD", "good_till_date": NOW + 3_600_000,
                   "position_side": "BOTH", "self_trade_prevention_mode": "EXPIRE_BOTH",
                   "client_order_id": "cid-4"}),
            Method::Post,
            "/fapi/v1/order",
            Some(format!(
                "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTD&quantity=0.002&price=60000&newClientOrderId=cid-4&newOrderRespType=RESULT&selfTradePreventionMode=EXPIRE_BOTH&goodTillDate={}&{ts}",
                NOW + 3_600_000
            )),
            0,
            order.clone(),
        ),
        (
            "create_orders",
            json!({"orders": [
                {"type": "LIMIT", "symbol": "BTCUSDT", "side": "BUY", "quantity": "0.001",
                 "price": "40000", "client_order_id": "b-1"},
                {"type": "MARKET", "symbol": "BTCUSDT", "side": "SELL", "quantity": "0.001",
                 "reduce_only": true, "client_order_id": "b-2"},
            ]}),
            Method::Post,
            "/fapi/v1/batchOrders",
            Some(format!(
                "batchOrders=%5B%7B%22symbol%22%3A%22BTCUSDT%22%2C%22side%22%3A%22BUY%22%2C%22type%22%3A%22LIMIT%22%2C%22timeInForce%22%3A%22GTC%22%2C%22quantity%22%3A%220.001%22%2C%22price%22%3A%2240000%22%2C%22newClientOrderId%22%3A%22b-1%22%2C%22newOrderRespType%22%3A%22RESULT%22%7D%2C%7B%22symbol%22%3A%22BTCUSDT%22%2C%22side%22%3A%22SELL%22%2C%22type%22%3A%22MARKET%22%2C%22quantity%22%3A%220.001%22%2C%22reduceOnly%22%3A%22true%22%2C%22newClientOrderId%22%3A%22b-2%22%2C%22newOrderRespType%22%3A%22RESULT%22%7D%5D&{ts}"
            )),
            5,
            json!([
                order_body("b-1", "BUY", "LIMIT", "0.001", "40000", "NEW"),
                order_body("b-2", "SELL", "MARKET", "0.001", "0", "FILLED")
            ]),
        ),
        (
            "create_conditional_order",
            json!({"symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET",
                   "trigger_price": "39000.5", "quantity": "0.001", "working_type": "MARK_PRICE",
                   "price_protect": true, "client_algo_id": "algo-1"}),
            Method::Post,
            "/fapi/v1/algoOrder",
            Some(format!(
                "algoType=CONDITIONAL&symbol=BTCUSDT&side=SELL&type=STOP_MARKET&quantity=0.001&triggerPrice=39000.5&workingType=MARK_PRICE&priceProtect=true&clientAlgoId=algo-1&{ts}"
            )),
            0,
            algo_body("algo-1"),
        ),
        (
            "cancel_conditional_order",
            json!({"client_algo_id": "algo-1"}),
            Method::Delete,
            "/fapi/v1/algoOrder",
            Some(format!("clientAlgoId=algo-1&{ts}")),
            1,
            json!({"algoId": 2146760, "clientAlgoId": "algo-1", "code": "200", "msg": "success"}),
        ),
        (
            "get_conditional_order",
            json!({"algo_id": 2146760}),
            Method::Get,
            "/fapi/v1/algoOrder",
            Some(format!("algoId=2146760&{ts}")),
            1,
            algo_body("algo-1"),
        ),
        (
            "modify_order",
            json!({"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.002", "price": "41000",
                   "client_order_id": "b-1"}),
            Method::Put,
            "/fapi/v1/order",
            Some(format!(
                "symbol=BTCUSDT&side=BUY&quantity=0.002&price=41000&origClientOrderId=b-1&{ts}"
            )),
            0,
            order.clone(),
        ),
        (
            "cancel_all_open_orders",
            json!({"symbol": "BTCUSDT"}),
            Method::Delete,
            "/fapi/v1/allOpenOrders",
            Some(format!("symbol=BTCUSDT&{ts}")),
            1,
            json!({"code": 200, "msg": "The operation of cancel all open order is done."}),
        ),
        (
            "countdown_cancel_all",
            json!({"symbol": "BTCUSDT", "countdown_ms": 120000}),
            Method::Post,
            "/fapi/v1/countdownCancelAll",
            Some(format!("symbol=BTCUSDT&countdownTime=120000&{ts}")),
            10,
            json!({"symbol": "BTCUSDT", "countdownTime": "120000"}),
        ),
        (
            "get_user_trades",
            json!({"symbol": "BTCUSDT", "start_time": 1_699_000_000_000u64, "limit": 100}),
            Method::Get,
            "/fapi/v1/userTrades",
            Some(format!(
                "symbol=BTCUSDT&startTime=1699000000000&limit=100&{ts}"
            )),
            5,
            json!([{"buyer": false, "commission": "-0.07819010", "commissionAsset": "USDT",
                    "id": 698759, "maker": false, "orderId": 25851813, "price": "7819.01",
                    "qty": "0.002", "quoteQty": "15.63802", "realizedPnl": "-0.91539999",
                    "side": "SELL", "positionSide": "SHORT", "symbol": "BTCUSDT",
                    "time": 1569514978020u64}]),
        ),
        (
            "set_leverage",
            json!({"symbol": "BTCUSDT", "leverage": 20}),
            Method::Post,
            "/fapi/v1/leverage",
            Some(format!("symbol=BTCUSDT&leverage=20&{ts}")),
            1,
            json!({"leverage": 20, "maxNotionalValue": "1000000", "symbol": "BTCUSDT"}),
        ),
        (
            "set_margin_type",
            json!({"symbol": "BTCUSDT", "margin_type": "ISOLATED"}),
            Method::Post,
            "/fapi/v1/marginType",
            Some(format!("symbol=BTCUSDT&marginType=ISOLATED&{ts}")),
            1,
            json!({"code": 200, "msg": "success"}),
        ),
        (
            "get_balance",
            json!({}),
            Method::Get,
            "/fapi/v3/balance",
            Some(ts.clone()),
            5,
            json!([{"accountAlias": "SgsR", "asset": "USDT", "balance": "122607.35137903",
                    "crossWalletBalance": "23.72469206", "crossUnPnl": "0.00000000",
                    "availableBalance": "23.72469206", "maxWithdrawAmount": "23.72469206",
                    "marginAvailable": true, "updateTime": 1617939110373u64}]),
        ),
    ];
    for (op, params, method, path, signed_query, weight, answer) in cases {
        let mock = venue().respond(method, path, 200, answer);
        let out = testing::call::<Binance>(&mock, op, params.clone());
        assert!(out.is_ok(), "{op} {params}: {out:?}");
        let sent = mock.requests();
        assert_eq!(sent.len(), 1, "{op} {params}: {sent:?}");
        let req = &sent[0];
        assert_eq!(req.method, method, "{op}");
        assert_eq!(req.path_without_query(), path, "{op}");
        assert_eq!(req.weight, weight, "{op} {params}");
        // Creates are not retried after they may have reached Binance; reads,
        // cancels and lookups are.
        let is_create = method == Method::Post
            && matches!(
                path,
                "/fapi/v1/order" | "/fapi/v1/batchOrders" | "/fapi/v1/algoOrder"
            );
        assert_eq!(req.idempotent, !is_create, "{op}");
        match signed_query {
            Some(expected) => assert_eq!(verify_signed(&mock, req), expected, "{op} {params}"),
            None => {
                assert_eq!(req.path, format!("{path}?symbol=BTCUSDT"), "{op}");
                assert!(req.headers.is_empty(), "public endpoint, no key: {op}");
            }
        }
        // The HMAC key never leaves; the API key only in its header (checked
        // by verify_signed).
        let text = format!("{req:?}");
        assert!(!text.contains(SECRET), "{text}");
    }
}

#[test]
fn close_position_sends_a_reduce_only_market_order_for_the_whole_position() {
    let mock = venue()
        .respond(
            Method::Get,
            "/fapi/v3/positionRisk",
            200,
            json!([position_body("-0.250", "BOTH")]),
        )
        .respond(
            Method::Post,
            "/fapi/v1/order",
            200,
            order_body("close-1", "BUY", "MARKET", "0.250", "0", "FILLED"),
        );
    let out = testing::call::<Binance>(
        &mock,
        "close_position",
        json!({"symbol": "BTCUSDT", "client_order_id": "close-1"}),
    )
    .unwrap();
    assert_eq!(out["closed"], true);
    assert_eq!(out["order"]["status"], "FILLED");
    let sent = mock.requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        (sent[0].method, sent[0].path_without_query(), sent[0].weight),
        (Method::Get, "/fapi/v3/positionRisk", 5)
    );
    assert_eq!(
        verify_signed(&mock, &sent[0]),
        format!("symbol=BTCUSDT&recvWindow=5000&timestamp={NOW}")
    );
    assert_eq!(
        (sent[1].method, sent[1].path_without_query(), sent[1].weight),
        (Method::Post, "/fapi/v1/order", 0)
    );
    assert_eq!(
        verify_signed(&mock, &sent[1]),
        format!(
            "symbol=BTCUSDT&side=BUY&type=MARKET&reduceOnly=true&quantity=0.250\
             &newClientOrderId=close-1&newOrderRespType=RESULT&recvWindow=5000&timestamp={NOW}"
        )
    );

    // A long position is sold.
    let mock = venue()
        .respond(
            Method::Get,
            "/fapi/v3/positionRisk",
            200,
            json!([position_body("30", "BOTH")]),
        )
        .respond(
            Method::Post,
            "/fapi/v1/order",
            200,
            order_body("close-2", "SELL", "MARKET", "30", "0", "FILLED"),
        );
    testing::call::<Binance>(
        &mock,
        "close_position",
        json!({"symbol": "BTCUSDT", "client_order_id": "close-2"}),
    )
    .unwrap();
    assert!(
        mock.requests()[1]
            .path
            .contains("&side=SELL&type=MARKET&reduceOnly=true&quantity=30&")
    );
}

#[test]
fn close_position_is_a_no_op_when_flat() {
    // v3 lists only symbols with a position or open orders ([]); v2-style
    // entries with a zero amount are flat too (vectors: positionRisk_v2_one_way).
    for answer in [
        json!([]),
        json!([position_body("0.000", "BOTH")]),
        json!([position_body("0", "LONG"), position_body("0", "SHORT")]),
    ] {
        let mock = venue().respond(Method::Get, "/fapi/v3/positionRisk", 200, &answer);
        let out = testing::call::<Binance>(&mock, "close_position", json!({"symbol": "BTCUSDT"}))
            .unwrap();
        assert_eq!(
            out,
            json!({"symbol": "BTCUSDT", "closed": false, "order": null, "orders": []}),
            "{answer}"
        );
        let sent = mock.requests();
        assert_eq!(sent.len(), 1, "no order when flat: {sent:?}");
        assert_eq!(sent[0].method, Method::Get);
    }
}

#[test]
fn close_position_refuses_an_unreadable_amount_without_placing_anything() {
    for amt in ["", "1e-3", "0x1"] {
        let mock = venue().respond(
            Method::Get,
            "/fapi/v3/positionRisk",
            200,
            json!([position_body(amt, "BOTH")]),
        );
        match testing::call::<Binance>(&mock, "close_position", json!({"symbol": "BTCUSDT"})) {
            Err(VenueError::Parse(m)) => assert!(m.contains("positionAmt"), "{m}"),
            other => panic!("{amt:?}: {other:?}"),
        }
        assert_eq!(mock.requests().len(), 1);
    }
}

#[test]
fn close_position_in_hedge_mode_closes_the_side_asked_for() {
    let both_open = json!([
        position_body("0.003", "LONG"),
        position_body("-0.002", "SHORT")
    ]);
    // Both sides open and no side named: refused before any order.
    let mock = venue().setting("position_mode", "hedge").respond(
        Method::Get,
        "/fapi/v3/positionRisk",
        200,
        &both_open,
    );
    let err = testing::call::<Binance>(&mock, "close_position", json!({"symbol": "BTCUSDT"}))
        .unwrap_err();
    assert!(
        matches!(&err, VenueError::InvalidParams(m) if m.contains("position_side")),
        "{err:?}"
    );
    assert_eq!(mock.requests().len(), 1);

    // SHORT is bought back with positionSide=SHORT and never reduceOnly.
    let mock = venue()
        .setting("position_mode", "hedge")
        .respond(Method::Get, "/fapi/v3/positionRisk", 200, &both_open)
        .respond(
            Method::Post,
            "/fapi/v1/order",
            200,
            order_body("close-s", "BUY", "MARKET", "0.002", "0", "FILLED"),
        );
    let out = testing::call::<Binance>(
        &mock,
        "close_position",
        json!({"symbol": "BTCUSDT", "client_order_id": "close-s", "position_side": "SHORT"}),
    )
    .unwrap();
    assert_eq!(out["closed"], true);
    assert_eq!(
        verify_signed(&mock, &mock.requests()[1]),
        format!(
            "symbol=BTCUSDT&side=BUY&type=MARKET&positionSide=SHORT&quantity=0.002\
             &newClientOrderId=close-s&newOrderRespType=RESULT&recvWindow=5000&timestamp={NOW}"
        )
    );

    // The only open side is closed without naming it; LONG is sold.
    let mock = venue()
        .setting("position_mode", "hedge")
        .respond(
            Method::Get,
            "/fapi/v3/positionRisk",
            200,
            json!([position_body("0.003", "LONG"), position_body("0", "SHORT")]),
        )
        .respond(
            Method::Post,
            "/fapi/v1/order",
            200,
            order_body("close-l", "SELL", "MARKET", "0.003", "0", "FILLED"),
        );
    testing::call::<Binance>(
        &mock,
        "close_position",
        json!({"symbol": "BTCUSDT", "client_order_id": "close-l"}),
    )
    .unwrap();
    assert!(
        mock.requests()[1]
            .path
            .contains("&side=SELL&type=MARKET&positionSide=LONG&quantity=0.003&")
    );

    // A named side that is flat closes nothing.
    let mock = venue().setting("position_mode", "hedge").respond(
        Method::Get,
        "/fapi/v3/positionRisk",
        200,
        json!([position_body("0.003", "LONG"), position_body("0", "SHORT")]),
    );
    let out = testing::call::<Binance>(
        &mock,
        "close_position",
        json!({"symbol": "BTCUSDT", "position_side": "SHORT"}),
    )
    .unwrap();
    assert_eq!(out["closed"], false);
    assert_eq!(mock.requests().len(), 1);
}

#[test]
fn duplicate_client_order_id_resolves_to_the_existing_order() {
    // A retried create whose first attempt was placed: -4116, then the lookup.
    let existing = order_body("cid-dup", "BUY", "LIMIT", "0.0010", "30000.00", "NEW");
    let mock = venue()
        .respond(
            Method::Post,
            "/fapi/v1/order",
            400,
            error_body(-4116, "ClientOrderId is duplicated."),
        )
        .respond(Method::Get, "/fapi/v1/order", 200, &existing);
    let out = testing::call::<Binance>(
        &mock,
        "create_limit_order",
        json!({"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.001", "price": "30000",
               "client_order_id": "cid-dup"}),
    )
    .unwrap();
    assert_eq!(out["order_id"], 22542179);
    assert_eq!(out["client_order_id"], "cid-dup");
    let sent = mock.requests();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0].method, Method::Post);
    assert_eq!((sent[1].method, sent[1].weight), (Method::Get, 1));
    assert_eq!(
        verify_signed(&mock, &sent[1]),
        format!("symbol=BTCUSDT&origClientOrderId=cid-dup&recvWindow=5000&timestamp={NOW}")
    );
    assert_eq!(
        sent.iter().filter(|r| r.method == Method::Post).count(),
        1,
        "never a second create"
    );
    assert!(mock.logs().iter().any(|(_, m)| m.contains("-4116")));
}

#[test]
fn duplicate_id_of_a_different_order_is_an_error_naming_the_difference() {
    let other = order_body("cid-dup", "SELL", "LIMIT", "5", "30000", "NEW");
    let mock = venue()
        .respond(
            Method::Post,
            "/fapi/v1/order",
            400,
            error_body(-4116, "ClientOrderId is duplicated."),
        )
        .respond(Method::Get, "/fapi/v1/order", 200, &other);
    let err = testing::call::<Binance>(
        &mock,
        "create_limit_order",
        json!({"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.001", "price": "30000",
               "client_order_id": "cid-dup"}),
    )
    .unwrap_err();
    match err {
        VenueError::Upstream(u) => {
            assert_eq!((u.status, u.code.as_deref()), (400, Some("-4116")));
            assert!(
                u.message.contains("side SELL") && u.message.contains("quantity 5"),
                "{}",
                u.message
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn duplicate_id_that_cannot_be_found_keeps_the_duplicate_error() {
    let mock = venue()
        .respond(
            Method::Post,
            "/fapi/v1/order",
            400,
            error_body(-4116, "ClientOrderId is duplicated."),
        )
        .respond(
            Method::Get,
            "/fapi/v1/order",
            400,
            error_body(-2013, "Order does not exist."),
        );
    let err = testing::call::<Binance>(
        &mock,
        "create_market_order",
        json!({"symbol": "BTCUSDT", "side": "BUY", "quantity": "1", "client_order_id": "x"}),
    )
    .unwrap_err();
    match err {
        VenueError::Upstream(u) => {
            assert_eq!(u.code.as_deref(), Some("-4116"));
            assert!(u.message.contains("-2013"), "{}", u.message);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn timestamp_and_signature_errors_name_their_cause() {
    // A -1021 is sent once more after measuring the clock; a second one is
    // the caller's.
    let outside = error_body(
        -1021,
        "Timestamp for this request is outside of the recvWindow.",
    );
    let mock = venue()
        .setting("recv_window_ms", "7000")
        .respond(Method::Get, "/fapi/v3/balance", 400, &outside)
        .respond(Method::Get, "/fapi/v3/balance", 400, &outside);
    match testing::call::<Binance>(&mock, "get_balance", json!({})).unwrap_err() {
        VenueError::Upstream(u) => {
            assert_eq!((u.status, u.code.as_deref()), (400, Some("-1021")));
            for part in [
                "timestamp",
                "clock",
                "recvWindow (7000 ms)",
                "recv_window_ms",
                "outside of the recvWindow",
            ] {
                assert!(u.message.contains(part), "{part}: {}", u.message);
            }
        }
        other => panic!("{other:?}"),
    }
    let mock = venue().respond(
        Method::Get,
        "/fapi/v3/balance",
        400,
        error_body(-1022, "Signature for this request is not valid."),
    );
    match testing::call::<Binance>(&mock, "get_balance", json!({})).unwrap_err() {
        VenueError::Upstream(u) => {
            assert_eq!((u.status, u.code.as_deref()), (400, Some("-1022")));
            for part in ["signature", "api_key", "api_secret", "not valid"] {
                assert!(u.message.contains(part), "{part}: {}", u.message);
            }
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn venue_errors_become_upstream_with_their_code() {
    let cases = [
        (400, error_body(-2019, "Margin is insufficient.")),
        (400, error_body(-1121, "Invalid symbol.")),
        // A final 429/418 after the host's rate limiter acted on it.
        (
            429,
            error_body(-1003, "Too many requests; current limit is 2400."),
        ),
        (
            418,
            error_body(
                -1003,
                "Way too many requests; IP banned until 1700000120000.",
            ),
        ),
    ];
    for (status, body) in cases {
        let mock = venue().respond(Method::Post, "/fapi/v1/order", status, &body);
        let err = testing::call::<Binance>(
            &mock,
            "create_market_order",
            json!({"symbol": "BTCUSDT", "side": "BUY", "quantity": "1", "client_order_id": "e"}),
        )
        .unwrap_err();
        assert_eq!(
            err,
            VenueError::upstream(
                status,
                Some(body["code"].to_string()),
                body["msg"].as_str().unwrap()
            )
        );
        assert_eq!(mock.requests().len(), 1, "no lookup for other codes");
    }
    // A proxy's HTML page is upstream too, quoting it.
    let mock = venue().respond(
        Method::Get,
        "/fapi/v3/balance",
        502,
        "<html>Bad Gateway</html>",
    );
    match testing::call::<Binance>(&mock, "get_balance", json!({})).unwrap_err() {
        VenueError::Upstream(u) => assert!(u.message.contains("Bad Gateway") && u.code.is_none()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn usage_headers_are_reported_with_their_windows_on_success_and_error() {
    let headers = vec![
        ("X-MBX-USED-WEIGHT-1M".to_string(), "37".to_string()),
        ("x-mbx-order-count-10s".to_string(), "3".to_string()),
        ("X-MBX-ORDER-COUNT-1M".to_string(), "5".to_string()),
        ("X-MBX-ORDER-COUNT-1D".to_string(), "9".to_string()),
        ("X-MBX-USED-WEIGHT-1M-junk".to_string(), "1".to_string()),
        (
            "X-MBX-USED-WEIGHT-1M".to_string(),
            "not a number".to_string(),
        ),
        ("Content-Type".to_string(), "application/json".to_string()),
    ];
    let body = order_body("u", "BUY", "MARKET", "1", "0", "FILLED")
        .to_string()
        .into_bytes();
    let mock = venue().respond_with(
        Method::Post,
        "/fapi/v1/order",
        Response::new(200, headers, body),
    );
    testing::call::<Binance>(
        &mock,
        "create_market_order",
        json!({"symbol": "BTCUSDT", "side": "BUY", "quantity": "1", "client_order_id": "u"}),
    )
    .unwrap();
    let report = |counter: &str, used: u64, window_ms: u64| UsageReport {
        counter: counter.into(),
        used,
        window_ms,
    };
    assert_eq!(
        mock.usage(),
        vec![
            report("weight", 37, 60_000),
            report("orders", 3, 10_000),
            report("orders", 5, 60_000),
            report("orders", 9, 86_400_000),
        ]
    );

    // Errors carry the weight header too; it is reported before mapping.
    let mock = venue().respond_with(
        Method::Get,
        "/fapi/v3/balance",
        Response::new(
            400,
            vec![("x-mbx-used-weight-1m".into(), "1190".into())],
            error_body(-1022, "Signature for this request is not valid.")
                .to_string()
                .into_bytes(),
        ),
    );
    testing::call::<Binance>(&mock, "get_balance", json!({})).unwrap_err();
    assert_eq!(mock.usage(), vec![report("weight", 1190, 60_000)]);
}

#[test]
fn recv_window_comes_from_the_setting_and_is_checked() {
    let mock = venue().setting("recv_window_ms", "7000").respond(
        Method::Get,
        "/fapi/v3/balance",
        200,
        json!([]),
    );
    testing::call::<Binance>(&mock, "get_balance", json!({})).unwrap();
    assert_eq!(
        verify_signed(&mock, &mock.requests()[0]),
        format!("recvWindow=7000&timestamp={NOW}")
    );
    for bad in ["0", "60001", "5s", "-1", ""] {
        let mock = venue().setting("recv_window_ms", bad);
        match testing::call::<Binance>(&mock, "get_balance", json!({})) {
            Err(VenueError::InvalidParams(m)) => assert!(m.contains("recv_window_ms"), "{m}"),
            other => panic!("{bad:?}: {other:?}"),
        }
        assert!(mock.requests().is_empty());
    }
}

#[test]
fn non_ascii_symbol_is_percent_encoded_before_signing() {
    // Binance lists `币安人生USDT`; the official rule: percent-encode UTF-8 first.
    let mock = venue().respond(Method::Get, "/fapi/v3/positionRisk", 200, json!([]));
    testing::call::<Binance>(&mock, "get_position", json!({"symbol": "币安人生USDT"})).unwrap();
    let signed = verify_signed(&mock, &mock.requests()[0]);
    assert_eq!(
        signed,
        format!("symbol=%E5%B8%81%E5%AE%89%E4%BA%BA%E7%94%9FUSDT&recvWindow=5000&timestamp={NOW}")
    );
}

#[test]
fn prepare_derives_the_client_order_id_from_the_caller_key() {
    let mock = venue();
    let params = json!({"symbol": "BTCUSDT", "side": "BUY", "quantity": "1"});
    let prepare = |params: &Value, key: &str| {
        Instance::<Binance>::new().prepare_keyed(
            &mock,
            "create_market_order",
            params.clone(),
            Some(key),
        )
    };
    // A key Binance accepts as an id is the id; the same key twice, the same id.
    let p = prepare(&params, "hedge-42").unwrap();
    assert_eq!(p.idempotency_key.as_deref(), Some("hedge-42"));
    assert_eq!(p.params["client_order_id"], "hedge-42");
    // Any other key is hashed into one.
    let long = "x".repeat(40);
    for key in ["order #7", long.as_str()] {
        let (a, b) = (
            prepare(&params, key).unwrap(),
            prepare(&params, key).unwrap(),
        );
        let id = a.idempotency_key.clone().unwrap();
        assert!(
            id.starts_with(client_id::CALLER_PREFIX) && ClientOrderId::check(&id),
            "{id}"
        );
        assert_eq!(a, b, "deterministic");
    }
    // A caller id that contradicts the key is refused; an equal one is fine.
    let mut given = params.clone();
    given["client_order_id"] = json!("other");
    assert!(
        matches!(prepare(&given, "hedge-42"), Err(VenueError::InvalidParams(m)) if m.contains("Idempotency-Key"))
    );
    given["client_order_id"] = json!("hedge-42");
    assert_eq!(
        prepare(&given, "hedge-42")
            .unwrap()
            .idempotency_key
            .as_deref(),
        Some("hedge-42")
    );
    assert!(mock.requests().is_empty(), "prepare sends nothing");
}

#[test]
fn prepare_chooses_the_client_order_id_that_invoke_sends() {
    let mock = venue().respond(
        Method::Post,
        "/fapi/v1/order",
        200,
        order_body("any", "BUY", "MARKET", "1", "0", "FILLED"),
    );
    let mut instance = Instance::<Binance>::new();
    let params = json!({"symbol": "BTCUSDT", "side": "BUY", "quantity": "1"});
    let prepared = instance
        .prepare(&mock, "create_market_order", params.clone())
        .unwrap();
    let key = prepared.idempotency_key.clone().expect("a key");
    assert!(
        key.starts_with(client_id::PREFIX) && ClientOrderId::check(&key),
        "{key}"
    );
    let mut expected = params.clone();
    expected["client_order_id"] = json!(key);
    assert_eq!(prepared.params, expected);
    assert!(mock.requests().is_empty(), "prepare sends nothing");

    instance
        .call(&mock, "create_market_order", prepared.params)
        .unwrap();
    let signed = verify_signed(&mock, &mock.requests()[0]);
    assert!(
        signed.contains(&format!("&newClientOrderId={key}&")),
        "{signed}"
    );

    // A second identical order in the same millisecond gets another id.
    let again = instance
        .prepare(&mock, "create_market_order", params)
        .unwrap();
    assert_ne!(again.idempotency_key, Some(key));

    // The caller's id is kept and is the key.
    let given = instance
        .prepare(
            &mock,
            "create_limit_order",
            json!({"symbol": "BTCUSDT", "side": "BUY", "quantity": "1", "price": "2",
                   "client_order_id": "mine-1"}),
        )
        .unwrap();
    assert_eq!(given.idempotency_key.as_deref(), Some("mine-1"));
    assert_eq!(given.params["client_order_id"], "mine-1");

    let close = instance
        .prepare(&mock, "close_position", json!({"symbol": "BTCUSDT"}))
        .unwrap();
    assert_eq!(
        close.params["client_order_id"].as_str(),
        close.idempotency_key.as_deref()
    );

    // Read-only operations have no key and keep their params.
    let read = instance.prepare(&mock, "get_balance", json!({})).unwrap();
    assert_eq!((read.idempotency_key, read.params), (None, json!({})));

    // A bad order is refused before the host journals it.
    let err = instance
        .prepare(
            &mock,
            "create_market_order",
            json!({"symbol": "BTCUSDT", "side": "BUY", "quantity": 1}),
        )
        .unwrap_err();
    assert!(
        matches!(&err, VenueError::InvalidParams(m) if m.contains("quantity")),
        "{err:?}"
    );
    assert_eq!(mock.requests().len(), 1);
}

#[test]
fn invoke_without_prepare_still_sends_a_generated_client_order_id() {
    let mock = venue().respond(
        Method::Post,
        "/fapi/v1/order",
        200,
        order_body("any", "BUY", "MARKET", "1", "0", "FILLED"),
    );
    testing::call::<Binance>(
        &mock,
        "create_market_order",
        json!({"symbol": "BTCUSDT", "side": "BUY", "quantity": "1"}),
    )
    .unwrap();
    let signed = verify_signed(&mock, &mock.requests()[0]);
    let id = signed
        .split('&')
        .find_map(|kv| kv.strip_prefix("newClientOrderId="))
        .expect("newClientOrderId sent");
    assert!(
        id.starts_with(client_id::PREFIX) && ClientOrderId::check(id),
        "{id}"
    );
}

#[test]
fn reconcile_finds_the_order_or_says_the_venue_never_saw_it() {
    let params =
        json!({"symbol": "BTCUSDT", "side": "BUY", "quantity": "1", "client_order_id": "k-1"});
    let order = order_body("k-1", "BUY", "MARKET", "1", "0", "FILLED");
    let mock = venue()
        .respond(Method::Get, "/fapi/v1/order", 200, &order)
        .respond(
            Method::Get,
            "/fapi/v1/order",
            400,
            error_body(-2013, "Order does not exist."),
        )
        .respond(
            Method::Get,
            "/fapi/v1/order",
            400,
            error_body(-1022, "Signature for this request is not valid."),
        )
        .respond(Method::Get, "/fapi/v1/order", 200, &order)
        .respond(
            Method::Get,
            "/fapi/v1/order",
            400,
            error_body(-2013, "Order does not exist."),
        )
        .respond(Method::Get, "/fapi/v3/positionRisk", 200, json!([]));
    let mut instance = Instance::<Binance>::new();

    let found = instance
        .reconcile(&mock, "create_market_order", params.clone(), "k-1")
        .unwrap()
        .expect("found");
    assert_eq!(
        (found["client_order_id"].as_str(), found["status"].as_str()),
        (Some("k-1"), Some("FILLED"))
    );
    assert_eq!(
        verify_signed(&mock, &mock.requests()[0]),
        format!("symbol=BTCUSDT&origClientOrderId=k-1&recvWindow=5000&timestamp={NOW}")
    );

    let never = instance
        .reconcile(&mock, "create_limit_order", params.clone(), "k-1")
        .unwrap();
    assert_eq!(never, None);

    let err = instance
        .reconcile(&mock, "create_market_order", params, "k-1")
        .unwrap_err();
    assert_eq!(rest::code(&err), Some("-1022"));

    let closed = instance
        .reconcile(
            &mock,
            "close_position",
            json!({"symbol": "BTCUSDT", "client_order_id": "k-1"}),
            "k-1",
        )
        .unwrap()
        .expect("found");
    assert_eq!(closed["closed"], true);
    assert_eq!(closed["order"]["client_order_id"], "k-1");
    // The lookup of a second, split-off order found none: one order placed.
    assert_eq!(closed["orders"].as_array().map(Vec::len), Some(1));
    let second = &mock.requests()[4];
    assert!(
        second
            .path
            .contains(&format!("origClientOrderId={}", batch::item_id("k-1", 1))),
        "{}",
        second.path
    );

    assert!(matches!(
        instance.reconcile(&mock, "get_order", json!({"symbol": "BTCUSDT"}), "k-1"),
        Err(VenueError::Unsupported(_))
    ));
    assert!(matches!(
        instance.reconcile(
            &mock,
            "create_market_order",
            json!({"symbol": "BTCUSDT"}),
            "bad key!"
        ),
        Err(VenueError::InvalidParams(_))
    ));
    assert_eq!(mock.requests().len(), 6, "the last read the position");
}

/// A close interrupted between its orders: reconcile finds the orders placed
/// and says the position is not flat yet.
#[test]
fn reconcile_of_an_interrupted_split_close_reads_the_position() {
    let first = order_body("c-9", "BUY", "MARKET", "120", "0", "FILLED");
    let mock = venue()
        .respond(Method::Get, "/fapi/v1/order", 200, &first)
        .respond(
            Method::Get,
            "/fapi/v1/order",
            400,
            error_body(-2013, "Order does not exist."),
        )
        .respond(
            Method::Get,
            "/fapi/v3/positionRisk",
            200,
            json!([position_body("-10.005", "BOTH")]),
        );
    let out = Instance::<Binance>::new()
        .reconcile(
            &mock,
            "close_position",
            json!({"symbol": "BTCUSDT", "client_order_id": "c-9"}),
            "c-9",
        )
        .unwrap()
        .expect("the first order was placed");
    assert_eq!(out["closed"], false, "{out}");
    assert_eq!(out["orders"].as_array().map(Vec::len), Some(1));
}

#[test]
fn cancel_of_an_order_already_cancelled_returns_it() {
    // A repeated cancel (the first attempt's answer was lost) gets -2011.
    let mock = venue()
        .respond(
            Method::Delete,
            "/fapi/v1/order",
            400,
            error_body(-2011, "Unknown order sent."),
        )
        .respond(
            Method::Get,
            "/fapi/v1/order",
            200,
            order_body("c", "BUY", "LIMIT", "1", "2", "CANCELED"),
        );
    let out = testing::call::<Binance>(
        &mock,
        "cancel_order",
        json!({"symbol": "BTCUSDT", "order_id": 22542179}),
    )
    .unwrap();
    assert_eq!(out["status"], "CANCELED");
    assert_eq!(mock.requests().len(), 2);

    // A filled order cannot be cancelled: the error says so.
    let mock = venue()
        .respond(
            Method::Delete,
            "/fapi/v1/order",
            400,
            error_body(-2011, "Unknown order sent."),
        )
        .respond(
            Method::Get,
            "/fapi/v1/order",
            200,
            order_body("c", "BUY", "LIMIT", "1", "2", "FILLED"),
        );
    match testing::call::<Binance>(
        &mock,
        "cancel_order",
        json!({"symbol": "BTCUSDT", "order_id": 22542179}),
    )
    .unwrap_err()
    {
        VenueError::Upstream(u) => {
            assert_eq!(u.code.as_deref(), Some("-2011"));
            assert!(u.message.contains("FILLED"), "{}", u.message);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn answers_keep_the_venues_decimal_strings() {
    let mock = venue().respond(
        Method::Get,
        "/fapi/v3/positionRisk",
        200,
        json!([position_body("30", "BOTH")]),
    );
    let out =
        testing::call::<Binance>(&mock, "get_position", json!({"symbol": "BTCUSDT"})).unwrap();
    assert_eq!(out["flat"], false);
    let p = &out["positions"][0];
    assert_eq!(
        (
            p["position_amt"].as_str(),
            p["mark_price"].as_str(),
            p["unrealized_profit"].as_str(),
            p["break_even_price"].as_str(),
        ),
        (
            Some("30"),
            Some("0.41047590"),
            Some("0.76427700"),
            Some("0.385077")
        )
    );

    let mock = venue().respond(
        Method::Get,
        "/fapi/v1/premiumIndex",
        200,
        json!({"symbol": "BTCUSDT", "markPrice": "11793.63104562", "indexPrice": "11781.80495970",
               "estimatedSettlePrice": "11781.16138815", "lastFundingRate": "0.00038246",
               "interestRate": "0.00010000", "nextFundingTime": 1597392000000u64,
               "time": 1597370495002u64}),
    );
    let out =
        testing::call::<Binance>(&mock, "get_funding_rate", json!({"symbol": "BTCUSDT"})).unwrap();
    assert_eq!(
        out,
        json!({"symbol": "BTCUSDT", "funding_rate": "0.00038246", "mark_price": "11793.63104562",
               "index_price": "11781.80495970", "interest_rate": "0.00010000",
               "next_funding_time": 1597392000000u64, "time": 1597370495002u64})
    );

    // A number where the venue writes a decimal string is a parse error naming it.
    let mock = venue().respond(
        Method::Get,
        "/fapi/v1/premiumIndex",
        200,
        json!({"symbol": "BTCUSDT", "markPrice": 11793.63, "indexPrice": "1",
               "lastFundingRate": "0", "nextFundingTime": 1, "time": 1}),
    );
    match testing::call::<Binance>(&mock, "get_funding_rate", json!({"symbol": "BTCUSDT"})) {
        Err(VenueError::Parse(m)) => assert!(m.contains("markPrice"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_params_are_refused_naming_the_field_before_any_request() {
    let mock = venue();
    let order = |extra: Value| {
        let mut p = json!({"symbol": "BTCUSDT", "side": "BUY", "quantity": "1"});
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    };
    let cases = [
        (
            "create_market_order",
            order(json!({"symbol": "btcusdt"})),
            "symbol",
        ),
        (
            "create_market_order",
            order(json!({"symbol": "BTC&USDT"})),
            "symbol",
        ),
        ("create_market_order", order(json!({"side": "buy"})), "side"),
        (
            "create_market_order",
            order(json!({"quantity": 0.001})),
            "quantity",
        ),
        (
            "create_market_order",
            order(json!({"quantity": "0"})),
            "quantity",
        ),
        (
            "create_market_order",
            order(json!({"quantity": "-1"})),
            "quantity",
        ),
        (
            "create_market_order",
            order(json!({"quantity": "1e3"})),
            "quantity",
        ),
        (
            "create_market_order",
            order(json!({"client_order_id": "has space"})),
            "client_order_id",
        ),
        (
            "create_market_order",
            order(json!({"client_order_id": "${secret:api_key}"})),
            "client_order_id",
        ),
        (
            "create_market_order",
            order(json!({"reduceOnly": true})),
            "reduceOnly",
        ),
        (
            "create_market_order",
            json!({"symbol": "BTCUSDT", "side": "BUY"}),
            "quantity",
        ),
        ("create_limit_order", order(json!({})), "price"),
        (
            "create_limit_order",
            order(json!({"price": "0.0"})),
            "price",
        ),
        (
            "create_limit_order",
            order(json!({"price": "1", "time_in_force": "GTD"})),
            "time_in_force",
        ),
        ("cancel_order", json!({"symbol": "BTCUSDT"}), "order_id"),
        (
            "cancel_order",
            json!({"symbol": "BTCUSDT", "order_id": 1, "client_order_id": "a"}),
            "client_order_id",
        ),
        (
            "get_order",
            json!({"symbol": "BTCUSDT", "order_id": -5}),
            "order_id",
        ),
        ("get_order", json!({"order_id": 5}), "symbol"),
        ("get_open_orders", json!({"symbol": ""}), "symbol"),
        ("get_position", json!({}), "symbol"),
        (
            "close_position",
            json!({"symbol": "BTCUSDT", "quantity": "1"}),
            "quantity",
        ),
        ("get_funding_rate", json!({"symbol": "BTC USDT"}), "symbol"),
        ("get_balance", json!({"asset": "USDT"}), "asset"),
    ];
    for (op, params, field) in cases {
        match testing::call::<Binance>(&mock, op, params.clone()) {
            Err(VenueError::InvalidParams(m)) => assert!(m.contains(field), "{op} {params}: {m}"),
            other => panic!("{op} {params}: expected invalid_params, got {other:?}"),
        }
    }
    assert!(mock.requests().is_empty(), "{:?}", mock.requests());
}

#[test]
fn transport_errors_pass_through() {
    let mock = venue().fail(
        Method::Get,
        "/fapi/v3/balance",
        SendError::Timeout("attempt timed out".into()),
    );
    assert!(matches!(
        testing::call::<Binance>(&mock, "get_balance", json!({})),
        Err(VenueError::Transport(SendError::Timeout(_)))
    ));
    // Without the secrets configured the host refuses the request, naming them.
    let mock = MockHost::new();
    match testing::call::<Binance>(&mock, "get_balance", json!({})) {
        Err(VenueError::Transport(SendError::Denied(m))) => {
            assert!(m.contains("api_key"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    let balance = mock
        .requests()
        .into_iter()
        .find(|r| r.path.starts_with("/fapi/v3/balance"))
        .expect("the balance request reached the host");
    assert!(balance.headers[0].1.is_empty(), "no secret value");
}

#[test]
fn describe_lists_the_operations_and_which_mutate() {
    let info = testing::describe::<Binance>();
    assert_eq!(info.name, "binance");
    let ops: Vec<(&str, bool)> = info
        .operations
        .iter()
        .map(|o| (o.name.as_str(), o.mutating))
        .collect();
    assert_eq!(
        ops,
        vec![
            ("create_market_order", true),
            ("create_limit_order", true),
            ("create_orders", true),
            ("create_conditional_order", true),
            ("close_position", true),
            ("cancel_order", false),
            ("get_order", false),
            ("modify_order", false),
            ("get_open_orders", false),
            ("cancel_all_open_orders", false),
            ("countdown_cancel_all", false),
            ("cancel_conditional_order", false),
            ("get_conditional_order", false),
            ("get_position", false),
            ("get_funding_rate", false),
            ("get_balance", false),
            ("get_user_trades", false),
            ("get_exchange_info", false),
            ("set_leverage", false),
            ("set_margin_type", false),
        ]
    );
    for op in &info.operations {
        let schema: Value = serde_json::from_str(&op.params_schema).unwrap();
        assert_eq!(schema["type"], "object", "{}", op.name);
    }
}
