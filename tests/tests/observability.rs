//! Metrics, stats and health: exact counter values after a scripted sequence,
//! bounded label cardinality, and `/health` following the breakers.

use std::time::Duration;

use resilience_host::resilience::breaker::State;
use resilience_tests::{TestHost, parse_prometheus, series};
use serde_json::json;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn venue(endpoint: &str) -> String {
    format!(
        "[venues.v]\nplugin = \"echo\"\nendpoints = [\"{endpoint}\"]\ntimeout_ms = 500\n\
         retry = {{ max_attempts = 3, base_delay_ms = 1, jitter = 0.0 }}\n\
         breaker = {{ failure_threshold = 3, success_threshold = 1, open_ms = 60000 }}\n"
    )
}

#[tokio::test]
async fn scripted_sequence_gives_exact_counters_and_breaker_gauge() {
    let server = MockServer::start().await;
    // 2 successes; then 503, 503, 200 (two retries); then 500s until the breaker opens.
    Mock::given(path("/ok"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(path("/flaky"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/flaky"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(path("/dead"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let h = TestHost::start(&["echo"], "", &venue(&server.uri())).await;
    let send = |p: &'static str| {
        let app = h.app.clone();
        async move { app.call("v", "send", &json!({"path": p})).await }
    };
    send("/ok").await.unwrap();
    send("/ok").await.unwrap();
    assert_eq!(send("/flaky").await.unwrap()["status"], 200);
    // 3 attempts of 500: the third failure opens the breaker; the call returns the 500.
    assert_eq!(send("/dead").await.unwrap()["status"], 500);
    assert_eq!(send("/dead").await.unwrap_err().kind(), "circuit_open");

    let (status, text) = {
        let (s, _, body) = h
            .request(http::Method::GET, "/metrics", Default::default(), &[])
            .await;
        (s, body.as_str().map(str::to_string).unwrap_or_default())
    };
    assert_eq!(status, 200);
    let m = parse_prometheus(&text);
    let ep = server.uri();
    let req = |outcome: &str| {
        m[&series(
            "resilience_requests_total",
            &[("venue", "v"), ("operation", "send"), ("outcome", outcome)],
        )]
    };
    assert_eq!(req("success"), 4.0, "{text}");
    assert_eq!(req("circuit_open"), 1.0);
    assert_eq!(req("timeout"), 0.0, "pre-created series");
    let att = |outcome: &str| {
        m[&series(
            "resilience_upstream_attempts_total",
            &[("venue", "v"), ("endpoint", &ep), ("outcome", outcome)],
        )]
    };
    assert_eq!(att("success"), 3.0);
    assert_eq!(att("http_5xx"), 5.0);
    assert_eq!(
        m[&series("resilience_retries_total", &[("venue", "v")])],
        4.0
    );
    assert_eq!(
        m[&series(
            "resilience_circuit_state",
            &[("venue", "v"), ("endpoint", &ep)]
        )],
        2.0
    );
    assert_eq!(
        m[&series(
            "resilience_circuit_transitions_total",
            &[("venue", "v"), ("endpoint", &ep), ("to", "open")]
        )],
        1.0
    );
    assert_eq!(
        m[&series("resilience_plugin_traps_total", &[("plugin", "echo")])],
        0.0
    );
    assert_eq!(
        m[&series(
            "resilience_request_duration_seconds_count",
            &[("venue", "v"), ("operation", "send")]
        )],
        5.0
    );
    let active = m[&series(
        "resilience_pool_connections",
        &[("venue", "v"), ("endpoint", &ep), ("state", "active")],
    )];
    assert_eq!(active, 0.0);
    assert!(
        m[&series(
            "resilience_pool_connections",
            &[("venue", "v"), ("endpoint", &ep), ("state", "idle")]
        )] >= 1.0,
        "keep-alive connection idle in the pool"
    );

    let (_, stats) = h.get("/v1/stats").await;
    let v = &stats["venues"]["v"];
    assert_eq!(v["total"], 5);
    assert_eq!(v["failed"]["circuit_open"], 1);
    assert_eq!(v["retries"], 4);
    assert_eq!(v["endpoints"][0]["breaker"], "open");
    assert!(v["endpoints"][0]["half_open_in_ms"].as_u64().unwrap() > 50_000);
}

#[tokio::test]
async fn request_data_never_creates_series() {
    let server = MockServer::start().await;
    let h = TestHost::start(&["echo"], "", &venue(&server.uri())).await;
    let count = |text: &str| parse_prometheus(text).len();
    let metrics = || async {
        let (_, _, body) = h
            .request(http::Method::GET, "/metrics", Default::default(), &[])
            .await;
        body.as_str().unwrap().to_string()
    };
    let before = count(&metrics().await);
    for i in 0..1000u32 {
        let op = format!("op_{}_{}", i, i.wrapping_mul(2_654_435_761));
        let (s, _) = h
            .post(
                &format!("/v1/venues/v/{op}"),
                &json!({"x": i, "label": format!("v{i}")}),
            )
            .await;
        assert_eq!(s, 404);
        if i % 100 == 0 {
            let (s, _) = h
                .post(&format!("/v1/venues/nope{i}/echo"), &json!({}))
                .await;
            assert_eq!(s, 404);
        }
    }
    let after_text = metrics().await;
    assert_eq!(count(&after_text), before, "no new series");
    let m = parse_prometheus(&after_text);
    assert_eq!(
        m[&series(
            "resilience_requests_total",
            &[
                ("venue", "v"),
                ("operation", "(undeclared)"),
                ("outcome", "unknown_operation")
            ]
        )],
        1000.0
    );
    assert_eq!(
        m[&series(
            "resilience_requests_total",
            &[
                ("venue", "(unknown)"),
                ("operation", "(undeclared)"),
                ("outcome", "unknown_venue")
            ]
        )],
        10.0
    );
}

/// `/health` follows the breakers under paused time: 503 while every endpoint
/// is open, 200 again once one half-opens and after it closes.
#[tokio::test(start_paused = true)]
async fn health_flips_with_breakers_under_paused_time() {
    let h = TestHost::start(
        &["echo"],
        "",
        "[venues.v]\nplugin = \"echo\"\nendpoints = [\"http://127.0.0.1:9\", \"http://127.0.0.1:10\"]\n\
         breaker = { failure_threshold = 1, success_threshold = 1, open_ms = 30000 }\n",
    )
    .await;
    let eps = h.app.loaded().venues["v"].ctx.upstream.endpoints().to_vec();
    assert!(h.app.health(None).0);
    eps[0].breaker.try_acquire().unwrap().failure();
    assert!(h.app.health(None).0, "one endpoint still closed");
    eps[1].breaker.try_acquire().unwrap().failure();
    let (ok, body) = h.app.health(None);
    assert!(!ok);
    assert!(
        body["venues"]["v"].as_str().unwrap().contains("30000 ms"),
        "{body}"
    );
    assert!(!h.app.health(Some("v")).0);

    tokio::time::advance(Duration::from_millis(29_999)).await;
    assert!(!h.app.health(None).0, "still open 1 ms before open_ms");
    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(
        h.app.health(None).0,
        "half-open endpoints can serve a probe"
    );
    eps[0].breaker.try_acquire().unwrap().success();
    assert_eq!(eps[0].breaker.state(), State::Closed);
    assert!(h.app.health(Some("v")).0);
}

/// Poll `cond` every 20 ms for up to 5 s (never a fixed sleep).
async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..250 {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test]
async fn active_health_probe_feeds_the_breaker_and_health() {
    let server = MockServer::start().await;
    Mock::given(path("/probe"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let h = TestHost::start(
        &["echo"],
        "",
        &format!(
            "[venues.v]\nplugin = \"echo\"\nendpoints = [\"{}\"]\ntimeout_ms = 500\n\
             retry = {{ max_attempts = 1 }}\n\
             breaker = {{ failure_threshold = 2, success_threshold = 1, open_ms = 60000 }}\n\
             health_probe = {{ operation = \"send\", params = {{ path = \"/probe\" }}, interval_ms = 100 }}\n",
            server.uri()
        ),
    )
    .await;
    let ep = h.app.loaded().venues["v"].ctx.upstream.endpoints()[0].clone();
    assert!(
        eventually(|| ep.breaker.state() == State::Open).await,
        "probes alone opened the breaker"
    );
    let (status, body) = h.get("/health").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        h.app.loaded().venues["v"]
            .probes_ok
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 2
    );
    let (_, _, text) = h
        .request(http::Method::GET, "/metrics", Default::default(), &[])
        .await;
    let m = parse_prometheus(text.as_str().unwrap());
    assert!(
        m[&series(
            "resilience_health_probes_total",
            &[("venue", "v"), ("result", "ok")]
        )] >= 2.0
    );
}
