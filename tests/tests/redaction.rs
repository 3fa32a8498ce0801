//! Secrets never appear in `/metrics`, `/v1/venues`, `/v1/stats`, error
//! bodies or logs: a header secret, a secret in an endpoint URL path
//! (`${secret:...}`), and an API key written literally into an endpoint path.
//! (Its own test binary: it installs the global log subscriber.)

use std::io::Write;
use std::sync::{Arc, Mutex};

use resilience_tests::TestHost;
use resilience_tests::faults::refused_addr;
use serde_json::json;
use wiremock::matchers::{header, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

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

const HEADER_SECRET: &str = "hdr-Secret-77f1c2";
const PATH_SECRET: &str = "pathKey0123456789abcdef";
const LITERAL_KEY: &str = "9aa3d95b3bc440fa88ea12eaa4456161";

#[tokio::test]
async fn secrets_appear_nowhere_the_operator_or_caller_can_see() {
    let logs = Captured::default();
    let writer = logs.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let server = MockServer::start().await;
    Mock::given(path(format!("/v2/{PATH_SECRET}/x")))
        .and(header("x-key", HEADER_SECRET))
        .respond_with(ResponseTemplate::new(200).set_body_string("fine"))
        .mount(&server)
        .await;
    let dead = refused_addr().await;
    let config = format!(
        "[venues.v]\nplugin = \"echo\"\n\
         endpoints = [\"{}/v2/${{secret:rpc}}\"]\ntimeout_ms = 500\n\
         secrets = {{ rpc = {{ env = \"T_RPC\" }}, key = {{ env = \"T_KEY\" }} }}\n\
         [venues.w]\nplugin = \"echo\"\nendpoints = [\"http://{dead}/v3/{LITERAL_KEY}\"]\ntimeout_ms = 500\n\
         retry = {{ max_attempts = 2, base_delay_ms = 1 }}\n",
        server.uri()
    );
    let env = vec![
        ("T_RPC".to_string(), PATH_SECRET.to_string()),
        ("T_KEY".to_string(), HEADER_SECRET.to_string()),
    ];
    let h = TestHost::start_with_env(&["echo"], "", &config, env).await;

    let mut seen = Vec::new();
    let (s, ok) = h
        .post(
            "/v1/venues/v/send",
            &json!({"path": "/x", "headers": [["x-key", {"secret": "key"}]]}),
        )
        .await;
    assert_eq!((s, ok["status"].as_u64()), (200, Some(200)), "{ok}");
    seen.push(ok.to_string());
    let (s, err) = h.post("/v1/venues/w/send", &json!({"path": "/y"})).await;
    assert_eq!(s, 502, "{err}");
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap()
            .contains("<redacted>"),
        "{err}"
    );
    seen.push(err.to_string());
    let (_, denied) = h
        .post(
            "/v1/venues/w/send",
            &json!({"path": "/y", "headers": [["x-key", {"secret": "key"}]]}),
        )
        .await;
    seen.push(denied.to_string());
    for p in ["/v1/venues", "/v1/stats", "/health"] {
        seen.push(h.get(p).await.1.to_string());
    }
    let (_, _, metrics) = h
        .request(http::Method::GET, "/metrics", Default::default(), &[])
        .await;
    let metrics = metrics.as_str().unwrap().to_string();
    assert!(
        metrics.contains("/v2/<redacted>"),
        "endpoint label is redacted"
    );
    assert!(metrics.contains("/v3/<redacted>"));
    seen.push(metrics);
    seen.push(String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned());
    assert!(
        seen.last().unwrap().contains("rotating") || seen.last().unwrap().contains("attempt"),
        "logs were captured"
    );

    for (i, text) in seen.iter().enumerate() {
        for secret in [HEADER_SECRET, PATH_SECRET, LITERAL_KEY] {
            assert!(!text.contains(secret), "output {i} leaks {secret}:\n{text}");
        }
    }
}
