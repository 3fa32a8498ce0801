//! `cargo xtask bench compare`: the host against what a Rust user would use
//! instead, at 1, 32 and 256 concurrent callers, all against the same
//! loopback mock upstream in this process:
//!
//! - direct hyper: a pooled `hyper_util` client (the physical limit of our path);
//! - reqwest + reqwest-middleware + reqwest-retry (exponential backoff, 2 retries);
//! - host plugin path: `App::call` of the echo plugin's `send` (plugin
//!   instance, capability checks, breaker, budget, pool, metrics);
//! - host API end to end: `POST /v1/venues/v/send` over loopback HTTP.
//!
//! Then the same failures for both: 50% of the primary's answers are 503 or
//! a reset; the host fails over to two healthy endpoints, reqwest-retry
//! retries its one URL (it has no failover): success rate and attempts.
//!
//! Each level runs three rounds with the order of the paths rotated, so drift
//! on a shared machine hits every path alike. The mock's request counter
//! must equal the calls made (every call is one request: nothing lost,
//! nothing retried); the bench stops if it does not.
//! `RESILIENCE_BENCH_SMOKE=1` runs a few hundred calls per path.

#[path = "../../host/benches/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use reqwest_middleware::ClientWithMiddleware;
use reqwest_retry::RetryTransientMiddleware;
use reqwest_retry::policies::ExponentialBackoff;
use resilience_tests::TestHost;
use serde_json::json;
use support::{Answer, MockVenue, percentile, us};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Path {
    Hyper,
    Reqwest,
    Plugin,
    Api,
}

const PATHS: [Path; 4] = [Path::Hyper, Path::Reqwest, Path::Plugin, Path::Api];

/// Only this path's runs (`RESILIENCE_BENCH_ONLY=plugin|api|hyper|reqwest`,
/// for profiling); the table then has only its rows.
fn only() -> Option<Path> {
    match std::env::var("RESILIENCE_BENCH_ONLY").ok()?.as_str() {
        "hyper" => Some(Path::Hyper),
        "reqwest" => Some(Path::Reqwest),
        "plugin" => Some(Path::Plugin),
        "api" => Some(Path::Api),
        _ => None,
    }
}

impl Path {
    fn label(self) -> &'static str {
        match self {
            Path::Hyper => "direct hyper client (pooled)",
            Path::Reqwest => "reqwest + reqwest-retry",
            Path::Plugin => "host plugin path, in-process (App::call)",
            Path::Api => "host API end to end (loopback HTTP)",
        }
    }
}

#[derive(Clone)]
struct Clients {
    upstream: String,
    hyper: Client<HttpConnector, Empty<Bytes>>,
    api_client: Client<HttpConnector, Full<Bytes>>,
    reqwest: ClientWithMiddleware,
    host: Arc<TestHost>,
}

impl Clients {
    async fn call(&self, path: Path) -> bool {
        match path {
            Path::Hyper => {
                let uri = format!("{}/x", self.upstream).parse().expect("uri");
                match self.hyper.get(uri).await {
                    Ok(resp) => {
                        let ok = resp.status() == 200;
                        ok && resp.into_body().collect().await.is_ok()
                    }
                    Err(_) => false,
                }
            }
            Path::Reqwest => match self
                .reqwest
                .get(format!("{}/x", self.upstream))
                .send()
                .await
            {
                Ok(resp) => resp.status() == 200 && resp.bytes().await.is_ok(),
                Err(_) => false,
            },
            Path::Plugin => self
                .host
                .app
                .call("v", "send", &json!({"path": "/x"}))
                .await
                .is_ok_and(|out| out["status"] == 200),
            Path::Api => {
                let req =
                    http::Request::post(format!("http://{}/v1/venues/v/send", self.host.addr))
                        .header("content-type", "application/json")
                        .body(Full::new(Bytes::from_static(b"{\"path\":\"/x\"}")))
                        .expect("request");
                match self.api_client.request(req).await {
                    Ok(resp) => {
                        let ok = resp.status() == 200;
                        ok && resp.into_body().collect().await.is_ok()
                    }
                    Err(_) => false,
                }
            }
        }
    }
}

/// `n` calls by `callers` concurrent tasks: wall time, per-call latencies, failures.
async fn run(
    clients: &Clients,
    path: Path,
    callers: usize,
    n: u64,
) -> (Duration, Vec<Duration>, u64) {
    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let (c, next, failed) = (clients.clone(), next.clone(), failed.clone());
            tokio::spawn(async move {
                let mut samples = Vec::new();
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    let t = Instant::now();
                    if !c.call(path).await {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    samples.push(t.elapsed());
                }
                samples
            })
        })
        .collect();
    let mut samples = Vec::with_capacity(n as usize);
    for t in tasks {
        samples.extend(t.await.expect("caller task"));
    }
    (started.elapsed(), samples, failed.load(Ordering::Relaxed))
}

#[derive(Default, Clone)]
struct Measured {
    calls: u64,
    wall: Duration,
    samples: Vec<Duration>,
}

impl Measured {
    fn throughput(&self) -> f64 {
        self.calls as f64 / self.wall.as_secs_f64()
    }
    fn p(&self, q: f64) -> Duration {
        percentile(self.samples.clone(), q)
    }
}

fn main() {
    let smoke = std::env::var_os("RESILIENCE_BENCH_SMOKE").is_some();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mock = MockVenue::start(Arc::new(|_| Answer::Ok)).await;
        // Pool and instance bounds raised to the highest caller count, so the
        // host is compared at the same concurrency as the clients.
        let host = TestHost::start(
            &["echo"],
            "max_instances = 256",
            &format!(
                "[venues.v]\nplugin = \"echo\"\nendpoints = [{:?}]\ntimeout_ms = 5000\n\
                 pool = {{ max_connections_per_host = 256 }}\n",
                mock.url()
            ),
        )
        .await;
        let reqwest = reqwest_middleware::ClientBuilder::new(
            reqwest::Client::builder()
                .pool_max_idle_per_host(256)
                .build()
                .expect("reqwest"),
        )
        .with(RetryTransientMiddleware::new_with_policy(
            ExponentialBackoff::builder().build_with_max_retries(2),
        ))
        .build();
        let clients = Clients {
            upstream: mock.url(),
            hyper: Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(256)
                .build_http(),
            api_client: Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(256)
                .build_http(),
            reqwest,
            host: Arc::new(host),
        };
        let warmup = if smoke { 20 } else { 300 };
        for path in PATHS {
            run(&clients, path, 8, warmup).await;
        }

        let levels: [(usize, u64); 3] = if smoke {
            [(1, 150), (32, 300), (256, 600)]
        } else {
            [(1, 6_000), (32, 30_000), (256, 30_000)]
        };
        println!(
            "| callers | path | throughput | p50 | p99 | throughput vs direct hyper | p50 over direct hyper |"
        );
        println!("|---|---|---|---|---|---|---|");
        let mut results = Vec::new();
        for (callers, n) in levels {
            let mut m: Vec<Measured> = vec![Measured::default(); PATHS.len()];
            for round in 0..3 {
                for k in 0..PATHS.len() {
                    let i = (k + round) % PATHS.len();
                    let path = PATHS[i];
                    if only().is_some_and(|o| o != path) {
                        continue;
                    }
                    let before = mock.requests.load(Ordering::SeqCst);
                    let (wall, samples, failed) = run(&clients, path, callers, n / 3).await;
                    let reached = mock.requests.load(Ordering::SeqCst) - before;
                    assert_eq!(failed, 0, "{}: {failed} failed calls", path.label());
                    assert_eq!(
                        reached,
                        samples.len() as u64,
                        "{}: the mock saw {reached} requests for {} calls",
                        path.label(),
                        samples.len()
                    );
                    m[i].calls += samples.len() as u64;
                    m[i].wall += wall;
                    m[i].samples.extend(samples);
                }
            }
            if only().is_some() {
                eprintln!("compare: {callers} callers done (one path only: no table)");
                continue;
            }
            let base = m[0].clone();
            for (path, r) in PATHS.iter().zip(&m) {
                println!(
                    "| {callers} | {} | {:.0} calls/s | {:.1} us | {:.1} us | {:.2}x | {:+.1} us |",
                    path.label(),
                    r.throughput(),
                    us(r.p(0.5)),
                    us(r.p(0.99)),
                    r.throughput() / base.throughput(),
                    us(r.p(0.5)) - us(base.p(0.5)),
                );
            }
            eprintln!("compare: {callers} callers done");
            results.push((callers, m));
        }
        if only().is_some() {
            return;
        }
        let at = |c: usize| &results.iter().find(|(n, _)| *n == c).expect("level").1;
        let (m32, m1) = (at(32), at(1));
        let vs_hyper = m32[2].throughput() / m32[0].throughput();
        let vs_reqwest = m32[2].throughput() / m32[1].throughput();
        let added = us(m1[2].p(0.5)) - us(m1[0].p(0.5));
        let met = |ok: bool| if ok { "met" } else { "not met" };
        println!();
        println!("| target | measured | |");
        println!("|---|---|---|");
        println!(
            "| host plugin path >= 0.8x direct hyper throughput at 32 callers | {vs_hyper:.2}x | {} |",
            met(vs_hyper >= 0.8)
        );
        println!(
            "| host plugin path >= 1.0x reqwest-retry throughput at 32 callers | {vs_reqwest:.2}x | {} |",
            met(vs_reqwest >= 1.0)
        );
        println!(
            "| added p50 per call <= 10 us over direct hyper (1 caller) | {added:+.1} us | {} |",
            met(added <= 10.0)
        );
        println!();
        println!("{}", chaos(smoke).await);
    });
}

/// The same 50% failures (half 503, half reset) on the primary for the host
/// (three endpoints: failover) and for reqwest-retry (one URL: it has no
/// failover), 32 callers, retries on both sides with 1-20 ms backoff.
async fn chaos(smoke: bool) -> String {
    let calls: u64 = if smoke { 500 } else { 10_000 };
    let flaky = || {
        MockVenue::start(Arc::new(|n| {
            let c = support::coin(7, n);
            if c < 0.25 {
                Answer::ServiceUnavailable
            } else if c < 0.5 {
                Answer::Reset
            } else {
                Answer::Ok
            }
        }))
    };
    let (host_primary, reqwest_primary) = (flaky().await, flaky().await);
    let good1 = MockVenue::start(Arc::new(|_| Answer::Ok)).await;
    let good2 = MockVenue::start(Arc::new(|_| Answer::Ok)).await;
    let host = TestHost::start(
        &["echo"],
        "max_instances = 64",
        &format!(
            "[venues.v]\nplugin = \"echo\"\nendpoints = [{:?}, {:?}, {:?}]\ntimeout_ms = 1000\n\
             retry = {{ max_attempts = 3, base_delay_ms = 1, max_delay_ms = 20, jitter = 0.2 }}\n\
             breaker = {{ failure_threshold = 5, success_threshold = 3, open_ms = 500, failure_rate = 0.3, window = 20, min_calls = 10 }}\n\
             pool = {{ max_connections_per_host = 64 }}\n",
            host_primary.url(),
            good1.url(),
            good2.url()
        ),
    )
    .await;
    let reqwest = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(RetryTransientMiddleware::new_with_policy(
            ExponentialBackoff::builder()
                .retry_bounds(Duration::from_millis(1), Duration::from_millis(20))
                .build_with_max_retries(2),
        ))
        .build();
    let clients = Clients {
        upstream: reqwest_primary.url(),
        hyper: Client::builder(TokioExecutor::new()).build_http(),
        api_client: Client::builder(TokioExecutor::new()).build_http(),
        reqwest,
        host: Arc::new(host),
    };
    let (_, _, host_failed) = run(&clients, Path::Plugin, 32, calls).await;
    let host_attempts = [&host_primary, &good1, &good2]
        .iter()
        .map(|m| m.requests.load(Ordering::SeqCst))
        .sum::<u64>();
    let (_, _, reqwest_failed) = run(&clients, Path::Reqwest, 32, calls).await;
    let reqwest_attempts = reqwest_primary.requests.load(Ordering::SeqCst);
    let pct = |failed: u64| 100.0 * (calls - failed) as f64 / calls as f64;
    let (host_per_call, reqwest_per_call) = (
        host_attempts as f64 / calls as f64,
        reqwest_attempts as f64 / calls as f64,
    );
    format!(
        "| 50% failures (503 or reset) on the primary, {calls} calls, 32 callers | success | attempts per call |\n\
         |---|---|---|\n\
         | host plugin path (3 endpoints: failover, breaker, 3 attempts) | {:.2}% | {host_per_call:.3} |\n\
         | reqwest + reqwest-retry (one URL, 3 attempts; baseline) | {:.2}% | {reqwest_per_call:.3} |\n\
         | host vs reqwest-retry | {:+.2} points | {:.2}x the attempts |",
        pct(host_failed),
        pct(reqwest_failed),
        pct(host_failed) - pct(reqwest_failed),
        host_per_call / reqwest_per_call,
    )
}
