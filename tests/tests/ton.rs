//! The real TON plugin against a wiremock toncenter, through the HTTP API and
//! through the `call` CLI.

use resilience_tests::{TestHost, config_text, host_binary, plugin_dir};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ADDR: &str = "EQDfvVvoSX_cDJ_L38Z2hkhA3fitZCPW1WV9mw6CcNbIrH-Q";

fn venue(endpoint: &str, extra: &str) -> String {
    format!(
        "[venues.ton]\nplugin = \"ton\"\nendpoints = [\"{endpoint}/api/v2\"]\ntimeout_ms = 2000\ndeadline_ms = 5000\n{extra}\n"
    )
}

async fn host_for(server: &MockServer, extra: &str) -> TestHost {
    TestHost::start(&["ton"], "", &venue(&server.uri(), extra)).await
}

#[tokio::test]
async fn balance_happy_path_through_the_api() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/getAddressBalance"))
        .and(query_param("address", ADDR))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": true, "result": "5610477699352"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let host = host_for(&server, "").await;
    let (status, body) = host
        .post("/v1/venues/ton/get_balance", &json!({"address": ADDR}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"address": ADDR, "balance": "5610477699352", "balance_ton": "5610.477699352"})
    );
}

#[tokio::test]
async fn api_key_secret_is_substituted_into_the_header_and_never_returned() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v2/getMasterchainInfo"))
        .and(header("X-API-Key", "k-123-secret"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"ok": true, "result": {"@type": "blocks.masterchainInfo"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let extra =
        "settings = { use_api_key = \"true\" }\nsecrets = { api_key = { env = \"TON_TEST_KEY\" } }";
    let env = vec![("TON_TEST_KEY".to_string(), "k-123-secret".to_string())];
    let host = TestHost::start_with_env(&["ton"], "", &venue(&server.uri(), extra), env).await;
    let (status, body) = host
        .post("/v1/venues/ton/get_masterchain_info", &json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, venues) = host.get("/v1/venues").await;
    assert!(!venues.to_string().contains("k-123-secret"));
}

#[tokio::test]
async fn ok_false_envelope_becomes_upstream_error_with_the_venue_code() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v2/getAddressBalance"))
        .respond_with(
            ResponseTemplate::new(416)
                .set_body_json(json!({"ok": false, "error": "Incorrect address", "code": 416})),
        )
        .mount(&server)
        .await;
    let host = host_for(&server, "").await;
    let (status, body) = host
        // Well formed (the plugin checks that), but unknown to this venue.
        .post(
            "/v1/venues/ton/get_balance",
            &json!({"address": "EQDKbjIcfM6ezt8KjKJJLshZJJSqX7XOA4ff-W72r5gqPrHF"}),
        )
        .await;
    assert_eq!(status, 502, "{body}");
    let err = &body["error"];
    assert_eq!(err["kind"], "upstream");
    assert_eq!(err["upstream_status"], 416);
    assert_eq!(err["code"], "416");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("Incorrect address"),
        "{err}"
    );
    assert_eq!(err["venue"], "ton");
    assert_eq!(err["operation"], "get_balance");
}

#[tokio::test]
async fn rate_limit_body_with_message_in_result_is_rate_limited() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v2/getAddressBalance"))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_json(json!({"ok": false, "result": "Ratelimit exceed", "code": 429})),
        )
        .mount(&server)
        .await;
    let host = host_for(&server, "").await;
    let (status, body) = host
        .post("/v1/venues/ton/get_balance", &json!({"address": ADDR}))
        .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["kind"], "rate_limited");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("Ratelimit exceed"),
        "{body}"
    );
}

#[tokio::test]
async fn malformed_json_from_the_venue_is_a_parse_error() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v2/getAddressBalance"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>bad gateway</html>"))
        .mount(&server)
        .await;
    let host = host_for(&server, "").await;
    let (status, body) = host
        .post("/v1/venues/ton/get_balance", &json!({"address": ADDR}))
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["kind"], "parse");
}

#[tokio::test]
async fn bad_params_are_invalid_params_naming_the_field() {
    let server = MockServer::start().await;
    let host = host_for(&server, "").await;
    let (status, body) = host.post("/v1/venues/ton/get_balance", &json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["kind"], "invalid_params");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("address"),
        "{body}"
    );
    let (status, body) = host
        .post("/v1/venues/ton/get_balance", &json!({"address": 42}))
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("address"),
        "{body}"
    );
    assert!(
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty(),
        "bad params never reach the venue"
    );
}

#[tokio::test]
async fn run_get_method_posts_json_and_decodes_the_stack() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v2/runGetMethod"))
        .and(body_json(json!({"address": ADDR, "method": "seqno", "stack": []})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "ok": true,
            "result": {"@type": "smc.runResult", "gas_used": 549, "stack": [["num", "0x157"]], "exit_code": 0}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let host = host_for(&server, "").await;
    let (status, body) = host
        .post(
            "/v1/venues/ton/run_get_method",
            &json!({"address": ADDR, "method": "seqno", "stack": []}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["exit_code"], 0);
    assert_eq!(body["stack"][0]["decimal"], "343");
}

#[tokio::test]
async fn venues_listing_shows_ton_and_its_operations() {
    let server = MockServer::start().await;
    let host = host_for(&server, "").await;
    let (status, body) = host.get("/v1/venues").await;
    assert_eq!(status, 200);
    let ton = &body["venues"]["ton"];
    assert_eq!(ton["plugin"], "ton");
    assert_eq!(ton["wit_version"], "0.2.1");
    let ops: Vec<&str> = ton["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert!(
        ops.contains(&"get_balance") && ops.contains(&"send_boc"),
        "{ops:?}"
    );
}

/// `resilience-host call` prints the result on stdout (exit 0), or the error
/// JSON on stderr (exit 1).
#[tokio::test]
async fn balance_through_the_call_cli() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v2/getAddressBalance"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": "42"})))
        .mount(&server)
        .await;
    let dir = plugin_dir(&["ton"]);
    let cfg = dir.path().join("resilience.toml");
    std::fs::write(&cfg, config_text(dir.path(), "", &venue(&server.uri(), ""))).unwrap();
    let bin = host_binary().to_path_buf();

    let run = |params: &'static str| {
        let bin = bin.clone();
        let cfg = cfg.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(bin)
                .args(["call", "--config"])
                .arg(cfg)
                .args(["ton", "get_balance", params])
                .env("RUST_LOG", "error")
                .output()
                .expect("run resilience-host")
        })
    };
    let ok = run(r#"{"address":"EQDfvVvoSX_cDJ_L38Z2hkhA3fitZCPW1WV9mw6CcNbIrH-Q"}"#)
        .await
        .unwrap();
    assert!(
        ok.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let out: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(out["balance"], "42");

    let bad = run("{}").await.unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(bad.stdout.is_empty());
    let err: Value = serde_json::from_slice(&bad.stderr).unwrap();
    assert_eq!(err["error"]["kind"], "invalid_params");
}
