//! The venue: a Binance USDⓈ-M exchange on loopback that keeps a book of
//! every order it accepted, per client order id, and meets each New Order
//! request with a [`CreateFault`] drawn from its own stream of the seed. Like
//! real Binance for market orders, it accepts a second order with an id it
//! has already filled, so a double send by the host shows up in the book.
//! The HTTP/1.1 it speaks is in `wire`.

mod wire;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::now_unix_ms;
use crate::seeded::Rng;
use wire::{VenueRequest, response, serve_connection};

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
pub(super) struct Accepted {
    pub(super) order_id: u64,
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
pub(super) struct VenueInner {
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
    pub(super) fn book(&self) -> HashMap<String, Vec<Accepted>> {
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

    pub(super) fn history(&self, cid: &str) -> Vec<String> {
        let st = self.inner.state.lock().expect("venue lock");
        st.history.get(cid).cloned().unwrap_or_default()
    }

    /// Accepted orders whose answer is still to come (the killer aims at
    /// these).
    pub(super) fn in_flight(&self) -> u64 {
        self.inner.in_flight.load(Ordering::SeqCst)
    }

    /// New Order requests received, what was done with them (by fault) and
    /// Query Order answers (by label), read under one lock.
    pub(super) fn counts(&self) -> (u64, BTreeMap<String, u64>, BTreeMap<String, u64>) {
        let st = self.inner.state.lock().expect("venue lock");
        (st.creates, st.faults.clone(), st.lookups.clone())
    }

    /// The venue's state, for a task that outlives a borrow of the venue
    /// (the progress line).
    pub(super) fn shared(&self) -> Arc<VenueInner> {
        Arc::clone(&self.inner)
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

    /// Orders accepted so far, and the most for one client id, read under
    /// one lock.
    pub(super) fn book_totals(&self) -> (u64, u64) {
        let st = self.state.lock().expect("venue lock");
        (
            st.book.values().map(|v| v.len() as u64).sum::<u64>(),
            st.book.values().map(|v| v.len() as u64).max().unwrap_or(0),
        )
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
