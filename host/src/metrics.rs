//! Prometheus metrics (`GET /metrics`, text format 0.0.4, via `prometheus-client`).
//!
//! Two kinds of series:
//! - per call, recorded on the hot path through handles resolved at start-up
//!   (no label strings built per call): `resilience_requests_total` and
//!   `resilience_request_duration_seconds`;
//! - state the host already keeps (attempt counters, breakers, pools, rate
//!   limits, instance pools), read at scrape time by [`HostCollector`].
//!
//! Label values come only from configuration and plugin declarations: venue
//! names, redacted endpoint URLs, declared operation names, plugin names.
//! A call naming an undeclared operation is counted under `operation="(undeclared)"`
//! and an unknown venue under `venue="(unknown)"`, so request data can never
//! create series.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::app::{Live, VenueRuntime};
use crate::journal::Journal;
use crate::resilience::breaker::State;
use crate::resilience::classify::Outcome;
use crate::upstream::UpstreamStats;

/// Latency buckets, seconds: 1 ms .. 30 s.
pub const LATENCY_BUCKETS: [f64; 15] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0,
];

/// Outcomes of `resilience_requests_total`: `success`, an API error kind,
/// or `cancelled` (the caller hung up before the answer).
pub const CALL_OUTCOMES: &[&str] = &[
    "success",
    crate::app::CANCELLED,
    "unknown_venue",
    "invalid_params",
    "unsupported",
    "unknown_operation",
    "rate_limited",
    "upstream",
    "connection",
    "parse",
    "stale_data",
    "circuit_open",
    "timeout",
    "plugin",
    "conflict",
    "unavailable",
];

/// Label value for operations a plugin did not declare.
pub const UNDECLARED: &str = "(undeclared)";
/// Label value for venues not in the config.
pub const UNKNOWN_VENUE: &str = "(unknown)";

type Labels = Vec<(&'static str, String)>;

/// Per (venue, operation): counters by outcome and the latency histogram.
#[derive(Debug, Clone)]
pub struct OpMetrics {
    outcomes: HashMap<&'static str, Counter>,
    duration: Histogram,
}

impl OpMetrics {
    /// Record one call.
    pub fn record(&self, outcome: &str, seconds: f64) {
        if let Some(c) = self.outcomes.get(outcome) {
            c.inc();
        }
        self.duration.observe(seconds);
    }
}

/// The registry and the per-call handles.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<Labels, Counter>,
    duration: Family<Labels, Histogram, fn() -> Histogram>,
}

fn new_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<Labels, Counter>::default();
        let duration =
            Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(new_histogram);
        registry.register(
            "resilience_requests",
            "Venue calls by venue, declared operation and outcome (success or error kind)",
            requests.clone(),
        );
        registry.register(
            "resilience_request_duration_seconds",
            "Duration of venue calls, from the API request to the result",
            duration.clone(),
        );
        Self {
            registry,
            requests,
            duration,
        }
    }

    /// Handles for one (venue, operation), every outcome pre-created so the
    /// series exist from start-up.
    pub fn op(&self, venue: &str, operation: &str) -> OpMetrics {
        let outcomes = CALL_OUTCOMES
            .iter()
            .map(|o| {
                let labels = vec![
                    ("venue", venue.to_string()),
                    ("operation", operation.to_string()),
                    ("outcome", o.to_string()),
                ];
                (*o, self.requests.get_or_create(&labels).clone())
            })
            .collect();
        let duration = self
            .duration
            .get_or_create(&vec![
                ("venue", venue.to_string()),
                ("operation", operation.to_string()),
            ])
            .clone();
        OpMetrics { outcomes, duration }
    }

    /// Add the scrape-time collector over the live venues and the journal.
    pub fn register_collector(&mut self, live: Live, journal: Arc<Journal>) {
        self.registry
            .register_collector(Box::new(HostCollector { live, journal }));
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Err(e) =
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
        {
            tracing::error!(error = %e, "encoding metrics failed");
        }
        out
    }
}

/// Reads the host's own state at scrape time.
#[derive(Debug)]
pub struct HostCollector {
    live: Live,
    journal: Arc<Journal>,
}

fn counter(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (Labels, u64)>,
) -> std::fmt::Result {
    let mut fam = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    for (labels, v) in rows {
        ConstCounter::new(v).encode(fam.encode_family(&labels)?)?;
    }
    Ok(())
}

fn gauge(
    enc: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    rows: impl IntoIterator<Item = (Labels, i64)>,
) -> std::fmt::Result {
    let mut fam = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, v) in rows {
        ConstGauge::new(v).encode(fam.encode_family(&labels)?)?;
    }
    Ok(())
}

impl prometheus_client::collector::Collector for HostCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let loaded = Arc::clone(&self.live.read().unwrap_or_else(|e| e.into_inner()));
        let venues: Vec<&VenueRuntime> = loaded.venues.values().map(Arc::as_ref).collect();
        encode_endpoints(&mut enc, &venues)?;
        encode_venues(&mut enc, &venues)?;
        encode_journal(&mut enc, &self.journal)?;
        encode_plugins(&mut enc, &venues)
    }
}

/// `venue` and `endpoint` labels.
fn endpoint_labels(venue: &VenueRuntime, endpoint: &str) -> Labels {
    vec![
        ("venue", venue.name.clone()),
        ("endpoint", endpoint.to_string()),
    ]
}

/// One row per venue: its `venue` label and `value(venue)`.
fn per_venue<'a, T>(
    venues: &'a [&'a VenueRuntime],
    value: impl Fn(&VenueRuntime) -> T + 'a,
) -> impl Iterator<Item = (Labels, T)> + 'a {
    venues
        .iter()
        .map(move |x| (vec![("venue", x.name.clone())], value(x)))
}

/// Per endpoint: attempts by outcome, breaker state and transitions,
/// connections and waiters.
fn encode_endpoints(enc: &mut DescriptorEncoder, venues: &[&VenueRuntime]) -> std::fmt::Result {
    let endpoints = || {
        venues.iter().flat_map(|venue| {
            venue
                .ctx
                .upstream
                .endpoints()
                .iter()
                .map(move |e| (*venue, e))
        })
    };
    counter(
        enc,
        "resilience_upstream_attempts",
        "Attempts at venue endpoints by outcome",
        endpoints().flat_map(|(venue, e)| {
            Outcome::ALL.into_iter().map(move |o| {
                let mut l = endpoint_labels(venue, &e.display);
                l.push(("outcome", o.as_str().to_string()));
                (l, e.attempts(o))
            })
        }),
    )?;
    gauge(
        enc,
        "resilience_circuit_state",
        "Breaker state per endpoint: 0 closed, 1 half-open, 2 open",
        endpoints()
            .map(|(venue, e)| (endpoint_labels(venue, &e.display), e.breaker.state() as i64)),
    )?;
    counter(
        enc,
        "resilience_circuit_transitions",
        "Breaker transitions per endpoint by target state",
        endpoints().flat_map(|(venue, e)| {
            [State::Open, State::HalfOpen, State::Closed]
                .into_iter()
                .map(move |s| {
                    let mut l = endpoint_labels(venue, &e.display);
                    l.push(("to", s.as_str().to_string()));
                    (l, e.breaker.transitions_to(s))
                })
        }),
    )?;
    gauge(
        enc,
        "resilience_pool_connections",
        "Connections per endpoint: active (a request in flight) and idle (open, unused)",
        endpoints().flat_map(|(venue, e)| {
            let active = e.active() as i64;
            let idle = (e.open_connections() - active).max(0);
            [("active", active), ("idle", idle)]
                .into_iter()
                .map(move |(state, n)| {
                    let mut l = endpoint_labels(venue, &e.display);
                    l.push(("state", state.to_string()));
                    (l, n)
                })
        }),
    )?;
    gauge(
        enc,
        "resilience_pool_waiting",
        "Callers waiting for a connection slot per endpoint",
        endpoints().map(|(venue, e)| (endpoint_labels(venue, &e.display), e.waiting() as i64)),
    )
}

/// Per venue: retries, failovers, the retry budget, rate limits and
/// health probes.
fn encode_venues(enc: &mut DescriptorEncoder, venues: &[&VenueRuntime]) -> std::fmt::Result {
    let stat = |x: &VenueRuntime, f: fn(&UpstreamStats) -> &AtomicU64| {
        f(&x.ctx.upstream.stats).load(Ordering::Relaxed)
    };
    counter(
        enc,
        "resilience_retries",
        "Retries made (attempts after the first)",
        per_venue(venues, move |x| stat(x, |s| &s.retries)),
    )?;
    counter(
        enc,
        "resilience_failovers",
        "Retries that moved to another endpoint",
        per_venue(venues, move |x| stat(x, |s| &s.failovers)),
    )?;
    counter(
        enc,
        "resilience_retry_budget_exhausted",
        "Retries refused by the retry budget",
        per_venue(venues, move |x| stat(x, |s| &s.budget_exhausted)),
    )?;
    counter(
        enc,
        "resilience_rate_limited",
        "Requests refused or delayed past the deadline by the venue's rate limits, and rate limits plugins read in the venue's answers",
        per_venue(venues, move |x| stat(x, |s| &s.rate_limited)),
    )?;
    gauge(
        enc,
        "resilience_rate_limit_blocked_seconds",
        "Seconds until a venue block (429 Retry-After, 418 ban) lifts",
        per_venue(venues, |x| {
            x.ctx.upstream.limiter.blocked_for().as_secs() as i64
        }),
    )?;
    gauge(
        enc,
        "resilience_rate_limit_weight_used",
        "Weight used in the current minute (venues with a weight budget)",
        per_venue(venues, |x| x.ctx.upstream.limiter.weight_used())
            .filter_map(|(l, w)| Some((l, w? as i64))),
    )?;
    counter(
        enc,
        "resilience_health_probes",
        "Active health probes by result",
        venues.iter().flat_map(|x| {
            [
                ("ok", x.probes_ok.load(Ordering::Relaxed)),
                ("failed", x.probes_failed.load(Ordering::Relaxed)),
            ]
            .into_iter()
            .map(|(r, n)| {
                (
                    vec![("venue", x.name.clone()), ("result", r.to_string())],
                    n,
                )
            })
        }),
    )
}

/// The journal's database pool.
fn encode_journal(enc: &mut DescriptorEncoder, journal: &Journal) -> std::fmt::Result {
    let db = journal.stats();
    gauge(
        enc,
        "resilience_db_pool_connections",
        "Journal database connections: active (in use) and idle",
        [
            (
                vec![("state", "active".to_string())],
                (db.size - db.idle.min(db.size)) as i64,
            ),
            (vec![("state", "idle".to_string())], db.idle as i64),
        ],
    )?;
    gauge(
        enc,
        "resilience_db_pool_waiting",
        "Callers waiting for a journal database connection",
        [(Vec::new(), db.waiting as i64)],
    )?;
    counter(
        enc,
        "resilience_db_failures",
        "Journal database failures (acquire or query)",
        [(Vec::new(), db.failures)],
    )
}

/// Per plugin, summed over the venues that share it: calls, traps,
/// deadline hits, instances, quarantine.
fn encode_plugins(enc: &mut DescriptorEncoder, venues: &[&VenueRuntime]) -> std::fmt::Result {
    let mut by_plugin: std::collections::BTreeMap<&str, [u64; 7]> = Default::default();
    for x in venues {
        let p = &x.pool;
        let row = by_plugin.entry(x.plugin.name.as_str()).or_default();
        row[0] += p.invocations();
        row[1] += p.traps();
        row[2] += p.deadline_hits();
        row[3] += p.idle() as u64;
        row[4] += p.instances_created();
        row[5] = u64::from(x.plugin.quarantine.is_active());
        row[6] += p.parks();
    }
    let plugin_rows = |i: usize| {
        by_plugin
            .iter()
            .map(move |(name, r)| (vec![("plugin", name.to_string())], r[i]))
            .collect::<Vec<_>>()
    };
    counter(
        enc,
        "resilience_plugin_invocations",
        "Plugin export calls (a resumed read is one per run)",
        plugin_rows(0),
    )?;
    counter(
        enc,
        "resilience_plugin_parks",
        "Runs of read-only calls that gave their instance back while the venue answered",
        plugin_rows(6),
    )?;
    counter(
        enc,
        "resilience_plugin_traps",
        "Plugin calls that trapped (the instance was discarded)",
        plugin_rows(1),
    )?;
    counter(
        enc,
        "resilience_plugin_deadline_hits",
        "Plugin calls stopped at their CPU deadline",
        plugin_rows(2),
    )?;
    gauge(
        enc,
        "resilience_plugin_instances_idle",
        "Warm plugin instances waiting for a call",
        plugin_rows(3).into_iter().map(|(l, n)| (l, n as i64)),
    )?;
    counter(
        enc,
        "resilience_plugin_instances_created",
        "Plugin instances created (a trap or retirement makes a new one)",
        plugin_rows(4),
    )?;
    gauge(
        enc,
        "resilience_plugin_quarantined",
        "1 while the plugin is quarantined after repeated traps",
        plugin_rows(5).into_iter().map(|(l, n)| (l, n as i64)),
    )
}
