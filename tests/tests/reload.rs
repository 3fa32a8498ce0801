//! Hot reload: `POST /v1/admin/reload` (and SIGHUP) reload the plugins folder
//! while calls are in flight.

use std::sync::Arc;

use resilience_tests::{TestHost, built_plugins};
use serde_json::json;

fn venue(name: &str, plugin: &str) -> String {
    format!(
        "[venues.{name}]\nplugin = \"{plugin}\"\nendpoints = [\"http://127.0.0.1:9\"]\ndeadline_ms = 30000\n"
    )
}

const TOKEN_ENV: &str = "RELOAD_TEST_TOKEN";

async fn host(plugins: &[&str], limits: &str, venues: &str) -> TestHost {
    TestHost::start_with_env(
        plugins,
        limits,
        &format!("[server]\nauth_token_env = \"{TOKEN_ENV}\"\n{venues}"),
        vec![(TOKEN_ENV.to_string(), "adm1n".to_string())],
    )
    .await
}

async fn post(h: &TestHost, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let (s, _, v) = h
        .post_raw(path, body.to_string(), &[("authorization", "Bearer adm1n")])
        .await;
    (s, v)
}

async fn reload(h: &TestHost) -> (u16, serde_json::Value) {
    let (s, _, v) = h
        .post_raw("/v1/admin/reload", "", &[("authorization", "Bearer adm1n")])
        .await;
    (s, v)
}

#[tokio::test]
async fn reload_needs_the_admin_token() {
    let h = host(&["echo"], "", &venue("e", "echo")).await;
    let (s, _, v) = h.post_raw("/v1/admin/reload", "", &[]).await;
    assert_eq!(s, 401, "{v}");
    let plain = TestHost::start(&["echo"], "", &venue("e", "echo")).await;
    let (s, _, v) = plain.post_raw("/v1/admin/reload", "", &[]).await;
    assert_eq!(s, 403, "no token configured, no admin endpoint: {v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_calls_in_flight_across_a_reload_all_succeed() {
    let h = host(&["echo"], "max_instances = 8", &venue("e", "echo")).await;
    let before = Arc::clone(&h.app.loaded().venues["e"].plugin);
    let mut calls = Vec::with_capacity(1000);
    for i in 0..1000u32 {
        let app = Arc::clone(&h.app);
        calls.push(tokio::spawn(async move {
            app.call("e", "echo", &json!({"i": i})).await
        }));
        if i == 500 {
            let (s, report) = reload(&h).await;
            assert_eq!(s, 200, "{report}");
            assert!(report["errors"].as_array().unwrap().is_empty(), "{report}");
        }
    }
    let mut failures = 0;
    for (i, c) in calls.into_iter().enumerate() {
        match c.await.unwrap() {
            Ok(v) => assert_eq!(v["i"], i as u64),
            Err(e) => {
                failures += 1;
                eprintln!("call {i} failed: {e}");
            }
        }
    }
    assert_eq!(failures, 0);
    let after = Arc::clone(&h.app.loaded().venues["e"].plugin);
    assert!(
        !Arc::ptr_eq(&before, &after),
        "new calls run on the reloaded version"
    );
    assert_eq!(
        before.sha256, after.sha256,
        "same file, from the compiled cache"
    );
}

#[tokio::test]
async fn a_file_that_fails_to_load_leaves_the_previous_version_serving() {
    let h = host(&["echo"], "", &venue("e", "echo")).await;
    std::fs::write(h.plugins.path().join("echo.wasm"), b"\0asm\x01\0\0\0broken").unwrap();
    let (s, report) = reload(&h).await;
    assert_eq!(s, 200);
    assert_eq!(report["kept_previous"], json!(["echo"]), "{report}");
    assert!(
        report["errors"][0].as_str().unwrap().contains("echo.wasm"),
        "{report}"
    );
    let (s, v) = post(&h, "/v1/venues/e/echo", json!({"still": 1})).await;
    assert_eq!((s, v), (200, json!({"still": 1})));
}

#[tokio::test]
async fn reload_lifts_quarantine_and_picks_up_new_plugins() {
    let h = host(
        &["trap"],
        "quarantine_after_traps = 2",
        &format!("{}{}", venue("t", "trap"), venue("e", "echo")),
    )
    .await;
    for _ in 0..2 {
        assert_eq!(post(&h, "/v1/venues/t/panic", json!({})).await.0, 500);
    }
    let (_, v) = post(&h, "/v1/venues/t/ok", json!({})).await;
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("quarantined"),
        "{v}"
    );
    assert_eq!(
        post(&h, "/v1/venues/e/echo", json!({})).await.0,
        500,
        "echo is not loaded yet"
    );
    let paths = |doc: &serde_json::Value| {
        doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .filter(|p| p.starts_with("/v1/venues/e/"))
            .count()
    };
    let openapi = || async {
        let (s, _, doc) = h
            .request(
                http::Method::GET,
                "/openapi.json",
                Default::default(),
                &[("authorization", "Bearer adm1n")],
            )
            .await;
        assert_eq!(s, 200);
        doc
    };
    assert_eq!(
        paths(&openapi().await),
        0,
        "no echo operations before the reload"
    );

    std::fs::copy(
        built_plugins().join("echo.wasm"),
        h.plugins.path().join("echo.wasm"),
    )
    .unwrap();
    let (s, report) = reload(&h).await;
    assert_eq!(s, 200, "{report}");
    assert!(report["broken"].as_object().unwrap().is_empty(), "{report}");
    assert_eq!(
        post(&h, "/v1/venues/t/ok", json!({})).await.0,
        200,
        "quarantine lifted"
    );
    assert_eq!(
        post(&h, "/v1/venues/e/echo", json!({})).await.0,
        200,
        "new plugin serving"
    );
    assert!(
        paths(&openapi().await) > 5,
        "/openapi.json describes the new plugin's operations"
    );
    assert_eq!(h.get("/health").await.0, 200);
}
