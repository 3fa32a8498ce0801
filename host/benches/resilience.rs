//! `cargo xtask bench resilience`: the resilience pipeline against loopback
//! mock venues, each figure with its baseline from the same run.
//!
//! 1. One of three endpoints fails 50% of requests (half 503, half reset):
//!    success rate and mean attempts over 10,000 calls, with the host's
//!    pipeline (failover), with retries at the primary only (no failover),
//!    vs a single attempt (baseline).
//! 2. Failover time: the primary dies mid-run; the longest gap between
//!    successful calls, vs the median gap before it died.
//! 3. Fail-fast: time for a call to fail while every breaker is open, vs a
//!    call that succeeds against a healthy loopback venue.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use resilience_host::config::VenueConfig;
use resilience_host::resilience::deadline::Deadline;
use resilience_host::upstream::{OutboundRequest, Upstream};
use support::{Answer, MockVenue, coin, median, percentile, us};

fn venue(endpoints: &[String], extra: serde_json::Value) -> VenueConfig {
    let mut v = serde_json::json!({
        "plugin": "bench",
        "endpoints": endpoints,
        "timeout_ms": 1000,
        "deadline_ms": 5000,
        "retry": { "max_attempts": 3, "base_delay_ms": 1, "max_delay_ms": 20, "jitter": 0.2 },
        "breaker": { "failure_threshold": 5, "success_threshold": 3, "open_ms": 500,
                     "failure_rate": 0.3, "window": 20, "min_calls": 10 },
        "pool": { "max_connections_per_host": 64 },
    });
    if let (Some(base), Some(more)) = (v.as_object_mut(), extra.as_object()) {
        for (k, val) in more {
            base.insert(k.clone(), val.clone());
        }
    }
    serde_json::from_value(v).expect("bench venue config")
}

fn get() -> OutboundRequest {
    OutboundRequest {
        method: http::Method::GET,
        path_and_query: "/x".into(),
        headers: vec![],
        body: bytes::Bytes::new(),
        idempotent: true,
        weight: 1,
        endpoints: None,
        signing: None,
        response_budget: None,
        start: 0,
    }
}

async fn run_calls(up: Arc<Upstream>, calls: usize, concurrency: usize) -> (usize, Duration) {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        // Spread the remainder so exactly `calls` calls are made.
        let per = calls / concurrency + usize::from(t < calls % concurrency);
        let up = up.clone();
        tasks.push(tokio::spawn(async move {
            let mut ok = 0;
            for _ in 0..per {
                if let Ok(r) = up
                    .send(get(), Deadline::after(Duration::from_secs(5)))
                    .await
                    && r.status == 200
                {
                    ok += 1;
                }
            }
            ok
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += t.await.unwrap_or(0);
    }
    (ok, started.elapsed())
}

fn total_attempts(up: &Upstream) -> u64 {
    use resilience_host::resilience::classify::Outcome;
    up.endpoints()
        .iter()
        .map(|e| Outcome::ALL.iter().map(|o| e.attempts(*o)).sum::<u64>())
        .sum()
}

/// The result row and the target row.
async fn flaky_primary() -> (String, String) {
    const CALLS: usize = 10_000;
    let flaky = MockVenue::start(Arc::new(|n| {
        let c = coin(7, n);
        if c < 0.25 {
            Answer::ServiceUnavailable
        } else if c < 0.5 {
            Answer::Reset
        } else {
            Answer::Ok
        }
    }))
    .await;
    let good1 = MockVenue::start(Arc::new(|_| Answer::Ok)).await;
    let good2 = MockVenue::start(Arc::new(|_| Answer::Ok)).await;
    let eps = vec![flaky.url(), good1.url(), good2.url()];

    let pipeline = Arc::new(
        Upstream::new(
            "bench",
            &venue(&eps, serde_json::json!({})),
            &Default::default(),
            1 << 20,
        )
        .unwrap(),
    );
    let (ok, took) = run_calls(pipeline.clone(), CALLS, 32).await;
    let attempts = total_attempts(&pipeline);

    // The same without the failure-rate rule: only consecutive failures open
    // the primary's breaker, so retries carry the load.
    let consecutive_only = serde_json::json!({
        "breaker": {"failure_threshold": 5, "success_threshold": 3, "open_ms": 500}
    });
    let retry_only = Arc::new(
        Upstream::new(
            "bench",
            &venue(&eps, consecutive_only),
            &Default::default(),
            1 << 20,
        )
        .unwrap(),
    );
    let (ok_r, _) = run_calls(retry_only.clone(), CALLS, 32).await;
    let attempts_r = total_attempts(&retry_only);

    // Retries but no failover: the primary alone, its breaker never opening.
    let no_failover = Arc::new(
        Upstream::new(
            "bench",
            &venue(
                &eps[..1],
                serde_json::json!({"breaker": {"failure_threshold": 1000000}}),
            ),
            &Default::default(),
            1 << 20,
        )
        .unwrap(),
    );
    let (ok_nf, _) = run_calls(no_failover.clone(), CALLS, 32).await;
    let attempts_nf = total_attempts(&no_failover);

    let single = Arc::new(
        Upstream::new(
            "bench",
            &venue(&eps[..1], serde_json::json!({"retry": {"max_attempts": 1}, "breaker": {"failure_threshold": 1000000}})),
            &Default::default(),
            1 << 20,
        )
        .unwrap(),
    );
    let (ok1, _) = run_calls(single.clone(), CALLS, 32).await;

    let row = format!(
        "| 50% failures (503 or reset) on 1 of 3 endpoints, {CALLS} calls, 32 callers | host pipeline with failover, failure-rate breaker: {:.2}% success, {:.3} attempts/call ({:.0} calls/s); consecutive-only breaker: {:.2}% success, {:.3} attempts/call; without failover (retries at the primary only, 3 attempts, budget 20%): {:.2}% success, {:.3} attempts/call | single attempt, primary only: {:.2}% success | success ratio {:.2}x (without failover {:.2}x) |\n",
        ok as f64 * 100.0 / CALLS as f64,
        attempts as f64 / CALLS as f64,
        CALLS as f64 / took.as_secs_f64(),
        ok_r as f64 * 100.0 / CALLS as f64,
        attempts_r as f64 / CALLS as f64,
        ok_nf as f64 * 100.0 / CALLS as f64,
        attempts_nf as f64 / CALLS as f64,
        ok1 as f64 * 100.0 / CALLS as f64,
        ok as f64 / ok1.max(1) as f64,
        ok_nf as f64 / ok1.max(1) as f64,
    );
    let target = format!(
        "| >= 99.99% success in the chaos case with failover | {:.2}% ({} of {CALLS} failed) | {} |\n",
        ok as f64 * 100.0 / CALLS as f64,
        CALLS - ok,
        if ok as f64 >= 0.9999 * CALLS as f64 {
            "met"
        } else {
            "not met"
        },
    );
    (row, target)
}

async fn failover_time() -> String {
    let primary = MockVenue::start(Arc::new(|_| Answer::Ok)).await;
    let secondary = MockVenue::start(Arc::new(|_| Answer::Ok)).await;
    let eps = vec![primary.url(), secondary.url()];
    let up = Arc::new(
        Upstream::new(
            "bench",
            &venue(&eps, serde_json::json!({})),
            &Default::default(),
            1 << 20,
        )
        .unwrap(),
    );
    let mut last_ok = Instant::now();
    let mut gaps_before = Vec::new();
    let mut worst_after = Duration::ZERO;
    let mut failed = 0;
    for i in 0..4000 {
        if i == 2000 {
            primary.kill();
        }
        match up
            .send(get(), Deadline::after(Duration::from_secs(5)))
            .await
        {
            Ok(r) if r.status == 200 => {
                let gap = last_ok.elapsed();
                if i < 2000 {
                    gaps_before.push(gap);
                } else {
                    worst_after = worst_after.max(gap);
                }
                last_ok = Instant::now();
            }
            _ => failed += 1,
        }
    }
    let before = median(gaps_before);
    format!(
        "| primary dies mid-run (4,000 sequential calls) | longest gap between successes after the kill: {:.0} us, failed calls: {failed} | median gap before: {:.0} us | ratio {:.1}x |\n",
        us(worst_after),
        us(before),
        us(worst_after) / us(before).max(0.001),
    )
}

async fn fail_fast() -> String {
    let dead = MockVenue::start(Arc::new(|_| Answer::ServiceUnavailable)).await;
    let cfg = venue(
        &[dead.url()],
        serde_json::json!({"retry": {"max_attempts": 1}, "breaker": {"failure_threshold": 1, "open_ms": 600000}}),
    );
    let up = Upstream::new("bench", &cfg, &Default::default(), 1 << 20).unwrap();
    let _ = up
        .send(get(), Deadline::after(Duration::from_secs(5)))
        .await;
    let mut open = Vec::new();
    for _ in 0..20_000 {
        let t = Instant::now();
        let r = up
            .send(get(), Deadline::after(Duration::from_secs(5)))
            .await;
        open.push(t.elapsed());
        assert!(r.is_err(), "breaker should be open");
    }
    let healthy = MockVenue::start(Arc::new(|_| Answer::Ok)).await;
    let up_ok = Upstream::new(
        "bench",
        &venue(&[healthy.url()], serde_json::json!({})),
        &Default::default(),
        1 << 20,
    )
    .unwrap();
    let mut ok = Vec::new();
    for _ in 0..2_000 {
        let t = Instant::now();
        let _ = up_ok
            .send(get(), Deadline::after(Duration::from_secs(5)))
            .await;
        ok.push(t.elapsed());
    }
    let (m_open, p99_open, m_ok) = (median(open.clone()), percentile(open, 0.99), median(ok));
    format!(
        "| call while every breaker is open | median {:.2} us, p99 {:.2} us, no network | healthy loopback call: median {:.1} us | {:.0}x faster |\n",
        us(m_open),
        us(p99_open),
        us(m_ok),
        us(m_ok) / us(m_open).max(0.001),
    )
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    rt.block_on(async {
        println!("| scenario | measured | baseline (same run) | ratio |");
        println!("|---|---|---|---|");
        let want = |name: &str| only.as_deref().is_none_or(|o| name.contains(o));
        let mut targets = String::new();
        if want("flaky") {
            let (row, target) = flaky_primary().await;
            print!("{row}");
            targets.push_str(&target);
        }
        if want("failover") {
            print!("{}", failover_time().await);
        }
        if want("fail_fast") {
            print!("{}", fail_fast().await);
        }
        if !targets.is_empty() {
            println!(
                "\n| target | measured | |\n|---|---|---|\n{}",
                targets.trim_end()
            );
        }
    });
}
