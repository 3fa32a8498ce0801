//! The API clients (`clients/rust`: crate `resilience-client`;
//! `clients/python`: package `resilience_client`) against a real host
//! process: the `resilience-host` binary serving the echo test plugin
//! against a wiremock venue, behind a bearer token.
//!
//! Venues (all plugin `echo`, see `tests/plugins/echo`):
//!
//! | venue | what it gives |
//! |---|---|
//! | `v` | `checked` on `/ticker` succeeds; on `/refused` the venue answers 400 with an error code (`upstream`) |
//! | `limited` | `checked` on `/limited`: the venue's rate limit with a 60 s wait (`rate_limited`, `retry_after_ms`) |
//! | `slow` | `send` on `/slow`: the venue answers after 3 s, the attempt times out after 300 ms (`timeout`) |
//! | `dead` | nothing listens at its endpoint (`connection`) |
//! | `orders` | `place` (mutating, journaled) POSTs `/orders`; each order the venue takes gets the next `order_no` |
//! | `unconfigured` | its secret's env var is unset: `/health` is degraded with `not configured` |
//!
//! The Python client's own tests (`clients/python/tests/test_client.py`)
//! run against such a host with the interpreter of `RESILIENCE_ORACLE_PYTHON`
//! (`cargo xtask test` builds that virtualenv), importing the package from
//! `clients/python/src` through `PYTHONPATH`: the client needs nothing but
//! the standard library, so the shared virtualenv is not modified (no `pip
//! install` into it, which would also need a build backend from an index)
//! and the tests run offline against the source as it is.

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use resilience_client::{Client, ErrorKind, JournalQuery, JournalState};
use resilience_host::CallError;
use resilience_tests::faults::refused_addr;
use resilience_tests::sim::{self, Faults, Sim};
use resilience_tests::{config_text, host_binary, plugin_dir, target_dir, workspace_root};
use serde_json::{Value, json};
use tempfile::TempDir;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const TOKEN: &str = "client-test-token-5e1d";
const TOKEN_VAR: &str = "CLIENT_TEST_TOKEN";
const UNSET_VAR: &str = "CLIENT_TEST_UNSET_SECRET";

/// The venue's order desk: each POST /orders is a new order number.
struct OrderDesk(Arc<AtomicU64>);

impl Respond for OrderDesk {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(200).set_body_json(json!({ "order_no": n }))
    }
}

/// A `resilience-host serve` process, killed on drop.
struct HostProcess {
    url: String,
    child: Child,
    dir: TempDir,
    _plugins: TempDir,
}

impl HostProcess {
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("host.log")).unwrap_or_default()
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The wiremock venue, the host process, and how many orders the venue took.
struct Fixture {
    _venue: MockServer,
    host: HostProcess,
    orders: Arc<AtomicU64>,
}

impl Fixture {
    async fn start() -> Fixture {
        let venue = MockServer::start().await;
        Mock::given(path("/ticker"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"error": [], "result": {"last": "1.25"}})),
            )
            .mount(&venue)
            .await;
        Mock::given(path("/refused"))
            .respond_with(
                ResponseTemplate::new(400)
                    .set_body_json(json!({"error": ["EOrder:Insufficient funds"]})),
            )
            .mount(&venue)
            .await;
        Mock::given(path("/limited"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"error": ["EAPI:Rate limit exceeded"], "retry_after_ms": 60_000}),
            ))
            .mount(&venue)
            .await;
        Mock::given(path("/slow"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"late": true}))
                    .set_delay(Duration::from_secs(3)),
            )
            .mount(&venue)
            .await;
        let orders = Arc::new(AtomicU64::new(0));
        Mock::given(method("POST"))
            .and(path("/orders"))
            .respond_with(OrderDesk(Arc::clone(&orders)))
            .mount(&venue)
            .await;

        let uri = venue.uri();
        let dead = refused_addr().await;
        let fast =
            "retry = { max_attempts = 2, base_delay_ms = 10, max_delay_ms = 50, jitter = 0.0 }";
        let once = "retry = { max_attempts = 1 }";
        let venues = format!(
            "[venues.v]\nplugin = \"echo\"\nendpoints = [\"{uri}\"]\ntimeout_ms = 2000\ndeadline_ms = 5000\n{fast}\n\n\
             [venues.limited]\nplugin = \"echo\"\nendpoints = [\"{uri}\"]\ntimeout_ms = 2000\ndeadline_ms = 5000\n{fast}\n\n\
             [venues.slow]\nplugin = \"echo\"\nendpoints = [\"{uri}\"]\ntimeout_ms = 300\ndeadline_ms = 2000\n{once}\n\n\
             [venues.dead]\nplugin = \"echo\"\nendpoints = [\"http://{dead}\"]\ntimeout_ms = 1000\ndeadline_ms = 2000\n{once}\n\n\
             [venues.orders]\nplugin = \"echo\"\nendpoints = [\"{uri}\"]\ntimeout_ms = 2000\ndeadline_ms = 5000\n{once}\n\n\
             [venues.unconfigured]\nplugin = \"echo\"\nendpoints = [\"{uri}\"]\n\
             secrets.key = {{ env = \"{UNSET_VAR}\" }}\n"
        );
        let host = spawn_host(&["echo"], &venues, &[]).await;
        Fixture {
            _venue: venue,
            host,
            orders,
        }
    }

    fn client(&self) -> Client {
        Client::new(&self.host.url, Some(TOKEN)).expect("client")
    }
}

/// Start `resilience-host serve` with `plugins`, `venues` and `env`, behind
/// the bearer token; waits until `/health` answers (through the client).
async fn spawn_host(plugins: &[&str], venues: &str, env: &[(String, String)]) -> HostProcess {
    let plugins = plugin_dir(plugins);
    let dir = tempfile::tempdir().expect("temp dir");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        l.local_addr().expect("addr").port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let text = config_text(
        plugins.path(),
        "",
        &format!(
            "[server]\nlisten = \"127.0.0.1:{port}\"\nauth_token_env = \"{TOKEN_VAR}\"\n\n{venues}"
        ),
    );
    let config = dir.path().join("resilience.toml");
    std::fs::write(&config, text).expect("config file");
    let log = std::fs::File::create(dir.path().join("host.log")).expect("log file");
    let child = std::process::Command::new(host_binary())
        .args(["serve", "--config"])
        .arg(&config)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env(TOKEN_VAR, TOKEN)
        .env_remove(UNSET_VAR)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("starting resilience-host");
    let mut host = HostProcess {
        url,
        child,
        dir,
        _plugins: plugins,
    };
    let probe = Client::new(&host.url, None)
        .expect("client")
        .with_timeout(Some(Duration::from_secs(2)));
    let started = Instant::now();
    loop {
        if let Ok(Some(status)) = host.child.try_wait() {
            panic!(
                "the host exited ({status}) during start-up:\n{}",
                host.log()
            );
        }
        match probe.health(None).await {
            Ok(_) => return host,
            Err(e) if e.kind() == &ErrorKind::Transport => {}
            Err(e) => panic!("/health answered with an error: {e}"),
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the host did not answer /health within 120 s:\n{}",
            host.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn the_rust_client_knows_every_kind_the_host_sends_with_its_status() {
    for (name, status) in CallError::KINDS {
        let kind = ErrorKind::from_name(name);
        assert!(
            !matches!(kind, ErrorKind::Other(_)),
            "the host's kind {name} has no ErrorKind"
        );
        assert_eq!(kind.http_status(), Some(*status), "{name}");
        assert!(ErrorKind::HOST_KINDS.contains(&kind), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_client_calls_a_venue_and_reads_each_error_kind() {
    let f = Fixture::start().await;
    let c = f.client();

    // Success: the plugin alone, then through the venue.
    let params = json!({"symbol": "XBTUSD", "n": [1, 2]});
    assert_eq!(c.call("v", "echo", &params, None).await.unwrap(), params);
    assert_eq!(
        c.call("v", "checked", &json!({"path": "/ticker"}), None)
            .await
            .unwrap(),
        json!({"last": "1.25"})
    );
    let t: std::collections::BTreeMap<String, String> = c
        .call_as("v", "checked", &json!({"path": "/ticker"}), None)
        .await
        .unwrap();
    assert_eq!(t["last"], "1.25");

    let e = c
        .call("v", "send", &json!({"nope": true}), None)
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind().clone(), e.status()),
        (ErrorKind::InvalidParams, Some(400)),
        "{e}"
    );
    assert_eq!(e.venue(), Some("v"));
    assert_eq!(e.operation(), Some("send"));

    let e = c
        .call("v", "no_such_op", &json!({}), None)
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind().clone(), e.status()),
        (ErrorKind::UnknownOperation, Some(404)),
        "{e}"
    );
    let e = c
        .call("nowhere", "echo", &json!({}), None)
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind().clone(), e.status()),
        (ErrorKind::UnknownVenue, Some(404)),
        "{e}"
    );

    let e = c
        .call("v", "checked", &json!({"path": "/refused"}), None)
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind().clone(), e.status()),
        (ErrorKind::Upstream, Some(502)),
        "{e}"
    );
    assert_eq!(e.upstream_status(), Some(400));
    assert_eq!(e.code(), Some("EOrder:Insufficient funds"));

    let e = c
        .call("limited", "checked", &json!({"path": "/limited"}), None)
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind().clone(), e.status()),
        (ErrorKind::RateLimited, Some(429)),
        "{e}"
    );
    assert_eq!(e.retry_after(), Some(Duration::from_secs(60)));
    // The venue stays blocked; the host refuses locally with the time left.
    let e = c
        .call("limited", "checked", &json!({"path": "/limited"}), None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::RateLimited, "{e}");
    let left = e.retry_after_ms().expect("retry_after_ms");
    assert!((50_000..=60_000).contains(&left), "{left}");

    let e = c
        .call("slow", "send", &json!({"path": "/slow"}), None)
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind().clone(), e.status()),
        (ErrorKind::Timeout, Some(504)),
        "{e}"
    );
    let e = c
        .call("dead", "send", &json!({"path": "/x"}), None)
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind().clone(), e.status()),
        (ErrorKind::Connection, Some(502)),
        "{e}"
    );

    // The client's own limits: its timeout, and a host that is not there.
    let impatient = f.client().with_timeout(Some(Duration::from_millis(100)));
    let e = impatient
        .call("slow", "send", &json!({"path": "/slow"}), None)
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind().clone(), e.status()),
        (ErrorKind::Transport, None),
        "{e}"
    );
    let nobody = Client::new(&format!("http://{}", refused_addr().await), None).unwrap();
    let e = nobody
        .call("v", "echo", &json!({}), None)
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind().clone(), e.status()),
        (ErrorKind::Transport, None),
        "{e}"
    );
    // A key that cannot be sent is refused before any request.
    let e = c
        .call(
            "orders",
            "place",
            &json!({"path": "/orders"}),
            Some("bad key"),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind().clone(), e.status()),
        (ErrorKind::InvalidParams, None),
        "{e}"
    );
    assert_eq!(f.orders.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_client_places_once_per_key_and_pages_the_journal() {
    let f = Fixture::start().await;
    let c = f.client();
    let order = json!({"method": "POST", "path": "/orders", "body": "qty=1"});

    let first = c
        .call("orders", "place", &order, Some("rs-order-1"))
        .await
        .unwrap();
    assert_eq!(first["status"], 200, "{first}");
    assert_eq!(first["body"], r#"{"order_no":1}"#);
    // The same key and params: the recorded result, no second order.
    let again = c
        .call("orders", "place", &order, Some("rs-order-1"))
        .await
        .unwrap();
    assert_eq!(again, first);
    assert_eq!(f.orders.load(Ordering::SeqCst), 1);

    // The same key with other params: conflict, and nothing waiting helps.
    let other = json!({"method": "POST", "path": "/orders", "body": "qty=2"});
    let e = c
        .call("orders", "place", &other, Some("rs-order-1"))
        .await
        .unwrap_err();
    assert_eq!(
        (e.kind().clone(), e.status()),
        (ErrorKind::Conflict, Some(409)),
        "{e}"
    );
    assert_eq!(e.retry_after_ms(), None);
    // Without a key the echo plugin's default prepare refuses the order.
    let e = c.call("orders", "place", &order, None).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::InvalidParams, "{e}");
    assert!(e.message().contains("Idempotency-Key"), "{e}");
    assert_eq!(f.orders.load(Ordering::SeqCst), 1);

    for key in ["rs-order-2", "rs-order-3"] {
        c.call("orders", "place", &order, Some(key)).await.unwrap();
    }
    assert_eq!(f.orders.load(Ordering::SeqCst), 3);

    // Pages of two, oldest first.
    let q = JournalQuery::new().venue("orders").limit(2);
    let page = c.journal(&q).await.unwrap();
    let keys: Vec<&str> = page.entries.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["rs-order-1", "rs-order-2"]);
    let cursor = page.next_cursor.clone().expect("a second page");
    let last = c.journal(&q.clone().cursor(cursor)).await.unwrap();
    let keys: Vec<&str> = last.entries.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys, ["rs-order-3"]);
    assert_eq!(last.next_cursor, None);
    let all = c.journal_all(&q).await.unwrap();
    assert_eq!(all.len(), 3);
    let e1 = &all[0];
    assert_eq!(
        (e1.state.clone(), e1.operation.as_str(), e1.attempt),
        (JournalState::Succeeded, "place", 1)
    );
    assert_eq!(e1.result_json(), Some(first));
    assert!(
        c.journal_all(&JournalQuery::new().state(JournalState::InDoubt))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        c.journal(&JournalQuery::new().venue("v"))
            .await
            .unwrap()
            .entries,
        vec![]
    );
    let e = c.journal(&JournalQuery::new().limit(0)).await.unwrap_err();
    assert_eq!(
        (e.kind().clone(), e.status()),
        (ErrorKind::InvalidParams, Some(400)),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_client_reads_health_and_venues_and_sends_the_token() {
    let f = Fixture::start().await;
    let c = f.client();

    // /health: one venue cannot serve (its secret is not set).
    let h = c.health(None).await.unwrap();
    assert!(!h.is_ok());
    assert_eq!((h.status.as_str(), h.http_status), ("degraded", 503));
    assert_eq!(h.venues["unconfigured"], "not configured");
    assert_eq!(h.venues.len(), 1, "{h:?}");
    let h = c.health(Some("v")).await.unwrap();
    assert!(h.is_ok(), "{h:?}");
    assert_eq!(h.status, "ok");
    let e = c.health(Some("nowhere")).await.unwrap_err();
    assert_eq!(
        (e.kind().clone(), e.status()),
        (ErrorKind::UnknownVenue, Some(404)),
        "{e}"
    );
    // /v1/health: the detailed reason names the env var.
    let h = c.health_details(None).await.unwrap();
    assert!(h.venues["unconfigured"].contains(UNSET_VAR), "{h:?}");

    let venues = c.venues().await.unwrap();
    let ops = venues["orders"]["operations"].as_array().unwrap();
    let place = ops.iter().find(|o| o["name"] == "place").unwrap();
    assert_eq!(place["mutating"], true);
    let stats = c.stats().await.unwrap();
    assert!(stats["venues"].get("v").is_some(), "{stats}");

    // The token: wrong or missing is `unauthorized`; /health needs none.
    for wrong in [
        Client::new(&f.host.url, Some("not-the-token")).unwrap(),
        Client::new(&f.host.url, None).unwrap(),
    ] {
        for e in [
            wrong.call("v", "echo", &json!({}), None).await.unwrap_err(),
            wrong.venues().await.unwrap_err(),
            wrong.journal(&JournalQuery::new()).await.unwrap_err(),
            wrong.health_details(None).await.unwrap_err(),
        ] {
            assert_eq!(
                (e.kind().clone(), e.status()),
                (ErrorKind::Unauthorized, Some(401)),
                "{e}"
            );
        }
        assert_eq!(wrong.health(Some("v")).await.unwrap().status, "ok");
    }
    assert_eq!(
        c.call("v", "echo", &json!({}), None).await.unwrap(),
        json!({})
    );
}

/// The interpreter of the test virtualenv, or `None` (skip) outside CI.
fn python() -> Option<PathBuf> {
    match std::env::var_os("RESILIENCE_ORACLE_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var_os("CI").is_some() => {
            panic!("CI needs RESILIENCE_ORACLE_PYTHON (cargo xtask test sets it)")
        }
        None => {
            eprintln!(
                "skipped: set RESILIENCE_ORACLE_PYTHON to a Python 3.9+ interpreter to run the \
                 Python client's tests (cargo xtask test does)"
            );
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_passes_its_tests_against_a_real_host() {
    let Some(python) = python() else { return };
    let f = Fixture::start().await;
    let root = workspace_root().join("clients").join("python");
    let kinds: Vec<Value> = CallError::KINDS
        .iter()
        .map(|(k, s)| json!([k, s]))
        .collect();
    let out = tokio::process::Command::new(&python)
        .args(["-m", "unittest", "discover", "-v", "-s", "tests"])
        .current_dir(&root)
        .env("PYTHONPATH", root.join("src"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("RESILIENCE_TEST_URL", &f.host.url)
        .env("RESILIENCE_TEST_TOKEN", TOKEN)
        .env(
            "RESILIENCE_TEST_DEAD_URL",
            format!("http://{}", refused_addr().await),
        )
        .env("RESILIENCE_TEST_KINDS", Value::Array(kinds).to_string())
        .env("RESILIENCE_TEST_UNSET_VAR", UNSET_VAR)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let report = String::from_utf8_lossy(&out.stderr);
    eprintln!("{report}{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "the Python client's tests failed:\n{report}\nhost log:\n{}",
        f.host.log()
    );
    assert!(
        report.lines().any(|l| l == "OK") && !report.contains("skipped"),
        "every Python test ran (none skipped):\n{report}"
    );
    // As the venue saw it: three keys, three orders (one placed twice by
    // the client, sent once by the host).
    assert_eq!(f.orders.load(Ordering::SeqCst), 3);
}

/// The example daemons (`examples/python/hedger.py`, `clients/rust/examples/daemon.rs`)
/// do one round against a host serving the demo's simulated venues.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_daemons_do_one_round_against_the_simulated_venues() {
    let sim = Sim::start(Faults::Slow(Duration::ZERO), "").await;
    let host = spawn_host(&sim::PLUGINS, &sim.config, &sim::env()).await;
    let root = workspace_root();

    // The Rust example, built as `cargo build --examples` builds it.
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = tokio::process::Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "-p",
            "resilience-client",
            "--example",
            "daemon",
        ])
        .current_dir(&root)
        .status()
        .await
        .expect("running cargo");
    assert!(built.success(), "building the daemon example failed");
    let out = tokio::process::Command::new(target_dir().join("debug/examples/daemon"))
        .args(["--once", "--url", &host.url])
        .env("RESILIENCE_TOKEN", TOKEN)
        .output()
        .await
        .expect("running the daemon example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.starts_with("mark 11793.63 oracle "),
        "daemon example: {}\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );

    let Some(python) = python() else { return };
    let run = |token: &str| {
        tokio::process::Command::new(&python)
            .arg(root.join("examples/python/hedger.py"))
            .args(["--once", "--url", &host.url])
            .env("PYTHONPATH", root.join("clients/python/src"))
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("RESILIENCE_TOKEN", token)
            .output()
    };
    let out = run(TOKEN).await.expect("running the hedger example");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && stdout.contains("BTCUSDT funding +0.000382 mark 11793.63104562")
            && stdout
                .contains("would sell 0.001 BTCUSDT (Idempotency-Key hedge-BTCUSDT-1597392000000)"),
        "hedger example: {}\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    // A configuration error stops it with status 2.
    let out = run("wrong-token")
        .await
        .expect("running the hedger example");
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
