//! The real Binance plugin in the host against a wiremock Binance USDⓈ-M:
//! the exact requests received (signature recomputed over the received
//! query bytes with the test's secret, API key substituted by the host),
//! weights charged to the host's budget, duplicate-create resolution, the
//! 418 ban, and no secret in anything the host returns.
//! (Its own test binary: one test installs a log subscriber.)

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use resilience_tests::TestHost;
use resilience_tests::crypto::{hex, hmac_sha256, sha256};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const API_KEY: &str = "itKey-7Hc2QpX9mZr4Lw8Nf3Vb6Ty1Ds5Ga0Ke";
const API_SECRET: &str = "itSecret-Qm4Xz8Rt2Wv6Yb0Nc3Lp7Jd1Hf5Gs9K";

/// The venue section; `settings` are added to the venue settings, which pin
/// the reads that may precede a request (server time, exchange filters,
/// position mode) off, so each test sees exactly its operation's requests.
/// `tests/tests/binance_session.rs` tests those reads.
fn venue(endpoint: &str, settings: &str) -> String {
    format!(
        "[venues.binance]\nplugin = \"binance\"\nendpoints = [\"{endpoint}\"]\n\
         timeout_ms = 2000\ndeadline_ms = 5000\n\
         retry = {{ max_attempts = 2, base_delay_ms = 10, jitter = 0.0 }}\n\
         rate_limit = {{ weight_per_minute = 1200 }}\n\
         secrets = {{ api_key = {{ env = \"BINANCE_IT_API_KEY\" }}, api_secret = {{ env = \"BINANCE_IT_API_SECRET\" }} }}\n\
         settings = {{ time_sync_s = \"0\", exchange_filters = \"off\", position_mode = \"one-way\"{settings} }}\n"
    )
}

async fn start(server: &MockServer, settings: &str) -> TestHost {
    let env = vec![
        ("BINANCE_IT_API_KEY".to_string(), API_KEY.to_string()),
        ("BINANCE_IT_API_SECRET".to_string(), API_SECRET.to_string()),
    ];
    TestHost::start_with_env(&["binance"], "", &venue(&server.uri(), settings), env).await
}

fn weight_used(h: &TestHost) -> Option<u64> {
    h.app.loaded().venues["binance"]
        .ctx
        .upstream
        .limiter
        .weight_used()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// vectors: new_order_response, for the order with these values.
fn order_body(cid: &str, kind: &str, qty: &str, price: &str, status: &str) -> Value {
    json!({
        "clientOrderId": cid, "cumQty": "0", "cumQuote": "0", "executedQty": "0",
        "orderId": 22542179, "avgPrice": "0.00000", "origQty": qty, "price": price,
        "reduceOnly": false, "side": "BUY", "positionSide": "BOTH", "status": status,
        "stopPrice": "0", "closePosition": false, "symbol": "BTCUSDT", "timeInForce": "GTC",
        "type": kind, "origType": kind, "updateTime": 1566818724722u64,
    })
}

fn balance_body() -> Value {
    // vectors: balance_v2 (the v3 answer has the same fields).
    json!([{"accountAlias": "SgsR", "asset": "USDT", "balance": "122607.35137903",
            "crossWalletBalance": "23.72469206", "crossUnPnl": "0.00000000",
            "availableBalance": "23.72469206", "maxWithdrawAmount": "23.72469206",
            "marginAvailable": true, "updateTime": 1617939110373u64}])
}

fn funding_body() -> Value {
    // vectors: premiumIndex_single
    json!({"symbol": "BTCUSDT", "markPrice": "11793.63104562", "indexPrice": "11781.80495970",
           "estimatedSettlePrice": "11781.16138815", "lastFundingRate": "0.00038246",
           "interestRate": "0.00010000", "nextFundingTime": 1597392000000u64,
           "time": 1597370495002u64})
}

/// Check a signed request as Binance would, and return its query before the
/// signature: `signature` last, equal to HMAC-SHA256(API_SECRET, the exact
/// query bytes received before it); `X-MBX-APIKEY` is the key itself; the
/// body is empty; `timestamp` is the host clock's, within `window`.
#[track_caller]
fn verify_signed(req: &Request, window: (u64, u64)) -> String {
    let query = req.url.query().expect("a query");
    let (signed, signature) = query
        .rsplit_once("&signature=")
        .unwrap_or_else(|| panic!("signature is not the last param: {query}"));
    assert_eq!(
        signature,
        hex(&hmac_sha256(API_SECRET.as_bytes(), signed.as_bytes())),
        "signature over the received bytes {signed:?}"
    );
    let key = req
        .headers
        .get("x-mbx-apikey")
        .expect("X-MBX-APIKEY header")
        .to_str()
        .unwrap();
    assert_eq!(key, API_KEY, "the host substituted ${{secret:api_key}}");
    assert!(req.body.is_empty(), "params go in the query only");
    let ts: u64 = signed
        .split('&')
        .find_map(|kv| kv.strip_prefix("timestamp="))
        .expect("timestamp")
        .parse()
        .unwrap();
    assert!(
        (window.0..=window.1).contains(&ts),
        "timestamp {ts} from the host clock, within {window:?}"
    );
    signed.to_string()
}

/// The query with `timestamp` (which varies) replaced by `T`.
fn without_timestamp(signed: &str) -> String {
    signed
        .split('&')
        .map(|kv| {
            if kv.starts_with("timestamp=") {
                "timestamp=T"
            } else {
                kv
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test]
async fn test_hmac_matches_the_official_binance_vector() {
    // vectors/binance_usdm_hmac_official_example1.json: proves the checker below.
    let secret = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9";
    let payload = "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC&recvWindow=5000&timestamp=1591702613943";
    assert_eq!(
        hex(&hmac_sha256(secret.as_bytes(), payload.as_bytes())),
        "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
    );
    // FIPS 180-2 "abc", and a message over one block.
    assert_eq!(
        hex(&sha256(b"abc")),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    assert_eq!(
        hex(&sha256(
            b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
        )),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
    );
}

#[tokio::test]
async fn signed_requests_arrive_exactly_and_weights_are_charged() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/fapi/v3/balance"))
        .respond_with(ResponseTemplate::new(200).set_body_json(balance_body()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/fapi/v3/positionRisk"))
        .and(query_param("symbol", "BTCUSDT"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/fapi/v1/order"))
        .and(query_param("newClientOrderId", "it-limit-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(order_body(
            "it-limit-1",
            "LIMIT",
            "0.001",
            "30000",
            "NEW",
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/fapi/v1/premiumIndex"))
        .respond_with(ResponseTemplate::new(200).set_body_json(funding_body()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/fapi/v1/openOrders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let h = start(&server, "").await;
    let before = now_ms();
    assert_eq!(weight_used(&h), Some(0));

    let steps: [(&str, Value, u64); 5] = [
        ("get_balance", json!({}), 5),
        ("get_position", json!({"symbol": "BTCUSDT"}), 10),
        (
            "create_limit_order",
            json!({"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.001", "price": "30000",
                   "client_order_id": "it-limit-1"}),
            10, // New Order: 0 IP weight
        ),
        ("get_funding_rate", json!({"symbol": "BTCUSDT"}), 11),
        ("get_open_orders", json!({}), 51), // without a symbol: 40
    ];
    let mut results = Vec::new();
    for (op, params, total) in steps {
        let (status, body) = h.post(&format!("/v1/venues/binance/{op}"), &params).await;
        assert_eq!(status, 200, "{op}: {body}");
        assert_eq!(weight_used(&h), Some(total), "after {op}");
        results.push(body);
    }
    let after = now_ms();
    assert_eq!(
        results[0]["balances"][0]["available_balance"],
        "23.72469206"
    );
    assert_eq!(
        results[1],
        json!({"symbol": "BTCUSDT", "flat": true, "positions": []})
    );
    assert_eq!(results[2]["client_order_id"], "it-limit-1");
    assert_eq!(results[2]["price"], "30000");
    assert_eq!(results[3]["funding_rate"], "0.00038246");
    assert_eq!(results[4], json!({"orders": []}));

    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 5);
    let signed: Vec<(String, String, String)> = received
        .iter()
        .filter(|r| r.url.path() != "/fapi/v1/premiumIndex")
        .map(|r| {
            (
                r.method.to_string(),
                r.url.path().to_string(),
                without_timestamp(&verify_signed(r, (before, after))),
            )
        })
        .collect();
    assert_eq!(
        signed,
        vec![
            (
                "GET".into(),
                "/fapi/v3/balance".into(),
                "recvWindow=5000&timestamp=T".into()
            ),
            (
                "GET".into(),
                "/fapi/v3/positionRisk".into(),
                "symbol=BTCUSDT&recvWindow=5000&timestamp=T".into()
            ),
            (
                "POST".into(),
                "/fapi/v1/order".into(),
                "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=30000\
                 &newClientOrderId=it-limit-1&newOrderRespType=RESULT&recvWindow=5000&timestamp=T"
                    .into()
            ),
            (
                "GET".into(),
                "/fapi/v1/openOrders".into(),
                "recvWindow=5000&timestamp=T".into()
            ),
        ]
    );
    // The public endpoint: no key, no signature.
    let funding = received
        .iter()
        .find(|r| r.url.path() == "/fapi/v1/premiumIndex")
        .unwrap();
    assert_eq!(funding.url.query(), Some("symbol=BTCUSDT"));
    assert!(funding.headers.get("x-mbx-apikey").is_none());
}

#[tokio::test]
async fn venue_weight_header_corrects_the_budget_and_the_budget_holds_requests_back() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/fapi/v3/balance"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-MBX-USED-WEIGHT-1M", "1150")
                .set_body_json(balance_body()),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/fapi/v1/openOrders"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let h = start(&server, "").await;
    let (status, body) = h.post("/v1/venues/binance/get_balance", &json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(weight_used(&h), Some(1150), "the venue's count wins upward");

    // 1150 + 40 fits the budget of 1200 ...
    let (status, body) = h
        .post("/v1/venues/binance/get_open_orders", &json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(weight_used(&h), Some(1190));
    // ... another 40 does not, and the window outlasts the call's deadline:
    // refused locally, without reaching Binance.
    let (status, body) = h
        .post("/v1/venues/binance/get_open_orders", &json!({}))
        .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["kind"], "rate_limited");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
    assert_eq!(weight_used(&h), Some(1190));
}

#[tokio::test]
async fn a_create_with_an_unknown_outcome_is_reconciled_on_repeat_not_resent() {
    let server = MockServer::start().await;
    // First attempt: placed, but the answer is lost (503, execution unknown).
    // The host does not retry a create (it may have reached Binance).
    Mock::given(method("POST"))
        .and(path("/fapi/v1/order"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({
            "code": -1000, "msg": "Unknown error, please check your request or try again later."
        })))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    // Were the create sent again, the id would be taken by the open order.
    // The journal makes the host look the order up instead (reconcile).
    Mock::given(method("POST"))
        .and(path("/fapi/v1/order"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"code": -4116, "msg": "ClientOrderId is duplicated."})),
        )
        .expect(0)
        .mount(&server)
        .await;
    let existing = Arc::new(Mutex::new(None::<String>));
    let seen = Arc::clone(&existing);
    Mock::given(method("GET"))
        .and(path("/fapi/v1/order"))
        .respond_with(move |req: &Request| {
            let cid = req
                .url
                .query_pairs()
                .find(|(k, _)| k == "origClientOrderId")
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            *seen.lock().unwrap() = Some(cid.clone());
            ResponseTemplate::new(200)
                .set_body_json(order_body(&cid, "LIMIT", "0.010", "60000", "NEW"))
        })
        .expect(1)
        .mount(&server)
        .await;
    let h = start(&server, "").await;
    let before = now_ms();
    let order = json!({"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.010", "price": "60000",
                       "client_order_id": "my-order-1"});
    let (status, body) = h
        .post("/v1/venues/binance/create_limit_order", &order)
        .await;
    assert_eq!(
        status, 502,
        "the unknown outcome is reported, not retried: {body}"
    );
    assert_eq!(body["error"]["upstream_status"], 503);
    let (status, body) = h
        .post("/v1/venues/binance/create_limit_order", &order)
        .await;
    let after = now_ms();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["order_id"], 22542179);

    let received = server.received_requests().await.unwrap();
    let creates: Vec<String> = received
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| verify_signed(r, (before, after)))
        .collect();
    assert_eq!(
        creates.len(),
        1,
        "the repeat was reconciled from the journal, not resent"
    );
    for q in &creates {
        assert!(q.contains("newClientOrderId=my-order-1&"), "{q}");
    }
    assert_eq!(
        existing.lock().unwrap().as_deref(),
        Some("my-order-1"),
        "looked up by origClientOrderId"
    );
    assert_eq!(body["client_order_id"], "my-order-1");
    // 0 for each New Order, 1 for the Query Order.
    assert_eq!(weight_used(&h), Some(1));
}

#[tokio::test]
async fn ban_418_blocks_the_venue_until_retry_after() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/fapi/v3/balance"))
        .respond_with(
            ResponseTemplate::new(418)
                .insert_header("Retry-After", "30")
                .set_body_json(json!({
                    "code": -1003,
                    "msg": "Way too many requests; IP banned until 1700000120000. Please use the websocket for live updates to avoid bans."
                })),
        )
        .expect(1)
        .mount(&server)
        .await;
    let h = start(&server, "").await;
    let (status, body) = h.post("/v1/venues/binance/get_balance", &json!({})).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["kind"], "upstream");
    assert_eq!(body["error"]["upstream_status"], 418);
    assert_eq!(body["error"]["code"], "-1003");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("IP banned"),
        "{body}"
    );

    // Banned: nothing leaves until Retry-After has passed.
    for (op, params) in [
        ("get_balance", json!({})),
        ("get_funding_rate", json!({"symbol": "BTCUSDT"})),
    ] {
        let (status, body) = h.post(&format!("/v1/venues/binance/{op}"), &params).await;
        assert_eq!(status, 429, "{op}: {body}");
        assert_eq!(body["error"]["kind"], "rate_limited");
        let wait = body["error"]["retry_after_ms"].as_u64().unwrap();
        assert!((25_000..=30_000).contains(&wait), "{wait}");
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn timestamp_and_signature_errors_are_clear_upstream_errors() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/fapi/v3/balance"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/fapi/v1/order"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"code": -1022, "msg": "Signature for this request is not valid."}),
        ))
        .mount(&server)
        .await;
    let h = start(&server, ", recv_window_ms = \"10000\"").await;
    let (status, body) = h.post("/v1/venues/binance/get_balance", &json!({})).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "-1021");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("recvWindow (10000 ms)") && msg.contains("recv_window_ms"),
        "{msg}"
    );
    let q = server.received_requests().await.unwrap()[0]
        .url
        .query()
        .unwrap()
        .to_string();
    assert!(q.starts_with("recvWindow=10000&timestamp="), "{q}");

    let (status, body) = h
        .post(
            "/v1/venues/binance/get_order",
            &json!({"symbol": "BTCUSDT", "order_id": 1}),
        )
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "-1022");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("api_secret"),
        "{body}"
    );
}

#[tokio::test]
async fn bad_params_never_reach_binance() {
    let server = MockServer::start().await;
    let h = start(&server, "").await;
    for (op, params, field) in [
        (
            "create_market_order",
            json!({"symbol": "BTCUSDT", "side": "BUY", "quantity": 0.1}),
            "quantity",
        ),
        (
            "create_limit_order",
            json!({"symbol": "btcusdt", "side": "BUY", "quantity": "1", "price": "1"}),
            "symbol",
        ),
        ("cancel_order", json!({"symbol": "BTCUSDT"}), "order_id"),
    ] {
        let (status, body) = h.post(&format!("/v1/venues/binance/{op}"), &params).await;
        assert_eq!(status, 400, "{op}: {body}");
        assert_eq!(body["error"]["kind"], "invalid_params");
        assert!(
            body["error"]["message"].as_str().unwrap().contains(field),
            "{body}"
        );
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_secret_in_responses_metrics_or_logs() {
    let logs = Captured::default();
    let writer = logs.clone();
    let _ = tracing_subscriber::fmt()
        .with_env_filter("resilience_host=trace,plugin=trace")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .try_init();

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/fapi/v3/balance"))
        .and(header("X-MBX-APIKEY", API_KEY))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("X-MBX-USED-WEIGHT-1M", "12")
                .set_body_json(balance_body()),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/fapi/v1/order"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"code": -2019, "msg": "Margin is insufficient."})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/fapi/v3/positionRisk"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"code": -1022, "msg": "Signature for this request is not valid."}),
        ))
        .mount(&server)
        .await;
    let h = start(&server, "").await;

    let mut seen = Vec::new();
    for (op, params, expected) in [
        ("get_balance", json!({}), 200),
        (
            "create_market_order",
            json!({"symbol": "BTCUSDT", "side": "SELL", "quantity": "1"}),
            502,
        ),
        ("get_position", json!({"symbol": "BTCUSDT"}), 502),
        ("get_order", json!({"symbol": "BTCUSDT"}), 400),
    ] {
        let (status, body) = h.post(&format!("/v1/venues/binance/{op}"), &params).await;
        assert_eq!(status, expected, "{op}: {body}");
        seen.push(body.to_string());
    }
    for p in ["/v1/venues", "/v1/stats", "/health"] {
        seen.push(h.get(p).await.1.to_string());
    }
    let (_, _, metrics) = h
        .request(http::Method::GET, "/metrics", Default::default(), &[])
        .await;
    let metrics = metrics.as_str().unwrap().to_string();
    assert!(metrics.contains("binance"), "metrics were rendered");
    seen.push(metrics);
    let log_text = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(
        log_text.contains("binance") && log_text.contains("create_market_order"),
        "logs were captured"
    );
    seen.push(log_text);

    // Binance got the key (substituted by the host) ...
    let received = server.received_requests().await.unwrap();
    assert!(
        received
            .iter()
            .all(|r| r.headers.get("x-mbx-apikey").unwrap() == API_KEY)
    );
    // ... and nothing the host shows contains it or the secret.
    for (i, text) in seen.iter().enumerate() {
        for secret in [API_KEY, API_SECRET] {
            assert!(!text.contains(secret), "output {i} leaks {secret}:\n{text}");
        }
    }
}
