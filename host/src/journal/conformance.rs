//! The storage contract every backend must pass (the table in the
//! [`journal`](super) module docs), run by the tests against the embedded
//! store and a real PostgreSQL. It panics on a violation; it is for tests,
//! not for serving. Give it an empty store.

use std::sync::Arc;

use super::*;

const P: &str = r#"{"symbol":"BTCUSDT","quantity":"0.01"}"#;

fn intent<'a>(venue: &'a str, key: &'a str, digest: &'a str) -> Intent<'a> {
    Intent {
        venue,
        operation: "create",
        key,
        params: P,
        digest,
        lease_ms: 60_000,
        settle_ms: 60_000,
    }
}

async fn won(j: &Journal, i: &Intent<'_>) -> i64 {
    match j.claim(i).await.unwrap() {
        Claim::Won { attempt, .. } => attempt,
        Claim::Existing { entry, .. } => panic!("claim of {} lost to {entry:?}", i.key),
    }
}

async fn existing(j: &Journal, i: &Intent<'_>) -> Entry {
    match j.claim(i).await.unwrap() {
        Claim::Existing { entry, .. } => *entry,
        Claim::Won { attempt, .. } => panic!("claim of {} won attempt {attempt}", i.key),
    }
}

fn failed(kind: &str) -> Outcome {
    Outcome::Failed {
        kind: kind.into(),
        message: "m".into(),
    }
}

fn in_doubt() -> Outcome {
    Outcome::InDoubt {
        kind: "timeout".into(),
        message: "no answer".into(),
    }
}

/// Run the whole contract against `j`.
pub async fn run(j: &Arc<Journal>) {
    claims_and_fenced_outcomes(j).await;
    settle_window_gates_not_found(j).await;
    leases_expire_to_in_doubt(j).await;
    listing_pages_and_filters(j).await;
    pruning_keeps_open_intents(j).await;
    concurrent_claims_have_one_winner(j).await;
}

async fn claims_and_fenced_outcomes(j: &Journal) {
    let d = digest("create", P);
    let first = intent("v", "k1", &d);
    assert_eq!(won(j, &first).await, 1);
    let e = existing(j, &first).await;
    assert_eq!(
        (e.state, e.attempt, e.digest.as_str()),
        (State::Pending, 1, d.as_str())
    );
    assert!(e.lease_until_ms > e.created_ms, "a claim carries a lease");
    assert_eq!(
        won(j, &intent("other", "k1", &d)).await,
        1,
        "keys are per venue"
    );

    // Only the holder of the current attempt writes an outcome, once.
    assert!(
        !j.finish("v", "k1", 2, &failed("x")).await.unwrap(),
        "not the holder"
    );
    assert!(j.finish("v", "k1", 1, &failed("upstream")).await.unwrap());
    assert!(
        !j.finish("v", "k1", 1, &failed("again")).await.unwrap(),
        "no longer pending"
    );

    // A failed intent is claimed again under the next attempt, with its
    // stored params, only by the same operation and digest.
    let other = digest("create", "{}");
    assert_eq!(
        existing(j, &intent("v", "k1", &other)).await.state,
        State::Failed
    );
    let again = Intent {
        params: r#"{"fresh":"salt"}"#,
        ..first
    };
    match j.claim(&again).await.unwrap() {
        Claim::Won { attempt, params } => assert_eq!((attempt, params.as_str()), (2, P)),
        other => panic!("re-claim of a failed key: {other:?}"),
    }
    // The first holder, late, cannot overwrite the second's outcome.
    assert!(
        !j.finish(
            "v",
            "k1",
            1,
            &Outcome::Succeeded {
                result: "{}".into()
            }
        )
        .await
        .unwrap()
    );
    assert!(
        j.finish(
            "v",
            "k1",
            2,
            &Outcome::Succeeded {
                result: r#"{"id":7}"#.into()
            }
        )
        .await
        .unwrap()
    );
    let e = j.get("v", "k1").await.unwrap().unwrap();
    assert_eq!(
        (e.state, e.result.as_deref()),
        (State::Succeeded, Some(r#"{"id":7}"#))
    );
    assert_eq!(
        existing(j, &first).await.state,
        State::Succeeded,
        "succeeded is final"
    );
}

async fn settle_window_gates_not_found(j: &Journal) {
    let d = digest("create", P);
    // In doubt with a long settle window: "not found" is not proof yet.
    let long = intent("v", "k2", &d);
    won(j, &long).await;
    assert!(j.finish("v", "k2", 1, &in_doubt()).await.unwrap());
    let e = j.get("v", "k2").await.unwrap().unwrap();
    assert_eq!(e.state, State::InDoubt);
    assert!(e.settle_at_ms >= e.updated_ms + 60_000, "{e:?}");
    assert!(!j.resolve("v", "k2", 1, &failed("not_sent")).await.unwrap());
    assert_eq!(j.reclaim("v", "k2", 1, 60_000).await.unwrap(), None);
    assert_eq!(
        existing(j, &long).await.state,
        State::InDoubt,
        "in doubt is never re-claimed directly"
    );
    // "Found" is proof at any time, and only for the attempt reconciled.
    let found = Outcome::Succeeded {
        result: "{}".into(),
    };
    assert!(!j.resolve("v", "k2", 2, &found).await.unwrap());
    assert!(j.resolve("v", "k2", 1, &found).await.unwrap());
    assert!(
        !j.resolve("v", "k2", 1, &found).await.unwrap(),
        "resolved once"
    );

    // With the window passed, "not found" re-claims under the next attempt.
    let short = Intent {
        settle_ms: 0,
        ..intent("v", "k3", &d)
    };
    won(j, &short).await;
    assert!(j.finish("v", "k3", 1, &in_doubt()).await.unwrap());
    match j.reclaim("v", "k3", 1, 60_000).await.unwrap() {
        Some(Claim::Won { attempt, params }) => assert_eq!((attempt, params.as_str()), (2, P)),
        other => panic!("reclaim after the window: {other:?}"),
    }
    assert_eq!(
        j.reclaim("v", "k3", 1, 60_000).await.unwrap(),
        None,
        "a stale reconcile"
    );
    assert!(j.finish("v", "k3", 2, &in_doubt()).await.unwrap());
    assert!(j.resolve("v", "k3", 2, &failed("not_sent")).await.unwrap());
    assert_eq!(
        j.get("v", "k3").await.unwrap().unwrap().state,
        State::Failed
    );
}

async fn leases_expire_to_in_doubt(j: &Journal) {
    let d = digest("create", P);
    let dead = Intent {
        lease_ms: -1,
        settle_ms: 5_000,
        ..intent("v", "k4", &d)
    };
    won(j, &dead).await;
    won(j, &intent("v", "k5", &d)).await; // a live lease
    assert_eq!(j.expire_leases().await.unwrap(), 1);
    let e = j.get("v", "k4").await.unwrap().unwrap();
    assert_eq!(
        (e.state, e.error_kind.as_deref()),
        (State::InDoubt, Some("lease_expired"))
    );
    assert_eq!(
        e.settle_at_ms,
        e.lease_until_ms + 5_000,
        "the window starts when the lease ends"
    );
    assert!(
        !j.finish(
            "v",
            "k4",
            1,
            &Outcome::Succeeded {
                result: "{}".into()
            }
        )
        .await
        .unwrap(),
        "a holder back from the dead writes nothing"
    );
    assert_eq!(
        j.get("v", "k5").await.unwrap().unwrap().state,
        State::Pending
    );
}

async fn listing_pages_and_filters(j: &Journal) {
    let all = j.list_state(None, 100).await.unwrap();
    assert_eq!(all.len(), 6, "{all:?}");
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = j
            .list(&ListQuery {
                after: after.clone(),
                limit: 2,
                ..ListQuery::default()
            })
            .await
            .unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(Cursor::decode(&Cursor::after(last).encode()).unwrap());
        seen.extend(page.iter().map(|e| (e.venue.clone(), e.key.clone())));
    }
    let want: Vec<_> = all
        .iter()
        .map(|e| (e.venue.clone(), e.key.clone()))
        .collect();
    assert_eq!(seen, want, "pages cover the journal once, in order");
    let only = |venue: Option<&str>, state: Option<State>| {
        let q = ListQuery {
            venue: venue.map(str::to_string),
            state,
            after: None,
            limit: 100,
        };
        async move { j.list(&q).await.unwrap().len() }
    };
    assert_eq!(only(Some("other"), None).await, 1);
    assert_eq!(only(Some("v"), Some(State::InDoubt)).await, 1);
    assert_eq!(only(None, Some(State::Pending)).await, 2);
}

async fn pruning_keeps_open_intents(j: &Journal) {
    // Everything finished counts as old with a negative retention.
    let pruned = j.prune(-10_000).await.unwrap();
    assert_eq!(pruned, 3, "k1 succeeded, k2 succeeded, k3 failed");
    let left: Vec<State> = j
        .list_state(None, 100)
        .await
        .unwrap()
        .iter()
        .map(|e| e.state)
        .collect();
    assert!(
        left.iter()
            .all(|s| matches!(s, State::Pending | State::InDoubt)),
        "{left:?}"
    );
    assert_eq!(j.prune(86_400_000).await.unwrap(), 0);
}

async fn concurrent_claims_have_one_winner(j: &Arc<Journal>) {
    let d = digest("create", P);
    let winners = |key: &'static str| {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..16 {
            let (j, d) = (Arc::clone(j), d.clone());
            set.spawn(async move {
                matches!(
                    j.claim(&intent("race", key, &d)).await.unwrap(),
                    Claim::Won { .. }
                )
            });
        }
        async move { set.join_all().await.into_iter().filter(|w| *w).count() }
    };
    assert_eq!(winners("new").await, 1, "a new key");
    assert!(
        j.finish("race", "new", 1, &failed("connection"))
            .await
            .unwrap()
    );
    assert_eq!(winners("new").await, 1, "a failed key");
    let e = j.get("race", "new").await.unwrap().unwrap();
    assert_eq!((e.state, e.attempt), (State::Pending, 2));

    // Concurrent reconcilers of one settled in-doubt attempt: one re-claims.
    assert!(j.finish("race", "new", 2, &in_doubt()).await.unwrap());
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let j = Arc::clone(j);
        set.spawn(async move { j.reclaim("race", "new", 2, 60_000).await.unwrap().is_some() });
    }
    // The settle window (60 s) has not passed: nobody may re-send.
    assert_eq!(set.join_all().await.into_iter().filter(|w| *w).count(), 0);

    let settled = Intent {
        settle_ms: 0,
        ..intent("race", "settled", &d)
    };
    won(j, &settled).await;
    assert!(j.finish("race", "settled", 1, &in_doubt()).await.unwrap());
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let j = Arc::clone(j);
        set.spawn(async move {
            j.reclaim("race", "settled", 1, 60_000)
                .await
                .unwrap()
                .is_some()
        });
    }
    assert_eq!(
        set.join_all().await.into_iter().filter(|w| *w).count(),
        1,
        "one re-send"
    );
}
