//! Hostile callers: every string param of every operation of every venue
//! plugin carries a secret reference (`${secret:NAME}` for every secret
//! name, raw and percent-encoded), and what reaches the venues is checked:
//! no signing key anywhere, and a header secret only in the header its
//! plugin declared. Secrets are references by structure (WIT 0.2), so data
//! can never become one.

use resilience_tests::TestHost;
use serde_json::{Map, Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

const BIN_KEY: &str = "BINKEY-3f9a1c";
const BIN_SECRET: &str = "BINSEC-77d2e0";
const PM_KEY: &str = "PMKEY-c41b8e";
const PM_PASS: &str = "PMPASS-0e6d2a";
const PM_SECRET: &str = "PMSEC-9b1f44";
const PM_PRIVATE: &str = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
const TON_KEY: &str = "TONKEY-5a8c3d";
const RPC_KEY: &str = "RPCKEY-e2f7b9";

/// Every secret name any plugin or venue uses.
const NAMES: [&str; 5] = ["api_key", "api_secret", "passphrase", "private_key", "rpc"];

fn config(uri: &str) -> String {
    format!(
        "[venues.binance]\nplugin = \"binance\"\nendpoints = [\"{uri}\"]\ntimeout_ms = 500\ndeadline_ms = 2000\n\
         retry = {{ max_attempts = 1 }}\n\
         secrets = {{ api_key = {{ env = \"H_BIN_KEY\" }}, api_secret = {{ env = \"H_BIN_SECRET\" }} }}\n\
         [venues.polymarket]\nplugin = \"polymarket\"\nendpoints = [\"{uri}\"]\ntimeout_ms = 500\ndeadline_ms = 2000\n\
         retry = {{ max_attempts = 1 }}\n\
         settings = {{ address = \"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\", owner = \"owner\", exchange_version = \"2\" }}\n\
         secrets = {{ api_key = {{ env = \"H_PM_KEY\" }}, passphrase = {{ env = \"H_PM_PASS\" }}, \
         api_secret = {{ env = \"H_PM_SECRET\" }}, private_key = {{ env = \"H_PM_PRIVATE\" }} }}\n\
         [venues.ton]\nplugin = \"ton\"\nendpoints = [\"{uri}\"]\ntimeout_ms = 500\ndeadline_ms = 2000\n\
         retry = {{ max_attempts = 1 }}\nsettings = {{ use_api_key = \"true\" }}\n\
         secrets = {{ api_key = {{ env = \"H_TON_KEY\" }} }}\n\
         [venues.chainlink]\nplugin = \"chainlink\"\nendpoints = [\"{uri}/rpc/${{secret:rpc}}\"]\ntimeout_ms = 500\n\
         deadline_ms = 2000\nretry = {{ max_attempts = 1 }}\n\
         secrets = {{ rpc = {{ env = \"H_RPC\" }} }}\n"
    )
}

fn env() -> Vec<(String, String)> {
    [
        ("H_BIN_KEY", BIN_KEY),
        ("H_BIN_SECRET", BIN_SECRET),
        ("H_PM_KEY", PM_KEY),
        ("H_PM_PASS", PM_PASS),
        ("H_PM_SECRET", PM_SECRET),
        ("H_PM_PRIVATE", PM_PRIVATE),
        ("H_TON_KEY", TON_KEY),
        ("H_RPC", RPC_KEY),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .to_vec()
}

/// Params for `schema` with `text` in every string (and every array of
/// strings), plausible values elsewhere.
fn hostile_params(schema: &Value, text: &str) -> Value {
    let mut out = Map::new();
    let Some(props) = schema["properties"].as_object() else {
        return Value::Object(out);
    };
    for (name, prop) in props {
        let v = match prop["type"].as_str() {
            Some("string") => json!(text),
            Some("integer") | Some("number") => json!(1),
            Some("boolean") => json!(true),
            Some("array") => json!([text]),
            _ => json!(text),
        };
        out.insert(name.clone(), v);
    }
    Value::Object(out)
}

#[tokio::test]
async fn secret_references_in_caller_params_never_become_secrets() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&server)
        .await;
    let h = TestHost::start_with_env(
        &["binance", "polymarket", "ton", "chainlink"],
        "",
        &config(&server.uri()),
        env(),
    )
    .await;
    let (_, venues) = h.get("/v1/venues").await;
    let mut calls = 0;
    for venue in ["binance", "polymarket", "ton", "chainlink"] {
        let ops = venues["venues"][venue]["operations"]
            .as_array()
            .unwrap_or_else(|| panic!("{venue}: {venues}"))
            .clone();
        for op in ops {
            let name = op["name"].as_str().unwrap();
            for secret in NAMES {
                for text in [
                    format!("${{secret:{secret}}}"),
                    format!("%24%7Bsecret%3A{secret}%7D"),
                ] {
                    let params = hostile_params(&op["params_schema"], &text);
                    let key = format!("k{calls}");
                    let (status, _, body) = h
                        .post_raw(
                            &format!("/v1/venues/{venue}/{name}"),
                            params.to_string(),
                            &[("idempotency-key", key.as_str())],
                        )
                        .await;
                    assert_ne!(status, 500, "{venue}/{name} {params}: {body}");
                    calls += 1;
                }
            }
        }
    }
    let received = server.received_requests().await.unwrap();
    assert!(calls > 100, "{calls} calls");
    assert!(
        !received.is_empty(),
        "some hostile calls reached the venues"
    );
    let mut literal = 0;
    for r in &received {
        let url = r.url.to_string();
        let decoded = percent_decode(&url);
        let body = String::from_utf8_lossy(&r.body);
        if decoded.contains("${secret:") {
            literal += 1;
        }
        for value in [
            BIN_KEY, BIN_SECRET, PM_KEY, PM_PASS, PM_SECRET, PM_PRIVATE, TON_KEY,
        ] {
            assert!(
                !decoded.contains(value) && !body.contains(value),
                "{value} in {url} {body}"
            );
        }
        // The endpoint's own configured secret is its URL, never anything else.
        assert!(!body.contains(RPC_KEY), "{body}");
        for (name, v) in r.headers.iter() {
            let v = v.to_str().unwrap_or("");
            let allowed: &[(&str, &str)] = &[
                ("x-mbx-apikey", BIN_KEY),
                ("poly_api_key", PM_KEY),
                ("poly_passphrase", PM_PASS),
                ("x-api-key", TON_KEY),
            ];
            for value in [
                BIN_KEY, BIN_SECRET, PM_KEY, PM_PASS, PM_SECRET, PM_PRIVATE, TON_KEY, RPC_KEY,
            ] {
                if v.contains(value) {
                    assert!(
                        allowed.contains(&(name.as_str(), value)),
                        "{value} in header {name} of {url}"
                    );
                }
            }
        }
    }
    assert!(
        literal > 0,
        "the references reached the venue as literal text in some request"
    );
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let Some(byte) = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
