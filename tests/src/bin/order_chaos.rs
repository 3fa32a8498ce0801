//! `cargo xtask soak --orders --minutes N`: the order chaos of
//! `resilience_tests::order_chaos` for N minutes: the release host (killed
//! and restarted at random) against a mock Binance venue that drops, delays,
//! refuses and hides orders, with callers that retry and hang up. Exits
//! non-zero (a panic naming `seed=N`) when the venue took two orders for one
//! client id, an accepted order is not journaled `succeeded`/`in_doubt`, or
//! an intent is left `pending`.
//!
//! Options: `--minutes F` (default 10), `--seed S` (default: from the clock,
//! printed), `--callers N` (12), `--keys K` (6), `--kill-every MIN-MAX`
//! seconds (2-5; `0` never kills), `--pg` (a throwaway PostgreSQL journal),
//! `--replicas N` (hosts on it; more than one implies `--pg`).

use std::time::Duration;

use anyhow::{Context, Result, bail};
use resilience_tests::order_chaos::{self, ChaosConfig};

fn options() -> Result<ChaosConfig> {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    let mut cfg = ChaosConfig::new(seed, Duration::from_secs(600));
    cfg.progress = Some(Duration::from_secs(30));
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .with_context(|| format!("{a} needs a value"))
                .cloned()
        };
        match a.as_str() {
            "--minutes" => {
                let m: f64 = value()?.parse().context("--minutes: a number")?;
                if !(m > 0.0 && m <= 24.0 * 60.0) {
                    bail!("--minutes must be > 0 and at most 1440");
                }
                cfg.duration = Duration::from_secs_f64(m * 60.0);
            }
            "--seed" => cfg.seed = value()?.parse().context("--seed: an integer")?,
            "--callers" => cfg.callers = value()?.parse().context("--callers: an integer")?,
            "--keys" => cfg.keys = value()?.parse().context("--keys: an integer")?,
            "--kill-every" => {
                let v = value()?;
                cfg.kill_every = if v == "0" {
                    None
                } else {
                    let (lo, hi) = v
                        .split_once('-')
                        .context("--kill-every: MIN-MAX seconds, or 0")?;
                    let lo: f64 = lo.parse().context("--kill-every: MIN")?;
                    let hi: f64 = hi.parse().context("--kill-every: MAX")?;
                    if !(lo > 0.0 && hi >= lo) {
                        bail!("--kill-every: 0 < MIN <= MAX");
                    }
                    Some(Duration::from_secs_f64(lo)..Duration::from_secs_f64(hi))
                };
            }
            "--pg" => cfg.pg = true,
            "--replicas" => {
                cfg.replicas = value()?.parse().context("--replicas: an integer")?;
                if cfg.replicas > 1 {
                    cfg.pg = true;
                }
            }
            other => bail!(
                "unknown option {other}; options: --minutes F --seed S --callers N --keys K \
                 --kill-every MIN-MAX --pg --replicas N"
            ),
        }
    }
    if !(1..=256).contains(&cfg.callers) || !(1..=10_000).contains(&cfg.keys) {
        bail!("--callers must be 1..=256 and --keys 1..=10000");
    }
    if !(1..=8).contains(&cfg.replicas) {
        bail!("--replicas must be 1..=8");
    }
    Ok(cfg)
}

#[tokio::main]
async fn main() -> Result<()> {
    let cfg = options()?;
    eprintln!(
        "order chaos soak: seed={} ({} to reproduce), {:.1} min, {} callers, {} keys, {} journal, {} replica(s), kills every {:?}",
        cfg.seed,
        format_args!("--seed {}", cfg.seed),
        cfg.duration.as_secs_f64() / 60.0,
        cfg.callers,
        cfg.keys,
        if cfg.pg { "PostgreSQL" } else { "SQLite" },
        cfg.replicas,
        cfg.kill_every
    );
    // Panics (with the seed and the report) when a guarantee broke.
    order_chaos::run(cfg).await;
    Ok(())
}
