//! The Binance plugin's reads that precede a request, through the real host
//! against a wiremock Binance USDⓈ-M: the clock offset measured from
//! `/fapi/v1/time` (a retried request carries a fresh timestamp on Binance's
//! clock; a `-1021` measures again and succeeds), exchange filters refusing
//! an order before it is sent, hedge mode, a batch with one refused order,
//! and `close_position` split at the market maximum, every order journaled.

use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use resilience_tests::TestHost;
use resilience_tests::crypto::{hex, hmac_sha256};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const API_KEY: &str = "sessKey-4Rt8Yp2Lm6Qw0Zx3Cv7Bn1Gh5Jk9Df";
const API_SECRET: &str = "sessSecret-Wq3Er7Ty1Ui5Op9As2Df6Gh0Jk4L";
/// Binance's `recvWindow` as the plugin sends it by default.
const RECV_WINDOW_MS: i64 = 5_000;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn start(server: &MockServer, settings: &str) -> TestHost {
    let config = format!(
        "[venues.binance]\nplugin = \"binance\"\nendpoints = [\"{}\"]\n\
         timeout_ms = 700\ndeadline_ms = 6000\n\
         retry = {{ max_attempts = 3, base_delay_ms = 10, jitter = 0.0 }}\n\
         secrets = {{ api_key = {{ env = \"BS_KEY\" }}, api_secret = {{ env = \"BS_SECRET\" }} }}\n\
         settings = {{ {settings} }}\n",
        server.uri()
    );
    let env = vec![
        ("BS_KEY".to_string(), API_KEY.to_string()),
        ("BS_SECRET".to_string(), API_SECRET.to_string()),
    ];
    TestHost::start_with_env(&["binance"], "", &config, env).await
}

/// The `timestamp` of a signed request, after checking its signature the
/// way Binance does (HMAC over the received query bytes before it).
fn signed_timestamp(req: &Request) -> i64 {
    let query = req.url.query().expect("a query");
    let (signed, signature) = query.rsplit_once("&signature=").expect("signature last");
    assert_eq!(
        signature,
        hex(&hmac_sha256(API_SECRET.as_bytes(), signed.as_bytes())),
        "signature over {signed:?}"
    );
    signed
        .split('&')
        .find_map(|kv| kv.strip_prefix("timestamp="))
        .expect("timestamp")
        .parse()
        .unwrap()
}

fn param(req: &Request, name: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A Binance whose clock runs `offset` ms ahead of this machine's (the
/// offset can change during a test): `/fapi/v1/time` answers it, and
/// `/fapi/v3/balance` refuses with `-1021` a timestamp that is, on that
/// clock, older than `recvWindow` or more than 1000 ms ahead, as Binance does.
async fn skewed_venue(server: &MockServer, offset: Arc<AtomicI64>, first_delay: Duration) {
    let clock = offset.clone();
    Mock::given(method("GET"))
        .and(path("/fapi/v1/time"))
        .respond_with(move |_: &Request| {
            let server_time = now_ms() + clock.load(Ordering::SeqCst);
            ResponseTemplate::new(200).set_body_json(json!({ "serverTime": server_time }))
        })
        .mount(server)
        .await;
    let calls = Arc::new(AtomicUsize::new(0));
    Mock::given(method("GET"))
        .and(path("/fapi/v3/balance"))
        .respond_with(move |req: &Request| {
            let server_now = now_ms() + offset.load(Ordering::SeqCst);
            let ts = signed_timestamp(req);
            let delay = if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                first_delay
            } else {
                Duration::ZERO
            };
            if ts > server_now + 1_000 || server_now - ts > RECV_WINDOW_MS {
                return ResponseTemplate::new(400).set_body_json(json!({
                    "code": -1021,
                    "msg": "Timestamp for this request is outside of the recvWindow."
                }));
            }
            ResponseTemplate::new(200).set_delay(delay).set_body_json(
                json!([{"accountAlias": "SgsR", "asset": "USDT",
                    "balance": "1.0", "crossWalletBalance": "1.0", "crossUnPnl": "0",
                    "availableBalance": "1.0", "maxWithdrawAmount": "1.0",
                    "marginAvailable": true, "updateTime": 1617939110373u64}]),
            )
        })
        .mount(server)
        .await;
}

async fn received(server: &MockServer, p: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

/// Binance's clock is 30 s ahead of the host's: with the measured offset
/// every attempt is stamped on Binance's clock, and a retry after a slow
/// first attempt carries the time it left, not the first attempt's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_request_is_stamped_on_binance_clock_when_it_leaves() {
    let server = MockServer::start().await;
    let offset = Arc::new(AtomicI64::new(30_000));
    skewed_venue(&server, offset, Duration::from_millis(1_500)).await;
    let h = start(&server, "").await;

    let (s, b) = h.post("/v1/venues/binance/get_balance", &json!({})).await;
    assert_eq!(s, 200, "{b}");
    let attempts = received(&server, "/fapi/v3/balance").await;
    assert_eq!(
        attempts.len(),
        2,
        "the slow first attempt timed out and was retried"
    );
    let stamps: Vec<i64> = attempts.iter().map(signed_timestamp).collect();
    assert!(
        stamps[1] - stamps[0] >= 700,
        "the retry is stamped when it leaves, after the 700 ms attempt timeout: {stamps:?}"
    );
    assert_eq!(received(&server, "/fapi/v1/time").await.len(), 1);
}

/// The venue's clock jumps 20 s after the first measurement: the next
/// request is refused with `-1021`, the plugin measures again and the same
/// request succeeds, freshly stamped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_1021_measures_the_clock_again_and_the_request_succeeds() {
    let server = MockServer::start().await;
    let offset = Arc::new(AtomicI64::new(0));
    skewed_venue(&server, offset.clone(), Duration::ZERO).await;
    let h = start(&server, "").await;

    let (s, b) = h.post("/v1/venues/binance/get_balance", &json!({})).await;
    assert_eq!(s, 200, "{b}");
    offset.store(20_000, Ordering::SeqCst);
    let (s, b) = h.post("/v1/venues/binance/get_balance", &json!({})).await;
    assert_eq!(s, 200, "after measuring again: {b}");

    let order: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.url.path().to_string())
        .collect();
    assert_eq!(
        order,
        [
            "/fapi/v1/time",
            "/fapi/v3/balance",
            "/fapi/v3/balance",
            "/fapi/v1/time",
            "/fapi/v3/balance"
        ],
        "measure, ok, -1021, measure again, ok"
    );
}

/// vectors: exchangeInfo_official_example (BLZUSDT: tick 0.0001, LOT_SIZE
/// step 1, MARKET_LOT_SIZE max 590119, MIN_NOTIONAL 5.0).
fn exchange_info() -> Value {
    let text = std::fs::read_to_string(
        resilience_tests::workspace_root()
            .join("docs/venues/vectors/binance_usdm_response_examples.json"),
    )
    .unwrap();
    let vectors: Value = serde_json::from_str(&text).unwrap();
    vectors["exchangeInfo_official_example"]["body"].clone()
}

async fn mount_reads(server: &MockServer, hedge: bool) {
    Mock::given(method("GET"))
        .and(path("/fapi/v1/time"))
        .respond_with(move |_: &Request| {
            ResponseTemplate::new(200).set_body_json(json!({ "serverTime": now_ms() }))
        })
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/fapi/v1/exchangeInfo"))
        .respond_with(ResponseTemplate::new(200).set_body_json(exchange_info()))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/fapi/v1/positionSide/dual"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({ "dualSidePosition": hedge })),
        )
        .mount(server)
        .await;
}

/// An order answer echoing the request's params (RESULT: a market order is FILLED).
fn echo_order(req: &Request, order_id: u64) -> Value {
    let kind = param(req, "type").unwrap_or_default();
    let qty = param(req, "quantity").unwrap_or_default();
    json!({
        "clientOrderId": param(req, "newClientOrderId"), "cumQty": qty, "cumQuote": "0",
        "executedQty": if kind == "MARKET" { qty.clone() } else { "0".into() },
        "orderId": order_id, "avgPrice": "0.1000", "origQty": qty,
        "price": param(req, "price").unwrap_or("0".into()),
        "reduceOnly": param(req, "reduceOnly").as_deref() == Some("true"),
        "side": param(req, "side"), "positionSide": param(req, "positionSide").unwrap_or("BOTH".into()),
        "status": if kind == "MARKET" { "FILLED" } else { "NEW" },
        "symbol": param(req, "symbol"), "timeInForce": "GTC", "type": kind, "origType": kind,
        "updateTime": 1566818724722u64,
    })
}

async fn mount_new_order(server: &MockServer) {
    let next = Arc::new(AtomicUsize::new(1));
    Mock::given(method("POST"))
        .and(path("/fapi/v1/order"))
        .respond_with(move |req: &Request| {
            let id = next.fetch_add(1, Ordering::SeqCst) as u64;
            ResponseTemplate::new(200).set_body_json(echo_order(req, id))
        })
        .mount(server)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_breaking_a_filter_is_refused_before_it_is_sent() {
    let server = MockServer::start().await;
    mount_reads(&server, false).await;
    mount_new_order(&server).await;
    let h = start(&server, "").await;

    for (params, filter) in [
        (
            json!({"quantity": "10.5", "price": "0.1000"}),
            "LOT_SIZE stepSize 1",
        ),
        (
            json!({"quantity": "100", "price": "0.10005"}),
            "PRICE_FILTER tickSize 0.0001",
        ),
        (
            json!({"quantity": "10", "price": "0.1000"}),
            "MIN_NOTIONAL 5.0",
        ),
    ] {
        let mut p = json!({"symbol": "BLZUSDT", "side": "BUY"});
        p.as_object_mut()
            .unwrap()
            .extend(params.as_object().unwrap().clone());
        let (s, b) = h.post("/v1/venues/binance/create_limit_order", &p).await;
        assert_eq!(s, 400, "{p}: {b}");
        assert_eq!(b["error"]["kind"], "invalid_params", "{b}");
        let msg = b["error"]["message"].as_str().unwrap_or_default();
        assert!(msg.contains(filter), "{filter}: {msg}");
    }
    assert!(
        received(&server, "/fapi/v1/order").await.is_empty(),
        "no refused order reached Binance"
    );
    // Inside the filters it goes out, and the exchange information was read once.
    let ok = json!({"symbol": "BLZUSDT", "side": "BUY", "quantity": "100", "price": "0.1000"});
    let (s, b) = h.post("/v1/venues/binance/create_limit_order", &ok).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(received(&server, "/fapi/v1/exchangeInfo").await.len(), 1);
    let (s, b) = h
        .post(
            "/v1/venues/binance/get_exchange_info",
            &json!({"symbol": "BLZUSDT"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["market_lot_size"]["max_qty"], "590119", "{b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hedge_mode_orders_carry_the_position_side_and_never_reduce_only() {
    let server = MockServer::start().await;
    mount_reads(&server, true).await;
    mount_new_order(&server).await;
    let h = start(&server, "").await;

    let base = json!({"symbol": "BLZUSDT", "side": "BUY", "quantity": "100"});
    let (s, b) = h
        .post("/v1/venues/binance/create_market_order", &base)
        .await;
    assert_eq!(s, 400, "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("hedge mode"),
        "{b}"
    );
    let mut reduce = base.clone();
    reduce["position_side"] = json!("SHORT");
    reduce["reduce_only"] = json!(true);
    let (s, b) = h
        .post("/v1/venues/binance/create_market_order", &reduce)
        .await;
    assert_eq!(s, 400, "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reduce_only"),
        "{b}"
    );
    assert!(received(&server, "/fapi/v1/order").await.is_empty());

    let mut long = base.clone();
    long["position_side"] = json!("LONG");
    let (s, b) = h
        .post("/v1/venues/binance/create_market_order", &long)
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "FILLED", "RESULT carries the fill: {b}");
    assert_eq!(b["executed_qty"], "100", "{b}");
    let sent = received(&server, "/fapi/v1/order").await;
    assert_eq!(sent.len(), 1);
    assert_eq!(param(&sent[0], "positionSide").as_deref(), Some("LONG"));
    assert_eq!(param(&sent[0], "reduceOnly"), None);
    assert_eq!(
        param(&sent[0], "newOrderRespType").as_deref(),
        Some("RESULT")
    );
    // The mode was read once (weight 30) for the three orders.
    assert_eq!(
        received(&server, "/fapi/v1/positionSide/dual").await.len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_with_one_refused_order_reports_each_outcome() {
    let server = MockServer::start().await;
    mount_reads(&server, false).await;
    let batches = Arc::new(Mutex::new(Vec::<Value>::new()));
    let seen = batches.clone();
    Mock::given(method("POST"))
        .and(path("/fapi/v1/batchOrders"))
        .respond_with(move |req: &Request| {
            let items: Value =
                serde_json::from_str(&param(req, "batchOrders").expect("batchOrders")).unwrap();
            seen.lock().unwrap().push(items.clone());
            let first = &items[0];
            ResponseTemplate::new(200).set_body_json(json!([
                {"clientOrderId": first["newClientOrderId"], "cumQty": "0", "cumQuote": "0",
                 "executedQty": "0", "orderId": 7, "avgPrice": "0", "origQty": first["quantity"],
                 "price": first["price"], "reduceOnly": false, "side": "BUY",
                 "positionSide": "BOTH", "status": "NEW", "symbol": "BLZUSDT",
                 "timeInForce": "GTC", "type": "LIMIT", "updateTime": 1566818724722u64},
                {"code": -2022, "msg": "ReduceOnly Order is rejected."},
            ]))
        })
        .mount(&server)
        .await;
    let h = start(&server, "").await;

    let batch = json!({"orders": [
        {"type": "LIMIT", "symbol": "BLZUSDT", "side": "BUY", "quantity": "100", "price": "0.1000"},
        {"type": "MARKET", "symbol": "BLZUSDT", "side": "SELL", "quantity": "100", "reduce_only": true},
    ]});
    let (s, _, b) = h
        .post_raw(
            "/v1/venues/binance/create_orders",
            batch.to_string(),
            &[("idempotency-key", "batch-7")],
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let outcomes = b["orders"].as_array().expect("orders");
    assert_eq!(outcomes[0]["ok"], true, "{b}");
    assert_eq!(outcomes[1]["ok"], false, "{b}");
    assert_eq!(outcomes[1]["error"]["code"], "-2022", "{b}");

    let sent = batches.lock().unwrap().clone();
    assert_eq!(sent.len(), 1, "one request for the batch");
    let ids: Vec<&str> = sent[0]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["newClientOrderId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1], "each order has its own client id");
    assert_eq!(outcomes[0]["order"]["client_order_id"], ids[0]);

    // One journal entry, keyed by the caller's key, holding both ids.
    let (_, listed) = h.get("/v1/journal?venue=binance").await;
    let entries = listed["entries"].as_array().expect("journal entries");
    assert_eq!(entries.len(), 1, "{listed}");
    let text = entries[0].to_string();
    assert!(text.contains("batch-7"), "{text}");
    for id in &ids {
        assert!(text.contains(id), "{id} journaled: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_position_above_the_market_maximum_is_split_into_journaled_orders() {
    let server = MockServer::start().await;
    mount_reads(&server, false).await;
    mount_new_order(&server).await;
    Mock::given(method("GET"))
        .and(path("/fapi/v3/positionRisk"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{
            "symbol": "BLZUSDT", "positionSide": "BOTH", "positionAmt": "-1000000",
            "entryPrice": "0.1", "breakEvenPrice": "0.1", "markPrice": "0.1",
            "unRealizedProfit": "0", "liquidationPrice": "0", "isolatedMargin": "0",
            "notional": "-100000", "marginAsset": "USDT", "updateTime": 1720736417660u64,
        }])))
        .mount(&server)
        .await;
    let h = start(&server, "").await;

    let (s, _, b) = h
        .post_raw(
            "/v1/venues/binance/close_position",
            json!({"symbol": "BLZUSDT"}).to_string(),
            &[("idempotency-key", "close-blz")],
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["closed"], true, "{b}");
    let sent = received(&server, "/fapi/v1/order").await;
    let parts: Vec<(Option<String>, Option<String>, Option<String>)> = sent
        .iter()
        .map(|r| {
            (
                param(r, "side"),
                param(r, "quantity"),
                param(r, "reduceOnly"),
            )
        })
        .collect();
    let buy = |q: &str| (Some("BUY".into()), Some(q.into()), Some("true".into()));
    assert_eq!(
        parts,
        [buy("590119"), buy("409881")],
        "MARKET_LOT_SIZE maxQty 590119"
    );
    let ids: Vec<String> = sent
        .iter()
        .map(|r| param(r, "newClientOrderId").unwrap())
        .collect();
    assert_eq!(ids[0], "close-blz", "the first order carries the call's id");
    assert_ne!(ids[0], ids[1]);
    assert_eq!(b["orders"].as_array().map(Vec::len), Some(2));

    let (_, listed) = h.get("/v1/journal?venue=binance").await;
    let entries = listed["entries"].as_array().expect("journal entries");
    assert_eq!(entries.len(), 1, "{listed}");
    let text = entries[0].to_string();
    for id in &ids {
        assert!(
            text.contains(id.as_str()),
            "{id} in the journaled result: {text}"
        );
    }
}
