//! The Kraken example plugin against a wiremock Kraken, through the HTTP API:
//! the answers of Kraken's documentation, errors in 200 bodies, and a rate
//! limit in a 200 body that the host books as a 429 (counted, waited, rerun).

use resilience_tests::{TestHost, parse_prometheus, series};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn venue(endpoint: &str, max_attempts: u32) -> String {
    format!(
        "[venues.kraken]\nplugin = \"kraken\"\nendpoints = [\"{endpoint}\"]\ntimeout_ms = 2000\n\
         deadline_ms = 5000\nretry = {{ max_attempts = {max_attempts}, base_delay_ms = 10, jitter = 0.0 }}\n"
    )
}

fn ticker() -> Value {
    json!({
        "error": [],
        "result": {"XXBTZUSD": {
            "a": ["30300.10000", "1", "1.000"], "b": ["30300.00000", "1", "1.000"],
            "c": ["30303.20000", "0.00067643"], "v": ["4083.67001100", "4412.73601799"],
            "p": ["30706.77771", "30689.13205"], "t": [34619, 38907],
            "l": ["29868.30000", "29868.30000"], "h": ["31631.00000", "31631.00000"],
            "o": "30502.80000"
        }}
    })
}

fn rate_limited_total(metrics: &Value) -> f64 {
    let Value::String(text) = metrics else {
        panic!("metrics are text")
    };
    parse_prometheus(text)[&series("resilience_rate_limited_total", &[("venue", "kraken")])]
}

#[tokio::test]
async fn server_time_without_params() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/0/public/Time"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"error": [], "result": {"unixtime": 1688669448, "rfc1123": "Thu, 06 Jul 23 18:50:48 +0000"}}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let host = TestHost::start(&["kraken"], "", &venue(&server.uri(), 3)).await;
    let (status, body) = host
        .post("/v1/venues/kraken/get_server_time", &json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["unixtime"], 1688669448);
}

#[tokio::test]
async fn an_unknown_pair_is_the_venues_error_from_a_200_body() {
    let server = MockServer::start().await;
    Mock::given(path("/0/public/Ticker"))
        .and(query_param("pair", "NOPE"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"error": ["EQuery:Unknown asset pair"]})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let host = TestHost::start(&["kraken"], "", &venue(&server.uri(), 3)).await;
    let (status, body) = host
        .post("/v1/venues/kraken/get_ticker", &json!({"pair": "NOPE"}))
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["kind"], "upstream");
    assert_eq!(body["error"]["code"], "EQuery:Unknown asset pair");
}

#[tokio::test]
async fn a_rate_limit_in_a_200_body_is_counted_and_the_read_runs_again() {
    let server = MockServer::start().await;
    Mock::given(path("/0/public/Ticker"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"error": ["EAPI:Rate limit exceeded"]})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/0/public/Ticker"))
        .respond_with(ResponseTemplate::new(200).set_body_json(ticker()))
        .mount(&server)
        .await;
    let host = TestHost::start(&["kraken"], "", &venue(&server.uri(), 3)).await;
    let (status, body) = host
        .post("/v1/venues/kraken/get_ticker", &json!({"pair": "XBTUSD"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["pair"], "XXBTZUSD");
    assert_eq!(body["last"], "30303.20000");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
    let (_, metrics) = host.get("/metrics").await;
    assert_eq!(rate_limited_total(&metrics), 1.0);
}

#[tokio::test]
async fn a_rate_limit_that_persists_is_a_429_to_the_caller() {
    let server = MockServer::start().await;
    Mock::given(path("/0/public/Time"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"error": ["EGeneral:Too many requests"]})),
        )
        .mount(&server)
        .await;
    let host = TestHost::start(&["kraken"], "", &venue(&server.uri(), 2)).await;
    let (status, body) = host
        .post("/v1/venues/kraken/get_server_time", &json!({}))
        .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["kind"], "rate_limited");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}
