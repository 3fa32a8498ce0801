//! Support for host integration tests: compiled plugins (built from source
//! once per test binary), a host started on a free loopback port, and a small
//! HTTP client for its API.
//!
//! Plugins are built with `cargo build --profile plugin --target wasm32-wasip2`
//! the first time a test asks for them, so `cargo test -p resilience-tests`
//! works on its own; `cargo xtask test` builds them first and sets
//! `RESILIENCE_PLUGINS_PREBUILT=1` to skip that step.

pub mod crypto;
pub mod faults;
pub mod order_chaos;
pub mod pg;
pub mod process;
pub mod seeded;
pub mod sim;
pub mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use resilience_host::config::{Config, Env};
use resilience_host::{App, api};
use serde_json::Value;
use tempfile::TempDir;

/// Every plugin crate the tests use, and the `.wasm` file each produces.
pub const PLUGINS: &[(&str, &str)] = &[
    ("ton-plugin", "ton"),
    ("template-plugin", "template"),
    ("binance-plugin", "binance"),
    ("polymarket-plugin", "polymarket"),
    ("chainlink-plugin", "chainlink"),
    ("kraken-plugin", "kraken"),
    ("test-plugin-echo", "echo"),
    ("test-plugin-spin-loop", "spin_loop"),
    ("test-plugin-memory-bomb", "memory_bomb"),
    ("test-plugin-trap", "trap"),
    ("test-plugin-wrong-wit", "wrong_wit"),
    ("test-plugin-wit-0-2-0", "wit_0_2_0"),
    ("test-plugin-sandbox-probe", "sandbox_probe"),
    ("test-plugin-describe-trap", "describe_trap"),
];

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(workspace_root());
    c
}

/// Build every test and venue plugin once per test process; returns the
/// folder holding the `.wasm` files.
pub fn built_plugins() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = target_dir().join("wasm32-wasip2").join("plugin");
        // `cargo xtask test` has just built them; skip the extra cargo call.
        if std::env::var_os("RESILIENCE_PLUGINS_PREBUILT").is_some() {
            return out;
        }
        let mut cmd = cargo();
        cmd.args([
            "build",
            "--quiet",
            "--profile",
            "plugin",
            "--target",
            "wasm32-wasip2",
        ]);
        for (pkg, _) in PLUGINS {
            cmd.args(["-p", pkg]);
        }
        let status = cmd
            .status()
            .expect("running cargo to build the test plugins");
        assert!(status.success(), "building the plugins failed: {status}");
        out
    })
}

/// The `resilience-host` binary, built (dev profile) if needed.
pub fn host_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = target_dir().join("debug").join("resilience-host");
        // Under `cargo xtask test` the workspace test build has just built it
        // (host/tests/cli.rs needs it) with the same features: no second build.
        if std::env::var_os("RESILIENCE_PLUGINS_PREBUILT").is_some() && bin.exists() {
            return bin;
        }
        let status = cargo()
            .args([
                "build",
                "--quiet",
                "-p",
                "resilience-host",
                "--bin",
                "resilience-host",
            ])
            .status()
            .expect("running cargo to build resilience-host");
        assert!(
            status.success(),
            "building resilience-host failed: {status}"
        );
        target_dir().join("debug").join("resilience-host")
    })
}

/// A temporary plugins folder holding copies of the named plugins (by `.wasm` stem).
pub fn plugin_dir(names: &[&str]) -> TempDir {
    plugin_dir_from(built_plugins(), names)
}

/// [`plugin_dir`] with the plugin files of the folder `src`.
pub fn plugin_dir_from(src: &Path, names: &[&str]) -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in names {
        let from = src.join(format!("{name}.wasm"));
        std::fs::copy(&from, dir.path().join(format!("{name}.wasm")))
            .unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
    }
    dir
}

/// Shared compiled-component cache for all tests (compiling in a debug host is slow).
pub fn cache_dir() -> PathBuf {
    target_dir().join("test-component-cache")
}

/// A config file's text: `[plugins]` pointing at `dir` with `limits`, then `rest`.
pub fn config_text(dir: &Path, limits: &str, rest: &str) -> String {
    format!(
        "{journal}[plugins]\ndir = {dir:?}\ncache_dir = {cache:?}\n[plugins.limits]\n{limits}\n\n{rest}\n",
        // Each host its own embedded journal, unless the test configures one.
        journal = if rest.contains("[journal]") {
            String::new()
        } else {
            format!(
                "[journal]\npath = {:?}\n",
                dir.join("journal.db").display().to_string()
            )
        },
        dir = dir.display().to_string(),
        cache = cache_dir().display().to_string(),
    )
}

/// A host serving its API on a free loopback port.
pub struct TestHost {
    pub app: Arc<App>,
    pub addr: SocketAddr,
    pub plugins: TempDir,
    probes: Vec<tokio::task::JoinHandle<()>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl std::fmt::Debug for TestHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestHost")
            .field("addr", &self.addr)
            .finish()
    }
}

impl TestHost {
    /// Start a host with the named plugins, plugin `limits` (TOML lines for
    /// `[plugins.limits]`) and the rest of the config (venues, server).
    pub async fn start(plugins: &[&str], limits: &str, rest: &str) -> TestHost {
        Self::start_with_env(plugins, limits, rest, Vec::new()).await
    }

    /// With `RESILIENCE_TEST_PARK_READS` set, every read parks at each of its
    /// venue waits (`max_waiting_instances = 0`, unless the test sets it):
    /// a test file's calls then run through `plugin::resume`.
    pub async fn start_with_env(plugins: &[&str], limits: &str, rest: &str, env: Env) -> TestHost {
        let dir = plugin_dir(plugins);
        let limits = match std::env::var_os("RESILIENCE_TEST_PARK_READS") {
            Some(_) if !limits.contains("max_waiting_instances") => {
                format!("{limits}\nmax_waiting_instances = 0")
            }
            _ => limits.to_string(),
        };
        let text = config_text(dir.path(), &limits, rest);
        let config = Config::parse(&text, false, &env).expect("test config is valid");
        let app = Arc::new(App::build(config, &env).await.expect("host starts"));
        let probes = app.spawn_health_probes();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = Arc::clone(&app);
        tokio::spawn(async move {
            let _ = api::serve(served, listener, async {
                let _ = rx.await;
            })
            .await;
        });
        TestHost {
            app,
            addr,
            plugins: dir,
            probes,
            shutdown: Some(tx),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// `POST path` with a raw body; returns status, headers and JSON body.
    pub async fn post_raw(
        &self,
        path: &str,
        body: impl Into<Bytes>,
        headers: &[(&str, &str)],
    ) -> (u16, http::HeaderMap, Value) {
        self.request(http::Method::POST, path, body.into(), headers)
            .await
    }

    /// `POST path` with a JSON body; returns status and JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let (s, _, v) = self
            .request(http::Method::POST, path, Bytes::from(body.to_string()), &[])
            .await;
        (s, v)
    }

    /// `GET path`; returns status and JSON body.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let (s, _, v) = self
            .request(http::Method::GET, path, Bytes::new(), &[])
            .await;
        (s, v)
    }

    pub async fn request(
        &self,
        method: http::Method,
        path: &str,
        body: Bytes,
        headers: &[(&str, &str)],
    ) -> (u16, http::HeaderMap, Value) {
        let mut req = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{}", self.addr, path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(body)).expect("request");
        let resp = self.client.request(req).await.expect("host answers");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, headers, value)
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        for p in &self.probes {
            p.abort();
        }
    }
}

/// Parse Prometheus text format into `(name{sorted labels}) -> value`.
/// Comment lines are skipped; label values are unescaped.
pub fn parse_prometheus(text: &str) -> std::collections::BTreeMap<String, f64> {
    let mut out = std::collections::BTreeMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = match line.rfind(' ') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => panic!("malformed metrics line {line:?}"),
        };
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let key = match series.find('{') {
            None => series.to_string(),
            Some(i) => {
                let name = &series[..i];
                let body = series[i + 1..]
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
                let mut labels = parse_labels(body);
                labels.sort();
                let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                format!("{name}{{{}}}", inner.join(","))
            }
        };
        out.insert(key, value);
    }
    out
}

fn parse_labels(body: &str) -> Vec<(String, String)> {
    let mut labels = Vec::new();
    let mut chars = body.chars().peekable();
    loop {
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.trim().is_empty() {
            break;
        }
        assert_eq!(chars.next(), Some('"'), "label value must be quoted");
        let mut value = String::new();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some('n') => value.push('\n'),
                    Some(other) => value.push(other),
                    None => break,
                },
                '"' => break,
                c => value.push(c),
            }
        }
        labels.push((key.trim().trim_start_matches(',').to_string(), value));
        if chars.peek() == Some(&',') {
            chars.next();
        }
    }
    labels
}

/// The key [`parse_prometheus`] gives a series.
pub fn series(name: &str, labels: &[(&str, &str)]) -> String {
    let mut l: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    l.sort();
    let inner: Vec<String> = l.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{name}{{{}}}", inner.join(","))
}

/// The sum of every series of `name` whose labels include all of `labels`
/// (e.g. all outcomes of one venue's calls).
pub fn sum_series(
    metrics: &std::collections::BTreeMap<String, f64>,
    name: &str,
    labels: &[(&str, &str)],
) -> f64 {
    let prefix = format!("{name}{{");
    metrics
        .iter()
        .filter(|(k, _)| k.starts_with(&prefix))
        .filter(|(k, _)| {
            labels
                .iter()
                .all(|(l, v)| k.contains(&format!("{l}={v:?}")))
        })
        .map(|(_, v)| v)
        .sum()
}
