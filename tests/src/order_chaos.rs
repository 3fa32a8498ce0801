//! Order chaos: a randomized, seeded, bounded test of the journal's promise
//! that the host places **at most one order per (venue, idempotency key)**,
//! whatever its callers, the network and its own processes do.
//!
//! What is simulated, and why:
//!
//! - **A Binance USDⓈ-M venue** ([`MockVenue`], raw HTTP/1.1 on loopback, no
//!   signature checks) that keeps a book of every order it accepted, per
//!   client order id. Like real Binance for market orders (they fill at once,
//!   and `newClientOrderId` is unique only among *open* orders), it accepts a
//!   second order with an id it has already filled, so a double send by the
//!   host shows up as two orders in the book instead of being masked by a
//!   `-4116`. Each New Order request meets one [`CreateFault`] drawn from the
//!   seed: answered; answered slowly (still within the attempt timeout);
//!   accepted and the connection dropped (FIN or RST) without an answer;
//!   accepted and answered only after the host's attempt timeout; either of
//!   those two with the order invisible to lookups for a while (a lagging
//!   read path, always shorter than the settle window); 503 without
//!   accepting; or a definitive refusal (`400 -2019`) without accepting. The
//!   unanswered orders leave the host in doubt about an order that exists
//!   (it must find it, never send again); the 503 leaves it in doubt about
//!   one that does not (after the settle window it may send again); the
//!   refusal fails the call (the next call sends again). Query
//!   Order (the plugin's `reconcile` and its `-4116` follow-up) finds an
//!   order by `origClientOrderId`, says `400 -2013` when it has none (or none
//!   visible yet), and now and then answers 503.
//! - **The real host binary** as child processes on one journal: the
//!   embedded SQLite file (one host) or a throwaway PostgreSQL shared by
//!   several replicas. At random intervals ([`ChaosConfig::kill_every`]) one
//!   of them is SIGKILLed and restarted on the same journal; half the kills
//!   wait for a moment when the venue holds an accepted, unanswered order, so
//!   that hosts die holding claims whose orders exist. Such claims must be
//!   found again through lease expiry, the sweeper and the venue's lookup.
//! - **Callers** that keep placing orders for a small set of keys, so
//!   concurrent retries of one key collide, alternating between replicas;
//!   each key always with the same params and the same way of naming it
//!   (`Idempotency-Key` header, `client_order_id` param, or both). They retry
//!   409s after the `retry_after_ms` hint and 5xx/504/no answer after a short
//!   pause, and some of them hang up (close the connection) after a random
//!   short time. A key is retired now and then after it succeeded, so new
//!   keys keep arriving.
//!
//! At the end the callers stop, one host is left running until its sweeper
//! has settled every intent (no `pending`, no `in_doubt` left, or a bound of
//! a lease, a settle window and a few sweeps), and the run is judged **at the
//! venue**: at most one accepted order per client id; every client id the
//! venue accepted is journaled `succeeded` or `in_doubt` (never `failed`,
//! never missing); nothing is left `pending`; a `succeeded` entry and every
//! 200 a caller saw name the venue's one order for that key. A violation
//! panics with `seed=N`, the key's history at the venue, its journal entry
//! and the host log lines that name it, and keeps the run's folder.
//!
//! The seed fixes every random choice of each actor (the venue, each caller,
//! the killer), drawn in turn from its own stream; under real concurrency the
//! interleaving still varies, so a seed reproduces the mix and rhythm of
//! faults rather than one exact schedule.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The venue's name in the host's config (and in the journal).
const VENUE: &str = "binance";
/// What a caller that does not hang up waits for an answer at most.
const PATIENCE: Duration = Duration::from_secs(5);
/// Time a holder has beyond its deadline before its lease ends (the
/// protocol's `LEASE_MARGIN`).
const LEASE_MARGIN: Duration = Duration::from_secs(2);
/// The host's log filter: warnings (but not the warning every failed call
/// logs), and what the journal protocol and the sweeper do with each key.
const LOG_FILTER: &str = "warn,resilience_host::app=error,resilience_host::app::orders=info,resilience_host::journal=info";
/// Environment variables for the venue's (fake) secrets and the database URL.
const ENV_API_KEY: &str = "CHAOS_API_KEY";
const ENV_API_SECRET: &str = "CHAOS_API_SECRET";
const ENV_DATABASE_URL: &str = "CHAOS_DATABASE_URL";

/// One chaos run.
#[derive(Debug, Clone)]
pub struct ChaosConfig {
    /// Seeds every random choice; printed in every failure as `seed=N`.
    pub seed: u64,
    /// How long callers place orders (and hosts get killed).
    pub duration: Duration,
    /// Keys in play at once (small, so retries of one key collide).
    pub keys: usize,
    /// Concurrent caller tasks.
    pub callers: usize,
    /// Time between two SIGKILLs of a host (uniform in the range); `None`:
    /// never kill.
    pub kill_every: Option<Range<Duration>>,
    /// Journal on a throwaway PostgreSQL instead of the embedded SQLite file.
    pub pg: bool,
    /// Host processes on the one journal (more than one needs `pg`); callers
    /// alternate between them.
    pub replicas: usize,
    /// Share of calls whose caller hangs up if no answer came within a
    /// random 1-150 ms (the calls that meet a slow or silent venue).
    pub hang_up: f64,
    /// `venues.binance.timeout_ms`: per attempt.
    pub timeout_ms: u64,
    /// `venues.binance.deadline_ms`: per call; a claim's lease is this + 2 s.
    pub deadline_ms: u64,
    /// `venues.binance.reconcile_settle_ms`.
    pub settle_ms: u64,
    /// `journal.sweep_interval_ms`.
    pub sweep_interval_ms: u64,
    /// How long the venue keeps an order it accepted with a hidden fault
    /// invisible to lookups, in ms; `None`: 100 ms to 60% of the settle
    /// window (a lag the settle window is meant to cover). A lag longer than
    /// the window breaks the host's premise, which [`observe`] can show.
    pub hide_ms: Option<Range<u64>>,
    /// Print a progress line this often (long soaks).
    pub progress: Option<Duration>,
}

impl ChaosConfig {
    /// One host on the embedded SQLite journal, killed every 2-5 s; 6 keys,
    /// 12 callers, half the calls with a caller ready to hang up; 300 ms
    /// attempts, 1 s deadlines, an 800 ms settle window and a sweep every
    /// 200 ms.
    pub fn new(seed: u64, duration: Duration) -> Self {
        Self {
            seed,
            duration,
            keys: 6,
            callers: 12,
            kill_every: Some(Duration::from_secs(2)..Duration::from_secs(5)),
            pg: false,
            replicas: 1,
            hang_up: 0.5,
            timeout_ms: 300,
            deadline_ms: 1_000,
            settle_ms: 800,
            sweep_interval_ms: 200,
            hide_ms: None,
            progress: None,
        }
    }

    /// The same on a throwaway PostgreSQL with `replicas` hosts.
    pub fn postgres(seed: u64, duration: Duration, replicas: usize) -> Self {
        Self {
            pg: true,
            replicas,
            ..Self::new(seed, duration)
        }
    }

    /// The venue's visibility lag for hidden orders, in ms.
    pub fn hide_ms(&self) -> Range<u64> {
        self.hide_ms
            .clone()
            .unwrap_or(100..(self.settle_ms * 6 / 10).max(100))
    }

    /// How long the end waits for the sweeper to settle every intent at
    /// most: a dead holder's lease, the settle window after it, ten sweeps
    /// and 5 s of slack (host start-up, lookups the venue fails).
    pub fn settle_bound(&self) -> Duration {
        Duration::from_millis(self.deadline_ms + self.settle_ms + 10 * self.sweep_interval_ms)
            + LEASE_MARGIN
            + Duration::from_secs(5)
    }
}

/// What a run did and found.
#[derive(Debug, Clone, Default)]
pub struct ChaosReport {
    pub seed: u64,
    /// `sqlite` or `postgres`.
    pub store: String,
    pub replicas: usize,
    pub host_binary: PathBuf,
    /// Seconds of chaos, and of waiting for the sweeper at the end.
    pub chaos_secs: f64,
    pub settle_secs: f64,
    /// Requests the callers made.
    pub calls: u64,
    /// Distinct keys called.
    pub keys: u64,
    /// Answers by HTTP status, and `hung_up` / `no_answer` (host down or
    /// killed mid-call) / `slow` (no answer within 5 s).
    pub answers: BTreeMap<String, u64>,
    pub hang_ups: u64,
    /// 409 answers (in flight or in doubt, with `retry_after_ms`).
    pub conflicts: u64,
    /// Answers no correct host gives here (409 without `retry_after_ms`,
    /// 4xx, 500, a 200 for another order id); the first few.
    pub unexpected: Vec<String>,
    /// Host processes SIGKILLed during the chaos (of them, while the venue
    /// held an accepted order it had not answered yet), and started again.
    pub kills: u64,
    pub kills_mid_send: u64,
    pub restarts: u64,
    /// What the hosts logged doing (from their JSON logs): `lease_expired`
    /// (a dead holder's claim moved to in doubt by a sweeper),
    /// `sweeper_found` / `sweeper_not_sent` (in-doubt intents it settled),
    /// `caller_reconciled` (a retry found the order at the venue),
    /// `resent_after_proof` (a retry proved "never accepted" after the settle
    /// window and sent again), `stale_holder` (a holder whose lease had ended
    /// found its claim gone).
    pub host_events: BTreeMap<String, u64>,
    /// New Order requests the venue received, and what it did with them.
    pub venue_creates: u64,
    pub venue_faults: BTreeMap<String, u64>,
    /// Query Order answers: `found`, `not_found`, `hidden` (accepted, not yet
    /// visible), `unavailable` (503).
    pub lookups: BTreeMap<String, u64>,
    /// Orders the venue accepted, over how many client ids, and the most for one id.
    pub orders_accepted: u64,
    pub keys_accepted: u64,
    pub max_orders_per_key: u64,
    /// Journal entries of this run by state at the end.
    pub states: BTreeMap<String, u64>,
    /// Broken guarantees (empty on a passing run).
    pub violations: Vec<String>,
    /// The run's folder (config, host logs): kept when [`run`] found a
    /// violation, deleted otherwise.
    pub dir: PathBuf,
}

impl fmt::Display for ChaosReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let map = |m: &BTreeMap<String, u64>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            f,
            "order chaos seed={}: {} x{} ({}), {:.1} s of chaos, {:.1} s to settle",
            self.seed,
            self.store,
            self.replicas,
            self.host_binary.display(),
            self.chaos_secs,
            self.settle_secs
        )?;
        writeln!(
            f,
            "  callers: {} calls over {} keys; {} hang-ups, {} conflicts (409); answers: {}",
            self.calls,
            self.keys,
            self.hang_ups,
            self.conflicts,
            map(&self.answers)
        )?;
        writeln!(
            f,
            "  hosts: {} kills ({} while the venue held an unanswered order), {} restarts; journal events: {}",
            self.kills,
            self.kills_mid_send,
            self.restarts,
            map(&self.host_events)
        )?;
        writeln!(
            f,
            "  venue: {} creates ({}); lookups: {}",
            self.venue_creates,
            map(&self.venue_faults),
            map(&self.lookups)
        )?;
        writeln!(
            f,
            "  venue book: {} orders accepted over {} client ids, max {} per client id",
            self.orders_accepted, self.keys_accepted, self.max_orders_per_key
        )?;
        writeln!(f, "  journal at the end: {}", map(&self.states))?;
        if !self.unexpected.is_empty() {
            writeln!(f, "  unexpected answers: {:?}", self.unexpected)?;
        }
        if self.violations.is_empty() {
            write!(f, "  violations: none")
        } else {
            write!(
                f,
                "  VIOLATIONS ({}), run folder {}:\n{}",
                self.violations.len(),
                self.dir.display(),
                self.violations.join("\n")
            )
        }
    }
}

// ---------------------------------------------------------------------------
// Randomness

/// A small seeded generator (SplitMix64): each actor forks its own stream.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x6A09_E667_F3BC_C908)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n) (0 when n is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform milliseconds in [lo, hi].
    pub fn ms(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi.saturating_sub(lo) + 1))
    }

    /// Uniform in the range (its start when empty).
    pub fn within(&mut self, r: &Range<Duration>) -> Duration {
        let span = r.end.saturating_sub(r.start).as_millis() as u64;
        r.start + Duration::from_millis(self.below(span + 1))
    }

    /// An independent stream for another actor.
    pub fn fork(&mut self, salt: u64) -> Rng {
        Rng::new(self.next_u64() ^ salt.wrapping_mul(0xD1B5_4A32_D192_ED03))
    }
}

// ---------------------------------------------------------------------------
// The venue

/// What the mock venue does with one New Order request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CreateFault {
    /// Accept; 200 with the order at once.
    Answer,
    /// Accept; 200 after a delay shorter than the attempt timeout (holds the
    /// claim in flight while retries arrive).
    SlowAnswer,
    /// Accept, then close the connection without answering.
    AcceptDrop,
    /// Accept, answer only after the host's attempt timeout.
    AcceptLate,
    /// Accept, invisible to lookups for a while, close without answering.
    HiddenDrop,
    /// Accept, invisible to lookups for a while, answer after the timeout.
    HiddenLate,
    /// 503 without accepting (the host cannot tell: in doubt).
    Unavailable,
    /// `400 -2019 Margin is insufficient`, not accepted: a definitive refusal.
    Refused,
}

impl CreateFault {
    /// Weights out of 100.
    const MIX: [(CreateFault, u64); 8] = [
        (CreateFault::Answer, 40),
        (CreateFault::SlowAnswer, 8),
        (CreateFault::AcceptDrop, 10),
        (CreateFault::AcceptLate, 10),
        (CreateFault::HiddenDrop, 7),
        (CreateFault::HiddenLate, 7),
        (CreateFault::Unavailable, 12),
        (CreateFault::Refused, 6),
    ];

    fn draw(rng: &mut Rng) -> CreateFault {
        let total: u64 = Self::MIX.iter().map(|(_, w)| w).sum();
        let mut x = rng.below(total);
        for (fault, w) in Self::MIX {
            if x < w {
                return fault;
            }
            x -= w;
        }
        CreateFault::Answer
    }

    fn accepts(self) -> bool {
        !matches!(self, CreateFault::Unavailable | CreateFault::Refused)
    }

    fn hidden(self) -> bool {
        matches!(self, CreateFault::HiddenDrop | CreateFault::HiddenLate)
    }

    fn name(self) -> &'static str {
        match self {
            CreateFault::Answer => "answer",
            CreateFault::SlowAnswer => "slow_answer",
            CreateFault::AcceptDrop => "accept_drop",
            CreateFault::AcceptLate => "accept_late",
            CreateFault::HiddenDrop => "hidden_drop",
            CreateFault::HiddenLate => "hidden_late",
            CreateFault::Unavailable => "503",
            CreateFault::Refused => "refused_400",
        }
    }
}

/// One order in the venue's book.
#[derive(Debug, Clone)]
struct Accepted {
    order_id: u64,
    symbol: String,
    side: String,
    quantity: String,
    /// Lookups find it from then on.
    visible_at: Instant,
}

#[derive(Debug)]
struct VenueState {
    rng: Rng,
    next_order_id: u64,
    book: HashMap<String, Vec<Accepted>>,
    /// Per client id: what happened to it at the venue (ms since start).
    history: HashMap<String, Vec<String>>,
    creates: u64,
    faults: BTreeMap<String, u64>,
    lookups: BTreeMap<String, u64>,
}

/// A Binance USDⓈ-M venue on loopback: New Order and Query Order on
/// `/fapi/v1/order`, with the faults of [`CreateFault`]. Signatures are not
/// checked.
#[derive(Debug)]
pub struct MockVenue {
    pub addr: SocketAddr,
    inner: Arc<VenueInner>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Debug)]
struct VenueInner {
    state: Mutex<VenueState>,
    started: Instant,
    /// The host's attempt timeout: "late" answers come after it.
    timeout: Duration,
    /// How long an order accepted with a hidden fault stays invisible.
    hide_ms: Range<u64>,
    /// Share of lookups answered 503.
    lookup_unavailable: f64,
    /// Accepted orders whose answer is still to come (the killer aims at these).
    in_flight: AtomicU64,
}

/// What the venue does on a connection after reading a request.
#[derive(Debug)]
enum Reply {
    /// Write this and keep the connection.
    Now(Vec<u8>),
    /// Write this after a delay; then keep the connection (`true`) or close.
    Later(Duration, Vec<u8>, bool),
    /// Close without answering; RST instead of FIN when `true`.
    Drop(bool),
}

impl MockVenue {
    /// A venue whose "late" answers come after `timeout` and whose hidden
    /// orders stay invisible for `hide_ms` (uniform).
    pub async fn start(rng: Rng, timeout: Duration, hide_ms: Range<u64>) -> MockVenue {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the mock venue");
        let addr = listener.local_addr().expect("venue addr");
        let inner = Arc::new(VenueInner {
            state: Mutex::new(VenueState {
                rng,
                next_order_id: 1_000,
                book: HashMap::new(),
                history: HashMap::new(),
                creates: 0,
                faults: BTreeMap::new(),
                lookups: BTreeMap::new(),
            }),
            started: Instant::now(),
            timeout,
            hide_ms,
            lookup_unavailable: 0.05,
            in_flight: AtomicU64::new(0),
        });
        let served = Arc::clone(&inner);
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(serve_connection(conn, Arc::clone(&served)));
            }
        });
        MockVenue { addr, inner, task }
    }

    /// Every client id the venue accepted, with its orders.
    fn book(&self) -> HashMap<String, Vec<Accepted>> {
        self.inner.state.lock().expect("venue lock").book.clone()
    }

    /// The most orders accepted for one client id so far.
    pub fn max_orders_per_key(&self) -> u64 {
        let st = self.inner.state.lock().expect("venue lock");
        st.book.values().map(|v| v.len() as u64).max().unwrap_or(0)
    }

    /// Orders accepted so far.
    pub fn orders_accepted(&self) -> u64 {
        let st = self.inner.state.lock().expect("venue lock");
        st.book.values().map(|v| v.len() as u64).sum()
    }

    fn history(&self, cid: &str) -> Vec<String> {
        let st = self.inner.state.lock().expect("venue lock");
        st.history.get(cid).cloned().unwrap_or_default()
    }
}

impl Drop for MockVenue {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl VenueInner {
    fn ms(&self) -> u128 {
        self.started.elapsed().as_millis()
    }

    fn handle(&self, req: &VenueRequest) -> Reply {
        match (req.method.as_str(), req.path.as_str()) {
            ("POST", "/fapi/v1/order") => self.create(req),
            ("GET", "/fapi/v1/order") => self.lookup(req),
            ("GET", "/fapi/v1/time") => {
                Reply::Now(response(200, &json!({"serverTime": now_unix_ms()}), &[]))
            }
            _ => Reply::Now(response(
                404,
                &json!({"code": -5000, "msg": "Path not found"}),
                &[],
            )),
        }
    }

    fn create(&self, req: &VenueRequest) -> Reply {
        let Some(cid) = req.params.get("newClientOrderId").cloned() else {
            return Reply::Now(response(
                400,
                &json!({"code": -1102, "msg": "Mandatory parameter 'newClientOrderId' was not sent."}),
                &[],
            ));
        };
        let param = |name: &str, default: &str| {
            req.params
                .get(name)
                .cloned()
                .unwrap_or_else(|| default.to_string())
        };
        let now = Instant::now();
        let t = self.ms();
        let mut st = self.state.lock().expect("venue lock");
        st.creates += 1;
        let fault = CreateFault::draw(&mut st.rng);
        *st.faults.entry(fault.name().to_string()).or_default() += 1;
        let order = if fault.accepts() {
            let hidden = if fault.hidden() {
                st.rng.ms(self.hide_ms.start, self.hide_ms.end)
            } else {
                Duration::ZERO
            };
            st.next_order_id += 1;
            let order = Accepted {
                order_id: st.next_order_id,
                symbol: param("symbol", "BTCUSDT"),
                side: param("side", "BUY"),
                quantity: param("quantity", "0.001"),
                visible_at: now + hidden,
            };
            let orders = st.book.entry(cid.clone()).or_default();
            orders.push(order.clone());
            let n = orders.len();
            let note = format!(
                "{t} ms: New Order -> {} (accepted order {}, #{n} for this id{})",
                fault.name(),
                order.order_id,
                if hidden.is_zero() {
                    String::new()
                } else {
                    format!(", hidden {} ms", hidden.as_millis())
                }
            );
            st.history.entry(cid.clone()).or_default().push(note);
            Some(order)
        } else {
            let note = format!("{t} ms: New Order -> {} (not accepted)", fault.name());
            st.history.entry(cid.clone()).or_default().push(note);
            None
        };
        let timeout_ms = self.timeout.as_millis() as u64;
        let ok = |o: &Accepted| response(200, &order_json(&cid, o), &[]);
        match (fault, &order) {
            (CreateFault::Answer, Some(o)) => Reply::Now(ok(o)),
            (CreateFault::SlowAnswer, Some(o)) => {
                Reply::Later(st.rng.ms(timeout_ms / 4, timeout_ms * 2 / 3), ok(o), true)
            }
            (CreateFault::AcceptDrop | CreateFault::HiddenDrop, _) => {
                Reply::Drop(st.rng.chance(0.5))
            }
            (CreateFault::AcceptLate | CreateFault::HiddenLate, Some(o)) => {
                Reply::Later(self.timeout + st.rng.ms(50, 500), ok(o), false)
            }
            (CreateFault::Refused, _) => Reply::Now(response(
                400,
                &json!({"code": -2019, "msg": "Margin is insufficient."}),
                &[],
            )),
            _ => Reply::Now(response(
                503,
                &json!({"code": -1008, "msg": "Server is currently overloaded with other requests. Please try again in a few minutes."}),
                &[],
            )),
        }
    }

    fn lookup(&self, req: &VenueRequest) -> Reply {
        let cid = req
            .params
            .get("origClientOrderId")
            .cloned()
            .unwrap_or_default();
        let t = self.ms();
        let mut st = self.state.lock().expect("venue lock");
        let (label, reply) = if st.rng.chance(self.lookup_unavailable) {
            (
                "unavailable",
                response(
                    503,
                    &json!({"code": -1001, "msg": "Internal error; unable to process your request. Please try again."}),
                    &[],
                ),
            )
        } else {
            let not_found = || {
                response(
                    400,
                    &json!({"code": -2013, "msg": "Order does not exist."}),
                    &[],
                )
            };
            match st.book.get(&cid).and_then(|v| v.first()) {
                Some(o) if Instant::now() >= o.visible_at => {
                    ("found", response(200, &order_json(&cid, o), &[]))
                }
                Some(_) => ("hidden", not_found()),
                None => ("not_found", not_found()),
            }
        };
        *st.lookups.entry(label.to_string()).or_default() += 1;
        st.history
            .entry(cid)
            .or_default()
            .push(format!("{t} ms: Query Order -> {label}"));
        Reply::Now(reply)
    }
}

fn now_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The order as New Order and Query Order return it (a filled market order).
fn order_json(cid: &str, o: &Accepted) -> Value {
    json!({
        "clientOrderId": cid, "cumQty": o.quantity, "cumQuote": "600", "executedQty": o.quantity,
        "orderId": o.order_id, "avgPrice": "60000", "origQty": o.quantity, "price": "0",
        "reduceOnly": false, "side": o.side, "positionSide": "BOTH", "status": "FILLED",
        "stopPrice": "0", "closePosition": false, "symbol": o.symbol, "timeInForce": "GTC",
        "type": "MARKET", "origType": "MARKET", "updateTime": now_unix_ms(),
    })
}

/// An HTTP/1.1 response with a JSON body.
fn response(status: u16, body: &Value, headers: &[(&str, &str)]) -> Vec<u8> {
    let text = body.to_string();
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        text.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&text);
    out.into_bytes()
}

/// A request as the venue reads it: query string and form body merged.
#[derive(Debug)]
struct VenueRequest {
    method: String,
    path: String,
    params: HashMap<String, String>,
}

async fn serve_connection(mut conn: TcpStream, venue: Arc<VenueInner>) {
    let mut buf = Vec::new();
    loop {
        let Some(req) = read_request(&mut conn, &mut buf).await else {
            return;
        };
        match venue.handle(&req) {
            Reply::Now(bytes) => {
                if conn.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            Reply::Later(delay, bytes, keep) => {
                venue.in_flight.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                venue.in_flight.fetch_sub(1, Ordering::SeqCst);
                if conn.write_all(&bytes).await.is_err() || !keep {
                    return;
                }
            }
            Reply::Drop(reset) => {
                if reset {
                    let _ = conn.set_zero_linger();
                }
                return;
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Read one request (head and `content-length` body) from `conn`; `None` on
/// EOF, an error or a malformed request.
async fn read_request(conn: &mut TcpStream, buf: &mut Vec<u8>) -> Option<VenueRequest> {
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).ok()?.to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let mut len = 0usize;
    for line in lines {
        if let Some((k, v)) = line.split_once(':')
            && k.trim().eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().ok()?;
        }
    }
    let total = head_end + 4 + len;
    while buf.len() < total {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end + 4..total]).into_owned();
    buf.drain(..total);
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut params = HashMap::new();
    for pair in query.split('&').chain(body.split('&')) {
        if let Some((k, v)) = pair.split_once('=') {
            params.insert(percent_decode(k), percent_decode(v));
        }
    }
    Some(VenueRequest {
        method,
        path: path.to_string(),
        params,
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
                continue;
            }
            (b'+', _) => out.push(b' '),
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------
// A minimal HTTP client: one request per connection, so a hang-up is a
// closed connection the host sees.

#[derive(Debug)]
enum Answer {
    /// Status and body (JSON, or the text as a JSON string).
    Got(u16, Value),
    /// The caller hung up first.
    HungUp,
    /// No (complete) answer: refused, reset, closed mid-answer.
    Lost(String),
}

/// `method path` on a fresh connection to `addr` with `Connection: close`.
/// With `hang_up`, the caller closes the connection (FIN, or RST when
/// `reset`) if no answer came within that time.
async fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    hang_up: Option<(Duration, bool)>,
) -> Answer {
    let deadline = tokio::time::Instant::now() + hang_up.map_or(PATIENCE, |(d, _)| d);
    let gave_up = |conn: Option<&TcpStream>| {
        if let (Some(c), Some((_, true))) = (conn, hang_up) {
            let _ = c.set_zero_linger();
        }
        if hang_up.is_some() {
            Answer::HungUp
        } else {
            Answer::Lost("slow".into())
        }
    };
    let mut conn = match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
        Err(_) => return gave_up(None),
        Ok(Err(e)) => return Answer::Lost(format!("connect: {e}")),
        Ok(Ok(c)) => c,
    };
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    match tokio::time::timeout_at(deadline, conn.write_all(req.as_bytes())).await {
        Err(_) => return gave_up(Some(&conn)),
        Ok(Err(e)) => return Answer::Lost(format!("write: {e}")),
        Ok(Ok(())) => {}
    }
    let mut buf = Vec::new();
    let read = match tokio::time::timeout_at(deadline, conn.read_to_end(&mut buf)).await {
        Err(_) => return gave_up(Some(&conn)),
        Ok(read) => read,
    };
    match (parse_response(&buf), read) {
        (Some((status, value)), _) => Answer::Got(status, value),
        (None, Err(e)) => Answer::Lost(format!("read: {e}")),
        (None, Ok(_)) => Answer::Lost(format!("closed after {} bytes", buf.len())),
    }
}

/// A complete HTTP/1.1 response (`content-length` or chunked body).
fn parse_response(buf: &[u8]) -> Option<(u16, Value)> {
    let head_end = find(buf, b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut len = None;
    let mut chunked = false;
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim();
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse::<usize>().ok();
            } else if k.eq_ignore_ascii_case("transfer-encoding")
                && v.to_ascii_lowercase().contains("chunked")
            {
                chunked = true;
            }
        }
    }
    let rest = &buf[head_end + 4..];
    let body: Vec<u8> = if chunked {
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            let line_end = at + find(&rest[at..], b"\r\n")?;
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[at..line_end]).ok()?.trim(), 16)
                    .ok()?;
            at = line_end + 2;
            if size == 0 {
                break out;
            }
            out.extend_from_slice(rest.get(at..at + size)?);
            at += size + 2;
        }
    } else {
        let len = len.unwrap_or(rest.len());
        rest.get(..len)?.to_vec()
    };
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    Some((status, value))
}

// ---------------------------------------------------------------------------
// Host processes

/// The host binary the run starts: `$RESILIENCE_HOST_BIN`, else the release
/// build when there is one, else the dev build (built if needed).
pub fn host_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("RESILIENCE_HOST_BIN") {
        return PathBuf::from(bin);
    }
    let release = crate::target_dir().join("release").join("resilience-host");
    if release.exists() {
        return release;
    }
    crate::host_binary().to_path_buf()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// One host process on the shared journal; its address changes with each start.
#[derive(Debug)]
struct Replica {
    index: usize,
    binary: PathBuf,
    config: PathBuf,
    log: PathBuf,
    env: Vec<(String, String)>,
    child: Option<Child>,
    /// Where callers reach it (the last start's port).
    addr: Arc<RwLock<SocketAddr>>,
    starts: u64,
}

impl Replica {
    /// Start the host on a free port and wait until `/health` answers.
    async fn start(&mut self) -> Result<(), String> {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        self.starts += 1;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("host log: {e}"))?;
        let _ = writeln!(
            log,
            "=== order_chaos: replica {} start #{} on {addr}",
            self.index, self.starts
        );
        let child = Command::new(&self.binary)
            .args(["serve", "--config"])
            .arg(&self.config)
            .args(["--listen", &addr.to_string(), "--log-format", "json"])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", LOG_FILTER)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.binary.display()))?;
        self.child = Some(child);
        // Up means `/health` is 200: the venue's plugin loaded (a host whose
        // plugin did not load answers 503 and would fail every call).
        let started = Instant::now();
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return Err(format!(
                    "replica {} exited during start-up ({status}):\n{}",
                    self.index,
                    log_tail(&self.log, 30)
                ));
            }
            let health = exchange(
                addr,
                "GET",
                "/health",
                &[],
                "",
                Some((Duration::from_millis(500), false)),
            )
            .await;
            if matches!(health, Answer::Got(200, _)) {
                break;
            }
            if started.elapsed() > Duration::from_secs(60) {
                // `/v1/health` names the reason (a plugin that did not load, ...).
                let detail = exchange(addr, "GET", "/v1/health", &[], "", None).await;
                return Err(format!(
                    "replica {} did not answer /health with 200 within 60 s (last: {health:?}; /v1/health: {detail:?}):\n{}",
                    self.index,
                    log_tail(&self.log, 30)
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        *self.addr.write().expect("addr lock") = addr;
        Ok(())
    }

    /// SIGKILL (no shutdown, no outcome recorded) and reap.
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn addr(&self) -> SocketAddr {
        *self.addr.read().expect("addr lock")
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Counts of the journal's protocol events in the hosts' JSON logs (see
/// [`ChaosReport::host_events`]).
fn host_events(paths: &[PathBuf]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for path in paths {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let field = |name: &str| {
                v.get(name)
                    .or_else(|| v.get("fields").and_then(|f| f.get(name)))
                    .cloned()
                    .unwrap_or(Value::Null)
            };
            let message = field("message");
            let message = message.as_str().unwrap_or("");
            let mut add = |name: &str, n: u64| {
                if n > 0 {
                    *out.entry(name.to_string()).or_default() += n;
                }
            };
            if message == "journal sweep" {
                add("lease_expired", field("expired").as_u64().unwrap_or(0));
                add("sweeper_found", field("found").as_u64().unwrap_or(0));
                add("sweeper_not_sent", field("not_sent").as_u64().unwrap_or(0));
            } else if message.starts_with("journal: reconciled, the venue has it") {
                add("caller_reconciled", 1);
            } else if message.starts_with("journal: the venue never saw it") {
                add("resent_after_proof", 1);
            } else if message.starts_with("journal: this call's claim is no longer current") {
                add("stale_holder", 1);
            }
        }
    }
    out
}

/// Log lines naming `key` exactly (not a longer key it is a prefix of).
fn log_lines_for(paths: &[PathBuf], key: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for line in text.lines() {
            let names_it = line.match_indices(key).any(|(i, _)| {
                !line[i + key.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
            });
            if names_it {
                out.push(format!("{}: {line}", path.display()));
                if out.len() >= max {
                    return out;
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Callers

#[derive(Debug, Default)]
struct Tally {
    calls: AtomicU64,
    hang_ups: AtomicU64,
    conflicts: AtomicU64,
    answers: Mutex<BTreeMap<String, u64>>,
    unexpected: Mutex<Vec<String>>,
    /// Order ids callers received in 200s, per key.
    seen: Mutex<HashMap<String, BTreeSet<u64>>>,
    called: Mutex<HashSet<u64>>,
}

impl Tally {
    fn answer(&self, label: &str) {
        *self
            .answers
            .lock()
            .expect("tally lock")
            .entry(label.to_string())
            .or_default() += 1;
    }

    fn unexpected(&self, what: String) {
        let mut u = self.unexpected.lock().expect("tally lock");
        if u.len() < 20 {
            u.push(what);
        }
    }
}

#[derive(Debug)]
struct Shared {
    stop: AtomicBool,
    /// The key index in each slot; a slot moves on to a fresh key sometimes
    /// after its key succeeded.
    slots: Vec<AtomicU64>,
    next_key: AtomicU64,
    /// Prefix of this run's keys (the journal may hold other runs' entries).
    tag: String,
    hang_up: f64,
    addrs: Vec<Arc<RwLock<SocketAddr>>>,
    tally: Tally,
}

impl Shared {
    fn key(&self, k: u64) -> String {
        format!("{}-{k}", self.tag)
    }
}

/// The order for key `k`: always the same params, and one of three ways of
/// naming the key (header only, header and `client_order_id`, or
/// `client_order_id` only).
fn order_for(key: &str, k: u64) -> (String, bool) {
    let side = if k.is_multiple_of(2) { "BUY" } else { "SELL" };
    let mut params = json!({
        "symbol": "BTCUSDT",
        "side": side,
        "quantity": format!("0.{:03}", 1 + k % 97),
    });
    if !k.is_multiple_of(3) {
        params["client_order_id"] = json!(key);
    }
    (params.to_string(), k % 3 != 2)
}

async fn caller(id: usize, mut rng: Rng, shared: Arc<Shared>) {
    let mut current: Option<u64> = None;
    let mut turn = id;
    while !shared.stop.load(Ordering::Relaxed) {
        let k = current.unwrap_or_else(|| {
            shared.slots[rng.below(shared.slots.len() as u64) as usize].load(Ordering::SeqCst)
        });
        let key = shared.key(k);
        let (body, header) = order_for(&key, k);
        let replica = turn % shared.addrs.len();
        turn += 1;
        let addr = *shared.addrs[replica].read().expect("addr lock");
        let hang_up = rng
            .chance(shared.hang_up)
            .then(|| (rng.ms(1, 150), rng.chance(0.5)));
        let headers: Vec<(&str, &str)> = if header {
            vec![("idempotency-key", key.as_str())]
        } else {
            Vec::new()
        };
        shared.tally.calls.fetch_add(1, Ordering::Relaxed);
        shared.tally.called.lock().expect("tally lock").insert(k);
        let answer = exchange(
            addr,
            "POST",
            "/v1/venues/binance/create_market_order",
            &headers,
            &body,
            hang_up,
        )
        .await;
        let t = &shared.tally;
        let pause = match answer {
            Answer::HungUp => {
                t.hang_ups.fetch_add(1, Ordering::Relaxed);
                t.answer("hung_up");
                current = rng.chance(0.7).then_some(k);
                rng.ms(0, 50)
            }
            Answer::Lost(e) => {
                t.answer(if e == "slow" { "slow" } else { "no_answer" });
                current = rng.chance(0.7).then_some(k);
                rng.ms(30, 150)
            }
            Answer::Got(200, v) => {
                t.answer("200");
                match (v["client_order_id"].as_str(), v["order_id"].as_u64()) {
                    (Some(cid), Some(order_id)) if cid == key => {
                        t.seen
                            .lock()
                            .expect("tally lock")
                            .entry(key.clone())
                            .or_default()
                            .insert(order_id);
                    }
                    _ => t.unexpected(format!("200 for {key} with another order: {v}")),
                }
                current = None;
                if rng.chance(0.5) {
                    let fresh = shared.next_key.fetch_add(1, Ordering::SeqCst);
                    for slot in &shared.slots {
                        if slot
                            .compare_exchange(k, fresh, Ordering::SeqCst, Ordering::SeqCst)
                            .is_ok()
                        {
                            break;
                        }
                    }
                }
                rng.ms(0, 20)
            }
            Answer::Got(409, v) => {
                t.answer("409");
                t.conflicts.fetch_add(1, Ordering::Relaxed);
                current = rng.chance(0.7).then_some(k);
                match v["error"]["retry_after_ms"].as_u64() {
                    Some(hint) => {
                        let cap = hint.min(400);
                        rng.ms(cap / 2, cap)
                    }
                    None => {
                        t.unexpected(format!("409 without retry_after_ms for {key}: {v}"));
                        rng.ms(50, 150)
                    }
                }
            }
            Answer::Got(s @ (502..=504), _) => {
                t.answer(&s.to_string());
                current = rng.chance(0.7).then_some(k);
                rng.ms(10, 100)
            }
            Answer::Got(s, v) => {
                t.answer(&s.to_string());
                t.unexpected(format!("{s} for {key}: {v}"));
                current = None;
                rng.ms(10, 100)
            }
        };
        tokio::time::sleep(pause).await;
    }
}

// ---------------------------------------------------------------------------
// The journal through the API

/// Every journal entry of this run (`state` only, when given), by key.
async fn journal_entries(
    addr: SocketAddr,
    state: Option<&str>,
    tag: &str,
) -> Result<BTreeMap<String, Value>, String> {
    let mut out = BTreeMap::new();
    let mut cursor: Option<String> = None;
    let prefix = format!("{tag}-");
    for _ in 0..100_000 {
        let mut path = format!("/v1/journal?venue={VENUE}&limit=1000");
        if let Some(s) = state {
            path.push_str(&format!("&state={s}"));
        }
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, body) = match exchange(addr, "GET", &path, &[], "", None).await {
            Answer::Got(s, b) => (s, b),
            other => return Err(format!("GET {path}: {other:?}")),
        };
        if status != 200 {
            return Err(format!("GET {path}: {status} {body}"));
        }
        for e in body["entries"].as_array().into_iter().flatten() {
            if let Some(key) = e["key"].as_str()
                && key.starts_with(&prefix)
            {
                out.insert(key.to_string(), e.clone());
            }
        }
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return Ok(out),
        }
    }
    Err("journal paging did not end".into())
}

// ---------------------------------------------------------------------------
// The run

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

async fn execute(cfg: ChaosConfig) -> (ChaosReport, tempfile::TempDir) {
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
    let pg = cfg.pg.then(|| crate::pg::PgCluster::start("order_chaos"));
    let plugins = crate::plugin_dir(&["binance"]);

    let journal = match &pg {
        Some(_) => format!("[journal]\nurl_env = \"{ENV_DATABASE_URL}\"\n"),
        None => format!(
            "[journal]\npath = {:?}\n",
            dir.path().join("journal.db").display().to_string()
        ),
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
        venue_addr = venue.addr,
        timeout = cfg.timeout_ms,
        deadline = cfg.deadline_ms,
        settle = cfg.settle_ms,
    );
    let config = dir.path().join("host.toml");
    std::fs::write(&config, crate::config_text(plugins.path(), "", &rest))
        .unwrap_or_else(|e| panic!("seed={seed}: writing the config: {e}"));
    let mut env = vec![
        (ENV_API_KEY.to_string(), "chaos-key".to_string()),
        (ENV_API_SECRET.to_string(), "chaos-secret".to_string()),
    ];
    if let Some(pg) = &pg {
        env.push((ENV_DATABASE_URL.to_string(), pg.url().to_string()));
    }
    let binary = host_binary();
    let mut replicas: Vec<Replica> = (0..cfg.replicas)
        .map(|index| Replica {
            index,
            binary: binary.clone(),
            config: config.clone(),
            log: dir.path().join(format!("host-{index}.log")),
            env: env.clone(),
            child: None,
            addr: Arc::new(RwLock::new(SocketAddr::from(([127, 0, 0, 1], 9)))),
            starts: 0,
        })
        .collect();
    for r in &mut replicas {
        r.start()
            .await
            .unwrap_or_else(|e| panic!("seed={seed}: {e}"));
    }

    let tag = format!(
        "ch{:x}",
        (now_unix_ms() ^ u64::from(std::process::id())) & 0xff_ffff
    );
    let shared = Arc::new(Shared {
        stop: AtomicBool::new(false),
        slots: (0..cfg.keys as u64).map(AtomicU64::new).collect(),
        next_key: AtomicU64::new(cfg.keys as u64),
        tag: tag.clone(),
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
        let venue_inner = Arc::clone(&venue.inner);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let t = &shared.tally;
                let (orders, max) = {
                    let st = venue_inner.state.lock().expect("venue lock");
                    (
                        st.book.values().map(|v| v.len() as u64).sum::<u64>(),
                        st.book.values().map(|v| v.len() as u64).max().unwrap_or(0),
                    )
                };
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
    });

    // The killer: SIGKILL a random replica at random intervals, then start
    // it again on the same journal after a short, random outage.
    let mut killer = rng.fork(2);
    let end = started + cfg.duration;
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
            while venue.inner.in_flight.load(Ordering::SeqCst) == 0 && Instant::now() < aim {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        if venue.inner.in_flight.load(Ordering::SeqCst) > 0 {
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

    // Settle: one host left running; its sweeper expires dead holders'
    // leases and reconciles every in-doubt intent.
    for r in replicas.iter_mut().skip(1) {
        r.kill();
    }
    let survivor = replicas[0].addr();
    let settling = Instant::now();
    let bound = cfg.settle_bound();
    let mut last_error = None;
    loop {
        let open = async {
            let pending = journal_entries(survivor, Some("pending"), &tag).await?;
            let in_doubt = journal_entries(survivor, Some("in_doubt"), &tag).await?;
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
    let entries = match journal_entries(survivor, None, &tag).await {
        Ok(e) => e,
        Err(e) => panic!(
            "seed={seed}: reading the journal at the end: {e} (before: {last_error:?})\n{}",
            log_tail(&replicas[0].log, 30)
        ),
    };

    // Judge at the venue.
    let book = venue.book();
    let tally = &shared.tally;
    let seen = tally.seen.lock().expect("tally lock").clone();
    let mut violations = Vec::new();
    let mut broken: BTreeSet<String> = BTreeSet::new();
    let state_of = |e: &Value| e["state"].as_str().unwrap_or("?").to_string();
    for (cid, orders) in &book {
        if orders.len() > 1 {
            violations.push(format!(
                "client id {cid}: the venue accepted {} orders ({:?})",
                orders.len(),
                orders.iter().map(|o| o.order_id).collect::<Vec<_>>()
            ));
            broken.insert(cid.clone());
        }
        match entries.get(cid).map(state_of).as_deref() {
            Some("succeeded" | "in_doubt") => {}
            Some(state) => {
                violations.push(format!(
                    "client id {cid}: the venue accepted it, the journal says {state}"
                ));
                broken.insert(cid.clone());
            }
            None => {
                violations.push(format!(
                    "client id {cid}: the venue accepted it, the journal has no entry"
                ));
                broken.insert(cid.clone());
            }
        }
    }
    for (key, e) in &entries {
        let ids: BTreeSet<u64> = book
            .get(key)
            .map(|v| v.iter().map(|o| o.order_id).collect())
            .unwrap_or_default();
        match state_of(e).as_str() {
            "pending" => {
                violations.push(format!("key {key}: still pending after the settle phase"));
                broken.insert(key.clone());
            }
            "succeeded" => {
                let recorded = e["result"]
                    .as_str()
                    .and_then(|r| serde_json::from_str::<Value>(r).ok())
                    .and_then(|r| r["order_id"].as_u64());
                if !recorded.is_some_and(|id| ids.contains(&id)) {
                    violations.push(format!(
                        "key {key}: journaled succeeded with order {recorded:?}, the venue has {ids:?}"
                    ));
                    broken.insert(key.clone());
                }
            }
            _ => {}
        }
    }
    for (key, got) in &seen {
        let ids: BTreeSet<u64> = book
            .get(key)
            .map(|v| v.iter().map(|o| o.order_id).collect())
            .unwrap_or_default();
        if got.len() > 1 || !got.is_subset(&ids) {
            violations.push(format!(
                "key {key}: callers were answered with orders {got:?}, the venue has {ids:?}"
            ));
            broken.insert(key.clone());
        }
    }
    let logs: Vec<PathBuf> = replicas.iter().map(|r| r.log.clone()).collect();
    for key in broken.iter().take(5) {
        let mut detail = format!("--- {key}\n  at the venue:\n");
        for h in venue.history(key) {
            detail.push_str(&format!("    {h}\n"));
        }
        detail.push_str(&format!(
            "  journal entry: {}\n  host log:\n",
            entries
                .get(key)
                .map_or("none".to_string(), |e| e.to_string())
        ));
        for l in log_lines_for(&logs, key, 40) {
            detail.push_str(&format!("    {l}\n"));
        }
        violations.push(detail);
    }

    let mut states = BTreeMap::new();
    for e in entries.values() {
        *states.entry(state_of(e)).or_default() += 1;
    }
    let (venue_creates, venue_faults, lookups) = {
        let st = venue.inner.state.lock().expect("venue lock");
        (st.creates, st.faults.clone(), st.lookups.clone())
    };
    let report = ChaosReport {
        seed,
        store: if cfg.pg { "postgres" } else { "sqlite" }.to_string(),
        replicas: cfg.replicas,
        host_binary: binary,
        chaos_secs,
        settle_secs,
        calls: tally.calls.load(Ordering::Relaxed),
        keys: tally.called.lock().expect("tally lock").len() as u64,
        answers: tally.answers.lock().expect("tally lock").clone(),
        hang_ups: tally.hang_ups.load(Ordering::Relaxed),
        conflicts: tally.conflicts.load(Ordering::Relaxed),
        unexpected: tally.unexpected.lock().expect("tally lock").clone(),
        kills: kills.load(Ordering::Relaxed),
        kills_mid_send,
        restarts,
        host_events: host_events(&logs),
        venue_creates,
        venue_faults,
        lookups,
        orders_accepted: book.values().map(|v| v.len() as u64).sum(),
        keys_accepted: book.len() as u64,
        max_orders_per_key: book.values().map(|v| v.len() as u64).max().unwrap_or(0),
        states,
        violations,
        dir: dir.path().to_path_buf(),
    };
    drop(replicas);
    (report, dir)
}
