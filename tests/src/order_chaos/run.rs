//! The run, phase by phase: set up the venue, the journal and the hosts; run
//! the callers and the killer for the configured time; leave one host so
//! its sweeper settles every intent; then judge at the venue and report.
//! [`run`] and [`observe`] differ only in what they do with a violation.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;
use tokio::task::JoinHandle;

use super::callers::{Shared, Tally, caller};
use super::host::{Replica, host_binary, host_events, log_tail};
use super::journal::journal_entries;
use super::judge;
use super::venue::{MockVenue, VenueInner};
use super::{ChaosConfig, ChaosReport, PATIENCE, VENUE, now_unix_ms};
use crate::pg::PgCluster;
use crate::seeded::Rng;

/// Environment variables for the venue's (fake) secrets and the database URL.
const ENV_API_KEY: &str = "CHAOS_API_KEY";
const ENV_API_SECRET: &str = "CHAOS_API_SECRET";
const ENV_DATABASE_URL: &str = "CHAOS_DATABASE_URL";

/// Run the chaos of `cfg`, settle, judge at the venue, print the report and
/// return it. Panics with `seed=N` when a guarantee broke (keeping the run's
/// folder, named in the report) or the run could not be set up.
pub async fn run(cfg: ChaosConfig) -> ChaosReport {
    let seed = cfg.seed;
    let (mut report, dir) = execute(cfg).await;
    if report.violations.is_empty() {
        println!("{report}");
        return report;
    }
    report.dir = dir.keep();
    panic!(
        "order chaos broke the at-most-one-order guarantee, seed={seed} (rerun with this seed to reproduce):\n{report}"
    );
}

/// The same run, returning the report whatever it found (violations
/// included) and deleting the run's folder; for checking that the judge
/// does catch a broken premise. Panics only when the run cannot be set up.
pub async fn observe(cfg: ChaosConfig) -> ChaosReport {
    let (report, _dir) = execute(cfg).await;
    println!("{report}");
    report
}

/// One run from set-up to report, handing back the run's folder for the
/// caller to keep or delete. The random streams are forked in a fixed order
/// (the venue's, each caller's, then the killer's), so that a seed gives
/// every actor the same choices whatever the phases take.
async fn execute(cfg: ChaosConfig) -> (ChaosReport, TempDir) {
    let seed = cfg.seed;
    assert!(
        cfg.replicas >= 1 && (cfg.replicas == 1 || cfg.pg),
        "seed={seed}: more than one replica needs the PostgreSQL journal"
    );
    assert!(
        cfg.keys >= 1 && cfg.callers >= 1,
        "seed={seed}: keys and callers must be at least 1"
    );
    let mut rng = Rng::new(seed);
    let dir = tempfile::Builder::new()
        .prefix("order-chaos-")
        .tempdir()
        .unwrap_or_else(|e| panic!("seed={seed}: temp dir: {e}"));
    let venue = MockVenue::start(
        rng.fork(1),
        Duration::from_millis(cfg.timeout_ms),
        cfg.hide_ms(),
    )
    .await;
    let pg = cfg.pg.then(|| PgCluster::start("order_chaos"));
    let plugins = crate::plugin_dir(&["binance"]);
    let config = write_config(&cfg, dir.path(), venue.addr, pg.is_some(), plugins.path());
    let binary = host_binary();
    let mut replicas = start_replicas(&cfg, &binary, &config, dir.path(), pg.as_ref()).await;

    let chaos = run_chaos(&cfg, &mut rng, &venue, &mut replicas).await;
    let settled = settle(&cfg, &mut replicas, &chaos.shared.tag).await;
    let report = judge_and_report(&cfg, binary, dir.path(), &venue, &replicas, &chaos, settled);
    // Stop the hosts before the database they journal to and the venue go
    // (with the other locals, on return).
    drop(replicas);
    (report, dir)
}

/// Write the hosts' config into the run's folder and return its path: the
/// journal (the SQLite file in the folder, or the database whose URL is in
/// the environment), the sweeper's pace, and the venue at the mock's
/// address with the run's timeouts, a short retry, a quick breaker and
/// secrets from the environment.
fn write_config(
    cfg: &ChaosConfig,
    dir: &Path,
    venue_addr: SocketAddr,
    pg: bool,
    plugins: &Path,
) -> PathBuf {
    let seed = cfg.seed;
    let journal = if pg {
        format!("[journal]\nurl_env = \"{ENV_DATABASE_URL}\"\n")
    } else {
        format!(
            "[journal]\npath = {:?}\n",
            dir.join("journal.db").display().to_string()
        )
    };
    let rest = format!(
        "{journal}sweep_interval_ms = {sweep}\nsweep_batch = 100\n\n\
         [venues.{VENUE}]\nplugin = \"binance\"\nendpoints = [\"http://{venue_addr}\"]\n\
         timeout_ms = {timeout}\nconnect_timeout_ms = {timeout}\ndeadline_ms = {deadline}\n\
         reconcile_settle_ms = {settle}\n\
         retry = {{ max_attempts = 2, base_delay_ms = 10, max_delay_ms = 50 }}\n\
         breaker = {{ failure_threshold = 5, success_threshold = 1, open_ms = 250 }}\n\
         secrets = {{ api_key = {{ env = \"{ENV_API_KEY}\" }}, api_secret = {{ env = \"{ENV_API_SECRET}\" }} }}\n",
        sweep = cfg.sweep_interval_ms,
        timeout = cfg.timeout_ms,
        deadline = cfg.deadline_ms,
        settle = cfg.settle_ms,
    );
    let config = dir.join("host.toml");
    std::fs::write(&config, crate::config_text(plugins, "", &rest))
        .unwrap_or_else(|e| panic!("seed={seed}: writing the config: {e}"));
    config
}

/// Start `cfg.replicas` hosts of `binary` with `config`, each logging to its
/// own file in `dir`, with the venue's secrets (and the database's URL) in
/// their environment. Panics with the seed when one does not come up.
async fn start_replicas(
    cfg: &ChaosConfig,
    binary: &Path,
    config: &Path,
    dir: &Path,
    pg: Option<&PgCluster>,
) -> Vec<Replica> {
    let seed = cfg.seed;
    let mut env = vec![
        (ENV_API_KEY.to_string(), "chaos-key".to_string()),
        (ENV_API_SECRET.to_string(), "chaos-secret".to_string()),
    ];
    if let Some(pg) = pg {
        env.push((ENV_DATABASE_URL.to_string(), pg.url().to_string()));
    }
    let mut replicas: Vec<Replica> = (0..cfg.replicas)
        .map(|index| {
            Replica::new(
                index,
                binary.to_path_buf(),
                config.to_path_buf(),
                dir.join(format!("host-{index}.log")),
                env.clone(),
            )
        })
        .collect();
    for r in &mut replicas {
        r.start()
            .await
            .unwrap_or_else(|e| panic!("seed={seed}: {e}"));
    }
    replicas
}

/// What the chaos phase leaves for the settle phase and the report.
struct Chaos {
    /// The callers' keys and tally (their prefix names this run's journal
    /// entries).
    shared: Arc<Shared>,
    kills: Arc<AtomicU64>,
    kills_mid_send: u64,
    restarts: u64,
    chaos_secs: f64,
}

/// The chaos: callers place orders on the replicas while the killer
/// SIGKILLs and restarts them, for `cfg.duration`; then the callers are told
/// to stop, and one that is still waiting past its patience is aborted.
async fn run_chaos(
    cfg: &ChaosConfig,
    rng: &mut Rng,
    venue: &MockVenue,
    replicas: &mut [Replica],
) -> Chaos {
    let seed = cfg.seed;
    let tag = format!(
        "ch{:x}",
        (now_unix_ms() ^ u64::from(std::process::id())) & 0xff_ffff
    );
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        slots: (0..cfg.keys as u64).map(AtomicU64::new).collect(),
        next_key: AtomicU64::new(cfg.keys as u64),
        tag,
        hang_up: cfg.hang_up,
        addrs: replicas.iter().map(|r| Arc::clone(&r.addr)).collect(),
        tally: Tally::default(),
    });
    let started = Instant::now();
    let callers: Vec<_> = (0..cfg.callers)
        .map(|i| tokio::spawn(caller(i, rng.fork(100 + i as u64), Arc::clone(&shared))))
        .collect();
    let kills = Arc::new(AtomicU64::new(0));
    let progress = cfg.progress.map(|every| {
        let (shared, kills) = (Arc::clone(&shared), Arc::clone(&kills));
        spawn_progress(every, seed, started, shared, kills, venue.shared())
    });
    let end = started + cfg.duration;
    let (kills_mid_send, restarts) =
        kill_until(end, cfg, rng.fork(2), venue, replicas, &kills).await;
    shared.stop.store(true, Ordering::SeqCst);
    for c in callers {
        let abort = c.abort_handle();
        if tokio::time::timeout(PATIENCE + Duration::from_secs(2), c)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
    if let Some(p) = progress {
        p.abort();
    }
    let chaos_secs = started.elapsed().as_secs_f64();
    Chaos {
        shared,
        kills,
        kills_mid_send,
        restarts,
        chaos_secs,
    }
}

/// A task printing a progress line every `every` until aborted (long soaks).
fn spawn_progress(
    every: Duration,
    seed: u64,
    started: Instant,
    shared: Arc<Shared>,
    kills: Arc<AtomicU64>,
    venue: Arc<VenueInner>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let t = &shared.tally;
            let (orders, max) = venue.book_totals();
            eprintln!(
                "order chaos seed={seed} at {:.0} s: {} calls, {} hang-ups, {} conflicts, {} kills; venue: {orders} orders, max {max} per client id",
                started.elapsed().as_secs_f64(),
                t.calls.load(Ordering::Relaxed),
                t.hang_ups.load(Ordering::Relaxed),
                t.conflicts.load(Ordering::Relaxed),
                kills.load(Ordering::Relaxed),
            );
        }
    })
}

/// The killer: SIGKILL a random replica at random intervals, then start it
/// again on the same journal after a short, random outage, until `end`
/// (with no kills configured, just wait for it). Returns the kills made
/// while the venue held an accepted, unanswered order, and the restarts.
async fn kill_until(
    end: Instant,
    cfg: &ChaosConfig,
    mut killer: Rng,
    venue: &MockVenue,
    replicas: &mut [Replica],
    kills: &AtomicU64,
) -> (u64, u64) {
    let seed = cfg.seed;
    let mut restarts = 0u64;
    let mut kills_mid_send = 0u64;
    loop {
        let Some(range) = &cfg.kill_every else {
            tokio::time::sleep_until(end.into()).await;
            break;
        };
        let wait = killer.within(range);
        if Instant::now() + wait >= end {
            tokio::time::sleep_until(end.into()).await;
            break;
        }
        tokio::time::sleep(wait).await;
        // Half the kills wait (up to 1 s) for an order the venue accepted and
        // has not answered yet, so that a host dies holding a claim whose
        // order exists (with several replicas, the one killed may not be the
        // holder).
        if killer.chance(0.5) {
            let aim = Instant::now() + Duration::from_secs(1);
            while venue.in_flight() == 0 && Instant::now() < aim {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        if venue.in_flight() > 0 {
            kills_mid_send += 1;
        }
        let r = killer.below(replicas.len() as u64) as usize;
        replicas[r].kill();
        kills.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(killer.ms(0, 300)).await;
        replicas[r]
            .start()
            .await
            .unwrap_or_else(|e| panic!("seed={seed}: restarting after a kill: {e}"));
        restarts += 1;
    }
    (kills_mid_send, restarts)
}

/// What the settle phase found.
struct Settled {
    /// Every journal entry of this run, by key.
    entries: BTreeMap<String, Value>,
    settle_secs: f64,
}

/// Settle: one host left running; its sweeper expires dead holders' leases
/// and reconciles every in-doubt intent. Waits until no entry of this run is
/// `pending` or `in_doubt`, or [`ChaosConfig::settle_bound`] has passed,
/// then reads every entry of the run (a failure to read them panics).
async fn settle(cfg: &ChaosConfig, replicas: &mut [Replica], tag: &str) -> Settled {
    let seed = cfg.seed;
    for r in replicas.iter_mut().skip(1) {
        r.kill();
    }
    let survivor = replicas[0].addr();
    let settling = Instant::now();
    let bound = cfg.settle_bound();
    let mut last_error = None;
    loop {
        let open = async {
            let pending = journal_entries(survivor, Some("pending"), tag).await?;
            let in_doubt = journal_entries(survivor, Some("in_doubt"), tag).await?;
            Ok::<_, String>(pending.len() + in_doubt.len())
        }
        .await;
        match open {
            Ok(0) => break,
            Ok(_) => last_error = None,
            Err(e) => last_error = Some(e),
        }
        if settling.elapsed() > bound {
            break;
        }
        tokio::time::sleep(Duration::from_millis(cfg.sweep_interval_ms)).await;
    }
    let settle_secs = settling.elapsed().as_secs_f64();
    let entries = match journal_entries(survivor, None, tag).await {
        Ok(e) => e,
        Err(e) => panic!(
            "seed={seed}: reading the journal at the end: {e} (before: {last_error:?})\n{}",
            log_tail(&replicas[0].log, 30)
        ),
    };
    Settled {
        entries,
        settle_secs,
    }
}

/// Judge the run at the venue and put what it did and found into the
/// report. The venue's counters are read after the verdict: the survivor
/// is still running, and may still be looking orders up.
fn judge_and_report(
    cfg: &ChaosConfig,
    binary: PathBuf,
    dir: &Path,
    venue: &MockVenue,
    replicas: &[Replica],
    chaos: &Chaos,
    settled: Settled,
) -> ChaosReport {
    let Settled {
        entries,
        settle_secs,
    } = settled;
    let book = venue.book();
    let tally = &chaos.shared.tally;
    let seen = tally.seen.lock().expect("tally lock").clone();
    let (mut violations, broken) = judge::violations(&book, &entries, &seen);
    let logs: Vec<PathBuf> = replicas.iter().map(|r| r.log.clone()).collect();
    violations.extend(judge::explain(&broken, venue, &entries, &logs));

    let mut states = BTreeMap::new();
    for e in entries.values() {
        *states.entry(judge::state_of(e)).or_default() += 1;
    }
    let (venue_creates, venue_faults, lookups) = venue.counts();
    ChaosReport {
        seed: cfg.seed,
        store: if cfg.pg { "postgres" } else { "sqlite" }.to_string(),
        replicas: cfg.replicas,
        host_binary: binary,
        chaos_secs: chaos.chaos_secs,
        settle_secs,
        calls: tally.calls.load(Ordering::Relaxed),
        keys: tally.called.lock().expect("tally lock").len() as u64,
        answers: tally.answers.lock().expect("tally lock").clone(),
        hang_ups: tally.hang_ups.load(Ordering::Relaxed),
        conflicts: tally.conflicts.load(Ordering::Relaxed),
        unexpected: tally.unexpected.lock().expect("tally lock").clone(),
        kills: chaos.kills.load(Ordering::Relaxed),
        kills_mid_send: chaos.kills_mid_send,
        restarts: chaos.restarts,
        host_events: host_events(&logs),
        venue_creates,
        venue_faults,
        lookups,
        orders_accepted: book.values().map(|v| v.len() as u64).sum(),
        keys_accepted: book.len() as u64,
        max_orders_per_key: book.values().map(|v| v.len() as u64).max().unwrap_or(0),
        states,
        violations,
        dir: dir.to_path_buf(),
    }
}
