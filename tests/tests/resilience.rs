//! The resilience pipeline end to end: the echo plugin sends through the host
//! to wiremock venues and a fault-injecting proxy (loopback only). Covers the
//! seed's ten cases plus failover, circuit-open without traffic, Retry-After,
//! idempotency, rate limits and the retry budget.
//!
//! Timings here are lower bounds only ("never earlier than"); exact timings
//! are proven by the unit tests under `tokio::time::pause()`.

use std::time::{Duration, Instant};

use resilience_host::CallError;
use resilience_host::resilience::breaker::State;
use resilience_host::resilience::classify::Outcome;
use resilience_tests::TestHost;
use resilience_tests::faults::{Fault, FaultProxy, refused_addr};
use serde_json::{Value, json};
use wiremock::matchers::{body_string, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// An echo venue over `endpoints` with fast retries (10 ms base, no jitter).
fn venue(endpoints: &[String], extra: &str) -> String {
    let eps: Vec<String> = endpoints.iter().map(|e| format!("{e:?}")).collect();
    format!(
        "[venues.v]\nplugin = \"echo\"\nendpoints = [{}]\ntimeout_ms = 500\ndeadline_ms = 8000\n\
         retry = {{ max_attempts = 3, base_delay_ms = 10, multiplier = 2.0, max_delay_ms = 1000, jitter = 0.0 }}\n\
         breaker = {{ failure_threshold = 5, success_threshold = 2, open_ms = 300 }}\n{extra}\n",
        eps.join(", ")
    )
}

async fn host(endpoints: &[String], extra: &str) -> TestHost {
    TestHost::start(&["echo"], "", &venue(endpoints, extra)).await
}

async fn get(host: &TestHost, p: &str) -> Result<Value, CallError> {
    host.app.call("v", "send", &json!({"path": p})).await
}

fn attempts(host: &TestHost, endpoint: usize, o: Outcome) -> u64 {
    host.app.loaded().venues["v"].ctx.upstream.endpoints()[endpoint].attempts(o)
}

fn retries(host: &TestHost) -> u64 {
    host.app.loaded().venues["v"]
        .ctx
        .upstream
        .stats
        .retries
        .load(std::sync::atomic::Ordering::Relaxed)
}

async fn received(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .map(|r| r.len())
        .unwrap_or(0)
}

#[tokio::test]
async fn success_returns_the_venue_answer() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(200).set_body_string("hi"))
        .mount(&server)
        .await;
    let h = host(&[server.uri()], "").await;
    let out = get(&h, "/x").await.unwrap();
    assert_eq!(
        (out["status"].as_u64(), out["body"].as_str()),
        (Some(200), Some("hi"))
    );
    assert_eq!(attempts(&h, 0, Outcome::Success), 1);
}

#[tokio::test]
async fn post_with_json_body_arrives_intact() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/orders"))
        .and(body_string(r#"{"symbol":"BTCUSDT","qty":"0.001"}"#))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .expect(1)
        .mount(&server)
        .await;
    let h = host(&[server.uri()], "").await;
    let out = h
        .app
        .call(
            "v",
            "send",
            &json!({"method": "POST", "path": "/orders", "body": r#"{"symbol":"BTCUSDT","qty":"0.001"}"#,
                    "headers": [["content-type", "application/json"]]}),
        )
        .await
        .unwrap();
    assert_eq!(out["status"], 200);
}

#[tokio::test]
async fn ten_concurrent_requests_within_the_pool_limit_all_succeed() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(100)))
        .mount(&server)
        .await;
    let h = host(&[server.uri()], "pool = { max_connections_per_host = 10 }").await;
    let calls: Vec<_> = (0..10)
        .map(|_| {
            let app = h.app.clone();
            tokio::spawn(async move { app.call("v", "send", &json!({"path": "/x"})).await })
        })
        .collect();
    for c in calls {
        assert_eq!(c.await.unwrap().unwrap()["status"], 200);
    }
    assert_eq!(attempts(&h, 0, Outcome::Success), 10);
}

#[tokio::test]
async fn requests_beyond_the_pool_limit_wait_and_are_counted_as_waiting() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(200)))
        .mount(&server)
        .await;
    let h = host(&[server.uri()], "pool = { max_connections_per_host = 2 }").await;
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let app = h.app.clone();
            tokio::spawn(async move { app.call("v", "send", &json!({"path": "/x"})).await })
        })
        .collect();
    let ep = h.app.loaded().venues["v"].ctx.upstream.endpoints()[0].clone();
    let (mut max_active, mut max_waiting) = (0, 0);
    while !calls.iter().all(|c| c.is_finished()) {
        max_active = max_active.max(ep.active());
        max_waiting = max_waiting.max(ep.waiting());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for c in calls {
        assert_eq!(c.await.unwrap().unwrap()["status"], 200);
    }
    assert!(
        max_active <= 2,
        "in flight never exceeds the limit: {max_active}"
    );
    assert!(max_waiting >= 1, "callers beyond the limit waited");
}

/// A caller that hangs up while it waits for a connection slot is no longer
/// counted as waiting (`resilience_pool_waiting`, `/v1/venues`), and its
/// request never leaves.
#[tokio::test]
async fn callers_that_hang_up_while_waiting_for_a_slot_are_no_longer_counted() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(300)))
        .mount(&server)
        .await;
    let h = host(&[server.uri()], "pool = { max_connections_per_host = 1 }").await;
    let call = || {
        let app = h.app.clone();
        tokio::spawn(async move { app.call("v", "send", &json!({"path": "/x"})).await })
    };
    let holder = call();
    let ep = h.app.loaded().venues["v"].ctx.upstream.endpoints()[0].clone();
    while ep.active() < 1 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let waiters = [call(), call()];
    let started = Instant::now();
    while ep.waiting() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "two callers wait for the one slot"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    for w in &waiters {
        w.abort();
    }
    for w in waiters {
        assert!(w.await.unwrap_err().is_cancelled());
    }
    assert_eq!(ep.waiting(), 0, "no caller is left counted as waiting");
    assert_eq!(holder.await.unwrap().unwrap()["status"], 200);
    assert_eq!(ep.active(), 0);
    assert_eq!(received(&server).await, 1, "only the holder's request left");
}

#[tokio::test]
async fn timeout_is_retried_and_succeeds() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(200).set_body_string("late ok"))
        .mount(&server)
        .await;
    let h = host(&[server.uri()], "").await;
    let out = get(&h, "/x").await.unwrap();
    assert_eq!(out["body"], "late ok");
    assert_eq!(attempts(&h, 0, Outcome::Timeout), 1);
    assert_eq!(attempts(&h, 0, Outcome::Success), 1);
    assert_eq!(retries(&h), 1);
}

#[tokio::test]
async fn connection_reset_is_retried_for_idempotent_requests() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let proxy = FaultProxy::start(
        *server.address(),
        vec![Fault::Reset, Fault::CloseMidBody],
        Fault::Pass,
    )
    .await;
    let h = host(&[proxy.url()], "").await;
    let out = get(&h, "/x").await.unwrap();
    assert_eq!(out["status"], 200);
    assert_eq!(
        attempts(&h, 0, Outcome::Connection),
        2,
        "reset, then close mid-body"
    );
    assert_eq!(attempts(&h, 0, Outcome::Success), 1);
}

#[tokio::test]
async fn connection_reset_after_sending_is_not_retried_for_non_idempotent_requests() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let proxy = FaultProxy::start(*server.address(), vec![Fault::Reset], Fault::Pass).await;
    let h = host(&[proxy.url()], "").await;
    let err = h
        .app
        .call(
            "v",
            "send",
            &json!({"method": "POST", "path": "/x", "idempotent": false}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "connection", "{err}");
    assert_eq!(proxy.accepted(), 1, "exactly one attempt");
}

#[tokio::test]
async fn four_xx_is_not_retried() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(400).set_body_string(r#"{"code":-1102}"#))
        .mount(&server)
        .await;
    let h = host(&[server.uri()], "").await;
    let out = get(&h, "/x").await.unwrap();
    assert_eq!(out["status"], 400, "final non-2xx is handed to the plugin");
    assert_eq!(received(&server).await, 1);
    assert_eq!(retries(&h), 0);
}

#[tokio::test]
async fn five_xx_is_retried_with_counted_attempts() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let h = host(&[server.uri()], "").await;
    let out = get(&h, "/x").await.unwrap();
    assert_eq!(out["status"], 200);
    assert_eq!(received(&server).await, 3);
    // The counts metrics are built from.
    assert_eq!(attempts(&h, 0, Outcome::Http5xx), 2);
    assert_eq!(attempts(&h, 0, Outcome::Success), 1);
    assert_eq!(retries(&h), 2);
}

#[tokio::test]
async fn backoff_waits_grow_exponentially_and_are_never_shortened() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let extra = "retry = { max_attempts = 3, base_delay_ms = 100, multiplier = 2.0, jitter = 0.0 }";
    let h = TestHost::start(&["echo"], "", &venue(&[server.uri()], "").replace(
        "retry = { max_attempts = 3, base_delay_ms = 10, multiplier = 2.0, max_delay_ms = 1000, jitter = 0.0 }",
        extra,
    ))
    .await;
    let t = Instant::now();
    let out = get(&h, "/x").await.unwrap();
    assert_eq!(out["status"], 503, "last answer after the attempts ran out");
    assert_eq!(received(&server).await, 3);
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "100 ms + 200 ms of backoff: {:?}",
        t.elapsed()
    );
}

#[tokio::test]
async fn breaker_opens_fails_fast_without_traffic_and_recovers() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let extra = "retry = { max_attempts = 1 }\nbreaker = { failure_threshold = 3, success_threshold = 2, open_ms = 300 }";
    let h = TestHost::start(
        &["echo"],
        "",
        &format!(
            "[venues.v]\nplugin = \"echo\"\nendpoints = [\"{}\"]\ntimeout_ms = 500\n{extra}\n",
            server.uri()
        ),
    )
    .await;
    for _ in 0..3 {
        assert_eq!(get(&h, "/x").await.unwrap()["status"], 500);
    }
    let ep = h.app.loaded().venues["v"].ctx.upstream.endpoints()[0].clone();
    assert_eq!(ep.breaker.state(), State::Open);
    let err = get(&h, "/x").await.unwrap_err();
    assert_eq!(err.kind(), "circuit_open", "{err}");
    assert_eq!(received(&server).await, 3, "an open breaker sends nothing");
    let (status, body) = h.get("/health").await;
    assert_eq!(status, 503, "{body}");

    server.reset().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await; // exactly open_ms
    assert_eq!(get(&h, "/x").await.unwrap()["status"], 200);
    assert_eq!(
        ep.breaker.state(),
        State::HalfOpen,
        "one probe success of two"
    );
    assert_eq!(get(&h, "/x").await.unwrap()["status"], 200);
    assert_eq!(ep.breaker.state(), State::Closed);
    assert_eq!(h.get("/health").await.0, 200);
}

#[tokio::test]
async fn fails_over_to_the_second_endpoint_when_the_first_refuses_connections() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(200).set_body_string("second"))
        .mount(&server)
        .await;
    let dead = format!("http://{}", refused_addr().await);
    let h = host(&[dead, server.uri()], "").await;
    // Non-idempotent too: a refused connection proves nothing was sent.
    let out = h
        .app
        .call(
            "v",
            "send",
            &json!({"method": "POST", "path": "/x", "idempotent": false}),
        )
        .await
        .unwrap();
    assert_eq!(out["body"], "second");
    assert_eq!(attempts(&h, 0, Outcome::Connection), 1);
    assert_eq!(attempts(&h, 1, Outcome::Success), 1);
    assert_eq!(
        h.app.loaded().venues["v"]
            .ctx
            .upstream
            .stats
            .failovers
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn fails_over_when_the_first_endpoint_times_out() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(200).set_body_string("second"))
        .mount(&server)
        .await;
    let hang = FaultProxy::start(*server.address(), vec![], Fault::Hang).await;
    let h = host(&[hang.url(), server.uri()], "").await;
    let out = get(&h, "/x").await.unwrap();
    assert_eq!(out["body"], "second");
    assert_eq!(attempts(&h, 0, Outcome::Timeout), 1);
}

#[tokio::test]
async fn all_endpoints_open_gives_circuit_open_without_network_traffic() {
    let (a, b) = (MockServer::start().await, MockServer::start().await);
    for s in [&a, &b] {
        Mock::given(path("/x"))
            .respond_with(ResponseTemplate::new(500))
            .mount(s)
            .await;
    }
    let extra = "breaker = { failure_threshold = 1, open_ms = 60000 }";
    let h = TestHost::start(
        &["echo"],
        "",
        &format!(
            "[venues.v]\nplugin = \"echo\"\nendpoints = [\"{}\", \"{}\"]\ntimeout_ms = 500\n\
         retry = {{ max_attempts = 2, base_delay_ms = 1 }}\n{extra}\n",
            a.uri(),
            b.uri()
        ),
    )
    .await;
    assert_eq!(get(&h, "/x").await.unwrap()["status"], 500);
    let before = (received(&a).await, received(&b).await);
    assert_eq!(
        before,
        (1, 1),
        "the retry skipped the opened first endpoint"
    );
    let (status, body) = h.post("/v1/venues/v/send", &json!({"path": "/x"})).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["kind"], "circuit_open");
    assert_eq!(
        (received(&a).await, received(&b).await),
        before,
        "nothing reached either venue"
    );
}

#[tokio::test]
async fn retry_after_429_is_honoured_never_early() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let h = host(&[server.uri()], "").await;
    let t = Instant::now();
    let out = get(&h, "/x").await.unwrap();
    assert_eq!(out["status"], 200);
    assert!(
        t.elapsed() >= Duration::from_secs(1),
        "waited at least Retry-After: {:?}",
        t.elapsed()
    );
    assert_eq!(attempts(&h, 0, Outcome::RateLimited), 1);
}

#[tokio::test]
async fn retry_after_beyond_the_deadline_ends_the_call_now() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "30"))
        .mount(&server)
        .await;
    let h = host(&[server.uri()], "").await;
    let t = Instant::now();
    let out = get(&h, "/x").await.unwrap();
    assert_eq!(out["status"], 429, "the venue's answer is returned at once");
    assert!(
        t.elapsed() < Duration::from_secs(8),
        "did not sleep past the deadline"
    );
    // The venue stays blocked: the next call fails locally without traffic.
    let err = get(&h, "/x").await.unwrap_err();
    assert_eq!(err.kind(), "rate_limited");
    assert_eq!(received(&server).await, 1);
}

#[tokio::test]
async fn ban_418_blocks_the_venue_until_retry_after() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(418).insert_header("Retry-After", "120"))
        .mount(&server)
        .await;
    let h = host(&[server.uri()], "").await;
    assert_eq!(
        get(&h, "/x").await.unwrap()["status"],
        418,
        "a ban is not retried"
    );
    let (status, headers, body) = h
        .post_raw("/v1/venues/v/send", r#"{"path":"/x"}"#, &[])
        .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["kind"], "rate_limited");
    let retry_after: u64 = headers
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((119..=120).contains(&retry_after), "{retry_after}");
    assert_eq!(received(&server).await, 1);
}

#[tokio::test]
async fn non_idempotent_post_is_not_retried_after_a_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/order"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(2)))
        .mount(&server)
        .await;
    let h = host(&[server.uri()], "").await;
    let err = h
        .app
        .call(
            "v",
            "send",
            &json!({"method": "POST", "path": "/order", "body": "{}", "idempotent": false}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "timeout", "{err}");
    assert_eq!(
        received(&server).await,
        1,
        "exactly one request reached the venue"
    );
}

#[tokio::test]
async fn local_rate_limit_rejects_before_the_network_with_retry_after() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let h = TestHost::start(&["echo"], "", &format!(
        "[venues.v]\nplugin = \"echo\"\nendpoints = [\"{}\"]\ntimeout_ms = 200\ndeadline_ms = 300\n\
         rate_limit = {{ requests_per_second = 0.5, burst = 1 }}\n",
        server.uri()
    ))
    .await;
    assert_eq!(get(&h, "/x").await.unwrap()["status"], 200);
    let (status, headers, body) = h
        .post_raw("/v1/venues/v/send", r#"{"path":"/x"}"#, &[])
        .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(headers.get("retry-after").unwrap(), "2");
    assert_eq!(received(&server).await, 1);
}

#[tokio::test]
async fn empty_retry_budget_stops_retries() {
    let server = MockServer::start().await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let h = TestHost::start(&["echo"], "", &format!(
        "[venues.v]\nplugin = \"echo\"\nendpoints = [\"{}\"]\ntimeout_ms = 500\n\
         retry = {{ max_attempts = 5, base_delay_ms = 1, budget_ratio = 0.0, budget_min_per_sec = 0 }}\n",
        server.uri()
    ))
    .await;
    assert_eq!(get(&h, "/x").await.unwrap()["status"], 503);
    assert_eq!(received(&server).await, 1, "no budget, no retries");
}

#[tokio::test]
async fn jsonrpc_overload_and_429_fail_over_when_quotas_are_per_endpoint() {
    let (a, b) = (MockServer::start().await, MockServer::start().await);
    Mock::given(path("/rpc"))
        .respond_with(ResponseTemplate::new(200).set_body_string(
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32005,"message":"limit exceeded"}}"#,
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&a)
        .await;
    Mock::given(path("/rpc"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "30"))
        .mount(&a)
        .await;
    Mock::given(path("/rpc"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(r#"{"jsonrpc":"2.0","id":1,"result":"0x1"}"#),
        )
        .mount(&b)
        .await;
    let h = TestHost::start(&["echo"], "", &format!(
        "[venues.v]\nplugin = \"echo\"\nendpoints = [\"{}\", \"{}\"]\ntimeout_ms = 500\n\
         retry = {{ max_attempts = 2, base_delay_ms = 1, jsonrpc_overload_codes = [-32005], failover_on_rate_limit = true }}\n",
        a.uri(), b.uri()
    ))
    .await;
    let rpc = json!({"method": "POST", "path": "/rpc", "body": "{}", "idempotent": true});
    // An overload code inside a 200 moves the retry to the second provider.
    let out = h.app.call("v", "send", &rpc).await.unwrap();
    assert_eq!(out["body"], r#"{"jsonrpc":"2.0","id":1,"result":"0x1"}"#);
    assert_eq!(attempts(&h, 0, Outcome::RateLimited), 1);
    // A 429 too, without waiting its 30 s Retry-After and without blocking the venue.
    let t = Instant::now();
    let out = h.app.call("v", "send", &rpc).await.unwrap();
    assert_eq!(out["status"], 200);
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert_eq!(attempts(&h, 0, Outcome::RateLimited), 2);
    assert_eq!(
        h.app.loaded().venues["v"]
            .ctx
            .upstream
            .limiter
            .blocked_for(),
        Duration::ZERO
    );
}

#[tokio::test]
async fn a_bare_slash_path_targets_an_endpoint_with_its_own_path_exactly() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/abc"))
        .respond_with(ResponseTemplate::new(200).set_body_string("no trailing slash"))
        .mount(&server)
        .await;
    let h = host(&[format!("{}/v3/abc", server.uri())], "").await;
    let out = h
        .app
        .call(
            "v",
            "send",
            &json!({"method": "POST", "path": "/", "idempotent": true}),
        )
        .await
        .unwrap();
    assert_eq!(out["body"], "no trailing slash");
}

/// A 503's `Retry-After` speaks for the endpoint that sent it: the retry
/// that fails over to the next endpoint goes at once. With a 30 s
/// Retry-After and a 3 s deadline, waiting for it would end the call.
#[tokio::test]
async fn a_503_retry_after_does_not_delay_failover_to_another_endpoint() {
    let (a, b) = (MockServer::start().await, MockServer::start().await);
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "30"))
        .mount(&a)
        .await;
    Mock::given(path("/x"))
        .respond_with(ResponseTemplate::new(200).set_body_string("from b"))
        .mount(&b)
        .await;
    let config = venue(&[a.uri(), b.uri()], "").replace("deadline_ms = 8000", "deadline_ms = 3000");
    let h = TestHost::start(&["echo"], "", &config).await;
    let v = get(&h, "/x").await.expect("failed over without waiting");
    assert_eq!(v["body"], "from b");
    assert_eq!((received(&a).await, received(&b).await), (1, 1));
}

/// Failures of the host itself never open an endpoint's breaker: waiting
/// for a connection slot, or an attempt cut short by the caller's own
/// deadline, says nothing about the venue.
#[tokio::test]
async fn waiting_for_a_slot_or_a_short_deadline_does_not_count_against_the_breaker() {
    use resilience_host::resilience::deadline::Deadline;
    use resilience_host::upstream::OutboundRequest;
    let server = MockServer::start().await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(1_000)))
        .mount(&server)
        .await;
    let config = venue(&[server.uri()], "pool = { max_connections_per_host = 1 }")
        .replace("timeout_ms = 500", "timeout_ms = 3000")
        .replace("max_attempts = 3", "max_attempts = 1")
        .replace("failure_threshold = 5", "failure_threshold = 1");
    let h = TestHost::start(&["echo"], "", &config).await;
    let upstream = h.app.loaded().venues["v"].ctx.upstream.clone();
    let req = |p: &str| OutboundRequest {
        method: http::Method::GET,
        path_and_query: p.into(),
        headers: vec![],
        body: bytes::Bytes::new(),
        idempotent: true,
        weight: 1,
        endpoints: None,
        signing: None,
        response_budget: None,
        start: 0,
    };
    let ep = upstream.endpoints()[0].clone();
    let holder = {
        let upstream = upstream.clone();
        let r = req("/slow");
        tokio::spawn(async move {
            upstream
                .send(r, Deadline::after(Duration::from_secs(5)))
                .await
        })
    };
    for _ in 0..500 {
        if ep.active() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(ep.active(), 1, "the slow request holds the one slot");
    // A caller with 200 ms left waits for the slot and gives up.
    let waited = upstream
        .send(req("/slow"), Deadline::after(Duration::from_millis(200)))
        .await;
    assert!(waited.is_err(), "{waited:?}");
    assert_eq!(
        ep.breaker.state(),
        State::Closed,
        "waiting is not the endpoint's failure"
    );
    holder.await.unwrap().expect("the slow request succeeds");
    // A caller whose deadline is shorter than the venue's answer.
    let cut = upstream
        .send(req("/slow"), Deadline::after(Duration::from_millis(200)))
        .await;
    assert!(cut.is_err(), "{cut:?}");
    assert_eq!(
        ep.breaker.state(),
        State::Closed,
        "the caller's deadline is not the endpoint's failure"
    );
}

/// `send-all` holds at most `max_call_response_bytes` of answers in total:
/// beyond it the remaining answers fail (`connection`), never the host's memory.
#[tokio::test]
async fn send_all_answers_are_bounded_in_total() {
    let server = MockServer::start().await;
    Mock::given(path("/big"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'a'; 1024 * 1024]))
        .mount(&server)
        .await;
    let h = TestHost::start(
        &["echo"],
        "max_call_response_bytes = 2621440",
        &venue(&[server.uri()], "").replace("max_attempts = 3", "max_attempts = 1"),
    )
    .await;
    let requests: Vec<Value> = (0..6).map(|_| json!({"path": "/big"})).collect();
    let out = h
        .app
        .call("v", "send_all", &json!({ "requests": requests }))
        .await
        .unwrap();
    let results = out.as_array().unwrap();
    let ok = results.iter().filter(|r| r["status"] == 200).count();
    let refused: Vec<&Value> = results.iter().filter(|r| r["error"].is_string()).collect();
    assert_eq!(ok, 2, "two 1 MiB answers fit in 2.5 MiB: {results:?}");
    assert_eq!(refused.len(), 4);
    assert!(
        refused.iter().all(|r| r["error"]
            .as_str()
            .unwrap()
            .contains("max_call_response_bytes")),
        "{refused:?}"
    );
    let ep = h.app.loaded().venues["v"].ctx.upstream.endpoints()[0].clone();
    assert_eq!(
        ep.breaker.state(),
        State::Closed,
        "the budget is the host's limit"
    );
}
