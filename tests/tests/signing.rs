//! Per-attempt signing and secret bindings, end to end: the real Binance
//! plugin and the echo plugin against wiremock venues.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use resilience_tests::TestHost;
use resilience_tests::crypto::{hex, hmac_sha256};
use serde_json::{Value, json};
use wiremock::matchers::{any, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const SECRET: &str = "sign-test-hmac-key";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Answers `body`, the first request only after `first_delay`; records each
/// request's arrival time and query.
struct Recorder {
    seen: Arc<Mutex<Vec<(i64, String)>>>,
    calls: AtomicUsize,
    first_delay: Duration,
    body: Value,
}

impl Respond for Recorder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let query = req.url.query().unwrap_or("").to_string();
        self.seen.lock().unwrap().push((now_ms(), query));
        let t = ResponseTemplate::new(200).set_body_json(&self.body);
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            t.set_delay(self.first_delay)
        } else {
            t
        }
    }
}

/// The signed part of a Binance query, after checking its signature.
fn verify(query: &str) -> i64 {
    let (signed, signature) = query.rsplit_once("&signature=").expect("signature last");
    assert_eq!(
        signature,
        hex(&hmac_sha256(SECRET.as_bytes(), signed.as_bytes())),
        "{query}"
    );
    signed
        .split('&')
        .find_map(|kv| kv.strip_prefix("timestamp="))
        .expect("timestamp")
        .parse()
        .unwrap()
}

/// A Binance read retried after a slow first attempt is signed again with
/// the time the retry left: both attempts reach the venue within 1 s of
/// their own timestamp, never with the first attempt's.
#[tokio::test]
async fn a_retried_binance_request_carries_the_time_it_left() {
    let server = MockServer::start().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    Mock::given(method("GET"))
        .and(path("/fapi/v3/balance"))
        .respond_with(Recorder {
            seen: Arc::clone(&seen),
            calls: AtomicUsize::new(0),
            first_delay: Duration::from_millis(2_500),
            body: json!([]),
        })
        .mount(&server)
        .await;
    let config = format!(
        "[venues.binance]\nplugin = \"binance\"\nendpoints = [\"{}\"]\ntimeout_ms = 1500\ndeadline_ms = 8000\n\
         retry = {{ max_attempts = 2, base_delay_ms = 10, jitter = 0.0 }}\n\
         secrets = {{ api_key = {{ env = \"S_KEY\" }}, api_secret = {{ env = \"S_SECRET\" }} }}\n",
        server.uri()
    );
    let env = vec![
        ("S_KEY".to_string(), "k".to_string()),
        ("S_SECRET".to_string(), SECRET.to_string()),
    ];
    let h = TestHost::start_with_env(&["binance"], "", &config, env).await;
    let (s, b) = h.post("/v1/venues/binance/get_balance", &json!({})).await;
    assert_eq!(s, 200, "{b}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let stamps: Vec<i64> = seen.iter().map(|(_, q)| verify(q)).collect();
    for ((arrived, q), stamp) in seen.iter().zip(&stamps) {
        assert!(
            (arrived - stamp).abs() < 1_000,
            "arrived at {arrived}, signed for {stamp}: {q}"
        );
    }
    assert!(
        stamps[1] - stamps[0] >= 1_500,
        "the retry was stamped when it left, not with the first attempt's time: {stamps:?}"
    );
}

fn echo(endpoints: &[String], secrets: &str) -> String {
    let eps: Vec<String> = endpoints.iter().map(|e| format!("{e:?}")).collect();
    format!(
        "[venues.e]\nplugin = \"echo\"\nendpoints = [{}]\ntimeout_ms = 1000\ndeadline_ms = 3000\n\
         retry = {{ max_attempts = 2, base_delay_ms = 1 }}\nsecrets = {{ {secrets} }}\n",
        eps.join(", ")
    )
}

/// A header secret bound to one endpoint goes only there; the host picks
/// that endpoint for requests that carry it, and the others for the rest.
#[tokio::test]
async fn a_header_secret_goes_only_to_the_endpoints_it_is_bound_to() {
    let (a, b) = (MockServer::start().await, MockServer::start().await);
    for s in [&a, &b] {
        Mock::given(any())
            .respond_with(ResponseTemplate::new(200))
            .mount(s)
            .await;
    }
    let secrets = format!("key = {{ env = \"E_KEY\", endpoints = [\"{}\"] }}", b.uri());
    let env = vec![("E_KEY".to_string(), "bound-value".to_string())];
    let h =
        TestHost::start_with_env(&["echo"], "", &echo(&[a.uri(), b.uri()], &secrets), env).await;
    let with_key = json!({"path": "/k", "headers": [["x-key", {"secret": "key"}]]});
    let (s, v) = h.post("/v1/venues/e/send", &with_key).await;
    assert_eq!((s, v["status"].as_u64()), (200, Some(200)), "{v}");
    let (s, _) = h
        .post("/v1/venues/e/send", &json!({"path": "/plain"}))
        .await;
    assert_eq!(s, 200);
    let paths = |reqs: Vec<Request>| {
        reqs.iter()
            .map(|r| r.url.path().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(paths(a.received_requests().await.unwrap()), ["/plain"]);
    assert_eq!(paths(b.received_requests().await.unwrap()), ["/k"]);
    assert!(
        a.received_requests()
            .await
            .unwrap()
            .iter()
            .all(|r| !r.headers.contains_key("x-key"))
    );

    // A binding to an endpoint the venue does not have is a config error.
    let bad = echo(
        &[a.uri()],
        "key = { env = \"E_KEY\", endpoints = [\"http://elsewhere\"] }",
    );
    let text = resilience_tests::config_text(std::path::Path::new("/tmp"), "", &bad);
    let err = resilience_host::Config::parse(&text, false, &Vec::new()).unwrap_err();
    assert!(err.to_string().contains("secrets.key.endpoints"), "{err}");
}

/// A secret that an endpoint URL uses (`${secret:NAME}`, a provider's key)
/// and that has no `endpoints` of its own is bound to the endpoints whose
/// URLs use it: a plugin declaring the same name as a header secret cannot
/// hand one provider's key to another, by failover or by a pin.
#[tokio::test]
async fn a_secret_in_an_endpoint_url_goes_only_to_that_endpoint() {
    let (a, b) = (MockServer::start().await, MockServer::start().await);
    for s in [&a, &b] {
        Mock::given(any())
            .respond_with(ResponseTemplate::new(200))
            .mount(s)
            .await;
    }
    let env = vec![("E_KEY".to_string(), "urlkeyvalue".to_string())];
    let venue = echo(
        &[format!("{}/v2/${{secret:key}}", a.uri()), b.uri()],
        "key = { env = \"E_KEY\" }",
    );
    let h = TestHost::start_with_env(&["echo"], "", &venue, env).await;

    // Carrying the key, unpinned: the host picks the endpoint it belongs to.
    let with_key = json!({"path": "/k", "headers": [["x-key", {"secret": "key"}]]});
    let (s, v) = h.post("/v1/venues/e/send", &with_key).await;
    assert_eq!((s, v["status"].as_u64()), (200, Some(200)), "{v}");

    // Pinned to the other provider: refused before anything is sent.
    let pinned = json!({"requests": [{
        "path": "/pinned", "endpoint": 1, "headers": [["x-key", {"secret": "key"}]]
    }]});
    let (s, v) = h.post("/v1/venues/e/send_all", &pinned).await;
    let text = v.to_string();
    assert!(
        text.contains("bound to") && !text.contains("urlkeyvalue"),
        "{s} {text}"
    );

    let a_got = a.received_requests().await.unwrap();
    assert_eq!(a_got.len(), 1, "{a_got:?}");
    assert_eq!(a_got[0].url.path(), "/v2/urlkeyvalue/k");
    let b_got = b.received_requests().await.unwrap();
    assert!(
        b_got.is_empty(),
        "the other provider received {:?}",
        b_got.iter().map(|r| r.url.path()).collect::<Vec<_>>()
    );
}

/// A recipe keyed with a declared `hmac-key` is applied by the host; a
/// header secret or an undeclared one cannot key it.
#[tokio::test]
async fn only_a_declared_hmac_key_signs_and_the_signature_verifies() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let env = vec![
        ("E_MAC".to_string(), SECRET.to_string()),
        ("E_KEY".to_string(), "header-value".to_string()),
    ];
    let h = TestHost::start_with_env(
        &["echo"],
        "",
        &echo(
            &[server.uri()],
            "mac = { env = \"E_MAC\" }, key = { env = \"E_KEY\" }",
        ),
        env,
    )
    .await;
    let (s, v) = h
        .post(
            "/v1/venues/e/send",
            &json!({"path": "/o?symbol=X", "signed_with": "mac"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    let sent = server.received_requests().await.unwrap();
    let stamp = verify(sent[0].url.query().unwrap());
    assert!((now_ms() - stamp).abs() < 5_000);
    for wrong in ["key", "undeclared"] {
        let (s, v) = h
            .post(
                "/v1/venues/e/send",
                &json!({"path": "/o", "signed_with": wrong}),
            )
            .await;
        assert_eq!(
            (s, v["error"]["kind"].as_str()),
            (500, Some("plugin")),
            "{v}"
        );
        assert!(
            v["error"]["message"].as_str().unwrap().contains("denied"),
            "{v}"
        );
        assert!(!v.to_string().contains("header-value"), "{v}");
    }
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}
