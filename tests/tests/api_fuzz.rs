//! The API against its own OpenAPI description, fuzzed: a host serving every
//! venue plugin against simulated venues on loopback (with random faults) and
//! a bearer token, `/openapi.json` checked by `openapi-spec-validator`, then
//! `schemathesis` with every check but one, bounded in examples and time
//! (settings in `tests/schemathesis.toml`: 502-504 are the documented answers
//! for a failing venue; a 500 fails the run).
//!
//! Left out: `positive_data_acceptance`. It expects a 2xx for any request the
//! schema allows, but a schema cannot say everything a venue refuses (a
//! Binance symbol that does not trade, a TON address whose checksum fails),
//! and the simulated venues answer with faults on purpose; such answers are
//! documented 4xx/5xx responses, which `status_code_conformance` and
//! `response_schema_conformance` do check.
//!
//! The Python tools come from the test virtualenv (`cargo xtask test` builds
//! it from `tests/oracle/requirements.txt` and sets `RESILIENCE_ORACLE_PYTHON`).

use std::path::{Path, PathBuf};
use std::process::Command;

use resilience_tests::TestHost;
use resilience_tests::sim::{self, Faults, Sim};
use serde_json::json;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "fuzz-token-7f3a";

/// The test virtualenv's interpreter, or `None` (skip) outside CI.
fn python() -> Option<PathBuf> {
    match std::env::var_os("RESILIENCE_ORACLE_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var_os("CI").is_some() => {
            panic!("CI needs RESILIENCE_ORACLE_PYTHON (cargo xtask test sets it)")
        }
        None => {
            eprintln!(
                "skipped: set RESILIENCE_ORACLE_PYTHON to a python with the packages of \
                 tests/oracle/requirements.txt (cargo xtask test does)"
            );
            None
        }
    }
}

/// A Kraken venue on wiremock: the ticker and the time of Kraken's docs.
async fn kraken() -> (MockServer, String) {
    let server = MockServer::start().await;
    Mock::given(path("/0/public/Time"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"error": [], "result": {"unixtime": 1688669448, "rfc1123": "Thu, 06 Jul 23 18:50:48 +0000"}}),
        ))
        .mount(&server)
        .await;
    Mock::given(path("/0/public/Ticker"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"error": [], "result": {
            "XXBTZUSD": {"a": ["1.0", "1", "1"], "b": ["1.0", "1", "1"], "c": ["1.0", "1"],
                "v": ["1", "1"], "p": ["1", "1"], "t": [1, 1], "l": ["1", "1"], "h": ["1", "1"], "o": "1"}
        }})))
        .mount(&server)
        .await;
    let config = format!(
        "[venues.kraken]\nplugin = \"kraken\"\nendpoints = [\"{}\"]\ntimeout_ms = 2000\ndeadline_ms = 5000\n",
        server.uri()
    );
    (server, config)
}

fn tool(python: &Path, name: &str) -> Command {
    let bin = python.parent().expect("python in a bin folder").join(name);
    Command::new(bin)
}

fn run(mut cmd: Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The last lines carry the summary; the whole output on failure.
    let tail: Vec<&str> = text.lines().rev().take(15).collect();
    eprintln!(
        "{what}:\n{}",
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    );
    assert!(out.status.success(), "{what} failed:\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_matches_its_openapi_description_under_schemathesis() {
    let Some(python) = python() else { return };
    let sim = Sim::start(Faults::Random { seed: 11 }, "").await;
    let (_kraken, kraken_config) = kraken().await;
    let mut env = sim::env();
    env.push(("FUZZ_TOKEN".into(), TOKEN.into()));
    let mut plugins = sim::PLUGINS.to_vec();
    plugins.push("kraken");
    let host = TestHost::start_with_env(
        &plugins,
        "",
        &format!(
            "[server]\nauth_token_env = \"FUZZ_TOKEN\"\n{}\n{kraken_config}",
            sim.config
        ),
        env,
    )
    .await;
    let url = format!("http://{}/openapi.json", host.addr);

    // The document itself is valid OpenAPI 3.1.
    let (status, _, doc) = host
        .request(
            http::Method::GET,
            "/openapi.json",
            Default::default(),
            &[("authorization", &format!("Bearer {TOKEN}"))],
        )
        .await;
    assert_eq!(status, 200, "{doc}");
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), doc.to_string()).expect("write the document");
    let mut validate = tool(&python, "openapi-spec-validator");
    validate.arg(file.path());
    let validate = tokio::task::spawn_blocking(move || run(validate, "openapi-spec-validator"));
    validate.await.expect("validator ran");

    let config = resilience_tests::workspace_root().join("tests/schemathesis.toml");
    let mut st = tool(&python, "schemathesis");
    st.arg("--config-file")
        .arg(&config)
        .args(["run", &url, "--checks", "all"])
        .args(["--exclude-checks", "positive_data_acceptance"])
        .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
        .args(["--max-examples", "10", "--seed", "20261128"])
        .args([
            "--workers",
            "2",
            "--request-timeout",
            "10",
            "--max-time",
            "120",
        ])
        .args(["--generation-database", "none", "--no-color"])
        .current_dir(std::env::temp_dir());
    tokio::task::spawn_blocking(move || run(st, "schemathesis"))
        .await
        .expect("schemathesis ran");
}
