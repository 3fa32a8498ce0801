//! Plugins that wait instead of spinning, flood their output, or hang at
//! load, and callers without the token: none of them can stall the host,
//! reach another caller's data, or read its configuration.
//!
//! The plugins (`tests/plugins/sleeper`, `tests/plugins/slow-describe`) sleep
//! with `std::thread::sleep`, a real WASI clock wait that burns no CPU, so
//! only the wall-clock limits stop them.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use resilience_host::CallError;
use resilience_host::plugin::DESCRIBE_LIMIT;
use resilience_host::plugin::pool::Call;
use resilience_tests::{TestHost, built_plugins, workspace_root};
use serde_json::{Value, json};

/// The hostile plugin crates, built (once per test process) next to the
/// others unless `cargo xtask test` has built every plugin already.
fn build_hostile_plugins() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = built_plugins();
        if std::env::var_os("RESILIENCE_PLUGINS_PREBUILT").is_some() {
            return;
        }
        let status =
            std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .current_dir(workspace_root())
                .args([
                    "build",
                    "--quiet",
                    "--profile",
                    "plugin",
                    "--target",
                    "wasm32-wasip2",
                    "-p",
                    "test-plugin-sleeper",
                    "-p",
                    "test-plugin-slow-describe",
                ])
                .status()
                .expect("running cargo to build the hostile plugins");
        assert!(status.success(), "building the hostile plugins failed");
        assert!(dir.join("sleeper.wasm").exists());
    });
}

fn venue(name: &str, plugin: &str, deadline_ms: u64) -> String {
    format!(
        "[venues.{name}]\nplugin = \"{plugin}\"\nendpoints = [\"http://127.0.0.1:9\"]\n\
         timeout_ms = {deadline_ms}\ndeadline_ms = {deadline_ms}\n"
    )
}

const TOKEN_ENV: &str = "HOSTILE_TEST_TOKEN";
const TOKEN: &str = "t0ken-for-hostile-tests";

async fn start(plugins: &[&str], limits: &str, venues: &str) -> TestHost {
    build_hostile_plugins();
    TestHost::start_with_env(
        plugins,
        limits,
        &format!("[server]\nauth_token_env = \"{TOKEN_ENV}\"\n{venues}"),
        vec![(TOKEN_ENV.to_string(), TOKEN.to_string())],
    )
    .await
}

const AUTH: (&str, &str) = ("authorization", "Bearer t0ken-for-hostile-tests");

async fn call(h: &TestHost, path: &str, body: Value, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut all = vec![AUTH];
    all.extend_from_slice(headers);
    let (s, _, v) = h.post_raw(path, body.to_string(), &all).await;
    (s, v)
}

fn message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or_default()
}

/// Start-up is bounded: the describe limit, plus compiling in a debug host.
const STARTUP_BOUND: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_plugin_sleeping_in_describe_is_refused_by_name_while_the_others_serve() {
    let started = Instant::now();
    let h = tokio::time::timeout(
        STARTUP_BOUND,
        start(
            &["echo", "slow_describe"],
            "",
            &format!(
                "{}{}",
                venue("e", "echo", 5000),
                venue("slow", "slow-describe", 5000)
            ),
        ),
    )
    .await
    .expect("the host starts within a bounded time although a plugin sleeps in describe");
    assert!(
        started.elapsed() >= DESCRIBE_LIMIT,
        "the sleeper was given its full describe limit"
    );
    let loaded = h.app.loaded();
    assert!(loaded.plugins.contains_key("echo"));
    assert_eq!(loaded.load_errors.len(), 1, "{:?}", loaded.load_errors);
    let e = &loaded.load_errors[0];
    assert!(e.file.ends_with("slow_describe.wasm"), "{e}");
    assert!(
        e.reason.contains("describe")
            && e.reason.contains("slow_describe.wasm")
            && e.reason.contains(&format!(
                "wall-clock limit of {} ms",
                DESCRIBE_LIMIT.as_millis()
            )),
        "{e}"
    );
    let (s, b) = call(&h, "/v1/venues/e/echo", json!({"still": "serving"}), &[]).await;
    assert_eq!((s, b), (200, json!({"still": "serving"})));
    let (s, b) = h.get("/health?venue=slow").await;
    assert_eq!(s, 503, "{b}");
    assert_eq!(b["venues"]["slow"], "plugin not loaded", "{b}");
}

#[tokio::test]
async fn a_plugin_sleeping_in_invoke_fails_plugin_at_the_deadline_and_its_instance_is_replaced() {
    let h = start(&["sleeper"], "", &venue("s", "sleeper", 1000)).await;
    let (s, b) = call(&h, "/v1/venues/s/calls", json!({}), &[]).await;
    assert_eq!((s, b), (200, json!({"calls": 1})));

    let started = Instant::now();
    let (s, b) = call(&h, "/v1/venues/s/sleep", json!({"ms": 60_000}), &[]).await;
    let took = started.elapsed();
    assert_eq!(s, 500, "{b}");
    assert_eq!(b["error"]["kind"], "plugin", "{b}");
    let m = message(&b);
    assert!(
        m.contains("plugin sleeper")
            && m.contains("invoke of \"sleep\"")
            && m.contains("wall-clock limit of 1000 ms"),
        "names the plugin, the operation and the limit: {m}"
    );
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(1900),
        "stopped at the venue deadline, not later: {took:?}"
    );

    // The instance that slept was dropped, not put back: a fresh one answers.
    let (s, b) = call(&h, "/v1/venues/s/calls", json!({}), &[]).await;
    assert_eq!((s, b), (200, json!({"calls": 1})));
    let v = &h.app.loaded().venues["s"];
    assert_eq!(v.pool.instances_created(), 2);
    assert_eq!(v.pool.wall_limit_hits(), 1);
    assert_eq!(v.pool.traps(), 1, "counted like a trap");
}

#[tokio::test]
async fn sleeping_calls_count_towards_quarantine() {
    let h = start(
        &["sleeper", "echo"],
        "quarantine_after_traps = 2\nquarantine_window_ms = 60000",
        &format!("{}{}", venue("s", "sleeper", 300), venue("e", "echo", 300)),
    )
    .await;
    for _ in 0..2 {
        let (s, b) = call(&h, "/v1/venues/s/sleep", json!({"ms": 60_000}), &[]).await;
        assert_eq!(s, 500, "{b}");
    }
    let (s, b) = call(&h, "/v1/venues/s/calls", json!({}), &[]).await;
    assert_eq!(s, 500, "{b}");
    assert!(message(&b).contains("quarantined"), "{b}");
    let (s, b) = h.get("/health").await;
    assert_eq!(s, 503);
    assert_eq!(b["venues"], json!({"s": "quarantined"}));
}

#[tokio::test]
async fn a_mutating_call_sleeping_in_prepare_fails_plugin_at_the_deadline() {
    let h = start(&["sleeper"], "", &venue("s", "sleeper", 1000)).await;
    let started = Instant::now();
    let (s, b) = call(
        &h,
        "/v1/venues/s/order",
        json!({"sleep_ms": 60_000}),
        &[("idempotency-key", "hostile-order-1")],
    )
    .await;
    assert_eq!(s, 500, "{b}");
    assert_eq!(b["error"]["kind"], "plugin", "{b}");
    assert!(
        message(&b).contains("prepare of \"order\"")
            && message(&b).contains("wall-clock limit of 1000 ms"),
        "{b}"
    );
    assert!(started.elapsed() < Duration::from_millis(1900));
    // Without a sleep the same plugin places the order.
    let (s, b) = call(
        &h,
        "/v1/venues/s/order",
        json!({}),
        &[("idempotency-key", "hostile-order-2")],
    )
    .await;
    assert_eq!((s, b), (200, json!({"placed": true})));
}

#[tokio::test]
async fn a_reconcile_sleeping_is_stopped_at_its_wall_clock_limit() {
    let h = start(&["sleeper"], "", &venue("s", "sleeper", 1000)).await;
    let v = Arc::clone(&h.app.loaded().venues["s"]);
    let started = Instant::now();
    let result = tokio::time::timeout(
        Duration::from_secs(10),
        v.pool.run(
            None,
            Call::Reconcile {
                operation: "order",
                params: r#"{"sleep_ms": 60000}"#,
                key: "hostile-order-1",
            },
            Duration::from_millis(300),
        ),
    )
    .await
    .expect("reconcile is bounded by its wall-clock limit");
    let Err(CallError::Plugin(m)) = result else {
        panic!("expected a plugin error, got {result:?}");
    };
    assert!(
        m.contains("reconcile of \"order\"") && m.contains("wall-clock limit of 300 ms"),
        "{m}"
    );
    assert!(started.elapsed() < Duration::from_millis(1000));
    assert_eq!(v.pool.idle(), 0, "the instance was not put back");
}

#[tokio::test]
async fn stderr_is_captured_per_call_and_a_flood_before_a_panic_stays_bounded() {
    let h = start(&["sleeper"], "", &venue("s", "sleeper", 5000)).await;
    const SECRET: &str = "caller-A-account-7731";
    let (s, b) = call(&h, "/v1/venues/s/say", json!({"text": SECRET}), &[]).await;
    assert_eq!(s, 200, "{b}");
    // The same warm instance panics for the next caller.
    let (s, b) = call(&h, "/v1/venues/s/panic", json!({}), &[]).await;
    assert_eq!(s, 500, "{b}");
    let m = message(&b);
    assert!(m.contains("deliberate panic in sleeper"), "{m}");
    assert!(!m.contains(SECRET), "an earlier call's stderr leaked: {m}");

    let (s, b) = call(&h, "/v1/venues/s/say", json!({"text": SECRET}), &[]).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = call(
        &h,
        "/v1/venues/s/flood_then_panic",
        json!({"bytes": 2_000_000}),
        &[],
    )
    .await;
    assert_eq!(s, 500, "{b}");
    let m = message(&b);
    assert!(
        m.contains("deliberate panic after a flood"),
        "the panic message survives the flood: {m}"
    );
    assert!(!m.contains(SECRET), "{m}");
    assert!(m.len() < 2000, "bounded: {} bytes", m.len());
}

#[tokio::test]
async fn plugins_get_no_environment_and_millisecond_clocks() {
    let h = start(&["sleeper"], "", &venue("s", "sleeper", 5000)).await;
    let (s, b) = call(&h, "/v1/venues/s/env", json!({}), &[]).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b,
        json!({"count": 0, "home": null, "path": null, "args": 0})
    );
    let (s, b) = call(&h, "/v1/venues/s/clock", json!({}), &[]).await;
    assert_eq!(s, 200, "{b}");
    assert!(
        b["sub_ms_nanos"].as_array().unwrap().iter().all(|n| n == 0),
        "ms resolution: {b}"
    );
}

#[tokio::test]
async fn a_reload_with_a_plugin_hanging_in_describe_finishes_in_bounded_time() {
    let h = start(&["echo"], "", &venue("e", "echo", 5000)).await;
    std::fs::copy(
        built_plugins().join("slow_describe.wasm"),
        h.plugins.path().join("slow_describe.wasm"),
    )
    .unwrap();
    let started = Instant::now();
    let reloading = {
        let app = Arc::clone(&h.app);
        tokio::spawn(async move { app.reload().await })
    };
    // Calls are served while the reload waits on the sleeper.
    let mut served = 0;
    while !reloading.is_finished() && served < 20 {
        let (s, b) = call(&h, "/v1/venues/e/echo", json!({"n": served}), &[]).await;
        assert_eq!((s, b), (200, json!({"n": served})));
        served += 1;
    }
    let report = tokio::time::timeout(STARTUP_BOUND, reloading)
        .await
        .expect("the reload finishes in bounded time")
        .unwrap();
    assert!(served > 0);
    assert!(started.elapsed() >= DESCRIBE_LIMIT);
    assert!(report.loaded.contains_key("echo"), "{report:?}");
    assert_eq!(report.errors.len(), 1, "{report:?}");
    assert!(
        report.errors[0].contains("slow_describe.wasm")
            && report.errors[0].contains("wall-clock limit"),
        "{report:?}"
    );
    // The reload lock was released: another reload runs.
    let again = tokio::time::timeout(STARTUP_BOUND, h.app.reload())
        .await
        .expect("a second reload is not stuck behind the first");
    assert_eq!(again.errors.len(), 1);
    let (s, _) = call(&h, "/v1/venues/e/echo", json!({}), &[]).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn health_without_the_token_shows_no_env_vars_paths_or_reasons() {
    const MISSING_ENV: &str = "HOSTILE_TEST_MISSING_API_KEY";
    let h = start(
        &["echo"],
        "",
        &format!(
            "{}{}{}[venues.keyed.secrets]\napi_key = {{ env = \"{MISSING_ENV}\" }}\n",
            venue("e", "echo", 5000),
            venue("ghost", "no-such-plugin", 5000),
            venue("keyed", "echo", 5000),
        ),
    )
    .await;
    let dir = h.plugins.path().display().to_string();

    let (s, b) = h.get("/health").await;
    assert_eq!(s, 503, "{b}");
    assert_eq!(
        b,
        json!({"status": "degraded", "venues": {
            "ghost": "plugin not loaded",
            "keyed": "not configured",
        }})
    );
    let text = b.to_string();
    for leak in [MISSING_ENV, dir.as_str(), "venues.", "no-such-plugin"] {
        assert!(!text.contains(leak), "/health shows {leak:?}: {text}");
    }
    assert_eq!(
        h.get("/health?venue=e").await,
        (200, json!({"status": "ok"}))
    );
    let (s, b) = h.get("/health?venue=nope").await;
    assert_eq!(s, 404, "{b}");
    assert_eq!(b["status"], "unknown_venue");

    // The reasons are behind the token.
    let (s, _) = h.get("/v1/health").await;
    assert_eq!(s, 401);
    let (s, _, b) = h
        .request(http::Method::GET, "/v1/health", Default::default(), &[AUTH])
        .await;
    assert_eq!(s, 503, "{b}");
    assert!(
        b["venues"]["keyed"].as_str().unwrap().contains(MISSING_ENV),
        "{b}"
    );
    assert!(
        b["venues"]["ghost"]
            .as_str()
            .unwrap()
            .contains("venues.ghost.plugin"),
        "{b}"
    );
    let (s, _, b) = h
        .request(
            http::Method::GET,
            "/v1/health?venue=nope",
            Default::default(),
            &[AUTH],
        )
        .await;
    assert_eq!(s, 404, "{b}");
}

#[tokio::test]
async fn wrong_methods_get_405_with_allow() {
    let h = start(&["echo"], "", &venue("e", "echo", 5000)).await;
    for (method, path, allow) in [
        (http::Method::POST, "/health", "GET"),
        (http::Method::DELETE, "/metrics", "GET"),
        (http::Method::POST, "/v1/venues", "GET"),
        (http::Method::POST, "/v1/health", "GET"),
        (http::Method::PUT, "/v1/stats", "GET"),
        (http::Method::GET, "/v1/venues/e/echo", "POST"),
        (http::Method::GET, "/v1/admin/reload", "POST"),
    ] {
        let (s, headers, b) = h
            .request(method.clone(), path, Default::default(), &[AUTH])
            .await;
        assert_eq!(s, 405, "{method} {path}: {b}");
        assert_eq!(
            headers
                .get(http::header::ALLOW)
                .map(|v| v.to_str().unwrap()),
            Some(allow),
            "{method} {path}"
        );
    }
    let (s, _, _) = h
        .request(http::Method::GET, "/v1/venues", Default::default(), &[])
        .await;
    assert_eq!(s, 401, "a wrong token is refused before anything else");
}

/// The wall-clock limit blames the plugin only for its own waits: a call
/// whose deadline passes while the plugin waits on a slow venue is a
/// `timeout`, and no trap.
#[tokio::test]
async fn a_slow_venue_at_the_deadline_is_a_timeout_not_a_plugin_fault() {
    use wiremock::matchers::path;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(10)))
        .mount(&server)
        .await;
    let h = start(
        &["echo"],
        "quarantine_after_traps = 1",
        &format!(
            "[venues.e]\nplugin = \"echo\"\nendpoints = [\"{}\"]\ntimeout_ms = 500\n\
             deadline_ms = 500\nretry = {{ max_attempts = 1 }}\n",
            server.uri()
        ),
    )
    .await;
    for _ in 0..3 {
        let started = Instant::now();
        let (s, b) = call(&h, "/v1/venues/e/send", json!({"path": "/slow"}), &[]).await;
        assert_eq!(s, 504, "{b}");
        assert_eq!(b["error"]["kind"], "timeout", "{b}");
        assert!(started.elapsed() < Duration::from_millis(1500));
    }
    let v = &h.app.loaded().venues["e"];
    assert_eq!(v.pool.traps(), 0);
    assert!(!v.plugin.quarantine.is_active());
    assert_eq!(h.get("/health?venue=e").await.0, 200);
}

/// What a plugin hands the host to answer, log or journal is bounded: an
/// error's text is cut, and a `prepare` that chooses an oversized key or
/// params is refused before anything is journaled or sent.
#[tokio::test]
async fn a_plugins_oversized_error_text_key_and_params_are_bounded() {
    let h = start(
        &["sleeper"],
        "max_output_bytes = 4096",
        &venue("s", "sleeper", 2000),
    )
    .await;
    let (s, b) = call(
        &h,
        "/v1/venues/s/long_error",
        json!({"bytes": 1_000_000}),
        &[],
    )
    .await;
    assert_eq!((s, &b["error"]["kind"]), (502, &json!("parse")));
    let m = message(&b);
    assert!(
        m.len() <= 4200 && m.ends_with("[cut: 1000000 bytes]"),
        "a message of {} bytes",
        m.len()
    );

    for (params, key, fragment) in [
        (json!({"key_bytes": 300}), "k-long", "idempotency key"),
        (json!({"pad_bytes": 10_000}), "k-pad", "max_output_bytes"),
    ] {
        let (s, b) = call(
            &h,
            "/v1/venues/s/order",
            params,
            &[("idempotency-key", key)],
        )
        .await;
        assert_eq!((s, &b["error"]["kind"]), (500, &json!("plugin")), "{b}");
        assert!(message(&b).contains(fragment), "{b}");
    }
    let (s, _, b) = h
        .request(
            http::Method::GET,
            "/v1/journal",
            Default::default(),
            &[AUTH],
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        b["entries"].as_array().map(Vec::len),
        Some(0),
        "nothing journaled: {b}"
    );
}
