//! `cargo xtask demo [--calls N] [--duration SECS] [--listen ADDR]`: the host
//! with every plugin against simulated venues on loopback, with scripted
//! faults, a mixed workload, a live summary, and `/metrics` left up.
//!
//! Faults: TON's first endpoint is dead (connections refused: failover) and
//! its second has latency spikes; Binance answers its first 12 funding-rate
//! requests with 503 (retries, then the breaker); Polymarket rate-limits now
//! and then with `429 Retry-After: 1`; Chainlink's first provider is
//! overloaded (JSON-RPC -32005: failover to the second).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use resilience_host::{App, Config, api};
use resilience_tests::{config_text, faults::refused_addr, plugin_dir};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Latency spikes: every 10th answer takes 300 ms.
struct Spiky(AtomicU64, Value);
impl Respond for Spiky {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, Ordering::Relaxed);
        let t = ResponseTemplate::new(200).set_body_json(self.1.clone());
        if n % 10 == 9 {
            t.set_delay(Duration::from_millis(300))
        } else {
            t.set_delay(Duration::from_millis(5))
        }
    }
}

/// A Chainlink feed: latestRoundData and decimals for any address.
struct Feed;
impl Respond for Feed {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        let call: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        let id = call["id"].clone();
        let data = call["params"][0]["data"].as_str().unwrap_or_default();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as u128
            - 5;
        let round = (6u128 << 64) | 0x4716;
        let result = if data == "0x313ce567" {
            format!("0x{:064x}", 8)
        } else {
            let words = [round, 352_098_000_000u128, now, now, round];
            format!(
                "0x{}",
                words
                    .iter()
                    .map(|w| format!("{w:064x}"))
                    .collect::<String>()
            )
        };
        ResponseTemplate::new(200)
            .set_body_json(json!({"jsonrpc": "2.0", "id": id, "result": result}))
    }
}

async fn venues() -> (String, Vec<MockServer>) {
    let (ton, binance, poly, rpc_busy, rpc) = (
        MockServer::start().await,
        MockServer::start().await,
        MockServer::start().await,
        MockServer::start().await,
        MockServer::start().await,
    );
    Mock::given(path("/api/v2/getAddressBalance"))
        .respond_with(Spiky(
            AtomicU64::new(0),
            json!({"ok": true, "result": "5610477699352"}),
        ))
        .mount(&ton)
        .await;
    Mock::given(path("/fapi/v1/premiumIndex"))
        .respond_with(
            ResponseTemplate::new(503)
                .set_body_json(json!({"code": -1001, "msg": "Internal error"})),
        )
        .up_to_n_times(12)
        .with_priority(1)
        .mount(&binance)
        .await;
    Mock::given(path("/fapi/v1/premiumIndex"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"symbol": "BTCUSDT", "markPrice": "11793.63104562",
            "indexPrice": "11781.80495970", "estimatedSettlePrice": "11781.16138815", "lastFundingRate": "0.00038246",
            "interestRate": "0.00010000", "nextFundingTime": 1597392000000u64, "time": 1597370495002u64})))
        .mount(&binance).await;
    Mock::given(path("/midpoint"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_json(json!({"error": "rate limited"})),
        )
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&poly)
        .await;
    Mock::given(path("/midpoint"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"mid_price": "0.45"})))
        .mount(&poly)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32005, "message": "limit exceeded"}})))
        .mount(&rpc_busy).await;
    Mock::given(method("POST"))
        .respond_with(Feed)
        .mount(&rpc)
        .await;
    let dead = refused_addr().await;
    let cfg = format!(
        "[venues.ton]\nplugin = \"ton\"\nendpoints = [\"http://{dead}/api/v2\", \"{}/api/v2\"]\ntimeout_ms = 1000\n\
         retry = {{ max_attempts = 3, base_delay_ms = 50 }}\n\
         [venues.binance]\nplugin = \"binance\"\nendpoints = [\"{}\"]\ntimeout_ms = 1000\n\
         retry = {{ max_attempts = 3, base_delay_ms = 20 }}\nbreaker = {{ failure_threshold = 8, success_threshold = 2, open_ms = 1500 }}\n\
         secrets = {{ api_key = {{ env = \"DEMO_KEY\" }}, api_secret = {{ env = \"DEMO_SECRET\" }} }}\n\
         [venues.polymarket]\nplugin = \"polymarket\"\nendpoints = [\"{}\"]\ntimeout_ms = 1000\n\
         rate_limit = {{ requests_per_second = 50.0, burst = 20 }}\n\
         settings = {{ address = \"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\", owner = \"demo\" }}\n\
         secrets = {{ api_key = {{ env = \"DEMO_KEY\" }}, api_secret = {{ env = \"DEMO_SECRET\" }}, passphrase = {{ env = \"DEMO_KEY\" }}, private_key = {{ env = \"DEMO_PK\" }} }}\n\
         [venues.chainlink]\nplugin = \"chainlink\"\nendpoints = [\"{}\", \"{}\"]\ntimeout_ms = 1000\n\
         retry = {{ max_attempts = 3, base_delay_ms = 10, jsonrpc_overload_codes = [-32005], failover_on_rate_limit = true }}\n",
        ton.uri(),
        binance.uri(),
        poly.uri(),
        rpc_busy.uri(),
        rpc.uri()
    );
    (cfg, vec![ton, binance, poly, rpc_busy, rpc])
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn summary(app: &App) -> String {
    let stats = app.stats_json();
    let mut out = format!(
        "{:<11} {:>6} {:>9} {:>8} {:>9} {:>9} {:>9}  breakers\n",
        "venue", "calls", "success", "retries", "failovers", "avg ms", "p99 ms"
    );
    for (name, v) in stats["venues"].as_object().into_iter().flatten() {
        let breakers: Vec<String> = v["endpoints"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e["breaker"].as_str().unwrap_or("?").to_string())
            .collect();
        out.push_str(&format!(
            "{:<11} {:>6} {:>8.1}% {:>8} {:>9} {:>9.1} {:>9.1}  {}\n",
            name,
            v["total"].as_u64().unwrap_or(0),
            v["success_pct"].as_f64().unwrap_or(0.0),
            v["retries"].as_u64().unwrap_or(0),
            v["failovers"].as_u64().unwrap_or(0),
            v["avg_latency_ms"].as_f64().unwrap_or(0.0),
            v["p99_latency_ms"].as_f64().unwrap_or(0.0),
            breakers.join(",")
        ));
    }
    out
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let calls: u64 = arg("--calls").and_then(|c| c.parse().ok()).unwrap_or(2_000);
    let duration: Option<u64> = arg("--duration").and_then(|d| d.parse().ok());
    let listen = arg("--listen").unwrap_or_else(|| "127.0.0.1:8080".into());
    eprintln!("starting simulated venues on loopback and the host with every plugin ...");
    let (venue_cfg, _servers) = venues().await;
    let dir = plugin_dir(&["ton", "binance", "polymarket", "chainlink"]);
    let env: Vec<(String, String)> = [
        ("DEMO_KEY", "demo-key"),
        ("DEMO_SECRET", "ZGVtby1zZWNyZXQ="),
        (
            "DEMO_PK",
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let config = Config::parse(&config_text(dir.path(), "", &venue_cfg), false, &env)?;
    let app = Arc::new(App::build(config, &env).await?);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!("host API on http://{listen} (try /metrics, /v1/stats, /health)");
    let served = app.clone();
    tokio::spawn(async move { api::serve(served, listener, std::future::pending()).await });

    let workload: [(&str, &str, Value); 4] = [
        (
            "ton",
            "get_balance",
            json!({"address": "EQDfvVvoSX_cDJ_L38Z2hkhA3fitZCPW1WV9mw6CcNbIrH-Q"}),
        ),
        ("binance", "get_funding_rate", json!({"symbol": "BTCUSDT"})),
        ("polymarket", "get_midpoint", json!({"token_id": "1234"})),
        ("chainlink", "get_price", json!({"pair": "ETH/USD"})),
    ];
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..16u64 {
        let (app, done, workload) = (app.clone(), done.clone(), workload.clone());
        workers.push(tokio::spawn(async move {
            let mut i = w;
            while done.fetch_add(1, Ordering::Relaxed) < calls {
                let (venue, op, params) = &workload[(i % 4) as usize];
                let _ = app.call(venue, op, params).await;
                i += 1;
            }
        }));
    }
    while workers.iter().any(|w| !w.is_finished()) {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let n = done.load(Ordering::Relaxed).min(calls);
        let bar = (n * 30 / calls.max(1)) as usize;
        eprint!(
            "\x1b[2J\x1b[H[{}{}] {n}/{calls} calls, {:.1} s\n\n{}",
            "=".repeat(bar),
            " ".repeat(30 - bar),
            started.elapsed().as_secs_f64(),
            summary(&app)
        );
    }
    println!(
        "\nfinal summary after {calls} calls in {:.1} s:\n\n{}",
        started.elapsed().as_secs_f64(),
        summary(&app)
    );
    match duration {
        Some(s) => {
            eprintln!("/metrics stays up for {s} s");
            tokio::time::sleep(Duration::from_secs(s)).await;
        }
        None => {
            eprintln!("/metrics stays up until Ctrl-C");
            tokio::signal::ctrl_c().await?;
        }
    }
    Ok(())
}
