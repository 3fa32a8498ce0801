//! `cargo xtask bench pooling`: the seed's pooling scenario, measured here:
//! 100 concurrent callers against an HTTPS mock venue (rustls, a throwaway
//! CA) behind a link with 50 ms round-trip time (TCP connect costs one RTT,
//! every byte half an RTT each way, so a TLS handshake costs what it would
//! over a network). Compared:
//!
//! - the host (echo plugin `send`, `pool.max_connections_per_host = 100`,
//!   the venue's `tls_ca_file`);
//! - a direct hyper client with the same rustls settings, pooled;
//! - the same client with pooling off (a new TCP + TLS connection per request),
//!   the baseline.
//!
//! Each caller makes `ROUNDS` sequential requests per run; three runs per
//! client, interleaved. The mock counts requests and TLS handshakes: the
//! request count must equal the calls made, and the unpooled client must
//! handshake once per request.

#[path = "../../host/benches/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use resilience_tests::TestHost;
use resilience_tests::faults::{Fault, FaultProxy};
use resilience_tests::tls::{TestCa, TlsMock};
use serde_json::json;
use support::{median, us};

const CALLERS: usize = 100;
const RTT: Duration = Duration::from_millis(50);

type Https = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

fn https_client(ca: &TestCa, pooled: bool) -> Https {
    let tls = resilience_host::tls::client_config(Some(&ca.ca), "bench CA").expect("TLS config");
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(if pooled { CALLERS } else { 0 })
        .build(https)
}

#[derive(Clone)]
enum Caller {
    Host(Arc<TestHost>),
    Direct(Box<Https>, String),
}

impl Caller {
    async fn call(&self) -> bool {
        match self {
            Caller::Host(h) => h
                .app
                .call("v", "send", &json!({"path": "/x"}))
                .await
                .is_ok_and(|o| o["status"] == 200),
            Caller::Direct(c, url) => match c.get(url.parse().expect("uri")).await {
                Ok(r) => r.status() == 200 && r.into_body().collect().await.is_ok(),
                Err(_) => false,
            },
        }
    }
}

/// CALLERS tasks, each `rounds` sequential calls: wall time and latencies.
async fn run(caller: &Caller, rounds: usize) -> (Duration, Vec<Duration>) {
    let started = Instant::now();
    let tasks: Vec<_> = (0..CALLERS)
        .map(|_| {
            let c = caller.clone();
            tokio::spawn(async move {
                let mut samples = Vec::with_capacity(rounds);
                for _ in 0..rounds {
                    let t = Instant::now();
                    assert!(c.call().await, "call failed");
                    samples.push(t.elapsed());
                }
                samples
            })
        })
        .collect();
    let mut samples = Vec::new();
    for t in tasks {
        samples.extend(t.await.expect("caller"));
    }
    (started.elapsed(), samples)
}

#[derive(Default)]
struct Totals {
    wall: Duration,
    samples: Vec<Duration>,
    handshakes: u64,
    requests: u64,
}

fn main() {
    let smoke = std::env::var_os("RESILIENCE_BENCH_SMOKE").is_some();
    let rounds = if smoke { 2 } else { 5 };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("dir");
        let ca = TestCa::write(dir.path());
        let mock = TlsMock::start(&ca).await;
        let link = FaultProxy::start(mock.addr, Vec::new(), Fault::Rtt(RTT)).await;
        let url = format!("https://{}", link.addr);
        let host = TestHost::start(
            &["echo"],
            "max_instances = 100",
            &format!(
                "[venues.v]\nplugin = \"echo\"\nendpoints = [{url:?}]\ntimeout_ms = 10000\n\
                 tls_ca_file = {:?}\npool = {{ max_connections_per_host = 100 }}\n",
                ca.ca.display().to_string()
            ),
        )
        .await;
        let callers = [
            ("host (plugin path, pooled)", Caller::Host(Arc::new(host))),
            (
                "direct hyper + rustls, pooled",
                Caller::Direct(Box::new(https_client(&ca, true)), format!("{url}/x")),
            ),
            (
                "direct hyper + rustls, unpooled (baseline)",
                Caller::Direct(Box::new(https_client(&ca, false)), format!("{url}/x")),
            ),
        ];
        let mut totals: Vec<Totals> = callers.iter().map(|_| Totals::default()).collect();
        for round in 0..3 {
            for k in 0..callers.len() {
                let i = (k + round) % callers.len();
                let (h0, r0) = (mock.handshakes(), mock.requests());
                let (wall, samples) = run(&callers[i].1, rounds).await;
                let t = &mut totals[i];
                t.handshakes += mock.handshakes() - h0;
                t.requests += mock.requests() - r0;
                t.wall += wall;
                t.samples.extend(samples);
            }
        }
        println!(
            "| {CALLERS} callers x {rounds} sequential requests, 3 runs, HTTPS, {} ms RTT | total time | mean latency | median latency | TLS handshakes / requests | vs unpooled |",
            RTT.as_millis()
        );
        println!("|---|---|---|---|---|---|");
        let base_wall = totals[2].wall.as_secs_f64();
        for ((name, _), t) in callers.iter().zip(&totals) {
            let calls = t.samples.len() as u64;
            assert_eq!(t.requests, calls, "{name}: the mock saw {} requests for {calls} calls", t.requests);
            let mean = t.samples.iter().sum::<Duration>() / calls as u32;
            println!(
                "| {name} | {:.2} s | {:.1} ms | {:.1} ms | {} / {} | {:.2}x faster |",
                t.wall.as_secs_f64(),
                us(mean) / 1e3,
                us(median(t.samples.clone())) / 1e3,
                t.handshakes,
                t.requests,
                base_wall / t.wall.as_secs_f64()
            );
        }
        // At least one handshake per request. Not exact: a pooled client may finish a
        // connection it started racing a pool checkout (hyper-util does) after its own
        // window closed, and the mock counts that handshake in the next caller's window.
        assert!(
            totals[2].handshakes >= totals[2].requests,
            "the unpooled client handshakes once per request ({} handshakes, {} requests)",
            totals[2].handshakes,
            totals[2].requests
        );
        assert!(
            totals[0].handshakes <= CALLERS as u64 * 2,
            "the host reuses its connections ({} handshakes)",
            totals[0].handshakes
        );
    });
}
