//! WIT 0.2.1: the `endpoints` import (pinning a request to one endpoint), and
//! plugins built for 0.2.0 loading unchanged beside it.

use resilience_tests::TestHost;
use resilience_tests::faults::refused_addr;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A venue `v` served by `plugin` over `endpoints`, two attempts, fast retries.
fn venue(plugin: &str, endpoints: &[String]) -> String {
    let eps: Vec<String> = endpoints.iter().map(|e| format!("{e:?}")).collect();
    format!(
        "[venues.v]\nplugin = \"{plugin}\"\nendpoints = [{}]\ntimeout_ms = 500\ndeadline_ms = 4000\n\
         retry = {{ max_attempts = 2, base_delay_ms = 1, jitter = 0.0 }}\n",
        eps.join(", ")
    )
}

/// A provider answering `GET /who` with its own `name`.
async fn provider(name: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/who"))
        .respond_with(ResponseTemplate::new(200).set_body_string(name))
        .mount(&server)
        .await;
    server
}

/// An echo `send_all` of `GET /who` once per entry of `pins`, each pinned
/// to that endpoint (or not, for `None`).
async fn send_pinned(host: &TestHost, pins: &[Option<u32>]) -> Value {
    let requests: Vec<Value> = pins
        .iter()
        .map(|e| json!({"path": "/who", "endpoint": e}))
        .collect();
    host.app
        .call("v", "send_all", &json!({ "requests": requests }))
        .await
        .expect("send_all answers every request, failed or not")
}

/// The bodies (or errors) of an echo `send_all`, in order.
fn bodies(out: &Value) -> Vec<String> {
    out.as_array()
        .expect("send_all answers a list")
        .iter()
        .map(|r| match r["body"].as_str() {
            Some(b) => b.to_string(),
            None => r["error"].as_str().unwrap_or("?").to_string(),
        })
        .collect()
}

#[tokio::test]
async fn a_plugin_built_for_wit_0_2_0_loads_and_calls_the_host() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/ping"))
        .respond_with(ResponseTemplate::new(200).set_body_string("pong"))
        .expect(1)
        .mount(&server)
        .await;
    let host = TestHost::start(
        &["wit_0_2_0", "echo"],
        "",
        &venue("wit-0-2-0", &[server.uri()]),
    )
    .await;
    assert!(
        host.app.loaded().load_errors.is_empty(),
        "{:?}",
        host.app.loaded().load_errors
    );
    let (status, venues) = host.get("/v1/venues").await;
    assert_eq!(status, 200);
    assert!(venues.to_string().contains("wit-0-2-0"), "{venues}");
    let (status, out) = host.post("/v1/venues/v/ping", &json!({})).await;
    assert_eq!((status, out), (200, json!({"status": 200, "body": "pong"})));
}

#[tokio::test]
async fn pinned_requests_reach_only_their_endpoint() {
    let (a, b) = (provider("a").await, provider("b").await);
    let host = TestHost::start(&["echo"], "", &venue("echo", &[a.uri(), b.uri()])).await;
    assert_eq!(
        host.app.call("v", "endpoints", &json!({})).await.unwrap(),
        json!({"count": 2})
    );
    let out = send_pinned(&host, &[Some(1), Some(0), Some(1), None]).await;
    assert_eq!(bodies(&out), ["b", "a", "b", "a"]);
    assert_eq!(a.received_requests().await.unwrap().len(), 2);
    assert_eq!(b.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_pinned_request_never_fails_over_and_an_unknown_endpoint_is_denied() {
    let dead = refused_addr().await;
    let b = provider("b").await;
    let host = TestHost::start(
        &["echo"],
        "",
        &venue("echo", &[format!("http://{dead}"), b.uri()]),
    )
    .await;
    let out = send_pinned(&host, &[Some(0), None, Some(2)]).await;
    let got = bodies(&out);
    assert!(
        got[0].starts_with("SendError::Connection("),
        "pinned to the dead one: {got:?}"
    );
    assert_eq!(got[1], "b", "unpinned fails over");
    assert!(
        got[2].starts_with("SendError::Denied(") && got[2].contains("endpoint 2 does not exist"),
        "{got:?}"
    );
    // The pinned request's two attempts both went to the dead endpoint; the
    // unpinned one reached `b` once (after at most one attempt at the dead one).
    assert_eq!(b.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_pinned_request_meeting_an_open_circuit_is_circuit_open_naming_its_one_endpoint() {
    let dead = refused_addr().await;
    let b = provider("b").await;
    let config = venue("echo", &[format!("http://{dead}"), b.uri()])
        + "breaker = { failure_threshold = 1, success_threshold = 1, open_ms = 60000 }\n";
    let host = TestHost::start(&["echo"], "", &config).await;
    // The first attempt fails and opens the breaker; the retry stays on the
    // pinned endpoint, finds it open and never tries `b`.
    let out = send_pinned(&host, &[Some(0)]).await;
    let got = bodies(&out);
    assert!(
        got[0].starts_with("SendError::CircuitOpen(")
            && got[0].contains("the 1 endpoint(s) of v this request may use"),
        "{got:?}"
    );
    assert!(b.received_requests().await.unwrap().is_empty());
}
