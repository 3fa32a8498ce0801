//! Callers: tasks that keep placing orders for a small set of keys, so that
//! concurrent retries of one key collide, alternating between replicas; each
//! key always with the same params and the same way of naming it. They retry
//! after 409s and failures, sometimes hang up, and now and then retire a key
//! that succeeded so that new keys keep arriving. What they saw is tallied.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use serde_json::json;

use super::client::{Answer, exchange};
use crate::seeded::Rng;

/// What the callers did and saw, for the report and the judge (see the
/// fields of [`ChaosReport`](super::ChaosReport) of the same names).
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub(super) calls: AtomicU64,
    pub(super) hang_ups: AtomicU64,
    pub(super) conflicts: AtomicU64,
    pub(super) answers: Mutex<BTreeMap<String, u64>>,
    pub(super) unexpected: Mutex<Vec<String>>,
    /// Order ids callers received in 200s, per key.
    pub(super) seen: Mutex<HashMap<String, BTreeSet<u64>>>,
    /// Key indexes called at least once.
    pub(super) called: Mutex<HashSet<u64>>,
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

/// What every caller shares: the stop flag, the keys in play, where the
/// replicas are, and the tally.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) stop: AtomicBool,
    /// The key index in each slot; a slot moves on to a fresh key sometimes
    /// after its key succeeded.
    pub(super) slots: Vec<AtomicU64>,
    pub(super) next_key: AtomicU64,
    /// Prefix of this run's keys (the journal may hold other runs' entries).
    pub(super) tag: String,
    /// [`ChaosConfig::hang_up`](super::ChaosConfig::hang_up).
    pub(super) hang_up: f64,
    /// Each replica's current address.
    pub(super) addrs: Vec<Arc<RwLock<SocketAddr>>>,
    pub(super) tally: Tally,
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

/// Caller `id`: until told to stop, place an order for a key (the last one
/// again when it retries, else the one in a random slot) on the next replica
/// in turn, maybe ready to hang up, and react to the answer; every choice is
/// drawn from `rng`, in the same order for a given sequence of answers.
pub(super) async fn caller(id: usize, mut rng: Rng, shared: Arc<Shared>) {
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
        let pause = react(&shared, &mut rng, &mut current, k, &key, answer);
        tokio::time::sleep(pause).await;
    }
}

/// Tally the `answer` to a call for key `k` (named `key`) and decide what
/// the caller does next: retry the same key (`current`) or pick another, and
/// how long to pause first. A success may also retire the key, so new keys
/// keep arriving.
fn react(
    shared: &Shared,
    rng: &mut Rng,
    current: &mut Option<u64>,
    k: u64,
    key: &str,
    answer: Answer,
) -> Duration {
    let t = &shared.tally;
    match answer {
        Answer::HungUp => {
            t.hang_ups.fetch_add(1, Ordering::Relaxed);
            t.answer("hung_up");
            *current = rng.chance(0.7).then_some(k);
            rng.ms(0, 50)
        }
        Answer::Lost(e) => {
            t.answer(if e == "slow" { "slow" } else { "no_answer" });
            *current = rng.chance(0.7).then_some(k);
            rng.ms(30, 150)
        }
        Answer::Got(200, v) => {
            t.answer("200");
            match (v["client_order_id"].as_str(), v["order_id"].as_u64()) {
                (Some(cid), Some(order_id)) if cid == key => {
                    t.seen
                        .lock()
                        .expect("tally lock")
                        .entry(key.to_string())
                        .or_default()
                        .insert(order_id);
                }
                _ => t.unexpected(format!("200 for {key} with another order: {v}")),
            }
            *current = None;
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
            *current = rng.chance(0.7).then_some(k);
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
            *current = rng.chance(0.7).then_some(k);
            rng.ms(10, 100)
        }
        Answer::Got(s, v) => {
            t.answer(&s.to_string());
            t.unexpected(format!("{s} for {key}: {v}"));
            *current = None;
            rng.ms(10, 100)
        }
    }
}
