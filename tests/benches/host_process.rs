//! `cargo xtask bench host_process`: measurements of the host as its own
//! process (the release binary), read from `/proc`:
//!
//! - CPU time the host spends during a venue outage (every answer 503) while
//!   a daemon keeps calling at a steady 200 calls/s, with the breaker (the
//!   seed's settings: open after 5 failures for 30 s) and without it
//!   (threshold never reached); retries as in the seed (4 attempts, 0.5 s
//!   base, x2). 30 s each (`RESILIENCE_BENCH_SMOKE=1`: 3 s);
//! - resident memory with every venue plugin loaded (TON, Binance,
//!   Polymarket, Chainlink, template) at idle, and with 1,000 API requests in
//!   flight (250 per venue): with the default limits (16 instances and 10
//!   connections per venue, venues answering after 200 ms, the rest waiting
//!   in the host), and with both raised to 250 per venue (venues answering
//!   after 2 s, all 1,000 at the venues at once); then after the burst, and
//!   once the host's periodic trim has dropped the idle instances and handed
//!   their memory back.
//!
//! Every call must be answered (an HTTP status), and the host's counters must
//! add up to the calls made; the bench stops if not.

#[path = "../../host/benches/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use resilience_host::app::IDLE_TRIM_INTERVAL;
use resilience_tests::process::HostProcess;
use resilience_tests::sim::{self, Faults, Sim};
use resilience_tests::{parse_prometheus, sum_series};
use serde_json::json;
use support::{Answer, MockVenue};

const RATE_PER_SEC: u64 = 200;

struct Outage {
    cpu: Duration,
    calls: u64,
    upstream_requests: u64,
    mean_latency: Duration,
}

/// Steady load against a venue that answers 503 to everything.
async fn outage(breaker: bool, seconds: u64) -> Outage {
    let mock = MockVenue::start(Arc::new(|_| Answer::ServiceUnavailable)).await;
    let threshold = if breaker { 5 } else { u32::MAX };
    let host = HostProcess::start(
        &["echo"],
        "",
        &format!(
            "[venues.v]\nplugin = \"echo\"\nendpoints = [{:?}]\ntimeout_ms = 2000\ndeadline_ms = 10000\n\
             retry = {{ max_attempts = 4, base_delay_ms = 500, multiplier = 2.0, jitter = 0.2 }}\n\
             breaker = {{ failure_threshold = {threshold}, open_ms = 30000 }}\n",
            mock.url()
        ),
        &[],
    )
    .await;
    let host = Arc::new(host);
    let answered = Arc::new(AtomicU64::new(0));
    let latency_us = Arc::new(AtomicU64::new(0));
    let cpu0 = host.cpu_time();
    let started = Instant::now();
    let mut ticker = tokio::time::interval(Duration::from_micros(1_000_000 / RATE_PER_SEC));
    let calls = seconds * RATE_PER_SEC;
    let mut tasks = Vec::with_capacity(calls as usize);
    for _ in 0..calls {
        ticker.tick().await;
        let (host, answered, latency_us) = (host.clone(), answered.clone(), latency_us.clone());
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            if host
                .call("v", "send", &json!({"path": "/fapi/v1/order"}))
                .await
                .is_some()
            {
                answered.fetch_add(1, Ordering::Relaxed);
            }
            latency_us.fetch_add(t.elapsed().as_micros() as u64, Ordering::Relaxed);
        }));
    }
    for t in tasks {
        t.await.expect("caller");
    }
    let cpu = host.cpu_time() - cpu0;
    eprintln!(
        "outage (breaker {}): {calls} calls in {:.1} s, host CPU {:.2} s",
        if breaker { "on" } else { "off" },
        started.elapsed().as_secs_f64(),
        cpu.as_secs_f64()
    );
    assert_eq!(
        answered.load(Ordering::Relaxed),
        calls,
        "every call is answered"
    );
    let (_, metrics) = host.get("/metrics").await.expect("metrics");
    let m = parse_prometheus(&metrics);
    let counted = sum_series(&m, "resilience_requests_total", &[("venue", "v")]);
    assert_eq!(
        counted as u64, calls,
        "resilience_requests_total adds up to the calls made"
    );
    Outage {
        cpu,
        calls,
        upstream_requests: mock.requests.load(Ordering::SeqCst),
        mean_latency: Duration::from_micros(latency_us.load(Ordering::Relaxed) / calls),
    }
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Idle instances are dropped this long after their last use here (the
/// default is 60 s), so the bench sees the trim without waiting a minute.
const IDLE_INSTANCE_MS: u64 = 1_000;

/// RSS at idle and with 1,000 requests in flight: idle, peak, after, after
/// the burst's idle instances were trimmed, and the requests the venues
/// received during the burst. `bound` raises the instances and connections
/// per venue (None: the defaults, 16 and 10).
async fn memory(delay: Duration, bound: Option<u32>) -> (u64, u64, u64, u64, u64) {
    let (venue_extra, limits) = match bound {
        Some(n) => (
            format!("pool = {{ max_connections_per_host = {n} }}"),
            format!("max_instances = {n}\nidle_instance_ms = {IDLE_INSTANCE_MS}"),
        ),
        None => (
            String::new(),
            format!("idle_instance_ms = {IDLE_INSTANCE_MS}"),
        ),
    };
    let sim = Sim::start(Faults::Slow(delay), &venue_extra).await;
    let mut plugins = sim::PLUGINS.to_vec();
    plugins.push("template");
    let host = HostProcess::start(
        &plugins,
        &limits,
        &format!(
            "{}\n[venues.t]\nplugin = \"template\"\nendpoints = [\"http://127.0.0.1:9\"]\n",
            sim.config
        ),
        &sim::env(),
    )
    .await;
    let host = Arc::new(host);
    let workload = sim::workload();
    // One call per venue: instances exist, connections are open.
    for (venue, op, params) in &workload {
        assert_eq!(
            host.call(venue, op, params).await,
            Some(200),
            "{venue} {op}"
        );
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = host.rss();
    let answered = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..1000usize)
        .map(|i| {
            let (host, answered) = (host.clone(), answered.clone());
            let (venue, op, params) = workload[i % workload.len()].clone();
            tokio::spawn(async move {
                if host.call(venue, op, &params).await == Some(200) {
                    answered.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    let before = sim.answered();
    let mut peak = 0;
    let mut reached_venues = 0;
    while tasks.iter().any(|t| !t.is_finished()) {
        peak = peak.max(host.rss());
        reached_venues = reached_venues.max(sim.answered() - before);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for t in tasks {
        t.await.expect("caller");
    }
    assert_eq!(
        answered.load(Ordering::Relaxed),
        1000,
        "all 1,000 calls succeed"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = host.rss();
    // The host's periodic trimmer drops the instances the burst left idle
    // and gives the freed heap back; wait for its first tick after the idle
    // time, with no call in between.
    tokio::time::sleep(IDLE_TRIM_INTERVAL + Duration::from_millis(IDLE_INSTANCE_MS + 500)).await;
    let trimmed = host.rss();
    (idle, peak, after, trimmed, reached_venues)
}

fn main() {
    let smoke = std::env::var_os("RESILIENCE_BENCH_SMOKE").is_some();
    let seconds = if smoke { 3 } else { 30 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let with = outage(true, seconds).await;
        let without = outage(false, seconds).await;
        let default = memory(Duration::from_millis(200), None).await;
        let raised = memory(Duration::from_secs(2), Some(250)).await;

        println!("| scenario | measured | baseline (same run) | ratio |");
        println!("|---|---|---|---|");
        println!(
            "| host CPU during a {seconds} s outage (every answer 503), {RATE_PER_SEC} calls/s, seed's retry and breaker settings | breaker on: {:.2} s CPU, {} upstream requests, mean call {:.0} ms | breaker off: {:.2} s CPU, {} upstream requests, mean call {:.0} ms | {:.0}% less CPU |",
            with.cpu.as_secs_f64(),
            with.upstream_requests,
            with.mean_latency.as_secs_f64() * 1e3,
            without.cpu.as_secs_f64(),
            without.upstream_requests,
            without.mean_latency.as_secs_f64() * 1e3,
            100.0 * (1.0 - with.cpu.as_secs_f64() / without.cpu.as_secs_f64().max(1e-9)),
        );
        assert_eq!((with.calls, without.calls), (seconds * RATE_PER_SEC, seconds * RATE_PER_SEC));
        for ((idle, peak, after, trimmed, reached), how) in [
            (default, "default limits: 16 instances and 10 connections per venue, venues answer after 200 ms, the rest wait in the host"),
            (raised, "250 instances and 250 connections per venue, venues answer after 2 s, all 1,000 at the venues at once"),
        ] {
            println!(
                "| host RSS, 5 plugins loaded (ton, binance, polymarket, chainlink, template), 1,000 API calls in flight; {how}; {reached} venue requests | peak {:.1} MiB in flight, {:.1} MiB after, {:.1} MiB once idle instances were trimmed | idle: {:.1} MiB | {:.2}x idle at peak, {:.2}x trimmed |",
                mib(peak),
                mib(after),
                mib(trimmed),
                mib(idle),
                peak as f64 / idle as f64,
                trimmed as f64 / idle as f64
            );
        }
        println!();
        println!("| target | measured | |");
        println!("|---|---|---|");
        for ((_, peak, _, _, _), how) in [(default, "default limits"), (raised, "250 instances per venue")] {
            println!(
                "| RSS <= 100 MB with 1,000 requests in flight ({how}) | {:.1} MB | {} |",
                peak as f64 / 1e6,
                if peak as f64 <= 100e6 { "met" } else { "not met" }
            );
        }
    });
}
