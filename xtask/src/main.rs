//! `cargo xtask`: the project's tasks, in Rust so they run the same everywhere
//! (the alias is in `.cargo/config.toml`). Run `cargo xtask --help`.

mod bench;
mod cmd;
mod manifest;
mod new_plugin;
mod oracle;
mod plugins;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

const HELP: &str = "\
cargo xtask <COMMAND>: project tasks for the resilience host

Commands:
  plugins [--debug] [-p NAME]...
                      Build every plugin crate for wasm32-wasip2 (one cargo call) and
                      copy the components: plugins/* -> target/plugins/,
                      tests/plugins/* -> target/test-plugins/. Adds the wasm32-wasip2
                      target with rustup when missing. --debug: dev profile (keeps
                      names for backtraces) instead of the small `plugin` profile.
                      -p NAME: only that plugin (folder, package or lib name), into
                      the same place; repeatable.
  run [-- ARGS...]    plugins, then the host in release:
                      cargo run --release -p resilience-host -- serve --config resilience.toml ARGS
  test                plugins, the oracle virtualenv (target/oracle-venv: the venues'
                      official clients and schemathesis, from tests/oracle/requirements.txt,
                      for the differential tests and the API fuzz; rebuilt when that
                      file changes), then
                      cargo test --workspace --lib --bins --tests
                      (benches are compiled by lint/bench, not run here),
                      the venue test files again with every read parked
                      (RESILIENCE_TEST_PARK_READS=1), then cargo test --workspace --doc
  lint                cargo fmt --all --check, then
                      cargo clippy --workspace --all-targets -- -D warnings
  bench [--smoke] [NAME]
                      plugins, the release host binary, then every benchmark (or NAME:
                      compare, plugin_call, pooling, resilience, host_process, peers, journal),
                      each a `cargo bench --bench NAME`; the tables and the machine go to
                      bench/results.md (one NAME: target/bench-one.md). --smoke: a few
                      hundred calls and 3 s outages, results to target/bench-smoke.md
                      (CI: checks they run and their counters add up, not timings)
  soak [ARGS]         plugins, the release host binary, then the soak: steady load with
                      random faults against every venue plugin; fails unless every call
                      was answered, counters add up and memory stayed bounded
                      (ARGS: --minutes F (default 10), --callers N, --seed S,
                      --max-growth-mib M, --park-reads: every read parks and
                      resumes by replay)
  soak --orders [ARGS]
                      plugins, the release host binary, then the order chaos: callers
                      that retry and hang up place orders through hosts SIGKILLed and
                      restarted on one journal, against a mock Binance venue that drops,
                      delays, refuses and hides orders; fails (naming the seed) unless
                      the venue took at most one order per client id, every accepted id
                      is journaled succeeded or in_doubt and nothing is left pending
                      (ARGS: --minutes F (default 10), --seed S (default: from the clock),
                      --callers N, --keys K, --kill-every MIN-MAX (seconds, 0 = never),
                      --pg, --replicas N (more than one: on PostgreSQL))
  demo [ARGS]         plugins, then the host with every plugin against simulated venues
                      on loopback with scripted faults, a mixed workload and a live summary;
                      /metrics stays up (ARGS: --calls N, --duration SECS, --listen ADDR)
  new-plugin NAME     Copy plugins/template to plugins/NAME (package NAME-plugin, lib and
                      .wasm NAME with '-' -> '_', plugin name NAME) and add it to the
                      workspace members. NAME: [a-z][a-z0-9-]*
  help                This text (also -h, --help)

Every command is echoed as `$ ...` before it runs. $CARGO_TARGET_DIR is respected.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match dispatch(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            // Pass a failed command's exit code on (`cargo xtask run` ends as the host did).
            let code = e
                .downcast_ref::<cmd::Failed>()
                .and_then(|f| f.status.code())
                .and_then(|c| u8::try_from(c).ok())
                .filter(|&c| c != 0)
                .unwrap_or(1);
            ExitCode::from(code)
        }
    }
}

/// The workspace root: the parent of this crate.
fn root() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    dir.parent().unwrap_or(dir).to_path_buf()
}

fn dispatch(args: &[String]) -> Result<()> {
    let Some((command, rest)) = args.split_first() else {
        println!("{HELP}");
        bail!("no command given");
    };
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    if matches!(command.as_str(), "help" | "-h" | "--help")
        || (command != "run" && rest.iter().any(|a| matches!(*a, "-h" | "--help")))
    {
        println!("{HELP}");
        return Ok(());
    }
    let root = root();
    match (command.as_str(), rest.as_slice()) {
        ("plugins", args) => {
            let (debug, only) = plugin_args(args)?;
            plugins::build(&root, debug, &only)
        }
        ("run", extra) => run(&root, extra),
        ("test", []) => test(&root),
        ("lint", []) => lint(&root),
        ("bench", args) => {
            let smoke = args.contains(&"--smoke");
            let names: Vec<&str> = args.iter().copied().filter(|a| *a != "--smoke").collect();
            match names.as_slice() {
                [] => bench(&root, smoke, None),
                [name] if !name.starts_with('-') => bench(&root, smoke, Some(name)),
                _ => bail!(
                    "unexpected arguments for `bench`: {}; see `cargo xtask --help`",
                    rest.join(" ")
                ),
            }
        }
        ("soak", extra) => soak(&root, extra),
        ("new-plugin", [name]) => new_plugin::run(&root, name),
        ("demo", extra) => demo(&root, extra),
        ("test" | "lint" | "new-plugin", _) => {
            bail!(
                "unexpected arguments for `{command}`: {}; see `cargo xtask --help`",
                rest.join(" ")
            )
        }
        _ => bail!("unknown command `{command}`; see `cargo xtask --help`"),
    }
}

/// `plugins` arguments: `--debug` and any number of `-p NAME`.
fn plugin_args<'a>(args: &[&'a str]) -> Result<(bool, Vec<&'a str>)> {
    let mut debug = false;
    let mut only = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match *arg {
            "--debug" => debug = true,
            "-p" | "--package" => match rest.next() {
                Some(name) => only.push(*name),
                None => bail!("`{arg}` needs a plugin name: cargo xtask plugins -p NAME"),
            },
            other => bail!(
                "unknown argument `{other}` to `plugins`; usage: cargo xtask plugins [--debug] [-p NAME]..."
            ),
        }
    }
    Ok((debug, only))
}

/// Run the steps in order, each under a `==> [i/n] name` banner; the first
/// failure stops and is named.
fn steps(list: &[(&str, &dyn Fn() -> Result<()>)]) -> Result<()> {
    let n = list.len();
    for (i, (name, step)) in list.iter().enumerate() {
        eprintln!("==> [{}/{n}] {name}", i + 1);
        step().with_context(|| format!("step {}/{n} ({name}) failed", i + 1))?;
    }
    Ok(())
}

/// `cargo xtask run [-- ARGS]`.
fn run(root: &Path, extra: &[&str]) -> Result<()> {
    let extra = match extra.split_first() {
        Some((&"--", rest)) => rest,
        _ => extra,
    };
    let has_config = extra
        .iter()
        .any(|a| *a == "--config" || a.starts_with("--config="));
    if !has_config && !root.join("resilience.toml").is_file() {
        bail!(
            "{} not found; write one (see README.md) or pass `-- --config FILE`",
            root.join("resilience.toml").display()
        );
    }
    steps(&[
        ("plugins", &|| plugins::build(root, false, &[])),
        ("host", &|| {
            let mut c = cmd::cargo(root);
            c.args(["run", "--release", "-p", "resilience-host", "--", "serve"]);
            if !has_config {
                c.args(["--config", "resilience.toml"]);
            }
            cmd::run(c.args(extra))
        }),
    ])
}

/// `cargo xtask demo [ARGS]`.
fn demo(root: &Path, extra: &[&str]) -> Result<()> {
    let extra = match extra.split_first() {
        Some((&"--", rest)) => rest,
        _ => extra,
    };
    steps(&[
        ("plugins", &|| plugins::build(root, false, &[])),
        ("demo", &|| {
            let mut c = cmd::cargo(root);
            c.args([
                "run",
                "--release",
                "-p",
                "resilience-tests",
                "--bin",
                "demo",
                "--",
            ])
            .args(extra)
            .env("RESILIENCE_PLUGINS_PREBUILT", "1");
            cmd::run(&mut c)
        }),
    ])
}

/// `cargo xtask test`.
fn test(root: &Path) -> Result<()> {
    let oracle = std::cell::RefCell::new(None);
    steps(&[
        ("plugins", &|| plugins::build(root, false, &[])),
        (
            "oracle virtualenv (official venue clients, schemathesis)",
            &|| {
                *oracle.borrow_mut() = oracle::python(root)?;
                Ok(())
            },
        ),
        ("tests", &|| {
            // Not --all-targets: that would run the (harness = false) benches as tests.
            let mut cargo = cmd::cargo(root);
            cargo
                .args(["test", "--workspace", "--lib", "--bins", "--tests"])
                .env("RESILIENCE_PLUGINS_PREBUILT", "1");
            if let Some(python) = oracle.borrow().as_ref() {
                cargo.env(oracle::PYTHON_VAR, python);
            }
            cmd::run(&mut cargo)
        }),
        (
            "venue tests again, every read parked at its venue waits",
            &|| {
                let mut cargo = cmd::cargo(root);
                cargo
                    .args(["test", "-p", "resilience-tests"])
                    .args(PARKED_READ_TESTS.iter().flat_map(|t| ["--test", t]))
                    .env("RESILIENCE_PLUGINS_PREBUILT", "1")
                    .env("RESILIENCE_TEST_PARK_READS", "1");
                cmd::run(&mut cargo)
            },
        ),
        ("doctests", &|| {
            cmd::run(cmd::cargo(root).args(["test", "--workspace", "--doc"]))
        }),
    ])
}

/// The test files run a second time with every read parked
/// (`max_waiting_instances = 0`): the real venue plugins, rate limits the
/// plugin reads, failover and the API, through `plugin::resume`.
const PARKED_READ_TESTS: &[&str] = &[
    "ton",
    "ton_ops",
    "chainlink",
    "chainlink_ops",
    "binance",
    "polymarket",
    "kraken",
    "plugin_rate_limits",
    "resilience",
    "api",
];

/// `cargo xtask lint`.
fn lint(root: &Path) -> Result<()> {
    steps(&[
        ("fmt", &|| {
            cmd::run(cmd::cargo(root).args(["fmt", "--all", "--check"]))
        }),
        ("clippy", &|| {
            cmd::run(cmd::cargo(root).args([
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]))
        }),
    ])
}

/// `cargo xtask bench [--smoke] [NAME]`.
fn bench(root: &Path, smoke: bool, name: Option<&str>) -> Result<()> {
    steps(&[
        ("plugins", &|| plugins::build(root, false, &[])),
        ("release host binary", &|| bench::build_release_host(root)),
        ("benches", &|| bench::bench(root, smoke, name)),
    ])
}

/// `cargo xtask soak [--orders] [ARGS]`.
fn soak(root: &Path, extra: &[&str]) -> Result<()> {
    let extra = match extra.split_first() {
        Some((&"--", rest)) => rest,
        _ => extra,
    };
    let orders = extra.contains(&"--orders");
    let args: Vec<&str> = extra.iter().copied().filter(|a| *a != "--orders").collect();
    let run: (&str, &dyn Fn() -> Result<()>) = if orders {
        ("order chaos", &|| soak_orders(root, &args))
    } else {
        ("soak", &|| bench::soak(root, &args))
    };
    steps(&[
        ("plugins", &|| plugins::build(root, false, &[])),
        ("release host binary", &|| bench::build_release_host(root)),
        run,
    ])
}

/// `cargo xtask soak --orders [ARGS]`: the `order_chaos` binary (tests/src/bin).
fn soak_orders(root: &Path, args: &[&str]) -> Result<()> {
    let mut c = cmd::cargo(root);
    c.args([
        "run",
        "--release",
        "-q",
        "-p",
        "resilience-tests",
        "--bin",
        "order_chaos",
        "--",
    ])
    .args(args)
    .env("RESILIENCE_PLUGINS_PREBUILT", "1");
    cmd::run(&mut c)
}
