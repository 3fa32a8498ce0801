//! `cargo xtask bench peers`: the host's API beside what a user would run
//! instead, HAProxy (the Debian package) in front of the venue, on the same
//! loopback upstream, measured in one run.
//!
//! - Upstream: a loopback mock answering toncenter's `getAddressBalance`
//!   shape; a primary and a secondary endpoint.
//! - HAProxy 2.x, one thread, `balance first` (failover order), `retries 2`,
//!   `option redispatch`, `retry-on 503 conn-failure empty-response`; the
//!   client asks it for `GET /api/v2/getAddressBalance?address=...`.
//! - The host (release binary, `RUST_LOG=warn`): the TON plugin's
//!   `POST /v1/venues/ton/get_balance` over the same two endpoints, 3
//!   attempts, failover, no backoff (HAProxy retries at once too).
//! - A hyper proxy (this binary re-run as one): what a user could write with
//!   the libraries the host uses and no plugin, hyper's server and
//!   hyper-util's pooled client, forwarding to the primary and then the
//!   secondary on a 503 or a transport error. The floor for a proxy built on
//!   hyper, measured between HAProxy and the host.
//! - Load: N keep-alive connections in this process, each sending its next
//!   request when the last is answered, for a fixed time.
//!
//! A second table puts the host's cheapest paths, an unknown route (404) and
//! the template plugin's `ping` (no I/O), beside a bare hyper server (this
//! binary re-run as one) answering every request with a small 404: the floor
//! for an HTTP/1.1 server written with the same libraries. The three are
//! measured in three interleaved rounds (one in a smoke run), each round
//! starting with the next of them; each cell is the mean over the rounds.
//!
//! A third table compares the transports a daemon on the same machine can
//! use for the template plugin's `ping`: TCP with HTTP/1.1 (a connection
//! per caller), TCP with h2c (one HTTP/2 connection, a stream per call in
//! flight), and a Unix-domain socket with each; ratios are against TCP
//! HTTP/1.1 in the same run.
//!
//! Each row gives calls per second and the CPU each process spent per call
//! (utime + stime from `/proc`, over the calls it served), with the kernel's
//! part of it (stime) in brackets. Scenarios: a
//! healthy primary, and a primary answering 503 to half its requests. The
//! bench asserts only that every request was answered and that the upstream
//! saw at least one request per success; timings are reported, not checked.
//! Connections: 1 (a call's latency: calls/s is its inverse), 32 and 256.
//! `RESILIENCE_BENCH_SMOKE=1`: 1 s per cell at 32 connections.
//! `RESILIENCE_BENCH_CELL_SECONDS=N`: N s per cell instead of 5, long enough
//! to attach `perf record -p` to the host during one.
//! `RESILIENCE_BENCH_CONNECTIONS=1,32`: these connection counts instead (in
//! every table, the baseline table too).
//! `RESILIENCE_BENCH_ONLY=haproxy|floor|transports`: that table only (any
//! other value: none of the three, for the baseline table alone).
//!
//! `RESILIENCE_BENCH_BASELINE_HOST=/path/to/resilience-host` and/or
//! `RESILIENCE_BENCH_BASELINE_PLUGINS=/folder/of/plugin/files` add a last
//! table: this build beside that one (an earlier host binary, or the TON and
//! template plugins built another way, to measure a change) on the TON call
//! and `ping`, at 1 connection (latency) and 32 (CPU under load), in
//! interleaved rounds that alternate which build goes first, so the drift
//! of a shared machine falls on both alike. What is not set is this build's.

#[path = "../../host/benches/support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use resilience_tests::process::{Build, HostProcess, cpu_split, cpu_time, release_binary};
use resilience_tests::{built_plugins, config_text, plugin_dir};
use support::{Answer, MockVenue, coin};

const ADDRESS: &str = "EQDfvVvoSX_cDJ_L38Z2hkhA3fitZCPW1WV9mw6CcNbIrH-Q";
const BALANCE: &str = r#"{"ok":true,"result":"5610477699352"}"#;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// HAProxy in the foreground with a config of its own; killed on drop.
struct Haproxy {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Haproxy {
    fn start(primary: SocketAddr, secondary: SocketAddr) -> Haproxy {
        let dir = tempfile::tempdir().expect("temp dir");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let config = format!(
            "global\n  nbthread 1\n  maxconn 4000\n\
             defaults\n  mode http\n  timeout connect 2s\n  timeout client 30s\n  timeout server 30s\n\
             \x20 retries 2\n  option redispatch\n  retry-on 503 conn-failure empty-response\n\
             \x20 option http-keep-alive\n  http-reuse always\n\
             frontend api\n  bind {addr}\n  default_backend venue\n\
             backend venue\n  balance first\n\
             \x20 server primary {primary} maxconn 2000\n  server secondary {secondary} maxconn 2000\n"
        );
        let path = dir.path().join("haproxy.cfg");
        std::fs::write(&path, config).expect("haproxy config");
        let child = Command::new("haproxy")
            .args(["-db", "-q", "-f"])
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start haproxy ({e}): install the Debian package `haproxy` \
                     (.ci/run does)"
                )
            });
        wait_listening(addr, "haproxy");
        Haproxy {
            child,
            addr,
            _dir: dir,
        }
    }
}

impl Drop for Haproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request of the load: method, URL and body.
#[derive(Clone)]
struct Target {
    method: http::Method,
    url: String,
    body: Bytes,
}

struct Load {
    calls: u64,
    ok: u64,
    seconds: f64,
}

/// The answers a load's callers count, shared between them.
#[derive(Clone, Default)]
struct Tally {
    calls: Arc<AtomicU64>,
    ok: Arc<AtomicU64>,
}

impl Tally {
    /// Count an answer, and a success when `status` is one.
    fn record(&self, status: http::StatusCode) {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if status.is_success() {
            self.ok.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The load, for a run that started at `started` and has ended.
    fn load(&self, started: Instant) -> Load {
        Load {
            calls: self.calls.load(Ordering::Relaxed),
            ok: self.ok.load(Ordering::Relaxed),
            seconds: started.elapsed().as_secs_f64(),
        }
    }
}

/// `connections` loops, each sending its next request when the last is
/// answered, for `time`.
async fn load(target: &Target, connections: usize, time: Duration) -> Load {
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(connections)
        .build_http();
    let tally = Tally::default();
    let started = Instant::now();
    let until = started + time;
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (client, target, tally) = (client.clone(), target.clone(), tally.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < until {
                let req = http::Request::builder()
                    .method(target.method.clone())
                    .uri(&target.url)
                    .header("content-type", "application/json")
                    .body(Full::new(target.body.clone()))
                    .expect("request");
                let resp = client
                    .request(req)
                    .await
                    .expect("every request is answered");
                let status = resp.status();
                resp.into_body().collect().await.expect("body");
                tally.record(status);
            }
        }));
    }
    for t in tasks {
        t.await.expect("load task");
    }
    tally.load(started)
}

/// What one process did under one load.
struct Measured {
    /// Calls answered per second.
    rate: f64,
    /// utime + stime per call, in microseconds.
    cpu: f64,
    /// The part of `cpu` spent in the kernel.
    kernel: f64,
    /// The share of calls answered with a success.
    ok: f64,
}

impl Measured {
    /// The mean of `runs` (each figure averaged over the runs).
    fn mean(runs: &[Measured]) -> Measured {
        let n = runs.len().max(1) as f64;
        let mean_of = |f: fn(&Measured) -> f64| runs.iter().map(f).sum::<f64>() / n;
        Measured {
            rate: mean_of(|m| m.rate),
            cpu: mean_of(|m| m.cpu),
            kernel: mean_of(|m| m.kernel),
            ok: mean_of(|m| m.ok),
        }
    }

    /// CPU per call, with the kernel's part of it.
    fn cpu_cell(&self) -> String {
        format!("{:.1} us ({:.1} kernel)", self.cpu, self.kernel)
    }
}

/// Calls per second and CPU per call of the process `pid` under `connections`
/// callers for `time`.
async fn measure(target: &Target, pid: u32, connections: usize, time: Duration) -> Measured {
    // Warm the connections and the target's pools first.
    load(target, connections, Duration::from_millis(300)).await;
    let (user0, kernel0) = cpu_split(pid);
    let l = load(target, connections, time).await;
    let (user1, kernel1) = cpu_split(pid);
    assert!(l.calls > 0, "no call was answered");
    let per_call = |d: Duration| d.as_secs_f64() * 1e6 / l.calls as f64;
    Measured {
        rate: l.calls as f64 / l.seconds,
        cpu: per_call((user1 + kernel1) - (user0 + kernel0)),
        kernel: per_call(kernel1 - kernel0),
        ok: l.ok as f64 / l.calls as f64,
    }
}

/// Each `(target, pid)` cell measured in `rounds` interleaved rounds, each
/// round starting with the next cell, so the machine's drift falls on all
/// alike; the mean per cell, in the cells' order.
async fn interleaved(
    cells: &[(Target, u32)],
    connections: usize,
    time: Duration,
    rounds: usize,
) -> Vec<Measured> {
    let mut runs: Vec<Vec<Measured>> = cells.iter().map(|_| Vec::new()).collect();
    for round in 0..rounds {
        for i in (0..cells.len()).map(|k| (round + k) % cells.len()) {
            let (target, pid) = &cells[i];
            runs[i].push(measure(target, *pid, connections, time).await);
        }
    }
    runs.iter().map(|r| Measured::mean(r)).collect()
}

/// Set to an address: this process is the bare hyper server.
const BARE_SERVER_VAR: &str = "PEERS_BARE_SERVER";

/// Serve every request with a 404 and a small JSON body, until killed.
fn bare_server(addr: &str) {
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = service_fn(|_req| async {
                    let mut resp = http::Response::new(Full::new(Bytes::from_static(
                        br#"{"error":{"kind":"not_found","message":"no route"}}"#,
                    )));
                    *resp.status_mut() = http::StatusCode::NOT_FOUND;
                    Ok::<_, std::convert::Infallible>(resp)
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

/// This bench binary re-run as one of its servers (the bare server, the
/// hyper proxy), listening at `addr`; killed on drop.
struct SelfServer {
    child: Child,
    addr: SocketAddr,
}

impl SelfServer {
    /// Start it with `var` set to `value(addr)` for a free loopback `addr`;
    /// return once it listens.
    fn start(var: &str, value: impl FnOnce(SocketAddr) -> String, what: &str) -> SelfServer {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let child = Command::new(std::env::current_exe().expect("this binary"))
            .env(var, value(addr))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {what}: {e}"));
        wait_listening(addr, what);
        SelfServer { child, addr }
    }
}

impl Drop for SelfServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Set to `listen,primary,secondary` (three addresses): this process is the
/// hyper proxy.
const HYPER_PROXY_VAR: &str = "PEERS_HYPER_PROXY";

/// A proxy a user could write with the libraries the host uses, no plugin:
/// hyper's HTTP/1.1 server, and hyper-util's pooled client forwarding each
/// request's path and query to the primary, then to the secondary on a 503
/// or a transport error, up to three attempts (HAProxy's `retries 2` with
/// `option redispatch`). It parses nothing in the answer. Runs until killed.
fn hyper_proxy(spec: &str) {
    use hyper::server::conn::http1;
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    let parts: Vec<&str> = spec.split(',').collect();
    let [listen, primary, secondary] = parts[..] else {
        panic!("{HYPER_PROXY_VAR} is listen,primary,secondary, got {spec:?}");
    };
    let upstreams: Arc<[String; 2]> = Arc::new([primary.to_string(), secondary.to_string()]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(1024)
            .build_http();
        let listener = tokio::net::TcpListener::bind(listen).await.expect("bind");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let (client, upstreams) = (client.clone(), Arc::clone(&upstreams));
            tokio::spawn(async move {
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let (client, upstreams) = (client.clone(), Arc::clone(&upstreams));
                    async move {
                        let path = req
                            .uri()
                            .path_and_query()
                            .map_or("/", |p| p.as_str())
                            .to_string();
                        for upstream in [&upstreams[0], &upstreams[1], &upstreams[1]] {
                            let forward = http::Request::get(format!("http://{upstream}{path}"))
                                .body(Full::new(Bytes::new()))
                                .expect("request");
                            let Ok(resp) = client.request(forward).await else {
                                continue;
                            };
                            if resp.status() == http::StatusCode::SERVICE_UNAVAILABLE {
                                continue;
                            }
                            let (parts, body) = resp.into_parts();
                            let Ok(body) = body.collect().await else {
                                continue;
                            };
                            return Ok::<_, std::convert::Infallible>(http::Response::from_parts(
                                parts,
                                Full::new(body.to_bytes()),
                            ));
                        }
                        let mut resp = http::Response::new(Full::new(Bytes::new()));
                        *resp.status_mut() = http::StatusCode::BAD_GATEWAY;
                        Ok(resp)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
}

/// Wait until something accepts connections at `addr` (10 s at most).
fn wait_listening(addr: SocketAddr, what: &str) {
    let started = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{what} did not listen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The host's 404 and `ping` beside the bare server, the three measured in
/// `rounds` [`interleaved`] rounds.
async fn floor(connections: usize, time: Duration, rounds: usize) {
    let bare = SelfServer::start(BARE_SERVER_VAR, |addr| addr.to_string(), "the bare server");
    let host = HostProcess::start(
        &["template"],
        "max_instances = 256",
        "[venues.tpl]\nplugin = \"template\"\nendpoints = [\"http://127.0.0.1:9\"]\n",
        &[],
    )
    .await;
    let get = |url: String| Target {
        method: http::Method::GET,
        url,
        body: Bytes::new(),
    };
    let cells = [
        (get(format!("http://{}/nope", bare.addr)), bare.child.id()),
        (get(format!("http://{}/nope", host.addr)), host.pid()),
        (
            Target {
                method: http::Method::POST,
                url: format!("http://{}/v1/venues/tpl/ping", host.addr),
                body: Bytes::from_static(b"{}"),
            },
            host.pid(),
        ),
    ];
    let [bare_load, not_found, ping]: [Measured; 3] =
        interleaved(&cells, connections, time, rounds)
            .await
            .try_into()
            .unwrap_or_else(|_| unreachable!("one result per cell"));
    for (path, host_load) in [
        ("unknown route (404)", not_found),
        ("template `ping` (a plugin call, no I/O)", ping),
    ] {
        println!(
            "| {path} | {connections} | {:.0} | {:.0} | {} | {} | {:.2}x |",
            bare_load.rate,
            host_load.rate,
            bare_load.cpu_cell(),
            host_load.cpu_cell(),
            host_load.cpu / bare_load.cpu
        );
    }
}

/// How a daemon reaches the host.
#[derive(Clone)]
enum Via {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

trait Stream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin + 'static> Stream for T {}

async fn connect(via: &Via) -> Box<dyn Stream> {
    match via {
        Via::Tcp(addr) => {
            let s = tokio::net::TcpStream::connect(addr).await.expect("connect");
            let _ = s.set_nodelay(true);
            Box::new(s)
        }
        Via::Unix(path) => Box::new(
            tokio::net::UnixStream::connect(path)
                .await
                .expect("connect"),
        ),
    }
}

fn ping_request() -> http::Request<Full<Bytes>> {
    http::Request::builder()
        .method("POST")
        .uri("http://localhost/v1/venues/tpl/ping")
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(b"{}")))
        .expect("request")
}

/// `callers` loops of `ping` for `time`: each on its own HTTP/1.1
/// connection, or all as streams of one HTTP/2 connection.
async fn load_via(via: &Via, http2: bool, callers: usize, time: Duration) -> Load {
    use hyper::client::conn::{http1, http2 as h2};
    use hyper_util::rt::TokioIo;
    let tally = Tally::default();
    let shared = if http2 {
        let (send, conn) = h2::handshake::<_, _, Full<Bytes>>(
            TokioExecutor::new(),
            TokioIo::new(connect(via).await),
        )
        .await
        .expect("h2 handshake");
        tokio::spawn(conn);
        Some(send)
    } else {
        None
    };
    let started = Instant::now();
    let until = started + time;
    let mut tasks = Vec::new();
    for _ in 0..callers {
        let (tally, via, shared) = (tally.clone(), via.clone(), shared.clone());
        tasks.push(tokio::spawn(async move {
            let mut own = None;
            if shared.is_none() {
                let (send, conn) =
                    http1::handshake::<_, Full<Bytes>>(TokioIo::new(connect(&via).await))
                        .await
                        .expect("http1 handshake");
                tokio::spawn(conn);
                own = Some(send);
            }
            let mut h2 = shared;
            while Instant::now() < until {
                let resp = match (&mut own, &mut h2) {
                    (Some(s), _) => s.send_request(ping_request()).await,
                    (None, Some(s)) => s.send_request(ping_request()).await,
                    (None, None) => unreachable!("one sender per caller"),
                }
                .expect("every request is answered");
                let status = resp.status();
                resp.into_body().collect().await.expect("body");
                tally.record(status);
            }
        }));
    }
    for t in tasks {
        t.await.expect("load task");
    }
    tally.load(started)
}

/// The release host serving the template plugin on a Unix socket.
struct UnixHost {
    child: Child,
    socket: PathBuf,
    _dir: tempfile::TempDir,
    _plugins: tempfile::TempDir,
}

impl UnixHost {
    async fn start() -> UnixHost {
        let plugins = plugin_dir(&["template"]);
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("api.sock");
        let text = config_text(
            plugins.path(),
            "max_instances = 256",
            &format!(
                "[server]\nlisten = \"unix:{}\"\n\n\
                 [venues.tpl]\nplugin = \"template\"\nendpoints = [\"http://127.0.0.1:9\"]\n",
                socket.display()
            ),
        );
        let config = dir.path().join("resilience.toml");
        std::fs::write(&config, text).expect("config");
        let child = Command::new(release_binary())
            .args(["serve", "--config"])
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("host on a unix socket");
        let started = Instant::now();
        while tokio::net::UnixStream::connect(&socket).await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the host did not listen on {}",
                socket.display()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        UnixHost {
            child,
            socket,
            _dir: dir,
            _plugins: plugins,
        }
    }
}

impl Drop for UnixHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Calls per second and host CPU per call over `via`.
async fn measure_via(
    via: &Via,
    http2: bool,
    pid: u32,
    callers: usize,
    time: Duration,
) -> (f64, f64) {
    load_via(via, http2, callers, Duration::from_millis(300)).await;
    let cpu0 = cpu_time(pid);
    let l = load_via(via, http2, callers, time).await;
    let cpu = cpu_time(pid) - cpu0;
    assert!(l.calls > 0 && l.ok == l.calls, "every ping succeeds");
    (
        l.calls as f64 / l.seconds,
        cpu.as_secs_f64() * 1e6 / l.calls as f64,
    )
}

/// `ping` over TCP and a Unix socket, HTTP/1.1 and HTTP/2.
async fn transports(callers: usize, time: Duration) {
    let tcp = HostProcess::start(
        &["template"],
        "max_instances = 256",
        "[venues.tpl]\nplugin = \"template\"\nendpoints = [\"http://127.0.0.1:9\"]\n",
        &[],
    )
    .await;
    let unix = UnixHost::start().await;
    let rows = [
        ("TCP, HTTP/1.1", Via::Tcp(tcp.addr), false, tcp.pid()),
        (
            "TCP, h2c (one connection)",
            Via::Tcp(tcp.addr),
            true,
            tcp.pid(),
        ),
        (
            "Unix socket, HTTP/1.1",
            Via::Unix(unix.socket.clone()),
            false,
            unix.child.id(),
        ),
        (
            "Unix socket, HTTP/2 (one connection)",
            Via::Unix(unix.socket.clone()),
            true,
            unix.child.id(),
        ),
    ];
    let mut base = None;
    for (name, via, http2, pid) in rows {
        let (rate, cpu) = measure_via(&via, http2, pid, callers, time).await;
        let (base_rate, base_cpu) = *base.get_or_insert((rate, cpu));
        println!(
            "| {name} | {callers} | {rate:.0} | {cpu:.1} us | {:.2}x | {:.2}x |",
            rate / base_rate,
            cpu / base_cpu
        );
    }
}

/// The request of one bench path, aimed at a host's address.
type TargetAt = fn(SocketAddr) -> Target;

/// Set to another build of the host: the last table sets this build beside it.
const BASELINE_VAR: &str = "RESILIENCE_BENCH_BASELINE_HOST";
/// Set to a folder of other builds of the plugin files, for the same table.
const BASELINE_PLUGINS_VAR: &str = "RESILIENCE_BENCH_BASELINE_PLUGINS";

/// The baseline build the environment names, if it names one.
fn baseline_build() -> Option<Build> {
    let binary = std::env::var_os(BASELINE_VAR).map(PathBuf::from);
    let plugins = std::env::var_os(BASELINE_PLUGINS_VAR).map(PathBuf::from);
    if binary.is_none() && plugins.is_none() {
        return None;
    }
    Some(Build {
        binary: binary.unwrap_or_else(release_binary),
        plugins: plugins.unwrap_or_else(|| built_plugins().to_path_buf()),
    })
}

/// This build beside the `baseline` build on the TON call and the template's
/// `ping`, in `rounds` [`interleaved`] rounds each (which build goes first
/// alternates).
async fn versus_baseline(baseline: &Build, connections: usize, time: Duration, rounds: usize) {
    let upstream = MockVenue::start(Arc::new(|_| Answer::Json(BALANCE))).await;
    let venues = format!(
        "[venues.ton]\nplugin = \"ton\"\nendpoints = [\"{}/api/v2\"]\n\
         timeout_ms = 5000\ndeadline_ms = 20000\n\
         pool = {{ max_connections_per_host = 256 }}\n\n\
         [venues.tpl]\nplugin = \"template\"\nendpoints = [\"http://127.0.0.1:9\"]\n",
        upstream.url()
    );
    let limits = "max_instances = 256";
    let plugins = ["ton", "template"];
    let hosts = [
        HostProcess::start_build(baseline, &plugins, limits, &venues, &[]).await,
        HostProcess::start(&plugins, limits, &venues, &[]).await,
    ];
    let paths: [(&str, TargetAt); 2] = [
        ("TON `get_balance` (loopback upstream)", |addr| Target {
            method: http::Method::POST,
            url: format!("http://{addr}/v1/venues/ton/get_balance"),
            body: Bytes::from(format!(r#"{{"address":"{ADDRESS}"}}"#)),
        }),
        ("template `ping` (no I/O)", |addr| Target {
            method: http::Method::POST,
            url: format!("http://{addr}/v1/venues/tpl/ping"),
            body: Bytes::from_static(b"{}"),
        }),
    ];
    for (path, target) in paths {
        // Baseline, then this build.
        let cells = hosts.each_ref().map(|h| (target(h.addr), h.pid()));
        let means = interleaved(&cells, connections, time, rounds).await;
        for (i, m) in means.iter().enumerate() {
            // A mean of 1.0 means every round had every call succeed.
            assert!(m.ok == 1.0, "every call succeeds ({path}, build {i})");
        }
        let [(b_rate, b_cpu), (t_rate, t_cpu)] = [0, 1].map(|i| (means[i].rate, means[i].cpu));
        println!(
            "| {path} | {connections} | {rounds} | {b_rate:.0} | {t_rate:.0} | {:.2}x | {b_cpu:.1} us | {t_cpu:.1} us | {:.2}x |",
            t_rate / b_rate,
            t_cpu / b_cpu
        );
    }
}

/// HAProxy and the host in front of the same upstream, healthy and with
/// half the primary's answers 503.
async fn haproxy_table(levels: &[usize], time: Duration) {
    println!(
        "| scenario | connections | HAProxy calls/s | hyper proxy calls/s | host calls/s | host / HAProxy throughput | HAProxy CPU per call | hyper proxy CPU per call | host CPU per call | hyper proxy / HAProxy CPU | host / HAProxy CPU | host / hyper proxy CPU | success (HAProxy / hyper proxy / host) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (scenario, half_503) in [
        ("healthy primary", false),
        ("primary answers 503 to half", true),
    ] {
        let primary = MockVenue::start(Arc::new(move |n| {
            if half_503 && coin(7, n) < 0.5 {
                Answer::ServiceUnavailable
            } else {
                Answer::Json(BALANCE)
            }
        }))
        .await;
        let secondary = MockVenue::start(Arc::new(|_| Answer::Json(BALANCE))).await;
        let haproxy = Haproxy::start(primary.addr, secondary.addr);
        let proxy = SelfServer::start(
            HYPER_PROXY_VAR,
            |addr| format!("{addr},{},{}", primary.addr, secondary.addr),
            "the hyper proxy",
        );
        let host = HostProcess::start(
            &["ton"],
            "max_instances = 256",
            &format!(
                "[venues.ton]\nplugin = \"ton\"\nendpoints = [\"{}/api/v2\", \"{}/api/v2\"]\n\
                 timeout_ms = 5000\ndeadline_ms = 20000\n\
                 retry = {{ max_attempts = 3, base_delay_ms = 0, jitter = 0.0 }}\n\
                 pool = {{ max_connections_per_host = 256 }}\n",
                primary.url(),
                secondary.url()
            ),
            &[],
        )
        .await;
        let via_haproxy = Target {
            method: http::Method::GET,
            url: format!(
                "http://{}/api/v2/getAddressBalance?address={ADDRESS}",
                haproxy.addr
            ),
            body: Bytes::new(),
        };
        let via_host = Target {
            method: http::Method::POST,
            url: format!("http://{}/v1/venues/ton/get_balance", host.addr),
            body: Bytes::from(format!(r#"{{"address":"{ADDRESS}"}}"#)),
        };
        let via_proxy = Target {
            url: via_haproxy
                .url
                .replace(&haproxy.addr.to_string(), &proxy.addr.to_string()),
            ..via_haproxy.clone()
        };
        for &connections in levels {
            let h = measure(&via_haproxy, haproxy.child.id(), connections, time).await;
            let p = measure(&via_proxy, proxy.child.id(), connections, time).await;
            let r = measure(&via_host, host.pid(), connections, time).await;
            println!(
                "| {scenario} | {connections} | {:.0} | {:.0} | {:.0} | {:.2}x | {} | {} | {} | {:.2}x | {:.2}x | {:.2}x | {:.1}% / {:.1}% / {:.1}% |",
                h.rate,
                p.rate,
                r.rate,
                r.rate / h.rate,
                h.cpu_cell(),
                p.cpu_cell(),
                r.cpu_cell(),
                p.cpu / h.cpu,
                r.cpu / h.cpu,
                r.cpu / p.cpu,
                h.ok * 100.0,
                p.ok * 100.0,
                r.ok * 100.0
            );
        }
        let upstream =
            primary.requests.load(Ordering::Relaxed) + secondary.requests.load(Ordering::Relaxed);
        assert!(upstream > 0, "the upstream saw the calls");
    }
}

/// The host's 404 and `ping` beside a bare hyper server.
async fn floor_table(levels: &[usize], time: Duration, rounds: usize) {
    println!(
        "| path | connections | bare hyper calls/s | host calls/s | bare hyper CPU per call | host CPU per call | host / bare CPU |"
    );
    println!("|---|---|---|---|---|---|---|");
    for &connections in levels {
        floor(connections, time, rounds).await;
    }
}

/// `ping` over each transport a daemon on the same machine can use.
async fn transports_table(levels: &[usize], time: Duration) {
    println!(
        "| transport (template `ping`) | callers | calls/s | host CPU per call | throughput vs TCP HTTP/1.1 | CPU vs TCP HTTP/1.1 |"
    );
    println!("|---|---|---|---|---|---|");
    for &callers in levels {
        transports(callers, time).await;
    }
}

fn main() {
    if let Some(addr) = std::env::var_os(BARE_SERVER_VAR) {
        bare_server(&addr.to_string_lossy());
        return;
    }
    if let Some(spec) = std::env::var_os(HYPER_PROXY_VAR) {
        hyper_proxy(&spec.to_string_lossy());
        return;
    }
    let smoke = std::env::var_os("RESILIENCE_BENCH_SMOKE").is_some();
    let (mut time, mut levels): (Duration, &[usize]) = if smoke {
        (Duration::from_secs(1), &[32])
    } else {
        (Duration::from_secs(5), &[1, 32, 256])
    };
    let chosen: Vec<usize>;
    if let Ok(list) = std::env::var("RESILIENCE_BENCH_CONNECTIONS") {
        chosen = list
            .split(',')
            .map(|n| {
                n.trim()
                    .parse()
                    .expect("RESILIENCE_BENCH_CONNECTIONS is a comma-separated list of counts")
            })
            .collect();
        levels = &chosen;
    }
    if let Ok(seconds) = std::env::var("RESILIENCE_BENCH_CELL_SECONDS") {
        let seconds: u64 = seconds
            .parse()
            .expect("RESILIENCE_BENCH_CELL_SECONDS is a whole number of seconds");
        time = Duration::from_secs(seconds);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    // Interleaved rounds for the tables that set two builds or two servers
    // side by side; one in a smoke run.
    let rounds = if smoke { 1 } else { 3 };
    rt.block_on(async {
        let only = std::env::var("RESILIENCE_BENCH_ONLY").ok();
        let runs = |table: &str| only.as_deref().is_none_or(|o| o == table);
        if runs("haproxy") {
            haproxy_table(levels, time).await;
        }
        if runs("floor") {
            println!();
            floor_table(levels, time, rounds).await;
        }
        if runs("transports") {
            println!();
            transports_table(levels, time).await;
        }
        if let Some(baseline) = baseline_build() {
            println!();
            println!(
                "| path (this build vs `{}` with the plugins of `{}`) | connections | rounds | baseline calls/s | this build calls/s | throughput ratio | baseline CPU per call | this build CPU per call | CPU ratio |",
                baseline.binary.display(),
                baseline.plugins.display()
            );
            println!("|---|---|---|---|---|---|---|---|---|");
            // One connection: calls/s is the inverse of a call's latency, which a
            // change can worsen while CPU per call under load stays the same.
            let baseline_levels = match std::env::var_os("RESILIENCE_BENCH_CONNECTIONS") {
                Some(_) => levels,
                None => &[1, 32],
            };
            for &connections in baseline_levels {
                versus_baseline(&baseline, connections, time, rounds).await;
            }
        }
    });
}
