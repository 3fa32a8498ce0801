//! Per-venue call summary for `GET /v1/stats` (the seed's client metrics):
//! total, success %, failures by kind, average and p99 latency over the most
//! recent calls.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};

/// Latencies kept for the p99 (the most recent calls).
const LATENCY_WINDOW: usize = 1024;

#[derive(Debug, Default)]
struct Inner {
    total: u64,
    ok: u64,
    failed: BTreeMap<&'static str, u64>,
    latency_sum: Duration,
    recent: VecDeque<Duration>,
}

#[derive(Debug, Default)]
pub struct CallStats {
    inner: Mutex<Inner>,
}

impl CallStats {
    /// Record one call: `Ok(())` or the error kind, and how long it took.
    pub fn record(&self, result: Result<(), &'static str>, took: Duration) {
        let mut i = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        i.total += 1;
        match result {
            Ok(()) => i.ok += 1,
            Err(kind) => *i.failed.entry(kind).or_default() += 1,
        }
        i.latency_sum += took;
        if i.recent.len() == LATENCY_WINDOW {
            i.recent.pop_front();
        }
        i.recent.push_back(took);
    }

    /// The summary as JSON.
    pub fn summary(&self) -> Value {
        let i = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let avg_ms = if i.total == 0 {
            0.0
        } else {
            i.latency_sum.as_secs_f64() * 1e3 / i.total as f64
        };
        let p99_ms = if i.recent.is_empty() {
            0.0
        } else {
            let mut v: Vec<Duration> = i.recent.iter().copied().collect();
            v.sort();
            let idx = ((v.len() as f64 - 1.0) * 0.99).round() as usize;
            v[idx].as_secs_f64() * 1e3
        };
        json!({
            "total": i.total,
            "succeeded": i.ok,
            "success_pct": if i.total == 0 { 100.0 } else { i.ok as f64 * 100.0 / i.total as f64 },
            "failed": i.failed,
            "avg_latency_ms": avg_ms,
            "p99_latency_ms": p99_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_counts_kinds_and_latency() {
        let s = CallStats::default();
        for ms in 1..=99 {
            s.record(Ok(()), Duration::from_millis(ms));
        }
        s.record(Err("timeout"), Duration::from_millis(1000));
        let v = s.summary();
        assert_eq!(v["total"], 100);
        assert_eq!(v["success_pct"], 99.0);
        assert_eq!(v["failed"]["timeout"], 1);
        // Nearest rank: the 99th of 100 sorted samples.
        assert_eq!(v["p99_latency_ms"], 99.0);
        assert!((v["avg_latency_ms"].as_f64().unwrap() - 59.5).abs() < 1e-9);
        s.record(Err("timeout"), Duration::from_millis(1000));
        assert_eq!(
            s.summary()["p99_latency_ms"],
            1000.0,
            "two slow calls in 101 reach p99"
        );
    }
}
