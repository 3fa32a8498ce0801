//! `cargo xtask demo [--calls N] [--duration SECS] [--listen ADDR]`: the host
//! with every plugin against simulated venues on loopback, with scripted
//! faults, a mixed workload, a live summary, and `/metrics` left up.
//!
//! Faults: TON's first endpoint is dead (connections refused: failover) and
//! its second has latency spikes; Binance answers its first 8 funding-rate
//! requests with 503 (retries, then the breaker); Polymarket rate-limits now
//! and then with `429 Retry-After: 1`; Chainlink's first provider is
//! overloaded (JSON-RPC -32005: failover to the second).

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use resilience_host::{App, Config, api};
use resilience_tests::sim::{self, Faults, Sim};
use resilience_tests::{config_text, plugin_dir};

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
    let sim = Sim::start(Faults::Demo, "").await;
    let dir = plugin_dir(&sim::PLUGINS);
    let env = sim::env();
    let config = Config::parse(&config_text(dir.path(), "", &sim.config), false, &env)?;
    let app = Arc::new(App::build(config, &env).await?);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    let addr = listener.local_addr()?;
    eprintln!("host API on http://{addr} (try /metrics, /v1/stats, /health)");
    let served = app.clone();
    tokio::spawn(async move { api::serve(served, listener, std::future::pending()).await });

    let workload = Arc::new(sim::workload());
    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..16u64 {
        let (app, done, workload) = (app.clone(), done.clone(), workload.clone());
        workers.push(tokio::spawn(async move {
            let mut i = w;
            while done.fetch_add(1, Ordering::Relaxed) < calls {
                let (venue, op, params) = &workload[i as usize % workload.len()];
                let _ = app.call(venue, op, params).await;
                i += 1;
            }
        }));
    }
    while workers.iter().any(|w| !w.is_finished()) {
        tokio::time::sleep(Duration::from_millis(1000)).await;
        let n = done.load(Ordering::Relaxed).min(calls);
        let bar = (n * 30 / calls.max(1)) as usize;
        // A live screen on a terminal; one line per second in a log.
        let clear = if std::io::stderr().is_terminal() {
            "\x1b[2J\x1b[H"
        } else {
            ""
        };
        eprint!(
            "{clear}[{}{}] {n}/{calls} calls, {:.1} s\n\n{}",
            "=".repeat(bar),
            " ".repeat(30 - bar),
            started.elapsed().as_secs_f64(),
            summary(&app)
        );
    }
    for w in workers {
        w.await?;
    }
    println!(
        "\nfinal summary after {calls} calls in {:.1} s:\n\n{}",
        started.elapsed().as_secs_f64(),
        summary(&app)
    );
    // Every call was counted once, whatever its outcome.
    let stats = app.stats_json();
    let counted: u64 = stats["venues"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, v)| v["total"].as_u64().unwrap_or(0))
        .sum();
    anyhow::ensure!(
        counted == calls,
        "the host counted {counted} calls, the workload made {calls}"
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
