//! The real Chainlink plugin against wiremock JSON-RPC providers, through the
//! host's HTTP API: prices and decimals, the exact `eth_call`s on the wire,
//! per-pair failures in `get_prices`, one round trip for many feeds, failover
//! between providers, JSON-RPC errors, staleness, overload, and a provider key
//! in the endpoint path that is never shown.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use resilience_tests::TestHost;
use resilience_tests::faults::refused_addr;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const ETH: &str = "0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419";
const BTC: &str = "0xF4030086522a5bEEa4988F8cA5B36dbC97BeE88c";
const USDC: &str = "0x8fFfFfd4AfB6115b954Bd326cbe7B4BA576818f6";
const USDT: &str = "0x3E7d1eAB13ad0104d2750B8863b489D65364e32D";
/// A TON/USD feed address for the tests (the plugin has none built in).
const TON: &str = "0x1111111111111111111111111111111111111111";
const LATEST_ROUND_DATA: &str = "0xfeaf968c";
const DECIMALS: &str = "0x313ce567";
const AGGREGATOR: &str = "0x245a7bfc";
/// Phase 6, aggregator round 0x4716.
const ROUND: u128 = (6 << 64) | 0x4716;

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// What the fake provider answers for one feed.
#[derive(Clone, Debug)]
enum Feed {
    /// `answer` (8 decimals) updated `age_s` ago.
    Price { answer: u128, age_s: u64 },
    /// A JSON-RPC error object (HTTP 200) for every call on the feed.
    Error { code: i64, message: &'static str },
}

/// A JSON-RPC provider answering `eth_call`s on Chainlink feeds by address and
/// selector, and `eth_getBalance` with 1 ether.
#[derive(Clone, Debug, Default)]
struct Provider {
    feeds: BTreeMap<String, Feed>,
    delay: Option<Duration>,
}

impl Provider {
    fn feed(mut self, address: &str, feed: Feed) -> Self {
        self.feeds.insert(address.to_ascii_lowercase(), feed);
        self
    }

    fn fresh(self, address: &str, answer: u128) -> Self {
        self.feed(address, Feed::Price { answer, age_s: 10 })
    }

    /// ETH, BTC, USDC and USDT, all fresh.
    fn mainnet() -> Self {
        Self::default()
            .fresh(ETH, 352_098_000_000)
            .fresh(BTC, 6_512_345_678_901)
            .fresh(USDC, 99_995_000)
            .fresh(USDT, 100_010_000)
    }

    fn delay(mut self, d: Duration) -> Self {
        self.delay = Some(d);
        self
    }

    fn answer(&self, call: &Value) -> Value {
        let id = call["id"].clone();
        let reply = |key: &str, v: Value| json!({"jsonrpc": "2.0", "id": id, key: v});
        if call["method"] == "eth_getBalance" {
            return reply("result", json!("0xde0b6b3a7640000"));
        }
        if call["method"] == "eth_chainId" {
            return reply("result", json!("0x1"));
        }
        let to = call["params"][0]["to"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let data = call["params"][0]["data"].as_str().unwrap_or_default();
        match (self.feeds.get(&to), data) {
            (Some(Feed::Error { code, message }), _) => {
                reply("error", json!({"code": code, "message": message}))
            }
            (Some(Feed::Price { answer, age_s }), LATEST_ROUND_DATA) => {
                let updated = u128::from(now_s() - age_s);
                let words = [ROUND, *answer, updated, updated, ROUND];
                let hex: String = words.iter().map(|w| format!("{w:064x}")).collect();
                reply("result", json!(format!("0x{hex}")))
            }
            (Some(_), DECIMALS) => reply("result", json!(format!("0x{:064x}", 8))),
            _ => reply(
                "error",
                json!({"code": 3, "message": "execution reverted", "data": "0x"}),
            ),
        }
    }
}

impl Respond for Provider {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let call: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let t = ResponseTemplate::new(200).set_body_json(self.answer(&call));
        match self.delay {
            Some(d) => t.set_delay(d),
            None => t,
        }
    }
}

async fn provider(p: Provider) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/"))
        .respond_with(p)
        .mount(&server)
        .await;
    server
}

/// A venue `chainlink` with `endpoints` in failover order and `extra` lines.
fn venue(endpoints: &[String], extra: &str) -> String {
    let list: Vec<String> = endpoints.iter().map(|e| format!("{e:?}")).collect();
    format!(
        "[venues.chainlink]\nplugin = \"chainlink\"\nendpoints = [{}]\n\
         timeout_ms = 2000\ndeadline_ms = 8000\n\
         retry = {{ max_attempts = 3, base_delay_ms = 1, jitter = 0.0 }}\n{extra}\n",
        list.join(", ")
    )
}

async fn host(endpoints: &[String], extra: &str) -> TestHost {
    TestHost::start(&["chainlink"], "", &venue(endpoints, extra)).await
}

/// The JSON-RPC bodies a provider received, in order, without the chain
/// check and the aggregator-bounds reads (`tests/tests/chainlink_ops.rs`
/// covers those).
async fn calls(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap_or(Value::Null))
        .filter(|b| b["method"] != "eth_chainId" && b["params"][0]["data"] != AGGREGATOR)
        .collect()
}

fn eth_call(to: &str, data: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [{"to": to, "data": data}, "latest"]})
}

#[tokio::test]
async fn get_price_reads_price_and_decimals_with_exact_eth_calls() {
    let server = provider(Provider::mainnet()).await;
    let host = host(&[server.uri()], "").await;
    let (status, body) = host
        .post(
            "/v1/venues/chainlink/get_price",
            &json!({"pair": "ETH/USD"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["pair"], "ETH/USD");
    assert_eq!(body["price"], "3520.98");
    assert_eq!(body["decimals"], 8);
    assert_eq!(body["round_id"], "110680464442257327894");
    assert!(body["age_s"].as_u64().unwrap() <= 15, "{body}");

    let received = server.received_requests().await.unwrap();
    assert_eq!(calls(&server).await.len(), 2);
    for r in &received {
        assert_eq!(r.method.as_str(), "POST");
        assert_eq!(r.url.path(), "/");
        assert_eq!(
            r.headers.get("content-type").unwrap().to_str().unwrap(),
            "application/json"
        );
    }
    let mut bodies = calls(&server).await;
    bodies.sort_by_key(|b| b["params"][0]["data"].to_string());
    assert_eq!(
        bodies,
        [eth_call(ETH, DECIMALS), eth_call(ETH, LATEST_ROUND_DATA)]
    );
}

#[tokio::test]
async fn get_prices_returns_the_other_feeds_when_one_errors() {
    let p = Provider::mainnet()
        .feed(
            USDT,
            Feed::Error {
                code: -32000,
                message: "header not found",
            },
        )
        .fresh(TON, 512_345_678);
    let server = provider(p).await;
    let host = host(
        &[server.uri()],
        &format!("settings = {{ \"feed.TON/USD\" = \"{TON}\" }}"),
    )
    .await;
    let (status, body) = host
        .post(
            "/v1/venues/chainlink/get_prices",
            &json!({"pairs": ["ETH/USD", "BTC/USD", "USDC/USD", "USDT/USD", "TON/USD"]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let prices: Vec<&Value> = body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["price"])
        .collect();
    assert_eq!(
        prices,
        [
            &json!("3520.98"),
            &json!("65123.45678901"),
            &json!("0.99995"),
            &Value::Null,
            &json!("5.12345678")
        ]
    );
    let usdt = &body[3];
    assert_eq!(usdt["pair"], "USDT/USD");
    assert_eq!(usdt["error"]["kind"], "upstream");
    assert_eq!(usdt["error"]["code"], "-32000");
    assert!(
        usdt["error"]["message"]
            .as_str()
            .unwrap()
            .contains("header not found"),
        "{usdt}"
    );
}

/// Five feeds behind a provider that takes 300 ms per answer: one round trip
/// (all requests in flight together), not five. Sequential calls would take
/// at least 5 x 300 ms.
#[tokio::test]
async fn get_prices_of_five_feeds_takes_one_round_trip() {
    let latency = Duration::from_millis(300);
    let server = provider(Provider::mainnet().fresh(TON, 512_345_678).delay(latency)).await;
    let host = host(
        &[server.uri()],
        &format!("settings = {{ \"feed.TON/USD\" = \"{TON}\" }}"),
    )
    .await;
    let pairs = json!({"pairs": ["ETH/USD", "BTC/USD", "USDC/USD", "USDT/USD", "TON/USD"]});
    let (mut walls, mut last) = (Vec::new(), Value::Null);
    for _ in 0..2 {
        let started = Instant::now();
        let (status, body) = host.post("/v1/venues/chainlink/get_prices", &pairs).await;
        walls.push(started.elapsed());
        assert_eq!(status, 200, "{body}");
        assert!(
            body.as_array()
                .unwrap()
                .iter()
                .all(|e| e["price"].is_string()),
            "{body}"
        );
        last = body;
    }
    eprintln!("get_prices of 5 feeds at {latency:?} per answer: wall times {walls:?}");
    eprintln!("{last:#}");
    for wall in &walls {
        assert!(*wall >= latency, "{walls:?}");
        assert!(*wall < latency * 4, "more than one round trip: {walls:?}");
    }
    // First call: 5 latestRoundData + 5 decimals; second: decimals cached
    // (when the same instance served it) or fetched again.
    let n = calls(&server).await.len();
    assert!((15..=20).contains(&n), "{n} requests");
}

#[tokio::test]
async fn first_provider_answering_5xx_fails_over_to_the_second() {
    let down = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(503).set_body_string("<html>Service Unavailable</html>"),
        )
        .mount(&down)
        .await;
    let up = provider(Provider::mainnet()).await;
    let host = host(&[down.uri(), up.uri()], "").await;
    let (status, body) = host
        .post(
            "/v1/venues/chainlink/get_price",
            &json!({"pair": "BTC/USD"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["price"], "65123.45678901");
    assert!(!down.received_requests().await.unwrap().is_empty());
    let mut bodies = calls(&up).await;
    bodies.sort_by_key(|b| b["params"][0]["data"].to_string());
    assert_eq!(
        bodies,
        [eth_call(BTC, DECIMALS), eth_call(BTC, LATEST_ROUND_DATA)]
    );
}

#[tokio::test]
async fn first_provider_refusing_connections_fails_over_to_the_second() {
    let dead = format!("http://{}", refused_addr().await);
    let up = provider(Provider::mainnet()).await;
    let host = host(&[dead, up.uri()], "").await;
    let (status, body) = host
        .post(
            "/v1/venues/chainlink/get_price",
            &json!({"pair": "USDC/USD"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["price"], "0.99995");
    assert_eq!(calls(&up).await.len(), 2);
}

#[tokio::test]
async fn jsonrpc_error_object_is_an_upstream_error_with_its_code() {
    let p = Provider::mainnet().feed(
        ETH,
        Feed::Error {
            code: -32000,
            message: "header not found",
        },
    );
    let server = provider(p).await;
    let host = host(&[server.uri()], "").await;
    let (status, body) = host
        .post(
            "/v1/venues/chainlink/get_price",
            &json!({"pair": "ETH/USD"}),
        )
        .await;
    assert_eq!(status, 502, "{body}");
    let err = &body["error"];
    assert_eq!(err["kind"], "upstream");
    assert_eq!(err["upstream_status"], 200);
    assert_eq!(err["code"], "-32000");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("latestRoundData() on 0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419 (ETH/USD): header not found"),
        "{err}"
    );

    // A configured address without a feed behind it reverts.
    let host = TestHost::start(
        &["chainlink"],
        "",
        &venue(
            &[server.uri()],
            "settings = { \"feed.TON/USD\" = \"0x2222222222222222222222222222222222222222\" }",
        ),
    )
    .await;
    let (status, body) = host
        .post(
            "/v1/venues/chainlink/get_price",
            &json!({"pair": "TON/USD"}),
        )
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "3");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reverted"),
        "{body}"
    );
}

#[tokio::test]
async fn stale_answer_is_stale_data_with_its_age() {
    // ETH/USD allows 3600 s + 120 s.
    let p = Provider::mainnet().feed(
        ETH,
        Feed::Price {
            answer: 352_098_000_000,
            age_s: 7200,
        },
    );
    let server = provider(p).await;
    let host = host(&[server.uri()], "").await;
    let (status, body) = host
        .post(
            "/v1/venues/chainlink/get_price",
            &json!({"pair": "ETH/USD"}),
        )
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["kind"], "stale_data");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("s old") && message.contains("at most 3720 s"),
        "{message}"
    );
}

#[tokio::test]
async fn provider_overload_code_is_rate_limited_for_the_caller() {
    let p = Provider::mainnet().feed(
        ETH,
        Feed::Error {
            code: -32005,
            message: "limit exceeded",
        },
    );
    let server = provider(p).await;
    let host = host(&[server.uri()], "").await;
    let (status, body) = host
        .post(
            "/v1/venues/chainlink/get_price",
            &json!({"pair": "ETH/USD"}),
        )
        .await;
    // The host sees HTTP 200 and cannot fail over on it (see the plugin's
    // crate docs, "Provider overload"); the caller gets `rate_limited`.
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["kind"], "rate_limited");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("limit exceeded"),
        "{body}"
    );
}

#[tokio::test]
async fn get_eth_balance_and_get_feed_through_the_api() {
    let server = provider(Provider::mainnet()).await;
    let host = host(&[server.uri()], "").await;
    let addr = "0xde0B295669a9FD93d5F28D9Ec85E40f4cb697BAe";
    let (status, body) = host
        .post(
            "/v1/venues/chainlink/get_eth_balance",
            &json!({"address": addr}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"address": addr, "wei": "1000000000000000000", "eth": "1"})
    );
    assert_eq!(
        calls(&server).await,
        [
            json!({"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": [addr, "latest"]})
        ]
    );

    let (status, body) = host
        .post("/v1/venues/chainlink/get_feed", &json!({"pair": "TON/USD"}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["kind"], "unsupported");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("feed.TON/USD"),
        "{body}"
    );
}

#[tokio::test]
async fn bad_params_never_reach_the_provider() {
    let server = provider(Provider::mainnet()).await;
    let host = host(&[server.uri()], "").await;
    for (op, params) in [
        ("get_price", json!({"pair": "ETHUSD"})),
        ("get_prices", json!({"pairs": []})),
        ("get_eth_balance", json!({"address": "0x12"})),
    ] {
        let (status, body) = host
            .post(&format!("/v1/venues/chainlink/{op}"), &params)
            .await;
        assert_eq!(status, 400, "{op}: {body}");
        assert_eq!(body["error"]["kind"], "invalid_params", "{op}: {body}");
    }
    assert!(server.received_requests().await.unwrap().is_empty());
}

/// A provider key in the endpoint path (`${secret:rpc_key}`) reaches the
/// provider and appears in no answer, listing or metric, not even when the
/// endpoint holding it refuses connections.
#[tokio::test]
async fn secret_in_the_endpoint_path_is_used_but_never_shown() {
    const KEY: &str = "rpcKey0123456789abcdefXYZ";
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        // The host sends path "/" to an endpoint with a path as that URL itself.
        .and(path(format!("/v2/{KEY}")))
        .respond_with(Provider::mainnet())
        .mount(&server)
        .await;
    let dead = refused_addr().await;
    // One `get_price` sends its reads as one concurrent batch, up to 8
    // attempts against the dead endpoint: the breaker stays closed so the
    // answer is the connection error (which names the endpoint), whichever
    // read fails last.
    let secrets = "secrets = { rpc_key = { env = \"CHAINLINK_TEST_RPC_KEY\" } }";
    let config = format!(
        "{}\n[venues.chainlink-down]\nplugin = \"chainlink\"\n\
         endpoints = [\"http://{dead}/v2/${{secret:rpc_key}}\"]\ntimeout_ms = 500\n\
         retry = {{ max_attempts = 2, base_delay_ms = 1 }}\n\
         breaker = {{ failure_threshold = 100 }}\n{secrets}\n",
        venue(
            &[
                format!("http://{dead}/v2/${{secret:rpc_key}}"),
                format!("{}/v2/${{secret:rpc_key}}", server.uri()),
            ],
            secrets,
        )
    );
    let env = vec![("CHAINLINK_TEST_RPC_KEY".to_string(), KEY.to_string())];
    let host = TestHost::start_with_env(&["chainlink"], "", &config, env).await;

    let mut seen = Vec::new();
    let (status, ok) = host
        .post(
            "/v1/venues/chainlink/get_price",
            &json!({"pair": "ETH/USD"}),
        )
        .await;
    assert_eq!(status, 200, "the key reached the provider's path: {ok}");
    seen.push(ok.to_string());
    let (status, err) = host
        .post(
            "/v1/venues/chainlink-down/get_price",
            &json!({"pair": "ETH/USD"}),
        )
        .await;
    assert_eq!(
        (status, &err["error"]["kind"]),
        (502, &json!("connection")),
        "{err}"
    );
    assert!(err.to_string().contains("<redacted>"), "{err}");
    seen.push(err.to_string());
    for p in ["/v1/venues", "/v1/stats"] {
        seen.push(host.get(p).await.1.to_string());
    }
    let (_, _, metrics) = host
        .request(http::Method::GET, "/metrics", Default::default(), &[])
        .await;
    let metrics = metrics.as_str().unwrap().to_string();
    assert!(
        metrics.contains("/v2/<redacted>"),
        "endpoint labels are redacted"
    );
    seen.push(metrics);
    for (i, text) in seen.iter().enumerate() {
        assert!(!text.contains(KEY), "output {i} leaks the key:\n{text}");
    }
}
