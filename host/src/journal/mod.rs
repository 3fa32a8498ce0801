//! The journal of mutating operations (order placement): what makes a retry,
//! a timeout or a host crash never place an order twice.
//!
//! | moment                          | the journal records |
//! |---------------------------------|---------------------|
//! | before the first attempt        | an intent: venue, operation, idempotency key (the client order id the plugin chose in `prepare`), params and their digest — state `pending` |
//! | the call succeeded              | `succeeded` with the result |
//! | the venue said no (4xx), or nothing was sent | `failed` with the error kind and message |
//! | the outcome is unknown (timeout, connection lost, 5xx, unreadable answer, crash) | `in_doubt` |
//!
//! A call whose key is already journaled: `succeeded` returns the recorded
//! result without sending; `failed` (the venue refused it, or it never left,
//! so no order exists under the key) is sent again; `pending` or `in_doubt`
//! are first reconciled through the plugin (`reconcile`): the venue's order
//! is returned when it has one, the call is sent when it never saw it, and
//! `conflict` is returned when it cannot tell (or the call is in flight). The same key with different params is a
//! `conflict` too. At start-up every `pending`/`in_doubt` intent is
//! reconciled. Uniqueness of (venue, key) is enforced by the store itself, so
//! two host replicas on one PostgreSQL database never both send one order.
//!
//! Two stores, one contract: the embedded SQLite file (default, no server)
//! and PostgreSQL through a `deadpool-postgres` pool (`journal.url_env`).

/// The columns both stores select for an [`Entry`], in the order their row
/// readers expect (a macro so it can be `concat!`ed into query literals).
macro_rules! entry_columns {
    () => {
        "venue, key, operation, params, digest, state, result, error_kind, error_message, created_ms, updated_ms"
    };
}

pub mod postgres;
pub mod sqlite;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Where an intent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Pending,
    Succeeded,
    Failed,
    InDoubt,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Succeeded => "succeeded",
            State::Failed => "failed",
            State::InDoubt => "in_doubt",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        Some(match s {
            "pending" => State::Pending,
            "succeeded" => State::Succeeded,
            "failed" => State::Failed,
            "in_doubt" => State::InDoubt,
            _ => return None,
        })
    }
}

/// One journaled intent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub venue: String,
    pub key: String,
    pub operation: String,
    /// The params the operation was (or will be) invoked with, as JSON text.
    pub params: String,
    pub digest: String,
    pub state: State,
    /// The result JSON text (`succeeded`).
    pub result: Option<String>,
    /// The error kind and message (`failed`, `in_doubt`).
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// The result of recording an intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// Recorded: go ahead and send.
    New,
    /// The key was already journaled.
    Existing(Box<Entry>),
}

/// The final state of an intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded { result: String },
    Failed { kind: String, message: String },
    InDoubt { kind: String, message: String },
}

/// A store failure. Messages never carry credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("journal: {0}")]
pub struct JournalError(pub String);

/// SHA-256 of the params JSON text, hex.
pub fn digest(params: &str) -> String {
    hex::encode(Sha256::digest(params.as_bytes()))
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Pool statistics for metrics (`resilience_db_*`); the embedded store
/// reports its single connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    pub size: usize,
    pub idle: usize,
    pub waiting: usize,
    pub failures: u64,
}

/// The configured store.
#[derive(Debug)]
pub enum Journal {
    Sqlite(sqlite::SqliteJournal),
    Postgres(postgres::PgJournal),
}

impl Journal {
    /// Record an intent, or return the entry already journaled for the key.
    pub async fn begin(
        &self,
        venue: &str,
        operation: &str,
        key: &str,
        params: &str,
    ) -> Result<Begin, JournalError> {
        match self {
            Journal::Sqlite(j) => j.begin(venue, operation, key, params).await,
            Journal::Postgres(j) => j.begin(venue, operation, key, params).await,
        }
    }

    /// Record the outcome of an intent.
    pub async fn finish(
        &self,
        venue: &str,
        key: &str,
        outcome: &Outcome,
    ) -> Result<(), JournalError> {
        match self {
            Journal::Sqlite(j) => j.finish(venue, key, outcome).await,
            Journal::Postgres(j) => j.finish(venue, key, outcome).await,
        }
    }

    /// Entries in `state` (all when `None`), oldest first, at most `limit`.
    pub async fn list(&self, state: Option<State>, limit: u32) -> Result<Vec<Entry>, JournalError> {
        match self {
            Journal::Sqlite(j) => j.list(state, limit).await,
            Journal::Postgres(j) => j.list(state, limit).await,
        }
    }

    /// One entry.
    pub async fn get(&self, venue: &str, key: &str) -> Result<Option<Entry>, JournalError> {
        match self {
            Journal::Sqlite(j) => j.get(venue, key).await,
            Journal::Postgres(j) => j.get(venue, key).await,
        }
    }

    pub fn stats(&self) -> PoolStats {
        match self {
            Journal::Sqlite(j) => j.stats(),
            Journal::Postgres(j) => j.stats(),
        }
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Journal::Sqlite(_) => "embedded",
            Journal::Postgres(_) => "postgres",
        }
    }
}

/// The contract every backend must pass, run by the tests against the
/// embedded store and a real PostgreSQL (it panics on a violation; it is for
/// tests, not for serving). Uses venue names `v` and `other`: give it an
/// empty store.
pub mod conformance {
    use super::*;

    /// Run the whole contract against `j`.
    pub async fn run(j: &Journal) {
        let p = r#"{"symbol":"BTCUSDT","quantity":"0.01"}"#;
        assert_eq!(j.begin("v", "create", "k1", p).await.unwrap(), Begin::New);
        let Begin::Existing(e) = j.begin("v", "create", "k1", p).await.unwrap() else {
            panic!("second begin must find the intent");
        };
        assert_eq!(
            (e.state, e.digest.as_str()),
            (State::Pending, digest(p).as_str())
        );
        assert_eq!(
            j.begin("other", "create", "k1", p).await.unwrap(),
            Begin::New,
            "keys are per venue"
        );

        j.finish(
            "v",
            "k1",
            &Outcome::Succeeded {
                result: r#"{"order_id":7}"#.into(),
            },
        )
        .await
        .unwrap();
        let e = j.get("v", "k1").await.unwrap().unwrap();
        assert_eq!(e.state, State::Succeeded);
        assert_eq!(e.result.as_deref(), Some(r#"{"order_id":7}"#));

        j.begin("v", "create", "k2", p).await.unwrap();
        j.finish(
            "v",
            "k2",
            &Outcome::InDoubt {
                kind: "timeout".into(),
                message: "no answer".into(),
            },
        )
        .await
        .unwrap();
        j.begin("v", "create", "k3", p).await.unwrap();
        j.finish(
            "v",
            "k3",
            &Outcome::Failed {
                kind: "upstream".into(),
                message: "-2019".into(),
            },
        )
        .await
        .unwrap();

        let doubt = j.list(Some(State::InDoubt), 100).await.unwrap();
        assert_eq!(
            doubt.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(),
            vec!["k2"]
        );
        assert_eq!(doubt[0].error_kind.as_deref(), Some("timeout"));
        let pending = j.list(Some(State::Pending), 100).await.unwrap();
        assert_eq!(pending.len(), 1, "other/k1 is still pending");
        assert_eq!(j.list(None, 100).await.unwrap().len(), 4);
        assert_eq!(j.list(None, 2).await.unwrap().len(), 2, "limit");

        // Resolving an in-doubt intent later.
        j.finish(
            "v",
            "k2",
            &Outcome::Succeeded {
                result: "{}".into(),
            },
        )
        .await
        .unwrap();
        assert!(j.list(Some(State::InDoubt), 100).await.unwrap().is_empty());

        // Many concurrent begins of one key: exactly one wins.
        let mut wins = 0;
        let results = futures_join(j, "race").await;
        for r in results {
            if r == Begin::New {
                wins += 1;
            }
        }
        assert_eq!(wins, 1);
    }

    async fn futures_join(j: &Journal, key: &str) -> Vec<Begin> {
        let mut out = Vec::new();
        let futs: Vec<_> = (0..8).map(|_| j.begin("v", "create", key, "{}")).collect();
        for f in futs {
            out.push(f.await.unwrap());
        }
        out
    }
}
