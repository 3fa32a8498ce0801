//! The journal: the conformance suite against both stores, and the
//! at-most-one-order guarantees with the real Binance plugin against a
//! wiremock venue (concurrent retries, callers that hang up, in-doubt sends,
//! killed hosts, two hosts on one database), on the embedded store and on a
//! throwaway PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use resilience_host::journal::{self, Journal};
use resilience_tests::TestHost;
use resilience_tests::pg::PgCluster;
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ENV: [(&str, &str); 2] = [("J_API_KEY", "jkey"), ("J_API_SECRET", "jsecret")];

fn env(db_url: Option<&str>) -> Vec<(String, String)> {
    let mut e: Vec<(String, String)> = ENV
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if let Some(u) = db_url {
        e.push(("J_DATABASE_URL".into(), u.into()));
    }
    e
}

/// A Binance venue at `uri`, 300 ms per attempt; the journal in `journal`.
fn config(uri: &str, journal: &str) -> String {
    format!(
        "{journal}\n[venues.binance]\nplugin = \"binance\"\nendpoints = [\"{uri}\"]\ntimeout_ms = 300\ndeadline_ms = 3000\n\
         retry = {{ max_attempts = 3, base_delay_ms = 1 }}\n\
         secrets = {{ api_key = {{ env = \"J_API_KEY\" }}, api_secret = {{ env = \"J_API_SECRET\" }} }}\n"
    )
}

fn all(limit: u32) -> journal::ListQuery {
    journal::ListQuery {
        limit,
        ..Default::default()
    }
}

fn order(cid: &str) -> Value {
    json!({
        "clientOrderId": cid, "cumQty": "0", "cumQuote": "0", "executedQty": "0.010",
        "orderId": 777, "avgPrice": "60000", "origQty": "0.010", "price": "0",
        "reduceOnly": false, "side": "BUY", "positionSide": "BOTH", "status": "FILLED",
        "stopPrice": "0", "closePosition": false, "symbol": "BTCUSDT", "timeInForce": "GTC",
        "type": "MARKET", "origType": "MARKET", "updateTime": 1566818724722u64,
    })
}

async fn posts(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .count()
}

/// The venue accepts the order, then hangs past the host's timeout; a lookup
/// by client order id finds it.
async fn hanging_venue(cid: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/fapi/v1/order"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(order(cid))
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/fapi/v1/order"))
        .and(query_param("origClientOrderId", cid))
        .respond_with(ResponseTemplate::new(200).set_body_json(order(cid)))
        .mount(&server)
        .await;
    server
}

const BUY: &str =
    r#"{"symbol":"BTCUSDT","side":"BUY","quantity":"0.010","client_order_id":"cid-1"}"#;

async fn no_duplicates(journal_section: &str, db_url: Option<&str>) {
    let server = hanging_venue("cid-1").await;
    let h = TestHost::start_with_env(
        &["binance"],
        "",
        &config(&server.uri(), journal_section),
        env(db_url),
    )
    .await;
    let buy: Value = serde_json::from_str(BUY).unwrap();

    // The create reached the venue, the answer never came: timeout, in doubt.
    let (s, b) = h.post("/v1/venues/binance/create_market_order", &buy).await;
    assert_eq!(s, 504, "{b}");
    let (_, listed) = h.get("/v1/journal?state=in_doubt").await;
    let entries = listed["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{listed}");
    assert_eq!(entries[0]["key"], "cid-1");

    // The caller retries the same request: reconciled by lookup, not resent.
    let (s, b) = h.post("/v1/venues/binance/create_market_order", &buy).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["order_id"], 777);
    // And again: the recorded outcome, no traffic at all.
    let before = server.received_requests().await.unwrap().len();
    let (s, b2) = h.post("/v1/venues/binance/create_market_order", &buy).await;
    assert_eq!((s, &b2), (200, &b));
    assert_eq!(server.received_requests().await.unwrap().len(), before);
    assert_eq!(
        posts(&server).await,
        1,
        "exactly one create reached the venue"
    );

    // The same key with other params is refused.
    let mut other = buy.clone();
    other["quantity"] = json!("0.020");
    let (s, b) = h
        .post("/v1/venues/binance/create_market_order", &other)
        .await;
    assert_eq!(
        (s, b["error"]["kind"].as_str()),
        (409, Some("conflict")),
        "{b}"
    );
    assert!(
        h.get("/v1/journal?state=in_doubt").await.1["entries"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn embedded_store_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let j = Arc::new(Journal::Sqlite(
        journal::sqlite::SqliteJournal::open(&dir.path().join("j.db")).unwrap(),
    ));
    journal::conformance::run(&j).await;
}

#[tokio::test]
async fn postgres_store_passes_the_conformance_suite() {
    let pg = PgCluster::start("suite");
    let j = Arc::new(Journal::Postgres(
        journal::postgres::PgJournal::connect(pg.url(), Default::default())
            .await
            .unwrap(),
    ));
    journal::conformance::run(&j).await;
}

#[tokio::test]
async fn a_timed_out_order_is_reconciled_not_resent_on_the_embedded_store() {
    no_duplicates("", None).await;
}

#[tokio::test]
async fn a_timed_out_order_is_reconciled_not_resent_on_postgres() {
    let pg = PgCluster::start("nodup");
    no_duplicates("[journal]\nurl_env = \"J_DATABASE_URL\"\n", Some(pg.url())).await;
}

#[tokio::test]
async fn in_doubt_intents_left_by_a_dead_host_are_reconciled_at_start_up() {
    let server = hanging_venue("cid-1").await;
    let dir = tempfile::tempdir().unwrap();
    let section = format!(
        "[journal]\npath = {:?}\n",
        dir.path().join("j.db").display().to_string()
    );
    let buy: Value = serde_json::from_str(BUY).unwrap();
    {
        let h = TestHost::start_with_env(
            &["binance"],
            "",
            &config(&server.uri(), &section),
            env(None),
        )
        .await;
        assert_eq!(
            h.post("/v1/venues/binance/create_market_order", &buy)
                .await
                .0,
            504
        );
    } // the host is gone; the intent is in doubt
    let h = TestHost::start_with_env(
        &["binance"],
        "",
        &config(&server.uri(), &section),
        env(None),
    )
    .await;
    let swept = h.app.sweep_journal(&mut h.app.journal_sweeper()).await;
    assert_eq!(swept.found, 1, "{swept:?}");
    let (_, all) = h.get("/v1/journal?state=succeeded").await;
    assert_eq!(all["entries"][0]["key"], "cid-1", "{all}");
    assert_eq!(posts(&server).await, 1, "reconciled, not resent");
}

#[tokio::test]
async fn two_hosts_on_one_database_never_both_send_the_same_order() {
    let pg = PgCluster::start("race");
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/fapi/v1/order"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(order("cid-1"))
                .set_delay(Duration::from_millis(200)),
        )
        .mount(&server)
        .await;
    let section = "[journal]\nurl_env = \"J_DATABASE_URL\"\n";
    let a = TestHost::start_with_env(
        &["binance"],
        "",
        &config(&server.uri(), section),
        env(Some(pg.url())),
    )
    .await;
    let b = TestHost::start_with_env(
        &["binance"],
        "",
        &config(&server.uri(), section),
        env(Some(pg.url())),
    )
    .await;
    let buy: Value = serde_json::from_str(BUY).unwrap();
    let (ra, rb) = tokio::join!(
        a.post("/v1/venues/binance/create_market_order", &buy),
        b.post("/v1/venues/binance/create_market_order", &buy)
    );
    let mut statuses = [ra.0, rb.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [200, 409],
        "one sends, the other is told it is in flight: {ra:?} {rb:?}"
    );
    assert_eq!(posts(&server).await, 1);
}

#[tokio::test]
async fn database_down_refuses_mutating_calls_while_reads_work_and_heals_after_restart() {
    let pg = PgCluster::start("heal");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/fapi/v1/premiumIndex"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "symbol": "BTCUSDT", "markPrice": "1", "indexPrice": "1", "estimatedSettlePrice": "1",
            "lastFundingRate": "0.0001", "interestRate": "0.0001", "nextFundingTime": 1, "time": 1
        })))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/fapi/v1/order"))
        .respond_with(ResponseTemplate::new(200).set_body_json(order("cid-1")))
        .mount(&server)
        .await;
    // A database URL where nothing listens: the host still starts.
    let dead = format!(
        "postgres://postgres@127.0.0.1:{}/x",
        resilience_tests::faults::refused_addr().await.port()
    );
    let section = "[journal]\nurl_env = \"J_DATABASE_URL\"\npool = { acquire_timeout_ms = 500, acquire_retries = 1, acquire_retry_delay_ms = 50 }\n";
    let h = TestHost::start_with_env(
        &["binance"],
        "",
        &config(&server.uri(), section),
        env(Some(&dead)),
    )
    .await;
    let (s, b) = h
        .post(
            "/v1/venues/binance/create_market_order",
            &serde_json::from_str::<Value>(BUY).unwrap(),
        )
        .await;
    assert_eq!(
        (s, b["error"]["kind"].as_str()),
        (503, Some("unavailable")),
        "{b}"
    );
    assert_eq!(posts(&server).await, 0, "nothing sent without a journal");
    let (s, b) = h
        .post(
            "/v1/venues/binance/get_funding_rate",
            &json!({"symbol": "BTCUSDT"}),
        )
        .await;
    assert_eq!(s, 200, "reads keep working: {b}");
    let (_, _, metrics) = h
        .request(http::Method::GET, "/metrics", Default::default(), &[])
        .await;
    assert!(
        metrics
            .as_str()
            .unwrap()
            .contains("resilience_db_failures_total"),
        "db failures are counted"
    );

    // A live database restarted mid-run: the pool heals without a host restart.
    let h = TestHost::start_with_env(
        &["binance"],
        "",
        &config(&server.uri(), section),
        env(Some(pg.url())),
    )
    .await;
    let buy = |cid: &str| json!({"symbol":"BTCUSDT","side":"BUY","quantity":"0.010","client_order_id": cid});
    assert_eq!(
        h.post("/v1/venues/binance/create_market_order", &buy("a1"))
            .await
            .0,
        200
    );
    pg.restart();
    let started = std::time::Instant::now();
    let mut healed = false;
    for i in 0..50 {
        if h.post(
            "/v1/venues/binance/create_market_order",
            &buy(&format!("b{i}")),
        )
        .await
        .0 == 200
        {
            healed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(healed, "journal usable again after the restart");
    eprintln!(
        "journal healed {:?} after pg_ctl restart",
        started.elapsed()
    );
}

#[tokio::test]
async fn pool_exhaustion_waits_then_fails_clearly_and_killed_connections_are_replaced() {
    let pg = PgCluster::start("pool");
    let cfg = resilience_host::config::DbPoolConfig {
        max_size: 2,
        acquire_timeout_ms: 300,
        acquire_retries: 0,
        // Verify every checkout, so the killed connections below are found
        // deterministically (by default only after a second of idleness).
        verify_after_idle_ms: 0,
        ..Default::default()
    };
    let j = journal::postgres::PgJournal::connect(pg.url(), cfg)
        .await
        .unwrap();
    // Hold both pooled connections inside the database for a second.
    let j2 = j.clone();
    let j3 = j.clone();
    let busy = tokio::spawn(async move { j2.list_sleeping(1.0).await });
    let busy2 = tokio::spawn(async move { j3.list_sleeping(1.0).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t = std::time::Instant::now();
    let err = j.list(&all(10)).await.unwrap_err();
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "waited for a connection: {:?}",
        t.elapsed()
    );
    assert!(err.to_string().contains("no database connection"), "{err}");
    assert!(j.stats().failures >= 1);
    busy.await.unwrap().unwrap();
    busy2.await.unwrap().unwrap();

    // Kill every backend the pool holds: the next checkout verifies and replaces them.
    let (admin, conn) = tokio_postgres::connect(pg.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    admin
        .simple_query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND datname = current_database()")
        .await
        .unwrap();
    assert!(
        j.list(&all(10)).await.is_ok(),
        "a killed connection is replaced transparently"
    );
}

/// SIGKILL the host between the intent and the outcome; the next host's
/// sweeper reconciles the intent through the venue once the dead host's
/// lease has ended, instead of sending it again.
#[tokio::test]
async fn an_intent_left_by_a_killed_host_is_reconciled_not_resent() {
    use std::io::Write;
    let server = hanging_venue("cid-1").await;
    let dir = tempfile::tempdir().unwrap();
    let plugins = resilience_tests::plugin_dir(&["binance"]);
    let journal_section = format!(
        "[journal]\npath = {:?}\n",
        dir.path().join("j.db").display().to_string()
    );
    let write_config = |deadline_ms: u64| {
        let text = resilience_tests::config_text(
            plugins.path(),
            "",
            &config(&server.uri(), &journal_section).replace(
                "timeout_ms = 300\ndeadline_ms = 3000",
                &format!("timeout_ms = {deadline_ms}\ndeadline_ms = {deadline_ms}"),
            ),
        );
        let path = dir.path().join(format!("c{deadline_ms}.toml"));
        std::fs::write(&path, text).unwrap();
        path
    };
    let port = resilience_tests::faults::refused_addr().await.port();
    let mut child = std::process::Command::new(resilience_tests::host_binary())
        .args(["serve", "--config"])
        .arg(write_config(2_000))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .envs(env(None))
        .env("RUST_LOG", "error")
        .spawn()
        .unwrap();
    let mut up = false;
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "the host started");
    std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let _ = write!(
            s,
            "POST /v1/venues/binance/create_market_order HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n{BUY}",
            BUY.len()
        );
        std::thread::sleep(Duration::from_secs(10));
    });
    let mut sent = false;
    for _ in 0..200 {
        if posts(&server).await == 1 {
            sent = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(sent, "the create reached the venue");
    child.kill().unwrap(); // SIGKILL: no outcome is ever recorded
    child.wait().unwrap();

    let text = std::fs::read_to_string(write_config(2_000)).unwrap();
    let cfg = resilience_host::Config::parse(&text, false, &env(None)).unwrap();
    let app = resilience_host::App::build(cfg, &env(None)).await.unwrap();
    let pending = app
        .journal
        .list_state(Some(journal::State::Pending), 10)
        .await
        .unwrap();
    assert_eq!(pending.len(), 1, "the killed host left the intent pending");
    // A retry while the dead host's lease runs is told to wait: it may be in flight.
    let buy: Value = serde_json::from_str(BUY).unwrap();
    let retry = app.call("binance", "create_market_order", &buy).await;
    assert!(
        matches!(
            retry,
            Err(resilience_host::CallError::Conflict {
                retry_after_ms: Some(_),
                ..
            })
        ),
        "{retry:?}"
    );
    // The sweeper expires the lease (deadline + 2 s), then finds the order.
    let mut sweeper = app.journal_sweeper();
    let mut found = 0;
    for _ in 0..100 {
        let r = app.sweep_journal(&mut sweeper).await;
        found += r.found;
        if found > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(found, 1);
    let e = app.journal.get("binance", "cid-1").await.unwrap().unwrap();
    assert_eq!(e.state, journal::State::Succeeded);
    assert_eq!(posts(&server).await, 1, "reconciled, not resent");
}

#[tokio::test]
async fn sslmode_require_connects_over_tls_and_verifies_the_server() {
    let pg = PgCluster::start_with_tls("tls");
    let url = format!("{}?sslmode=require", pg.url());
    let ca = pg.ca_file().unwrap();
    let j = journal::postgres::PgJournal::connect_with_ca(&url, Default::default(), Some(&ca))
        .await
        .unwrap();
    assert!(j.clock_ms().await.unwrap() > 0);
    // The session really is encrypted.
    let (client, conn) = tokio_postgres::connect(pg.url(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let row = client
        .query_one("SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE s.ssl AND a.datname = 'tls'", &[])
        .await
        .unwrap();
    assert!(
        row.get::<_, i64>(0) >= 1,
        "a TLS session from the journal pool"
    );

    // Without the CA the self-signed server is not trusted: a clear error, no plain fallback.
    let cfg = resilience_host::config::DbPoolConfig {
        acquire_retries: 0,
        acquire_timeout_ms: 2000,
        ..Default::default()
    };
    let untrusted = journal::postgres::PgJournal::connect_with_ca(&url, cfg, None)
        .await
        .unwrap();
    let e = untrusted.list(&all(1)).await.unwrap_err();
    assert!(e.to_string().to_lowercase().contains("certificate"), "{e}");
}

/// Binance at `uri` with a `reconcile_settle_ms` window and attempt timeout.
fn settling_config(uri: &str, timeout_ms: u64, settle_ms: u64) -> String {
    config(uri, "").replace(
        "timeout_ms = 300\ndeadline_ms = 3000",
        &format!(
            "timeout_ms = {timeout_ms}\ndeadline_ms = 3000\nreconcile_settle_ms = {settle_ms}"
        ),
    )
}

/// Lookups by client order id answer -2013 "Order does not exist".
async fn lookups_say_not_found(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/fapi/v1/order"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"code": -2013, "msg": "Order does not exist."})),
        )
        .mount(server)
        .await;
}

/// The first case of the order-safety issue, end to end: an order whose
/// first attempt ended in doubt, retried by six callers at once while the
/// venue's lookup says "does not exist". Inside the settle window every
/// retry is told to wait; after it exactly one re-sends.
#[tokio::test]
async fn six_concurrent_retries_of_an_in_doubt_order_reach_the_venue_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/fapi/v1/order"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/fapi/v1/order"))
        .respond_with(ResponseTemplate::new(200).set_body_json(order("cid-1")))
        .mount(&server)
        .await;
    lookups_say_not_found(&server).await;
    let h = TestHost::start_with_env(
        &["binance"],
        "",
        &settling_config(&server.uri(), 300, 1_000),
        env(None),
    )
    .await;
    let buy: Value = serde_json::from_str(BUY).unwrap();
    let (s, b) = h.post("/v1/venues/binance/create_market_order", &buy).await;
    assert_eq!(s, 504, "{b}");

    let six = || async {
        let call = || h.post("/v1/venues/binance/create_market_order", &buy);
        let (a, b, c, d, e, f) = tokio::join!(call(), call(), call(), call(), call(), call());
        [a, b, c, d, e, f]
    };
    let early = six().await;
    for (s, b) in &early {
        assert_eq!(
            (*s, b["error"]["kind"].as_str()),
            (409, Some("conflict")),
            "{b}"
        );
        assert!(
            b["error"]["retry_after_ms"].as_u64().unwrap() <= 1_000,
            "{b}"
        );
    }
    assert_eq!(
        posts(&server).await,
        1,
        "no re-send inside the settle window"
    );

    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let late = six().await;
    assert!(late.iter().any(|(s, _)| *s == 200), "{late:?}");
    assert!(late.iter().all(|(s, _)| *s == 200 || *s == 409), "{late:?}");
    assert_eq!(
        posts(&server).await,
        2,
        "exactly one re-send after the window"
    );
}

/// The second case: a caller that hangs up mid-flight does not cancel its
/// order; a retry meanwhile is told it is in flight (409 with Retry-After),
/// and once the order has an outcome the retry gets it, with no second send.
#[tokio::test]
async fn a_caller_that_hangs_up_leaves_its_order_to_finish() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/fapi/v1/order"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(order("cid-1"))
                .set_delay(Duration::from_millis(800)),
        )
        .mount(&server)
        .await;
    lookups_say_not_found(&server).await;
    let h = TestHost::start_with_env(
        &["binance"],
        "",
        &settling_config(&server.uri(), 2_000, 2_000),
        env(None),
    )
    .await;
    let buy: Value = serde_json::from_str(BUY).unwrap();
    let hung_up = tokio::time::timeout(
        Duration::from_millis(150),
        h.post("/v1/venues/binance/create_market_order", &buy),
    )
    .await;
    assert!(hung_up.is_err(), "the caller hung up");
    let (s, headers, b) = h
        .post_raw("/v1/venues/binance/create_market_order", BUY, &[])
        .await;
    assert_eq!(
        (s, b["error"]["kind"].as_str()),
        (409, Some("conflict")),
        "{b}"
    );
    assert!(headers.contains_key("retry-after"), "{headers:?}");
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let (s, b) = h.post("/v1/venues/binance/create_market_order", &buy).await;
    assert_eq!((s, &b["order_id"]), (200, &json!(777)), "{b}");
    assert_eq!(posts(&server).await, 1);
}

/// A caller that names no client order id but sends `Idempotency-Key`: the
/// plugin derives `newClientOrderId` from it, so the retry is recognised.
#[tokio::test]
async fn the_idempotency_key_header_makes_an_order_without_a_client_id_retry_safe() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/fapi/v1/order"))
        .respond_with(ResponseTemplate::new(200).set_body_json(order("hedge-1")))
        .mount(&server)
        .await;
    let h = TestHost::start_with_env(&["binance"], "", &config(&server.uri(), ""), env(None)).await;
    let buy = r#"{"symbol":"BTCUSDT","side":"BUY","quantity":"0.010"}"#;
    let key = [("idempotency-key", "hedge-1")];
    let (s, _, first) = h
        .post_raw("/v1/venues/binance/create_market_order", buy, &key)
        .await;
    assert_eq!(s, 200, "{first}");
    let (s, _, again) = h
        .post_raw("/v1/venues/binance/create_market_order", buy, &key)
        .await;
    assert_eq!((s, &again), (200, &first));
    let sent = server.received_requests().await.unwrap();
    let creates: Vec<_> = sent
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .collect();
    assert_eq!(creates.len(), 1);
    let signed = format!(
        "{}&{}",
        creates[0].url.query().unwrap_or(""),
        String::from_utf8_lossy(&creates[0].body)
    );
    assert!(signed.contains("newClientOrderId=hedge-1"), "{signed}");
    let (_, listed) = h.get("/v1/journal?venue=binance").await;
    assert_eq!(listed["entries"][0]["key"], "hedge-1", "{listed}");
}
