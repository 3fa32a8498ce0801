//! `cargo xtask bench` and `cargo xtask soak`: every benchmark as its own
//! `cargo bench` run (each prints a markdown table on stdout, progress on
//! stderr), collected with the machine's description into `bench/results.md`;
//! the soak against the release host binary.

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::cmd;

/// One benchmark: name, package, title, what it measures.
struct Bench {
    name: &'static str,
    package: &'static str,
    title: &'static str,
    about: &'static str,
}

const BENCHES: &[Bench] = &[
    Bench {
        name: "compare",
        package: "resilience-tests",
        title: "host vs the alternatives (throughput and latency)",
        about: "Loopback mock upstream in the same process; three interleaved rounds per level. Paths: a pooled \
                hyper client (the physical limit), reqwest + reqwest-middleware + reqwest-retry (2 retries, \
                exponential backoff), the host's plugin path in-process (`App::call` of the echo plugin's \
                `send`: instance, capability checks, breaker, budget, pool permit, metrics), and the host API end \
                to end (`POST /v1/venues/v/send` over loopback HTTP). Host pool and instance bounds are raised to \
                256. The mock's request count equals the calls made (checked). Then the same failures for the host \
                and reqwest-retry: half the primary's answers 503 or a reset; the host fails over to two \
                healthy endpoints, reqwest-retry retries its one URL (it has no failover).",
    },
    Bench {
        name: "plugin_call",
        package: "resilience-host",
        title: "plugin calls and start-up",
        about: "The template's `ping` (no I/O) through `App::call`.",
    },
    Bench {
        name: "pooling",
        package: "resilience-tests",
        title: "pooled vs unpooled connections over TLS (the seed's scenario)",
        about: "100 concurrent callers, HTTPS mock (rustls, throwaway CA via the venue's `tls_ca_file`) behind a \
                link with 50 ms round-trip time: TCP connect costs one RTT and every byte half an RTT each way, \
                so a TLS handshake costs what it would over a network. Three interleaved runs per client.",
    },
    Bench {
        name: "resilience",
        package: "resilience-host",
        title: "failures, failover and the breaker",
        about: "The host pipeline (`Upstream::send`) against loopback mocks with scripted 503s and resets.",
    },
    Bench {
        name: "host_process",
        package: "resilience-tests",
        title: "the host as a process: CPU during an outage, resident memory",
        about: "The release binary, measured from `/proc` (utime + stime, VmRSS). Outage: every answer 503, a \
                steady 200 calls/s through the API, the seed's retry settings (4 attempts, 0.5 s base, x2) with \
                the breaker (5 failures, 30 s open) and without it. Without the breaker the retry budget (20% of \
                requests, on by default) already stops a retry storm and calls queue for the venue's 16 plugin \
                instances while they back off, so the CPU saved is small; what the breaker buys is no traffic \
                at the failing venue and an answer in about a millisecond instead of after the backoffs. \
                Memory: TON, Binance, Polymarket, Chainlink and template loaded, 1,000 concurrent API calls to \
                simulated venues, with the default limits and with instances and connections raised to 250 \
                per venue; then again once the host's periodic trim (every 10 s, `idle_instance_ms` 1 s here) \
                has dropped the instances the burst left idle, decommitted their memories and fiber stacks and \
                handed the allocator's free pages back.",
    },
    Bench {
        name: "peers",
        package: "resilience-tests",
        title: "the host's API beside HAProxy (what a user would run instead)",
        about: "The same loopback upstream (toncenter's `getAddressBalance` answer; a primary and a secondary \
                endpoint) behind HAProxy from the Debian package (one thread, `balance first`, `retries 2`, \
                `option redispatch`, `retry-on 503 conn-failure empty-response`) and behind the host's API \
                (release binary, `RUST_LOG=warn`, the TON plugin's `get_balance`, 3 attempts, failover, no \
                backoff). Load: N keep-alive connections from the bench process, each sending its next \
                request when the last is answered, 5 s per cell; at one connection calls/s is the inverse of \
                a call's latency. CPU per call is the process's utime + \
                stime over the calls it served, from `/proc`, with the kernel's part of it (stime) in \
                brackets. HAProxy forwards bytes; the host also runs the \
                plugin (request built, answer parsed and checked), the breaker, rate limit and metrics. \
                Beside both, a hyper proxy: the bench binary re-run as the proxy a user could write with \
                the libraries the host uses and no plugin (hyper's HTTP/1.1 server, hyper-util's pooled \
                client, the path and query forwarded to the primary, then to the secondary on a 503 or a \
                transport error, three attempts at most; it parses nothing), measured after HAProxy and \
                before the host: the floor for a proxy built on hyper. \
                The second table sets the host's cheapest paths beside a bare hyper server (a 404 for \
                everything), in three interleaved rounds, each starting with the next of the three \
                servers, each cell the mean over the rounds; the third compares transports for the template plugin's `ping`: TCP or a \
                Unix-domain socket, HTTP/1.1 (a connection per caller) or HTTP/2 (one connection, a \
                stream per call), against TCP HTTP/1.1 in the same run.",
    },
    Bench {
        name: "journal",
        package: "resilience-tests",
        title: "journal (PostgreSQL 15, throwaway cluster)",
        about: "The journal's own lookup query through the deadpool pool vs a connection per query.",
    },
];

/// `cargo xtask bench [--smoke] [NAME]`.
pub fn bench(root: &Path, smoke: bool, only: Option<&str>) -> Result<()> {
    let selected: Vec<&Bench> = match only {
        Some(name) => {
            let b = BENCHES.iter().find(|b| b.name == name).with_context(|| {
                let names: Vec<&str> = BENCHES.iter().map(|b| b.name).collect();
                format!("no bench named `{name}`; benches: {}", names.join(", "))
            })?;
            vec![b]
        }
        None => BENCHES.iter().collect(),
    };
    let mut report = String::new();
    for (i, b) in selected.iter().enumerate() {
        eprintln!("==> bench {}/{}: {}", i + 1, selected.len(), b.name);
        let mut c = cmd::cargo(root);
        c.args(["bench", "-q", "-p", b.package, "--bench", b.name])
            .env("RESILIENCE_PLUGINS_PREBUILT", "1")
            .stdout(Stdio::piped());
        if smoke {
            c.env("RESILIENCE_BENCH_SMOKE", "1");
        }
        let out = run_captured(&mut c)?;
        if !out.lines().any(|l| l.starts_with("|---")) {
            bail!("bench {} printed no result table", b.name);
        }
        let _ = write!(
            report,
            "\n## {} (`{}`)\n\n{}\n\n{}\n",
            b.title,
            b.name,
            b.about,
            out.trim()
        );
    }
    let header = format!(
        "# Benchmark results\n\n\
         Produced by `cargo xtask bench` (one: `cargo xtask bench NAME`) on {}. Loopback only, bounded in \
         count and time. Every figure is measured beside its baseline in the same run; the machine is shared \
         and noisy, so read the ratios rather than the absolute figures.\n\n\
         Machine: {}.\n",
        today(),
        machine()
    );
    let path = if smoke || only.is_some() {
        root.join("target").join(if smoke {
            "bench-smoke.md"
        } else {
            "bench-one.md"
        })
    } else {
        root.join("bench").join("results.md")
    };
    std::fs::create_dir_all(path.parent().unwrap_or(root))?;
    std::fs::write(&path, format!("{header}{report}"))
        .with_context(|| format!("writing {}", path.display()))?;
    eprintln!("==> results written to {}", path.display());
    Ok(())
}

/// Run `c` (stdout piped), echo its stdout, and return it.
fn run_captured(c: &mut Command) -> Result<String> {
    let line = cmd::display(c);
    eprintln!("$ {line}");
    let out = c
        .spawn()
        .with_context(|| format!("cannot start `{line}`"))?
        .wait_with_output()
        .with_context(|| format!("waiting for `{line}`"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    print!("{text}");
    if !out.status.success() {
        return Err(cmd::Failed {
            command: line,
            status: out.status,
        }
        .into());
    }
    Ok(text)
}

/// `cargo xtask soak [ARGS]`: the soak binary (release) against the release host.
pub fn soak(root: &Path, args: &[&str]) -> Result<()> {
    let mut c = cmd::cargo(root);
    c.args([
        "run",
        "--release",
        "-q",
        "-p",
        "resilience-tests",
        "--bin",
        "soak",
        "--",
    ])
    .args(args)
    .env("RESILIENCE_PLUGINS_PREBUILT", "1");
    cmd::run(&mut c)
}

/// `cargo build --release -p resilience-host`: the binary the process benches
/// and the soak start.
pub fn build_release_host(root: &Path) -> Result<()> {
    cmd::run(cmd::cargo(root).args([
        "build",
        "--release",
        "-p",
        "resilience-host",
        "--bin",
        "resilience-host",
    ]))
}

fn today() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d"])
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "(date unknown)".into())
}

/// Cores, CPU model, memory, kernel, rustc.
fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|m| m.trim_start_matches([' ', '\t', ':']).trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or("unknown".into(), |kib| {
            format!("{:.0} GiB", kib / 1024.0 / 1024.0)
        });
    let output = |p: &str, a: &[&str]| {
        Command::new(p)
            .args(a)
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    };
    format!(
        "{cores} cores ({model}), {mem_gib} RAM, {}, {}",
        output("uname", &["-sr"]),
        output("rustc", &["--version"])
    )
}
