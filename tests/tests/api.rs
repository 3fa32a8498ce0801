//! The HTTP API's contract: error bodies and statuses for bad input, auth,
//! and the host capabilities a plugin reaches through it.

use resilience_tests::{TestHost, parse_prometheus, series, sum_series};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn echo_venue(endpoint: &str, extra: &str) -> String {
    format!(
        "[venues.echo]\nplugin = \"echo\"\nendpoints = [\"{endpoint}\"]\ntimeout_ms = 1000\ndeadline_ms = 3000\n{extra}\n"
    )
}

async fn echo_host(extra: &str) -> TestHost {
    TestHost::start(&["echo"], "", &echo_venue("http://127.0.0.1:9", extra)).await
}

#[tokio::test]
async fn bad_bodies_get_clear_4xx_never_500() {
    let host = echo_host("").await;
    let cases: [(&str, u16, &str); 4] = [
        ("not json", 400, "invalid_params"),
        ("[1,2]", 400, "invalid_params"),
        ("\"text\"", 400, "invalid_params"),
        ("{\"a\":", 400, "invalid_params"),
    ];
    for (body, status, kind) in cases {
        let (s, _, v) = host
            .post_raw("/v1/venues/echo/echo", body.to_string(), &[])
            .await;
        assert_eq!(
            (s, v["error"]["kind"].as_str()),
            (status, Some(kind)),
            "body {body:?}: {v}"
        );
    }
    let big = format!("{{\"x\":\"{}\"}}", "a".repeat(2 * 1024 * 1024));
    let (s, _, v) = host.post_raw("/v1/venues/echo/echo", big, &[]).await;
    assert_eq!(s, 413, "{v}");
    assert_eq!(v["error"]["kind"], "payload_too_large");
    // An empty body means no params.
    let (s, _, v) = host.post_raw("/v1/venues/echo/echo", "", &[]).await;
    assert_eq!((s, v), (200, json!({})));
}

#[tokio::test]
async fn unknown_venue_and_operation_are_404_with_their_kind() {
    let host = echo_host("").await;
    let (s, v) = host.post("/v1/venues/nope/echo", &json!({})).await;
    assert_eq!(
        (s, v["error"]["kind"].as_str()),
        (404, Some("unknown_venue"))
    );
    let (s, v) = host.post("/v1/venues/echo/nope", &json!({})).await;
    assert_eq!(
        (s, v["error"]["kind"].as_str()),
        (404, Some("unknown_operation"))
    );
    let (s, _) = host.get("/v1/venues/echo/echo").await;
    assert_eq!(s, 405);
    let (s, _) = host.get("/nowhere").await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn bearer_token_guards_v1_but_not_health() {
    let env = vec![("TEST_API_TOKEN".to_string(), "t0ken".to_string())];
    let host = TestHost::start_with_env(
        &["echo"],
        "",
        &format!(
            "[server]\nauth_token_env = \"TEST_API_TOKEN\"\n{}",
            echo_venue("http://127.0.0.1:9", "")
        ),
        env,
    )
    .await;
    let (s, h, v) = host.post_raw("/v1/venues/echo/echo", "{}", &[]).await;
    assert_eq!(
        (s, v["error"]["kind"].as_str()),
        (401, Some("unauthorized"))
    );
    assert_eq!(h.get("www-authenticate").unwrap(), "Bearer");
    let (s, _, _) = host
        .post_raw(
            "/v1/venues/echo/echo",
            "{}",
            &[("authorization", "Bearer wrong")],
        )
        .await;
    assert_eq!(s, 401);
    let (s, _, v) = host
        .post_raw(
            "/v1/venues/echo/echo",
            "{\"a\":1}",
            &[("authorization", "Bearer t0ken")],
        )
        .await;
    assert_eq!((s, v), (200, json!({"a": 1})));
    let (s, _) = host.get("/health").await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn plugin_requests_reach_only_the_venue_endpoint_with_secrets_filled_in() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/base/orders"))
        .and(header("x-key", "sekret-value"))
        .respond_with(ResponseTemplate::new(201).set_body_string("created"))
        .expect(1)
        .mount(&server)
        .await;
    let env = vec![("ECHO_KEY".to_string(), "sekret-value".to_string())];
    let host = TestHost::start_with_env(
        &["echo"],
        "",
        &echo_venue(
            &format!("{}/base", server.uri()),
            "secrets = { key = { env = \"ECHO_KEY\" } }",
        ),
        env,
    )
    .await;
    let (s, v) = host
        .post(
            "/v1/venues/echo/send",
            &json!({"method": "POST", "path": "/orders", "body": "x", "headers": [["x-key", {"secret": "key"}]]}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["status"], 201);
    assert_eq!(v["body"], "created");

    // Another host, an undeclared secret, a secret outside its declared
    // use: denied, nothing sent, no secret in the answer.
    for (params, what) in [
        (json!({"path": "http://evil.example/x"}), "absolute URL"),
        (
            json!({"path": "/orders", "headers": [["x-key", {"secret": "other"}]]}),
            "undeclared secret",
        ),
        (
            json!({"path": "/orders", "headers": [["x-key", {"secret": "mac"}]]}),
            "an hmac-key in a header",
        ),
        (json!({"path": "/a/../admin"}), "dot segment"),
        (json!({"path": "/a/%2e%2E/admin"}), "encoded dot segment"),
    ] {
        let (s, v) = host.post("/v1/venues/echo/send", &params).await;
        assert_eq!(s, 500, "{what}: {v}");
        assert_eq!(v["error"]["kind"], "plugin", "{what}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("denied"),
            "{what}: {v}"
        );
        assert!(!v.to_string().contains("sekret-value"));
    }
}

#[tokio::test]
async fn connection_refused_is_a_connection_error() {
    // Port 9 on loopback: nothing listens.
    let host = echo_host("").await;
    let (s, v) = host
        .post("/v1/venues/echo/send", &json!({"path": "/x"}))
        .await;
    assert_eq!(
        (s, v["error"]["kind"].as_str()),
        (502, Some("connection")),
        "{v}"
    );
}

#[tokio::test]
async fn settings_hmac_and_signing_use_only_the_venues_own_config() {
    let env = vec![
        ("ECHO_HMAC".to_string(), "Jefe".to_string()),
        (
            "ECHO_PK".to_string(),
            "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318".to_string(),
        ),
    ];
    let host = TestHost::start_with_env(
        &["echo"],
        "",
        &echo_venue(
            "http://127.0.0.1:9",
            "settings = { region = \"eu\" }\nsecrets = { mac = { env = \"ECHO_HMAC\" }, pk = { env = \"ECHO_PK\" } }",
        ),
        env,
    )
    .await;
    let (_, v) = host
        .post("/v1/venues/echo/setting", &json!({"key": "region"}))
        .await;
    assert_eq!(v["value"], "eu");
    let (_, v) = host
        .post("/v1/venues/echo/setting", &json!({"key": "mac"}))
        .await;
    assert_eq!(v["value"], json!(null), "secrets are not settings");
    let (s, v) = host
        .post(
            "/v1/venues/echo/hmac",
            &json!({"secret": "mac", "message": "what do ya want for nothing?"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(
        v["hex"],
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    let (s, v) = host
        .post(
            "/v1/venues/echo/sign",
            &json!({"secret": "pk", "digest_hex": "11".repeat(32)}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["hex"].as_str().unwrap().len(), 130);
    let (s, v) = host
        .post(
            "/v1/venues/echo/hmac",
            &json!({"secret": "nope", "message": "m"}),
        )
        .await;
    assert_eq!(s, 500, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("\"nope\""),
        "{v}"
    );
}

/// A mutating operation is journaled under a key: the caller's
/// `Idempotency-Key` when the plugin keeps the SDK's default `prepare`, and
/// without one it is refused before anything is sent. A retry with the key
/// gets the recorded answer; other params under it are a conflict.
#[tokio::test]
async fn mutating_calls_need_a_key_and_a_keyed_retry_is_answered_from_the_journal() {
    let venue = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/orders"))
        .respond_with(ResponseTemplate::new(201).set_body_string("placed"))
        .mount(&venue)
        .await;
    let host = TestHost::start(&["echo"], "", &echo_venue(&venue.uri(), "")).await;
    let order = json!({"method": "POST", "path": "/orders", "body": "buy 1"});
    let body = order.to_string();

    let (s, _, v) = host
        .post_raw("/v1/venues/echo/place", body.clone(), &[])
        .await;
    assert_eq!(
        (s, v["error"]["kind"].as_str()),
        (400, Some("invalid_params")),
        "{v}"
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key"),
        "{v}"
    );
    assert!(
        venue.received_requests().await.unwrap().is_empty(),
        "nothing sent without a key"
    );

    let key = [("idempotency-key", "order-1")];
    let (s, _, first) = host
        .post_raw("/v1/venues/echo/place", body.clone(), &key)
        .await;
    assert_eq!((s, first["status"].as_u64()), (200, Some(201)), "{first}");
    let (s, _, again) = host
        .post_raw("/v1/venues/echo/place", body.clone(), &key)
        .await;
    assert_eq!((s, &again), (200, &first));
    assert_eq!(
        venue.received_requests().await.unwrap().len(),
        1,
        "sent once"
    );

    let other = json!({"method": "POST", "path": "/orders", "body": "buy 2"}).to_string();
    let (s, _, v) = host.post_raw("/v1/venues/echo/place", other, &key).await;
    assert_eq!(
        (s, v["error"]["kind"].as_str()),
        (409, Some("conflict")),
        "{v}"
    );

    // Malformed keys are refused.
    let long = "k".repeat(300);
    let (s, _, _) = host
        .post_raw(
            "/v1/venues/echo/place",
            body,
            &[("idempotency-key", long.as_str())],
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(venue.received_requests().await.unwrap().len(), 1);

    let (s, e) = host.get("/v1/journal?venue=echo&state=succeeded").await;
    assert_eq!(s, 200, "{e}");
    assert_eq!(e["entries"][0]["key"], "order-1");
    assert_eq!(e["entries"][0]["attempt"], 1);
}

/// `GET /v1/journal` pages with a cursor and filters by venue and state.
#[tokio::test]
async fn the_journal_is_paged_and_filtered() {
    let venue = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&venue)
        .await;
    let host = TestHost::start(&["echo"], "", &echo_venue(&venue.uri(), "")).await;
    let body = json!({"method": "POST", "path": "/o"}).to_string();
    for i in 0..5 {
        let key = format!("k{i}");
        let (s, _, v) = host
            .post_raw(
                "/v1/venues/echo/place",
                body.clone(),
                &[("idempotency-key", key.as_str())],
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }
    let mut keys = Vec::new();
    let mut next = "/v1/journal?limit=2".to_string();
    for _ in 0..5 {
        let (s, page) = host.get(&next).await;
        assert_eq!(s, 200, "{page}");
        keys.extend(
            page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["key"].clone()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => next = format!("/v1/journal?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(keys, ["k0", "k1", "k2", "k3", "k4"]);
    let (_, none) = host.get("/v1/journal?venue=other").await;
    assert_eq!(none["entries"], json!([]));
    for bad in ["state=open", "limit=0", "limit=x", "cursor=zz"] {
        let (s, v) = host.get(&format!("/v1/journal?{bad}")).await;
        assert_eq!(
            (s, v["error"]["kind"].as_str()),
            (400, Some("invalid_params")),
            "{bad}: {v}"
        );
    }
}

/// A caller that hangs up while its read is at the venue: the call is
/// counted once, as `cancelled`, in `resilience_requests_total` and
/// `/v1/stats`, though no answer was ever written.
#[tokio::test]
async fn a_caller_that_hangs_up_mid_call_is_counted_as_cancelled() {
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;
    let server = MockServer::start().await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(500)))
        .mount(&server)
        .await;
    let host = TestHost::start(&["echo"], "", &echo_venue(&server.uri(), "")).await;
    let mut caller = tokio::net::TcpStream::connect(host.addr).await.unwrap();
    let body = r#"{"path":"/slow"}"#;
    let request = format!(
        "POST /v1/venues/echo/send HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    );
    caller.write_all(request.as_bytes()).await.unwrap();
    while server
        .received_requests()
        .await
        .unwrap_or_default()
        .is_empty()
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(caller);

    let cancelled = series(
        "resilience_requests_total",
        &[
            ("venue", "echo"),
            ("operation", "send"),
            ("outcome", "cancelled"),
        ],
    );
    let started = std::time::Instant::now();
    let metrics = loop {
        let (_, _, text) = host
            .request(http::Method::GET, "/metrics", bytes::Bytes::new(), &[])
            .await;
        let metrics = parse_prometheus(text.as_str().unwrap_or_default());
        if metrics.get(&cancelled) == Some(&1.0) {
            break metrics;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the hung-up call is counted as cancelled: {:?}",
            metrics.get(&cancelled)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // Once, and under no other outcome, even after the venue's answer came.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (_, stats) = host.get("/v1/stats").await;
    let echo = &stats["venues"]["echo"];
    assert_eq!(
        (&echo["total"], &echo["succeeded"], &echo["failed"]),
        (&json!(1), &json!(0), &json!({"cancelled": 1})),
        "{stats}"
    );
    let sends = sum_series(
        &metrics,
        "resilience_requests_total",
        &[("venue", "echo"), ("operation", "send")],
    );
    assert_eq!(sends, 1.0);
}
