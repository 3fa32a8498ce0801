//! `resilience-host init` and `plugins config`: the config written from the
//! default venue sections the shipped plugins carry starts a host that serves
//! every venue whose secrets are set.

use std::process::Command;

use resilience_host::App;
use resilience_host::config::Config;
use resilience_tests::{cache_dir, host_binary, plugin_dir};

/// The venue plugins the project ships, each with a default venue section.
const SHIPPED: [&str; 5] = ["ton", "binance", "polymarket", "chainlink", "kraken"];

/// Every `env = "NAME"` the config's secrets name, each with a value of the
/// shape its use needs (the keys are fake, for loopback tests only).
fn fake_secrets(config: &toml::Table) -> Vec<(String, String)> {
    let mut env = Vec::new();
    let venues = config["venues"].as_table().expect("venues");
    for venue in venues.values() {
        let Some(secrets) = venue.get("secrets").and_then(toml::Value::as_table) else {
            continue;
        };
        for (name, secret) in secrets {
            let Some(var) = secret.get("env").and_then(toml::Value::as_str) else {
                continue;
            };
            let value = if name.contains("private_key") {
                "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318".to_string()
            } else if name.contains("secret") {
                "ZGVtby1zZWNyZXQtZGVtby1zZWNyZXQ=".to_string()
            } else {
                format!("fake-{name}")
            };
            env.push((var.to_string(), value));
        }
    }
    env
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(host_binary())
        .args(args)
        .output()
        .expect("resilience-host runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn init_writes_a_config_that_serves_every_shipped_venue() {
    let dir = plugin_dir(&SHIPPED);
    let plugins = dir.path().to_str().expect("utf-8 path");
    let (ok, text, stderr) = run(&["init", "--plugins", plugins, "--output", "-"]);
    assert!(ok, "{stderr}");
    let doc: toml::Table = toml::from_str(&text).expect("init writes TOML");
    let venues = doc["venues"].as_table().expect("venues");
    for plugin in SHIPPED {
        assert!(
            venues
                .values()
                .any(|v| v.get("plugin").and_then(toml::Value::as_str) == Some(plugin)),
            "plugin {plugin} ships a venue section:\n{text}"
        );
    }
    let env = fake_secrets(&doc);
    // The test host keeps its journal and compiled components in the temp dir.
    let text = format!(
        "{text}\n",
        text = text.replace(
            "[journal]\n",
            &format!(
                "[journal]\npath = {:?}\n",
                dir.path().join("journal.db").display().to_string()
            )
        )
    )
    .replace(
        &format!("[plugins]\ndir = {plugins:?}\n"),
        &format!(
            "[plugins]\ndir = {plugins:?}\ncache_dir = {:?}\n",
            cache_dir().display().to_string()
        ),
    );
    let config = Config::parse(&text, false, &env).expect("the written config is valid");
    let app = App::build(config, &env).await.expect("the host starts");
    let loaded = app.loaded();
    assert!(loaded.broken.is_empty(), "{:?}", loaded.broken);
    assert_eq!(loaded.venues.len(), venues.len());
}

#[tokio::test]
async fn init_refuses_to_overwrite_and_plugins_config_prints_one_section() {
    let dir = plugin_dir(&["kraken"]);
    let plugins = dir.path().to_str().expect("utf-8 path");
    let existing = dir.path().join("resilience.toml");
    std::fs::write(&existing, "# mine\n").unwrap();
    let out = existing.to_str().unwrap();
    let (ok, _, stderr) = run(&["init", "--plugins", plugins, "--output", out]);
    assert!(!ok && stderr.contains("--force"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "# mine\n");
    let (ok, _, stderr) = run(&["init", "--plugins", plugins, "--output", out, "--force"]);
    assert!(ok, "{stderr}");
    assert!(
        std::fs::read_to_string(&existing)
            .unwrap()
            .contains("[venues.kraken]")
    );

    let (ok, section, stderr) = run(&["plugins", "config", "kraken", "--dir", plugins]);
    assert!(ok, "{stderr}");
    assert!(section.starts_with("# Kraken"), "{section}");
    assert!(section.contains("[venues.kraken]"), "{section}");
    let (ok, _, stderr) = run(&["plugins", "config", "nope", "--dir", plugins]);
    assert!(
        !ok && stderr.contains("kraken"),
        "names the plugins it has: {stderr}"
    );
}
