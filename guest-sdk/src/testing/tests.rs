use serde_json::json;

use super::*;
#[cfg(feature = "evm")]
use crate::eip712;
use crate::encoding::hex_encode;
use crate::error::SendError;
use crate::host::{self, Level};
use crate::prelude::*;

/// A plugin that exercises every import, driven by params.
#[derive(Default)]
struct Probe {
    calls: u32,
}

#[derive(serde::Deserialize)]
struct GetParams {
    path: String,
    #[serde(default)]
    secret_header: Option<String>,
    #[serde(default)]
    signed_with: Option<String>,
}

impl Plugin for Probe {
    const NAME: &'static str = "probe";
    const VERSION: &'static str = "0.0.1";
    const SECRETS: &'static [(&'static str, SecretUse)] =
        &[("api_key", SecretUse::Header), ("mac", SecretUse::HmacKey)];
    const USAGE_COUNTERS: &'static [&'static str] = &["weight"];
    fn operations() -> Operations<Self> {
        Operations::new()
            .op("get", "GET a path", |p: &mut Probe, a: GetParams| {
                p.calls += 1;
                let mut req = Request::get(a.path);
                if let Some(secret) = a.secret_header {
                    req = req.secret_header("X-API-Key", secret);
                }
                if let Some(secret) = a.signed_with {
                    req = req.signed(
                        crate::signing::Signing::hmac_sha256(&secret)
                            .timestamp_query("timestamp", crate::signing::TimeUnit::Milliseconds)
                            .message([crate::signing::MessagePart::Query])
                            .signature_query("signature", crate::signing::SignatureEncoding::Hex),
                    );
                }
                let resp = req.send()?;
                host::log(Level::Debug, &format!("status {}", resp.status));
                if let Some(w) = resp.header("x-used-weight") {
                    host::report_usage("weight", w.parse().unwrap_or(0), 60_000);
                }
                Ok(json!({ "status": resp.status, "body": resp.text(), "calls": p.calls }))
            })
            .op("both", "Two GETs at once", |_: &mut Probe, _: Value| {
                let out: Vec<Value> =
                    Request::send_all(vec![Request::get("/a"), Request::get("/b")])
                        .into_iter()
                        .map(|r| match r {
                            Ok(resp) => json!(resp.status),
                            Err(e) => json!(e.to_string()),
                        })
                        .collect();
                Ok(out)
            })
    }
}

#[test]
fn scripted_responses_are_used_in_order_then_default_404() {
    let mock = MockHost::new()
        .respond(Method::Get, "/n", 200, "first")
        .respond(Method::Get, "/n", 201, "second");
    let bodies: Vec<Value> = (0..3)
        .map(|_| call::<Probe>(&mock, "get", json!({"path": "/n?x=1"})).unwrap())
        .collect();
    assert_eq!(bodies[0]["body"], "first");
    assert_eq!(bodies[1]["status"], 201);
    assert_eq!(bodies[2]["status"], 404);
    assert!(
        bodies[2]["body"]
            .as_str()
            .unwrap()
            .contains("no response scripted for GET /n?x=1")
    );
    assert_eq!(mock.requests().len(), 3);
    assert_eq!(mock.unmatched().len(), 1);
    assert!(mock.pending().is_empty());
}

#[test]
fn patterns_match_exact_query_path_only_or_prefix() {
    let mock = MockHost::new()
        .respond(Method::Get, "/p?a=1", 200, "exact")
        .respond(Method::Get, "/p", 200, "path")
        .respond(Method::Get, "/data/*", 200, "prefix")
        .respond(Method::Post, "/p", 200, "post only");
    let body = |path: &str| {
        call::<Probe>(&mock, "get", json!({ "path": path })).unwrap()["body"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(body("/p?a=2"), "path");
    assert_eq!(body("/p?a=1"), "exact");
    assert_eq!(body("/data/orders?next_cursor=MA=="), "prefix");
    assert!(body("/p").contains("no response scripted"));
    assert_eq!(mock.pending(), ["POST /p"]);
}

#[test]
fn requests_are_recorded_as_the_venue_receives_them() {
    let mock = MockHost::new()
        .secret("api_key", "k-123")
        .respond(Method::Get, "/x", 200, "");
    call::<Probe>(
        &mock,
        "get",
        json!({"path": "/x", "secret_header": "api_key"}),
    )
    .unwrap();
    let sent = &mock.requests()[0];
    assert_eq!(
        *sent,
        SentRequest {
            method: Method::Get,
            path: "/x".into(),
            headers: vec![("X-API-Key".into(), "k-123".into())],
            secret_headers: vec![("X-API-Key".into(), "api_key".into())],
            body: vec![],
            idempotent: true,
            weight: 1,
            endpoint: None,
        }
    );
}

#[test]
fn a_recipe_is_applied_at_the_mock_clock_like_the_host_applies_it_per_attempt() {
    let mock = MockHost::new()
        .now_ms(1_000)
        .secret("mac", "Jefe")
        .respond(Method::Get, "/x", 200, "")
        .respond(Method::Get, "/x", 200, "");
    call::<Probe>(
        &mock,
        "get",
        json!({"path": "/x?a=1", "signed_with": "mac"}),
    )
    .unwrap();
    mock.advance_ms(5);
    call::<Probe>(
        &mock,
        "get",
        json!({"path": "/x?a=1", "signed_with": "mac"}),
    )
    .unwrap();
    let paths: Vec<String> = mock.requests().into_iter().map(|r| r.path).collect();
    assert!(
        paths[0].starts_with("/x?a=1&timestamp=1000&signature="),
        "{paths:?}"
    );
    assert!(
        paths[1].starts_with("/x?a=1&timestamp=1005&signature="),
        "{paths:?}"
    );
}

#[test]
fn secrets_outside_their_declared_use_are_denied_like_the_host() {
    let mock = MockHost::new()
        .secret("api_key", "k-123")
        .secret("mac", "m")
        .secret("other", "o");
    for (params, named) in [
        (json!({"path": "/x", "secret_header": "mac"}), "mac"),
        (json!({"path": "/x", "secret_header": "other"}), "other"),
        (json!({"path": "/x", "signed_with": "api_key"}), "api_key"),
        (json!({"path": "/x", "secret_header": "missing"}), "missing"),
    ] {
        match call::<Probe>(&mock, "get", params.clone()) {
            Err(VenueError::Transport(SendError::Denied(m))) => {
                assert!(m.contains(&format!("\"{named}\"")), "{params}: {m}")
            }
            other => panic!("{params}: expected denied, got {other:?}"),
        }
    }
    // Recorded (as refused), with no secret value in them.
    let text = format!("{:?}", mock.requests());
    assert!(!text.contains("k-123") && !text.contains("\"m\""), "{text}");
}

#[test]
fn host_checks_on_paths_and_headers_are_mirrored() {
    let mock = MockHost::new();
    let denied = |req: Request| matches!(mock.run(|| req.send()), Err(SendError::Denied(_)));
    assert!(denied(Request::get("https://evil.example/x")));
    assert!(denied(Request::get("//evil.example/x")));
    assert!(denied(Request::get("/a b")));
    assert!(denied(Request::get("/x").header("Content-Length", "1")));
    assert!(denied(Request::get("/x").header("Bad Name", "1")));
    assert!(denied(Request::get("/x").header("X-A", "line\nbreak")));
    assert!(denied(Request::get("/a/../b")));
    assert!(denied(Request::get("/a/%2E%2e/b")));
    // Text is never interpreted: a placeholder in it is sent literally.
    assert!(!denied(Request::get("/x?key=%24%7Bsecret%3Amissing%7D")));
    assert!(!denied(
        Request::get("/x").header("X-A", "${secret:missing}")
    ));
    let last = mock.requests().pop().unwrap();
    assert_eq!(last.header("x-a"), Some("${secret:missing}"));
    let many: Vec<Request> = (0..65).map(|i| Request::get(format!("/{i}"))).collect();
    assert!(
        mock.run(|| Request::send_all(many))
            .iter()
            .all(|r| matches!(r, Err(SendError::Denied(_))))
    );
}

#[test]
fn scripted_send_error_reaches_the_plugin_as_transport() {
    let mock = MockHost::new().fail(
        Method::Get,
        "/x",
        SendError::CircuitOpen("all endpoints open".into()),
    );
    assert!(matches!(
        call::<Probe>(&mock, "get", json!({"path": "/x"})),
        Err(VenueError::Transport(SendError::CircuitOpen(_)))
    ));
}

#[test]
fn send_all_answers_in_request_order() {
    let mock = MockHost::new().respond(Method::Get, "/b", 202, "").fail(
        Method::Get,
        "/a",
        SendError::Timeout("slow".into()),
    );
    let out = call::<Probe>(&mock, "both", json!({})).unwrap();
    assert_eq!(out[1], 202);
    assert!(out[0].as_str().unwrap().contains("slow"), "{out}");
}

#[test]
fn logs_and_usage_reports_are_captured() {
    let headers = vec![("X-Used-Weight".to_string(), "40".to_string())];
    let mock =
        MockHost::new().respond_with(Method::Get, "/w", Response::new(200, headers, Vec::new()));
    call::<Probe>(&mock, "get", json!({"path": "/w"})).unwrap();
    assert_eq!(mock.logs(), [(Level::Debug, "status 200".to_string())]);
    let usage = mock.usage();
    assert_eq!(usage.len(), 1);
    assert_eq!(
        (usage[0].counter.as_str(), usage[0].used, usage[0].window_ms),
        ("weight", 40, 60_000)
    );
}

#[test]
fn call_uses_a_fresh_instance_and_instance_keeps_state() {
    let mock = MockHost::new();
    for _ in 0..2 {
        let out = call::<Probe>(&mock, "get", json!({"path": "/x"})).unwrap();
        assert_eq!(out["calls"], 1);
    }
    let mut instance = Instance::<Probe>::new();
    instance.call(&mock, "get", json!({"path": "/x"})).unwrap();
    let out = instance.call(&mock, "get", json!({"path": "/x"})).unwrap();
    assert_eq!(out["calls"], 2);
}

#[test]
fn params_are_checked_like_the_host_does() {
    let mock = MockHost::new();
    assert!(matches!(
        call::<Probe>(&mock, "get", json!("x")),
        Err(VenueError::InvalidParams(m)) if m.contains("object")
    ));
    assert!(matches!(
        call::<Probe>(&mock, "get", json!({})),
        Err(VenueError::InvalidParams(m)) if m.contains("path")
    ));
    assert!(mock.requests().is_empty());
}

#[test]
fn hmac_is_real_rfc4231_case_2() {
    // RFC 4231 test case 2: key "Jefe".
    let mock = MockHost::new().secret("s", "Jefe");
    let mac = mock
        .run(|| host::hmac_sha256("s", b"what do ya want for nothing?"))
        .unwrap();
    assert_eq!(
        hex_encode(mac),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[cfg(feature = "evm")]
#[test]
fn secp256k1_signature_matches_polymarket_eoa_vector() {
    // docs/venues/vectors/polymarket_order_v2_eip712.json, eoa_constructed:
    // the digest of the order, signed with the well-known Hardhat key #0.
    let mock = MockHost::new().secret(
        "private_key",
        "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    );
    let digest: [u8; 32] = crate::encoding::hex_decode(
        "962c97b18bea292cc94b9479272aa74fb59a905e84a621a40eb339131e9fb6ba",
    )
    .unwrap()
    .try_into()
    .unwrap();
    let sig = mock
        .run(|| host::sign_secp256k1("private_key", &digest))
        .unwrap();
    assert_eq!(
        format!("0x{}", hex_encode(&sig)),
        "0x518472f1b081f6bd713d638bb11d1bf0720ed577e93c52eb00ec9f5f325f7d510c65cbfdfe9130de2602185f4a500863d777d8b838cb28abc75ecc1b5330315d1c"
    );
    // The same digest from the SDK's EIP-712 helpers.
    let domain = eip712::domain_separator(
        "Polymarket CTF Exchange",
        "2",
        80002,
        Some("0xE111180000d2663C0091e4f400237545B87B996B"),
    )
    .unwrap();
    assert_eq!(
        hex_encode(domain),
        "a440cbd865bc0c6243d7a8df9a8bf48a8827b0a4abbb61c30e96d305423af148"
    );
}

#[cfg(feature = "evm")]
#[test]
fn secp256k1_refuses_bad_keys_and_digests() {
    let mock = MockHost::new().secret("short", "0x1234").secret(
        "pk",
        "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    );
    let denied = |r: Result<Vec<u8>, SendError>| matches!(r, Err(SendError::Denied(_)));
    assert!(denied(mock.run(|| host::sign_secp256k1("short", &[1; 32]))));
    assert!(denied(
        mock.run(|| host::sign_secp256k1("missing", &[1; 32]))
    ));
    // A 31-byte digest cannot be passed through the typed API; check the import.
    assert!(denied(
        mock.run(|| super::imports::sign_secp256k1("pk", &[1; 31]))
    ));
    let sig = mock.run(|| host::sign_secp256k1("pk", &[1; 32])).unwrap();
    assert_eq!(sig.len(), 65);
    assert!(sig[64] == 27 || sig[64] == 28);
}

#[test]
#[should_panic(expected = "no MockHost active")]
fn host_call_outside_a_mock_panics_with_directions() {
    host::now_ms();
}

#[test]
fn nested_runs_restore_the_outer_mock() {
    let outer = MockHost::new().now_ms(1);
    let inner = MockHost::new().now_ms(2);
    outer.run(|| {
        assert_eq!(host::now_ms(), 1);
        assert_eq!(inner.run(host::now_ms), 2);
        assert_eq!(host::now_ms(), 1);
    });
}

#[test]
fn describe_reports_sdk_version_and_schema_default() {
    let info = describe::<Probe>();
    assert_eq!(info.name, "probe");
    assert_eq!(info.sdk_version, crate::SDK_VERSION);
    assert_eq!(info.operations.len(), 2);
    assert!(info.operations.iter().all(|o| o.params_schema == "{}"));
}
