//! A rate limit only the plugin can read (an error code in a 200 body) reaches
//! the host: the echo plugin's `checked` operation reads a Kraken-style
//! envelope with the SDK's `envelope::json_checked` and returns
//! `VenueError::rate_limited`. The host must treat it as a 429 from the
//! endpoint that answered: count it, block the venue for the wait (or mark
//! the endpoint and fail over with `retry.failover_on_rate_limit`), and rerun
//! a read-only call on a 429's terms. Loopback wiremock venues only.

use std::time::{Duration, Instant};

use resilience_tests::{TestHost, parse_prometheus, series};
use serde_json::{Value, json};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// An echo venue `v` over `endpoints`, fast retries without jitter.
fn config(endpoints: &[String], max_attempts: u32, extra: &str) -> String {
    let eps: Vec<String> = endpoints.iter().map(|e| format!("{e:?}")).collect();
    format!(
        "[venues.v]\nplugin = \"echo\"\nendpoints = [{}]\ntimeout_ms = 1000\ndeadline_ms = 8000\n\
         retry = {{ max_attempts = {max_attempts}, base_delay_ms = 10, multiplier = 2.0, max_delay_ms = 100, \
         jitter = 0.0{extra} }}\n",
        eps.join(", ")
    )
}

fn limited(retry_after_ms: Option<u64>) -> ResponseTemplate {
    let mut body = json!({ "error": ["EAPI:Rate limit exceeded"] });
    if let Some(ms) = retry_after_ms {
        body["retry_after_ms"] = json!(ms);
    }
    ResponseTemplate::new(200).set_body_json(body)
}

fn ok(result: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "error": [], "result": result }))
}

async fn received(server: &MockServer) -> usize {
    server.received_requests().await.map_or(0, |r| r.len())
}

async fn rate_limited_total(h: &TestHost) -> f64 {
    let (status, text) = h.get("/metrics").await;
    assert_eq!(status, 200);
    let Value::String(text) = text else {
        panic!("metrics are text")
    };
    parse_prometheus(&text)[&series("resilience_rate_limited_total", &[("venue", "v")])]
}

async fn checked(h: &TestHost) -> (u16, Value) {
    h.post("/v1/venues/v/checked", &json!({ "path": "/ticker" }))
        .await
}

#[tokio::test]
async fn a_limit_in_a_200_body_waits_the_venues_time_and_runs_the_call_again() {
    let server = MockServer::start().await;
    Mock::given(path("/ticker"))
        .respond_with(limited(Some(400)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/ticker"))
        .respond_with(ok("fresh"))
        .mount(&server)
        .await;
    let h = TestHost::start(&["echo"], "", &config(&[server.uri()], 3, "")).await;
    let t = Instant::now();
    let (status, body) = checked(&h).await;
    assert_eq!((status, &body), (200, &json!("fresh")));
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "the rerun waited the venue's 400 ms: {:?}",
        t.elapsed()
    );
    assert_eq!(received(&server).await, 2);
    assert_eq!(rate_limited_total(&h).await, 1.0);
}

/// A read-only operation may send a request that must not be repeated (TON's
/// `send_boc` posts a message). When the venue's 200 answer to it reports a
/// rate limit, the request may have been taken: the call is not run again,
/// and the caller gets the limit. An idempotent request under the same
/// answer is run again (the test above).
#[tokio::test]
async fn a_limit_in_the_answer_to_a_non_idempotent_request_is_not_run_again() {
    let server = MockServer::start().await;
    Mock::given(path("/submit"))
        .respond_with(limited(Some(100)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/submit"))
        .respond_with(ok("accepted"))
        .mount(&server)
        .await;
    let h = TestHost::start(&["echo"], "", &config(&[server.uri()], 3, "")).await;
    let params = json!({ "path": "/submit", "method": "POST", "body": "m", "idempotent": false });
    let (status, body) = h.post("/v1/venues/v/checked", &params).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["kind"], "rate_limited", "{body}");
    assert_eq!(received(&server).await, 1, "the request was not sent again");
    assert_eq!(
        rate_limited_total(&h).await,
        1.0,
        "the limit is still booked"
    );
}

#[tokio::test]
async fn a_limit_the_call_cannot_wait_for_blocks_the_venue_like_a_429() {
    let server = MockServer::start().await;
    Mock::given(path("/ticker"))
        .respond_with(limited(Some(60_000)))
        .mount(&server)
        .await;
    let h = TestHost::start(&["echo"], "", &config(&[server.uri()], 3, "")).await;
    let (status, body) = checked(&h).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["kind"], "rate_limited");
    assert_eq!(body["error"]["retry_after_ms"], 60_000);
    assert_eq!(
        received(&server).await,
        1,
        "a 60 s wait does not fit the deadline"
    );
    // The venue is blocked: the next call (any operation) does not go out.
    let (status, body) = h
        .post("/v1/venues/v/send", &json!({ "path": "/other" }))
        .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(
        received(&server).await,
        1,
        "nothing left while the venue is blocked"
    );
    // Counted once for the venue's refusal, once for the local refusal; the
    // plugin passing the host's own refusal back is not counted again.
    let (status, _) = checked(&h).await;
    assert_eq!(status, 429);
    assert_eq!(rate_limited_total(&h).await, 3.0);
}

#[tokio::test]
async fn with_per_endpoint_limits_the_call_moves_to_the_next_endpoint() {
    let first = MockServer::start().await;
    let second = MockServer::start().await;
    Mock::given(path("/ticker"))
        .respond_with(limited(Some(60_000)))
        .mount(&first)
        .await;
    Mock::given(path("/ticker"))
        .respond_with(ok("from the second"))
        .mount(&second)
        .await;
    let h = TestHost::start(
        &["echo"],
        "",
        &config(
            &[first.uri(), second.uri()],
            3,
            ", failover_on_rate_limit = true",
        ),
    )
    .await;
    let t = Instant::now();
    let (status, body) = checked(&h).await;
    assert_eq!((status, &body), (200, &json!("from the second")));
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "another endpoint does not wait the first one's time"
    );
    assert_eq!((received(&first).await, received(&second).await), (1, 1));
    // The venue is not blocked: the next call goes out at once.
    let (status, _) = h
        .post("/v1/venues/v/send", &json!({ "path": "/ticker" }))
        .await;
    assert_eq!(status, 200);
    assert_eq!(rate_limited_total(&h).await, 1.0);
}

#[tokio::test]
async fn the_reruns_stop_at_max_attempts() {
    let server = MockServer::start().await;
    Mock::given(path("/ticker"))
        .respond_with(limited(None))
        .mount(&server)
        .await;
    let h = TestHost::start(&["echo"], "", &config(&[server.uri()], 2, "")).await;
    let (status, body) = checked(&h).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["kind"], "rate_limited");
    assert_eq!(
        received(&server).await,
        2,
        "two runs, as retry.max_attempts = 2"
    );
    assert_eq!(rate_limited_total(&h).await, 2.0);
}

#[tokio::test]
async fn other_errors_in_a_200_body_are_the_venues_errors_and_not_rerun() {
    let server = MockServer::start().await;
    Mock::given(path("/ticker"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "error": ["EQuery:Unknown asset pair"] })),
        )
        .mount(&server)
        .await;
    let h = TestHost::start(&["echo"], "", &config(&[server.uri()], 3, "")).await;
    let (status, body) = checked(&h).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["kind"], "upstream");
    assert_eq!(body["error"]["code"], "EQuery:Unknown asset pair");
    assert_eq!(received(&server).await, 1);
    assert_eq!(rate_limited_total(&h).await, 0.0);
}

#[tokio::test]
async fn a_429_the_host_booked_is_not_booked_again_from_its_body() {
    let server = MockServer::start().await;
    Mock::given(path("/ticker"))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_json(json!({ "error": ["EAPI:Rate limit exceeded"] })),
        )
        .mount(&server)
        .await;
    let h = TestHost::start(&["echo"], "", &config(&[server.uri()], 2, "")).await;
    let (status, body) = checked(&h).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(
        received(&server).await,
        2,
        "the upstream's two attempts, and no rerun of the whole call on top"
    );
    assert_eq!(
        rate_limited_total(&h).await,
        0.0,
        "a venue's 429 answer is not a local refusal"
    );
}
