//! The journal protocol's invariants (`resilience_host::journal::protocol`)
//! under concurrency, cancellation and restarts, against a scripted venue,
//! on the embedded store and on a throwaway PostgreSQL. Each test counts
//! the orders the venue accepted per key: never more than one.

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use resilience_host::CallError;
use resilience_host::journal::protocol::{
    BoxFuture, Executor, Order, Policy, Protocol, SendLedger, Sweeper, is_refusal,
};
use resilience_host::journal::{self, Claim, Intent, Journal, State};
use resilience_tests::pg::PgCluster;
use serde_json::{Value, json};

/// What the venue does with one create request.
#[derive(Debug, Clone, Copy)]
enum Act {
    /// Accept and answer.
    Accept,
    /// Accept after `ms`, then answer.
    AcceptAfter(u64),
    /// Accept; the answer is lost (a reset after the request was written).
    AcceptThenLose,
    /// The request is lost on the way (the venue never sees it); the host
    /// cannot tell this from the one above.
    LostOnTheWay,
    /// Nothing is sent: the connection was refused.
    Refused,
    /// The venue answers 400 (insufficient margin).
    Rejected,
    /// The venue answers 400 "duplicate" and the plugin's follow-up lookup
    /// is rate limited.
    DuplicateThenLookupFails,
}

/// A venue with an order book keyed by idempotency key, scripted per request.
#[derive(Default)]
struct Venue {
    script: Mutex<VecDeque<Act>>,
    /// Orders accepted per key (duplicates are counted, as a venue whose
    /// client ids are unique only among open orders would accept them).
    accepted: Mutex<BTreeMap<String, u32>>,
    /// Lookups answer "not found" for this long after an order is accepted
    /// (an eventually consistent order index).
    hidden_for: Mutex<Duration>,
    accepted_at: Mutex<BTreeMap<String, tokio::time::Instant>>,
    creates: Mutex<u32>,
}

impl Venue {
    fn new(script: &[Act]) -> Arc<Self> {
        let v = Venue::default();
        *v.script.lock().unwrap() = script.iter().copied().collect();
        Arc::new(v)
    }

    fn accept(&self, key: &str) {
        *self.accepted.lock().unwrap().entry(key.into()).or_default() += 1;
        self.accepted_at
            .lock()
            .unwrap()
            .insert(key.into(), tokio::time::Instant::now());
    }

    fn orders(&self, key: &str) -> u32 {
        self.accepted.lock().unwrap().get(key).copied().unwrap_or(0)
    }

    fn creates(&self) -> u32 {
        *self.creates.lock().unwrap()
    }
}

impl Executor for Venue {
    fn invoke(
        self: Arc<Self>,
        _operation: String,
        params: String,
        sends: Arc<SendLedger>,
    ) -> BoxFuture<Result<Value, CallError>> {
        Box::pin(async move {
            let key = serde_json::from_str::<Value>(&params).unwrap()["cid"]
                .as_str()
                .unwrap()
                .to_string();
            let act = self
                .script
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or(Act::Accept);
            *self.creates.lock().unwrap() += 1;
            let send = sends.begin();
            let timeout = || Err(CallError::Timeout("no answer".into()));
            match act {
                Act::Accept => {
                    self.accept(&key);
                    Ok(json!({"cid": key}))
                }
                Act::AcceptAfter(ms) => {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    self.accept(&key);
                    Ok(json!({"cid": key}))
                }
                Act::AcceptThenLose => {
                    self.accept(&key);
                    send.may_have_left();
                    timeout()
                }
                Act::LostOnTheWay => {
                    send.may_have_left();
                    timeout()
                }
                Act::Refused => {
                    send.not_sent();
                    Err(CallError::Connection("connection refused".into()))
                }
                Act::Rejected => {
                    assert!(is_refusal(400));
                    send.refused();
                    Err(CallError::Upstream {
                        status: 400,
                        code: Some("-2019".into()),
                        message: "Margin is insufficient".into(),
                    })
                }
                Act::DuplicateThenLookupFails => {
                    send.refused();
                    Err(CallError::RateLimited {
                        message: "lookup rate limited".into(),
                        retry_after_ms: Some(1000),
                    })
                }
            }
        })
    }

    fn reconcile(
        self: Arc<Self>,
        _operation: String,
        _params: String,
        key: String,
    ) -> BoxFuture<Result<Option<Value>, CallError>> {
        Box::pin(async move {
            let hidden = *self.hidden_for.lock().unwrap();
            let visible = self
                .accepted_at
                .lock()
                .unwrap()
                .get(&key)
                .is_some_and(|t| t.elapsed() >= hidden);
            Ok(visible.then(|| json!({"cid": key, "reconciled": true})))
        })
    }
}

const SETTLE: Duration = Duration::from_millis(400);

fn policy() -> Policy {
    Policy {
        deadline: Duration::from_secs(2),
        settle: SETTLE,
    }
}

/// One caller's call for `key` (the same params every time).
async fn place(p: &Protocol, venue: &Arc<Venue>, key: &str) -> Result<Value, CallError> {
    let params = json!({"cid": key}).to_string();
    let digest = journal::digest("create", &params);
    let order = Order {
        venue: "v",
        operation: "create",
        key,
        digest: &digest,
        params: &params,
    };
    p.call(venue, &order, policy()).await
}

async fn state(j: &Journal, key: &str) -> State {
    j.get("v", key).await.unwrap().unwrap().state
}

fn is_conflict(r: &Result<Value, CallError>) -> bool {
    matches!(
        r,
        Err(CallError::Conflict {
            retry_after_ms: Some(_),
            ..
        })
    )
}

/// Run `test` against a fresh embedded store and a fresh PostgreSQL.
async fn on_both_stores<F, Fut>(name: &str, test: F)
where
    F: Fn(Arc<Journal>) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let sqlite = journal::sqlite::SqliteJournal::open(&dir.path().join("j.db")).unwrap();
    test(Arc::new(Journal::Sqlite(sqlite))).await;
    let pg = PgCluster::start(name);
    let store = journal::postgres::PgJournal::connect(pg.url(), Default::default())
        .await
        .unwrap();
    test(Arc::new(Journal::Postgres(store))).await;
}

/// The first case: an in-doubt order retried by six callers at once
/// while the venue's lookup says "not found". Before the settle window
/// nobody re-sends; after it exactly one does.
#[tokio::test]
async fn concurrent_retries_of_an_in_doubt_order_resend_it_at_most_once() {
    on_both_stores("retries", |j| async move {
        let p = Protocol::new(Arc::clone(&j));
        let venue = Venue::new(&[Act::LostOnTheWay, Act::AcceptAfter(50)]);
        assert!(matches!(
            place(&p, &venue, "k").await,
            Err(CallError::Timeout(_))
        ));
        assert_eq!(state(&j, "k").await, State::InDoubt);

        let retry_all = || {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..6 {
                let (p, venue) = (p.clone(), Arc::clone(&venue));
                set.spawn(async move { place(&p, &venue, "k").await });
            }
            set.join_all()
        };
        let early = retry_all().await;
        assert!(early.iter().all(is_conflict), "{early:?}");
        assert_eq!(
            venue.creates(),
            1,
            "not found inside the window is no proof"
        );

        tokio::time::sleep(SETTLE).await;
        let late = retry_all().await;
        let ok = late.iter().filter(|r| r.is_ok()).count();
        assert!(
            ok >= 1 && late.iter().all(|r| r.is_ok() || is_conflict(r)),
            "{late:?}"
        );
        assert_eq!(venue.creates(), 2, "exactly one re-send");
        assert_eq!(venue.orders("k"), 1);
        let e = j.get("v", "k").await.unwrap().unwrap();
        assert_eq!((e.state, e.attempt), (State::Succeeded, 2));
    })
    .await;
}

/// The second case: a caller hangs up mid-flight, then retries.
/// The call runs on and records its outcome; the retry meanwhile is told
/// it is in flight, and afterwards gets the recorded result.
#[tokio::test]
async fn a_caller_that_hangs_up_does_not_stop_its_order() {
    on_both_stores("hangup", |j| async move {
        let p = Protocol::new(Arc::clone(&j));
        let venue = Venue::new(&[Act::AcceptAfter(300)]);
        let hung_up = tokio::time::timeout(Duration::from_millis(50), place(&p, &venue, "k")).await;
        assert!(hung_up.is_err(), "the caller gave up");
        let retry = place(&p, &venue, "k").await;
        assert!(is_conflict(&retry), "{retry:?}");
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(
            state(&j, "k").await,
            State::Succeeded,
            "the order ran to its outcome"
        );
        assert_eq!(place(&p, &venue, "k").await.unwrap(), json!({"cid": "k"}));
        assert_eq!((venue.creates(), venue.orders("k")), (1, 1));
    })
    .await;
}

/// The venue has the order but its index lags: a lookup inside the settle
/// window says "not found", which must not cause a re-send.
#[tokio::test]
async fn not_found_inside_the_settle_window_is_not_proof() {
    on_both_stores("lag", |j| async move {
        let p = Protocol::new(Arc::clone(&j));
        let venue = Venue::new(&[Act::AcceptThenLose]);
        *venue.hidden_for.lock().unwrap() = Duration::from_millis(250);
        assert!(place(&p, &venue, "k").await.is_err());
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(is_conflict(&place(&p, &venue, "k").await));
        tokio::time::sleep(SETTLE).await;
        assert_eq!(place(&p, &venue, "k").await.unwrap()["reconciled"], true);
        assert_eq!((venue.creates(), venue.orders("k")), (1, 1));
    })
    .await;
}

/// What decides `failed` (safe to re-send) versus `in_doubt`: whether a
/// request may have been accepted, not the error's kind.
#[tokio::test]
async fn only_proof_that_nothing_was_accepted_makes_an_order_failed() {
    on_both_stores("proof", |j| async move {
        let p = Protocol::new(Arc::clone(&j));
        let cases = [
            ("refused", Act::Refused, State::Failed),
            ("rejected", Act::Rejected, State::Failed),
            ("lost", Act::AcceptThenLose, State::InDoubt),
            ("follow-up", Act::DuplicateThenLookupFails, State::InDoubt),
        ];
        for (key, act, want) in cases {
            let venue = Venue::new(&[act]);
            assert!(place(&p, &venue, key).await.is_err());
            assert_eq!(state(&j, key).await, want, "{key}");
        }
        // A send cut short by the deadline may have left: in doubt.
        let venue = Venue::new(&[Act::AcceptAfter(10_000)]);
        let short = Policy {
            deadline: Duration::from_millis(100),
            settle: SETTLE,
        };
        let params = json!({"cid": "cut"}).to_string();
        let digest = journal::digest("create", &params);
        let order = Order {
            venue: "v",
            operation: "create",
            key: "cut",
            digest: &digest,
            params: &params,
        };
        assert!(matches!(
            p.call(&venue, &order, short).await,
            Err(CallError::Timeout(_))
        ));
        assert_eq!(state(&j, "cut").await, State::InDoubt);

        // A failed order is sent again by the next call with its key.
        let venue = Venue::new(&[Act::Accept]);
        place(&p, &venue, "refused").await.unwrap();
        assert_eq!(venue.orders("refused"), 1);
        // Other params under a used key: conflict, nothing sent.
        let params = json!({"cid": "refused", "qty": 2}).to_string();
        let digest = journal::digest("create", &params);
        let other = Order {
            venue: "v",
            operation: "create",
            key: "refused",
            digest: &digest,
            params: &params,
        };
        let r = p.call(&venue, &other, policy()).await;
        assert!(
            matches!(
                r,
                Err(CallError::Conflict {
                    retry_after_ms: None,
                    ..
                })
            ),
            "{r:?}"
        );
        assert_eq!(venue.creates(), 1);
    })
    .await;
}

/// Two protocols on one store (two host replicas), eight callers each, one
/// key: the venue sees one order.
#[tokio::test]
async fn replicas_on_one_store_place_one_order_per_key() {
    on_both_stores("replicas", |j| async move {
        let replicas = [Protocol::new(Arc::clone(&j)), Protocol::new(Arc::clone(&j))];
        let venue = Venue::new(&[Act::AcceptAfter(100)]);
        let mut set = tokio::task::JoinSet::new();
        for i in 0..16 {
            let (p, venue) = (replicas[i % 2].clone(), Arc::clone(&venue));
            set.spawn(async move { place(&p, &venue, "k").await });
        }
        let results = set.join_all().await;
        // One sends; the others are told it is in flight (or, if they come
        // late, get its recorded result).
        assert!(results.iter().any(|r| r.is_ok()), "{results:?}");
        assert!(
            results.iter().all(|r| r.is_ok() || is_conflict(r)),
            "{results:?}"
        );
        assert_eq!((venue.creates(), venue.orders("k")), (1, 1));
    })
    .await;
}

/// A host dies holding a claim (its row stays `pending`). After the lease the
/// sweeper moves it to in doubt and reconciles it: the venue's order is
/// recorded; an order the venue never got is proven `not_sent` after the
/// window and the caller's retry sends it once. A stale holder coming back
/// writes nothing.
#[tokio::test]
async fn intents_of_a_dead_host_are_swept_and_never_sent_twice() {
    on_both_stores("restart", |j| async move {
        let venue = Venue::new(&[]);
        let claim = |key: &'static str| {
            let j = Arc::clone(&j);
            async move {
                let params = json!({"cid": key}).to_string();
                let digest = journal::digest("create", &params);
                let c = j
                    .claim(&Intent {
                        venue: "v",
                        operation: "create",
                        key,
                        params: &params,
                        digest: &digest,
                        lease_ms: 100,
                        settle_ms: SETTLE.as_millis() as i64,
                    })
                    .await
                    .unwrap();
                assert!(matches!(c, Claim::Won { attempt: 1, .. }));
            }
        };
        claim("sent").await;
        venue.accept("sent"); // the dead host's request reached the venue
        claim("unsent").await; // it died before sending this one

        let mut sweeper =
            Sweeper::new(Protocol::new(Arc::clone(&j)), 10, Duration::from_secs(3600));
        let lookup = |_: &str| Some((Arc::clone(&venue), policy()));
        tokio::time::sleep(Duration::from_millis(150)).await;
        let first = sweeper.sweep(lookup).await.unwrap();
        assert_eq!(
            (first.expired, first.found, first.not_sent),
            (2, 1, 0),
            "{first:?}"
        );
        assert_eq!(state(&j, "sent").await, State::Succeeded);
        assert_eq!(
            state(&j, "unsent").await,
            State::InDoubt,
            "not proven inside the window"
        );
        assert!(
            !j.finish(
                "v",
                "unsent",
                1,
                &journal::Outcome::Succeeded {
                    result: "{}".into()
                }
            )
            .await
            .unwrap(),
            "the dead holder's late write is refused"
        );

        tokio::time::sleep(SETTLE).await;
        let second = sweeper.sweep(lookup).await.unwrap();
        assert_eq!(second.not_sent, 1, "{second:?}");
        assert_eq!(state(&j, "unsent").await, State::Failed);

        let p = Protocol::new(Arc::clone(&j));
        place(&p, &venue, "unsent").await.unwrap();
        assert_eq!(
            place(&p, &venue, "sent").await.unwrap(),
            json!({"cid": "sent", "reconciled": true})
        );
        assert_eq!(
            (
                venue.orders("sent"),
                venue.orders("unsent"),
                venue.creates()
            ),
            (1, 1, 1)
        );
        let e = j.get("v", "unsent").await.unwrap().unwrap();
        assert_eq!((e.state, e.attempt), (State::Succeeded, 2));
    })
    .await;
}

/// Pruning after retention removes finished entries only; the sweeper's
/// batch bounds the lookups per sweep and later sweeps reach the rest.
#[tokio::test]
async fn the_sweeper_is_bounded_and_prunes_only_finished_entries() {
    on_both_stores("sweep", |j| async move {
        let p = Protocol::new(Arc::clone(&j));
        let venue = Venue::new(&[Act::Accept, Act::Rejected]);
        place(&p, &venue, "done").await.unwrap();
        assert!(place(&p, &venue, "no").await.is_err());
        let lost = Venue::new(&[Act::AcceptThenLose; 5]);
        for i in 0..5 {
            assert!(place(&p, &lost, &format!("d{i}")).await.is_err());
        }
        let mut sweeper = Sweeper::new(p.clone(), 2, Duration::ZERO);
        let lookup = |_: &str| Some((Arc::clone(&lost), policy()));
        tokio::time::sleep(Duration::from_millis(5)).await;
        let r = sweeper.sweep(lookup).await.unwrap();
        assert_eq!((r.found, r.pruned), (2, 2), "{r:?}");
        let mut found = r.found;
        for _ in 0..4 {
            found += sweeper.sweep(lookup).await.unwrap().found;
        }
        assert_eq!(found, 5);
        // Everything is finished now; a zero retention prunes it all.
        sweeper.sweep(lookup).await.unwrap();
        assert!(j.list_state(None, 100).await.unwrap().is_empty());
    })
    .await;
}

/// A venue whose lookups hang until the test opens `gate`, or answer at once
/// that the venue has the order.
struct Lookup {
    gate: Option<Arc<tokio::sync::Semaphore>>,
}

impl Executor for Lookup {
    fn invoke(
        self: Arc<Self>,
        _: String,
        _: String,
        _: Arc<SendLedger>,
    ) -> BoxFuture<Result<Value, CallError>> {
        Box::pin(async { Err(CallError::Plugin("not used".into())) })
    }

    fn reconcile(
        self: Arc<Self>,
        _: String,
        _: String,
        key: String,
    ) -> BoxFuture<Result<Option<Value>, CallError>> {
        Box::pin(async move {
            if let Some(gate) = &self.gate {
                let _open = gate.acquire().await;
                return Ok(None);
            }
            Ok(Some(json!({"cid": key})))
        })
    }
}

/// The sweeper settles each venue's in-doubt intents without waiting for
/// another venue's: while venue `a`'s lookups hang, venue `b`'s order is
/// found and recorded in the same sweep.
#[tokio::test]
async fn a_venue_whose_lookups_hang_does_not_hold_back_another_venues_intents() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = journal::sqlite::SqliteJournal::open(&dir.path().join("j.db")).unwrap();
    let j = Arc::new(Journal::Sqlite(sqlite));
    for (venue, key) in [("a", "a1"), ("a", "a2"), ("b", "b1")] {
        let params = json!({"cid": key}).to_string();
        let digest = journal::digest("create", &params);
        let claim = j
            .claim(&Intent {
                venue,
                operation: "create",
                key,
                params: &params,
                digest: &digest,
                lease_ms: 50,
                settle_ms: 60_000,
            })
            .await
            .unwrap();
        assert!(matches!(claim, Claim::Won { attempt: 1, .. }));
    }
    tokio::time::sleep(Duration::from_millis(100)).await; // the leases end
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let hanging = Arc::new(Lookup {
        gate: Some(Arc::clone(&gate)),
    });
    let answering = Arc::new(Lookup { gate: None });
    let mut sweeper = Sweeper::new(Protocol::new(Arc::clone(&j)), 10, Duration::from_secs(3600));
    let sweep = tokio::spawn(async move {
        sweeper
            .sweep(|venue: &str| {
                let exec = if venue == "a" { &hanging } else { &answering };
                Some((Arc::clone(exec), policy()))
            })
            .await
    });
    // Within half of a lookup's deadline (`policy`): one of venue a's lookups
    // alone, run first, would take the whole deadline.
    let b_settled = tokio::time::timeout(policy().deadline / 2, async {
        loop {
            let e = j.get("b", "b1").await.unwrap().unwrap();
            if e.state == State::Succeeded {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    gate.add_permits(10);
    let report = sweep.await.unwrap().unwrap();
    assert!(
        b_settled.is_ok(),
        "venue b's order was not settled while venue a's lookups hung"
    );
    assert_eq!(
        (report.expired, report.found, report.open),
        (3, 1, 2),
        "{report:?}"
    );
}
