//! The plugin sandbox: capabilities a plugin must not have, quarantine of a
//! plugin that keeps trapping, integrity pins, per-plugin limits, and
//! `plugins check`.

use resilience_host::App;
use resilience_host::config::Config;
use resilience_tests::{TestHost, config_text, host_binary, parse_prometheus, plugin_dir, series};
use serde_json::{Value, json};

fn venue(name: &str, plugin: &str) -> String {
    format!(
        "[venues.{name}]\nplugin = \"{plugin}\"\nendpoints = [\"http://127.0.0.1:9\"]\ntimeout_ms = 1000\n"
    )
}

/// Plugins get the WASI their `std` needs (clocks, random, stdio), not the
/// filesystem or sockets: a component importing those is refused at load,
/// naming them, before any of its code runs. (What a loaded plugin's `std`
/// sees, an empty environment and millisecond clocks, is checked in
/// `hostile_plugins.rs`.)
#[tokio::test]
async fn a_plugin_importing_files_or_sockets_is_refused_at_load_naming_them() {
    let dir = plugin_dir(&["sandbox_probe", "echo"]);
    let text = config_text(dir.path(), "", &venue("e", "echo"));
    let app = App::build(Config::parse(&text, false, &vec![]).unwrap(), &vec![])
        .await
        .unwrap();
    let loaded = app.loaded();
    assert!(loaded.plugins.contains_key("echo"));
    assert!(!loaded.plugins.contains_key("sandbox-probe"));
    assert_eq!(loaded.load_errors.len(), 1, "{:?}", loaded.load_errors);
    let e = &loaded.load_errors[0];
    assert!(e.file.ends_with("sandbox_probe.wasm"), "{e}");
    for interface in [
        "wasi:filesystem/types",
        "wasi:filesystem/preopens",
        "wasi:sockets/tcp",
        "wasi:sockets/ip-name-lookup",
    ] {
        assert!(e.reason.contains(interface), "names {interface}: {e}");
    }
    assert!(e.reason.contains("not granted"), "{e}");
}

#[tokio::test]
async fn a_plugin_that_keeps_trapping_is_quarantined_while_other_venues_serve() {
    let h = TestHost::start(
        &["trap", "echo"],
        "quarantine_after_traps = 3\nquarantine_window_ms = 60000",
        &format!("{}{}", venue("t", "trap"), venue("e", "echo")),
    )
    .await;
    for i in 0..3 {
        let (s, b) = h.post("/v1/venues/t/panic", &json!({})).await;
        assert_eq!(s, 500, "panic {i}: {b}");
        assert!(
            !b["error"]["message"]
                .as_str()
                .unwrap()
                .contains("quarantined"),
            "{b}"
        );
    }
    let (s, b) = h.post("/v1/venues/t/ok", &json!({})).await;
    assert_eq!(s, 500, "{b}");
    assert_eq!(b["error"]["kind"], "plugin");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("quarantined"),
        "{b}"
    );
    let (s, health) = h.get("/health").await;
    assert_eq!(s, 503);
    assert!(
        health["venues"]["t"]
            .as_str()
            .unwrap()
            .contains("quarantined"),
        "{health}"
    );
    assert_eq!(h.get("/health?venue=e").await.0, 200);
    let (s, b) = h
        .post("/v1/venues/e/echo", &json!({"still": "serving"}))
        .await;
    assert_eq!((s, b), (200, json!({"still": "serving"})));
    let (_, _, text) = h
        .request(http::Method::GET, "/metrics", Default::default(), &[])
        .await;
    let m = parse_prometheus(text.as_str().unwrap());
    assert_eq!(
        m[&series("resilience_plugin_quarantined", &[("plugin", "trap")])],
        1.0
    );
    assert_eq!(
        m[&series("resilience_plugin_quarantined", &[("plugin", "echo")])],
        0.0
    );
    assert_eq!(
        m[&series("resilience_plugin_traps_total", &[("plugin", "trap")])],
        3.0
    );
}

fn sha256_of(path: &std::path::Path) -> String {
    // The host reports the hash it computed; read it back through `plugins check`-like loading.
    let bytes = std::fs::read(path).unwrap();
    let out = std::process::Command::new("sha256sum").arg(path).output();
    match out {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .split_whitespace()
            .next()
            .unwrap()
            .to_string(),
        _ => panic!(
            "sha256sum unavailable for {} ({} bytes)",
            path.display(),
            bytes.len()
        ),
    }
}

#[tokio::test]
async fn integrity_pins_refuse_a_changed_file_naming_both_hashes() {
    let dir = plugin_dir(&["echo", "trap"]);
    let echo_hash = sha256_of(&dir.path().join("echo.wasm"));
    let wrong = "0".repeat(64);
    let text = config_text(
        dir.path(),
        "",
        &format!(
            "[plugins.pins]\necho = \"{echo_hash}\"\ntrap = \"{wrong}\"\n{}",
            venue("e", "echo")
        ),
    );
    let app = App::build(Config::parse(&text, false, &vec![]).unwrap(), &vec![])
        .await
        .unwrap();
    assert!(
        app.loaded().plugins.contains_key("echo"),
        "the pinned, matching file loads"
    );
    assert!(!app.loaded().plugins.contains_key("trap"));
    let e = &app.loaded().load_errors[0];
    assert!(e.file.ends_with("trap.wasm"));
    assert!(e.reason.contains(&wrong), "{e}");
    let trap_hash = sha256_of(&dir.path().join("trap.wasm"));
    assert!(e.reason.contains(&trap_hash), "{e}");
}

#[tokio::test]
async fn per_plugin_overrides_change_only_that_plugins_limits() {
    let h = TestHost::start(
        &["memory_bomb", "echo"],
        "memory_mib = 16\n[plugins.overrides.memory-bomb]\nmemory_mib = 96",
        &format!("{}{}", venue("b", "memory-bomb"), venue("e", "echo")),
    )
    .await;
    assert_eq!(h.app.loaded().plugins["memory-bomb"].limits.memory_mib, 96);
    assert_eq!(h.app.loaded().plugins["echo"].limits.memory_mib, 16);
    let (s, b) = h.post("/v1/venues/b/allocate", &json!({"mib": 48})).await;
    assert_eq!(s, 200, "48 MiB fits the override: {b}");
    let (s, _) = h.post("/v1/venues/b/allocate", &json!({"mib": 128})).await;
    assert_eq!(s, 500, "but not 128");
}

#[tokio::test]
async fn plugins_check_reports_versions_imports_fuel_and_peak_memory() {
    let dir = plugin_dir(&["echo", "wrong_wit"]);
    let bin = host_binary().to_path_buf();
    let run = |file: std::path::PathBuf| {
        let bin = bin.clone();
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(bin)
                .args(["plugins", "check"])
                .arg(file)
                .env("RUST_LOG", "error")
                .output()
                .unwrap()
        })
    };
    let ok = run(dir.path().join("echo.wasm")).await.unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let v: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(v["name"], "echo");
    assert_eq!(v["wit_version"], "0.2.1");
    assert!(v["describe"]["fuel"].as_u64().unwrap() > 0);
    assert!(v["describe"]["peak_memory_bytes"].as_u64().unwrap() >= 65536);
    assert_eq!(
        v["secrets"],
        json!([
            {"name": "key", "use": "header"},
            {"name": "mac", "use": "hmac-key"},
            {"name": "pk", "use": "secp256k1-key"}
        ]),
        "the declared uses an operator checks before configuring secrets"
    );
    assert_eq!(v["usage_counters"], json!(["weight"]));
    assert!(
        v["imports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i == "resilience:venue/host@0.2.1")
    );
    assert!(
        v["imports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i == "resilience:venue/endpoints@0.2.1"),
        "echo pins requests: {v}"
    );
    let bad = run(dir.path().join("wrong_wit.wasm")).await.unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("wrong_wit.wasm") && err.contains("@0.2.0") && err.contains("@0.1.0"),
        "{err}"
    );
}

#[tokio::test]
async fn stack_overflow_and_oversized_output_are_plugin_errors() {
    let h = TestHost::start(&["trap"], "max_output_bytes = 1048576", &venue("t", "trap")).await;
    let (s, b) = h.post("/v1/venues/t/recurse", &json!({})).await;
    assert_eq!(s, 500, "{b}");
    assert_eq!(b["error"]["kind"], "plugin");
    // Rust's shadow stack lives in linear memory: overflowing it is an
    // out-of-bounds access trap (or a wasm stack overflow for deep native frames).
    assert!(
        b["error"]["message"].as_str().unwrap().contains("trap"),
        "{b}"
    );
    let (s, b) = h.post("/v1/venues/t/huge_output", &json!({"mib": 2})).await;
    assert_eq!(s, 500, "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("max_output_bytes"),
        "{b}"
    );
    let (s, _) = h.post("/v1/venues/t/ok", &json!({})).await;
    assert_eq!(s, 200, "the host carries on");
}

#[tokio::test]
async fn a_plugin_that_traps_in_describe_is_refused_by_name_and_others_load() {
    let dir = plugin_dir(&["describe_trap", "echo"]);
    let text = config_text(dir.path(), "", &venue("e", "echo"));
    let app = App::build(Config::parse(&text, false, &vec![]).unwrap(), &vec![])
        .await
        .unwrap();
    let loaded = app.loaded();
    assert!(loaded.plugins.contains_key("echo"));
    assert_eq!(loaded.load_errors.len(), 1);
    let e = &loaded.load_errors[0];
    assert!(e.file.ends_with("describe_trap.wasm"), "{e}");
    assert!(
        e.reason.contains("describe failed")
            && e.reason.contains("deliberate panic while describing"),
        "{e}"
    );
}
