//! HTTPS venues: the pool trusts `venues.NAME.tls_ca_file` on top of the
//! Mozilla roots, keeps TLS connections alive (one handshake for many calls),
//! and refuses a certificate it cannot verify, naming the cause.

use resilience_host::{App, CallError, Config};
use resilience_tests::TestHost;
use resilience_tests::tls::{TestCa, TlsMock};
use serde_json::json;

fn venue(url: &str, extra: &str) -> String {
    format!(
        "[venues.v]\nplugin = \"echo\"\nendpoints = [{url:?}]\ntimeout_ms = 2000\n\
         retry = {{ max_attempts = 1 }}\n{extra}\n"
    )
}

#[tokio::test]
async fn a_venue_with_its_own_ca_is_reached_and_the_connection_is_reused() {
    let dir = tempfile::tempdir().expect("dir");
    let ca = TestCa::write(dir.path());
    let mock = TlsMock::start(&ca).await;
    let extra = format!("tls_ca_file = {:?}", ca.ca.display().to_string());
    let h = TestHost::start(&["echo"], "", &venue(&mock.url(), &extra)).await;
    for _ in 0..5 {
        let out = h
            .app
            .call("v", "send", &json!({"path": "/x"}))
            .await
            .expect("call over TLS");
        assert_eq!(out["status"], 200);
        assert_eq!(out["body"], "{\"ok\":true}");
    }
    assert_eq!(mock.requests(), 5);
    assert_eq!(
        mock.handshakes(),
        1,
        "sequential calls share one pooled TLS connection"
    );
}

#[tokio::test]
async fn an_unknown_ca_is_refused_as_a_connection_error() {
    let dir = tempfile::tempdir().expect("dir");
    let ca = TestCa::write(dir.path());
    let mock = TlsMock::start(&ca).await;
    let h = TestHost::start(&["echo"], "", &venue(&mock.url(), "")).await;
    let err: CallError = h
        .app
        .call("v", "send", &json!({"path": "/x"}))
        .await
        .expect_err("self-signed CA is not trusted by default");
    assert_eq!(err.kind(), "connection", "{err}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "the error names the certificate: {err}"
    );
    assert_eq!(mock.requests(), 0);
}

#[tokio::test]
async fn a_bad_ca_file_stops_start_up_naming_the_key() {
    let dir = tempfile::tempdir().expect("dir");
    let plugins = resilience_tests::plugin_dir(&["echo"]);
    let missing = dir.path().join("nope.pem");
    let rest = venue(
        "https://127.0.0.1:9",
        &format!("tls_ca_file = {:?}", missing.display().to_string()),
    );
    let text = resilience_tests::config_text(plugins.path(), "", &rest);
    let config = Config::parse(&text, false, &vec![]).expect("config parses");
    let err = App::build(config, &vec![])
        .await
        .expect_err("start-up fails");
    let msg = err.to_string();
    assert!(msg.contains("venues.v.tls_ca_file"), "{msg}");
    assert!(msg.contains("nope.pem"), "{msg}");
}
