//! `cargo xtask soak --minutes N`: the release host (its own process, every
//! venue plugin) under steady load from a mixed workload against simulated
//! venues with random faults (503s, slow answers, 429 Retry-After, JSON-RPC
//! overload; see `resilience_tests::sim::Faults::Random`). At the end it
//! checks, and exits non-zero when one fails:
//!
//! - no request was lost: every call got an HTTP answer;
//! - the counters add up: per venue, `resilience_requests_total` summed over
//!   outcomes and `/v1/stats` `total` equal the calls made, and their success
//!   counts equal the 200s the callers saw;
//! - memory did not grow: resident memory at the end is within
//!   `--max-growth-mib` (default 24) of the level after the first quarter of
//!   the run (warm-up: instances, connections, histograms).
//!
//! Options: `--minutes F` (default 10; fractions allowed), `--callers N`
//! (default 16), `--seed S` (default 1), `--max-growth-mib M`, and
//! `--park-reads`: every read's venue wait parks and the read resumes by
//! replay (`plugins.limits.max_waiting_instances = 0`), so the same checks
//! hold the plugins and the host's replay to the same answers under faults.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use resilience_tests::process::HostProcess;
use resilience_tests::sim::{self, Faults, Sim};
use resilience_tests::{parse_prometheus, series, sum_series};
use serde_json::Value;

/// What the callers saw for one venue.
#[derive(Debug, Default)]
struct Tally {
    sent: AtomicU64,
    ok: AtomicU64,
    other: AtomicU64,
    lost: AtomicU64,
}

struct Options {
    minutes: f64,
    callers: usize,
    seed: u64,
    max_growth_mib: f64,
    park_reads: bool,
}

fn options() -> Result<Options> {
    let mut o = Options {
        minutes: 10.0,
        callers: 16,
        seed: 1,
        max_growth_mib: 24.0,
        park_reads: false,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{a} needs a value"))
                .cloned()
        };
        match a.as_str() {
            "--minutes" => o.minutes = value()?.parse().context("--minutes: a number")?,
            "--callers" => o.callers = value()?.parse().context("--callers: an integer")?,
            "--seed" => o.seed = value()?.parse().context("--seed: an integer")?,
            "--max-growth-mib" => {
                o.max_growth_mib = value()?.parse().context("--max-growth-mib: a number")?
            }
            "--park-reads" => o.park_reads = true,
            other => bail!(
                "unknown option {other}; options: --minutes F --callers N --seed S \
                 --max-growth-mib M --park-reads"
            ),
        }
    }
    if !(o.minutes > 0.0 && o.minutes <= 24.0 * 60.0) {
        bail!("--minutes must be > 0 and at most 1440");
    }
    if o.callers == 0 || o.callers > 1024 {
        bail!("--callers must be 1..=1024");
    }
    Ok(o)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The workload: per call, the venue, its operation and params.
type Workload = Vec<sim::Call>;
/// Per venue, what the callers saw.
type Tallies = BTreeMap<&'static str, Tally>;

#[tokio::main]
async fn main() -> Result<()> {
    let o = options()?;
    let duration = Duration::from_secs_f64(o.minutes * 60.0);
    eprintln!(
        "soak: {:.1} min, {} callers, seed {}, simulated venues with random faults, release host with every venue plugin{}",
        o.minutes,
        o.callers,
        o.seed,
        if o.park_reads {
            ", every read parked"
        } else {
            ""
        }
    );
    let sim = Sim::start(Faults::Random { seed: o.seed }, "").await;
    let limits = if o.park_reads {
        "max_waiting_instances = 0"
    } else {
        ""
    };
    let host = Arc::new(HostProcess::start(&sim::PLUGINS, limits, &sim.config, &sim::env()).await);
    let workload: Arc<Workload> = Arc::new(sim::workload());
    let tallies: Arc<Tallies> = Arc::new(
        workload
            .iter()
            .map(|(v, _, _)| (*v, Tally::default()))
            .collect(),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let callers: Vec<_> = (0..o.callers)
        .map(|c| spawn_caller(c, &host, &workload, &tallies, &stop))
        .collect();
    let samples = sample_rss(&host, &tallies, duration).await;
    stop.store(true, Ordering::Relaxed);
    for c in callers {
        c.await.context("caller task")?;
    }

    let mut failures = check_counters(&host, &workload, &tallies).await?;
    failures.extend(check_memory(&host, &samples, duration, o.max_growth_mib));
    failures.extend(check_parks(&host, o.park_reads).await?);
    if failures.is_empty() {
        println!("\nsoak passed: every call answered, counters add up, memory bounded");
        Ok(())
    } else {
        eprintln!("host log (tail):\n{}", host.log_tail());
        bail!("soak failed:\n  {}", failures.join("\n  "))
    }
}

/// Caller `c`: goes through the workload from its own offset at a daemon's
/// pace until `stop`, tallying every answer.
fn spawn_caller(
    c: usize,
    host: &Arc<HostProcess>,
    workload: &Arc<Workload>,
    tallies: &Arc<Tallies>,
    stop: &Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let (host, workload, tallies, stop) = (
        Arc::clone(host),
        Arc::clone(workload),
        Arc::clone(tallies),
        Arc::clone(stop),
    );
    tokio::spawn(async move {
        let mut i = c;
        while !stop.load(Ordering::Relaxed) {
            let (venue, op, params) = &workload[i % workload.len()];
            let t = &tallies[venue];
            t.sent.fetch_add(1, Ordering::Relaxed);
            match host.call(venue, op, params).await {
                Some(200) => t.ok.fetch_add(1, Ordering::Relaxed),
                Some(_) => t.other.fetch_add(1, Ordering::Relaxed),
                None => t.lost.fetch_add(1, Ordering::Relaxed),
            };
            i += 1;
            // A daemon's pace, not a flood: a short pause between calls.
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
}

/// The host's resident memory every second for `duration`, with a
/// progress line every 10 s.
async fn sample_rss(
    host: &HostProcess,
    tallies: &Tallies,
    duration: Duration,
) -> Vec<(Duration, u64)> {
    let started = Instant::now();
    let mut samples: Vec<(Duration, u64)> = Vec::new();
    let mut last_report = Instant::now();
    while started.elapsed() < duration {
        tokio::time::sleep(Duration::from_secs(1).min(duration.saturating_sub(started.elapsed())))
            .await;
        samples.push((started.elapsed(), host.rss()));
        if last_report.elapsed() >= Duration::from_secs(10) || started.elapsed() >= duration {
            last_report = Instant::now();
            let load = |f: fn(&Tally) -> &AtomicU64| -> u64 {
                tallies.values().map(|t| f(t).load(Ordering::Relaxed)).sum()
            };
            let (ok, other, lost) = (load(|t| &t.ok), load(|t| &t.other), load(|t| &t.lost));
            let answered = ok + other;
            eprintln!(
                "soak: {:>5.0}/{:.0} s  {answered} answered, {:.2}% ok, {lost} lost  RSS {:.1} MiB",
                started.elapsed().as_secs_f64(),
                duration.as_secs_f64(),
                100.0 * ok as f64 / answered.max(1) as f64,
                mib(samples.last().map(|s| s.1).unwrap_or(0)),
            );
        }
    }
    samples
}

/// Per venue, the callers' tallies against `resilience_requests_total` and
/// How many reads parked (printed); with `--park-reads`, none is a failure:
/// the run would not have exercised what it was asked to.
async fn check_parks(host: &HostProcess, park_reads: bool) -> Result<Vec<String>> {
    let (_, metrics) = host.get("/metrics").await.context("GET /metrics")?;
    let parks = sum_series(
        &parse_prometheus(&metrics),
        "resilience_plugin_parks_total",
        &[],
    ) as u64;
    println!("\nreads parked: {parks}");
    Ok(if park_reads && parks == 0 {
        vec!["--park-reads: no read parked".to_string()]
    } else {
        Vec::new()
    })
}

/// `/v1/stats` (printed as a table); what does not add up.
async fn check_counters(
    host: &HostProcess,
    workload: &Workload,
    tallies: &Tallies,
) -> Result<Vec<String>> {
    let mut failures = Vec::new();
    let (_, metrics) = host.get("/metrics").await.context("GET /metrics")?;
    let m = parse_prometheus(&metrics);
    let (_, stats) = host.get("/v1/stats").await.context("GET /v1/stats")?;
    let stats: Value = serde_json::from_str(&stats).context("/v1/stats is JSON")?;
    println!(
        "| venue | calls | 200 | other answers | lost | metrics total | stats total | stats succeeded |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (venue, t) in tallies.iter() {
        let (sent, ok, other, lost) = (
            t.sent.load(Ordering::Relaxed),
            t.ok.load(Ordering::Relaxed),
            t.other.load(Ordering::Relaxed),
            t.lost.load(Ordering::Relaxed),
        );
        let metric_total = sum_series(&m, "resilience_requests_total", &[("venue", venue)]) as u64;
        let op = workload
            .iter()
            .find(|(v, _, _)| v == venue)
            .map(|(_, op, _)| *op)
            .unwrap_or_default();
        let metric_ok = m
            .get(&series(
                "resilience_requests_total",
                &[("venue", venue), ("operation", op), ("outcome", "success")],
            ))
            .copied()
            .unwrap_or(0.0) as u64;
        let s = &stats["venues"][venue];
        let (stats_total, stats_ok) = (
            s["total"].as_u64().unwrap_or(0),
            s["succeeded"].as_u64().unwrap_or(0),
        );
        println!(
            "| {venue} | {sent} | {ok} | {other} | {lost} | {metric_total} | {stats_total} | {stats_ok} |"
        );
        if lost > 0 {
            failures.push(format!("{venue}: {lost} calls got no answer"));
        }
        if ok + other + lost != sent {
            failures.push(format!(
                "{venue}: {sent} sent but {} tallied",
                ok + other + lost
            ));
        }
        if metric_total != sent || stats_total != sent {
            failures.push(format!(
                "{venue}: {sent} calls, but resilience_requests_total says {metric_total} and /v1/stats {stats_total}"
            ));
        }
        if metric_ok != ok || stats_ok != ok {
            failures.push(format!(
                "{venue}: callers saw {ok} successes, metrics {metric_ok}, /v1/stats {stats_ok}"
            ));
        }
        if ok == 0 {
            failures.push(format!("{venue}: no call succeeded"));
        }
    }
    Ok(failures)
}

/// Resident memory in the last quarter against its level after the first
/// quarter (printed as a table); a failure when it grew past the bound.
fn check_memory(
    host: &HostProcess,
    samples: &[(Duration, u64)],
    duration: Duration,
    max_growth_mib: f64,
) -> Option<String> {
    let warm_at = duration / 4;
    let warm = samples
        .iter()
        .find(|(t, _)| *t >= warm_at)
        .map(|s| s.1)
        .unwrap_or(0);
    let tail_from = duration * 3 / 4;
    let end = samples
        .iter()
        .filter(|(t, _)| *t >= tail_from)
        .map(|s| s.1)
        .max()
        .unwrap_or(0);
    let peak = host.peak_rss();
    let growth = mib(end) - mib(warm);
    println!();
    println!(
        "| memory | after warm-up ({:.0} s) | last quarter (max) | growth | bound | peak |",
        warm_at.as_secs_f64()
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| host RSS | {:.1} MiB | {:.1} MiB | {growth:+.1} MiB | {max_growth_mib:.0} MiB | {:.1} MiB |",
        mib(warm),
        mib(end),
        mib(peak)
    );
    (growth > max_growth_mib)
        .then(|| format!("resident memory grew {growth:.1} MiB (bound {max_growth_mib:.0} MiB)"))
}
