//! The journal's stores: one row per (venue, idempotency key) with the
//! intent's state, its claim number and the times that bound it. The
//! protocol that drives these rows (who may send, who may write an outcome,
//! when "not found" is proof) is in [`protocol`]; this module is the storage
//! contract it relies on, and every store keeps it with single atomic
//! statements, never a read followed by a write:
//!
//! | operation                | atomic condition in the store                                   | effect |
//! |--------------------------|-----------------------------------------------------------------|--------|
//! | [`Journal::claim`]       | no row for the key (insert), or the row is `failed` with the same operation and digest | `pending`, `attempt` + 1, lease from the store's clock |
//! | [`Journal::finish`]      | `pending` and `attempt` = the writer's claim                    | the outcome; `in_doubt` starts its settle window |
//! | [`Journal::resolve`]     | `in_doubt` and `attempt` = the one reconciled (`failed` also needs the settle window passed) | `succeeded` or `failed` |
//! | [`Journal::reclaim`]     | `in_doubt`, `attempt` = the one reconciled, settle window passed | `pending`, `attempt` + 1 |
//! | [`Journal::expire_leases`] | `pending` whose lease ended (its holder died)                 | `in_doubt`, settle window from the lease's end |
//! | [`Journal::prune`]       | `succeeded`/`failed`, untouched for the retention period        | deleted (`pending`/`in_doubt` never are) |
//!
//! Times (`lease_until_ms`, `settle_at_ms`, ages) come from the store's own
//! clock: PostgreSQL's `clock_timestamp()`, so replicas with skewed clocks
//! agree; the embedded store's is the host's (one machine).
//!
//! Two stores, one contract: the embedded SQLite file (default, no server)
//! and PostgreSQL through a `deadpool-postgres` pool (`journal.url_env`).
//! [`conformance`] checks both against it.

/// The columns both stores select for an [`Entry`], in the order their row
/// readers expect (a macro so it can be `concat!`ed into query literals).
macro_rules! entry_columns {
    () => {
        "venue, key, operation, params, digest, state, result, error_kind, error_message, created_ms, updated_ms, attempt, lease_until_ms, settle_at_ms"
    };
}

pub mod conformance;
pub mod postgres;
pub mod protocol;
pub mod sqlite;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Where an intent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Claimed: a send may be in flight under the current `attempt`.
    Pending,
    Succeeded,
    /// No order exists under the key: the venue refused it, or it provably
    /// never left. A later claim may send it again.
    Failed,
    /// A request may have reached the venue and its outcome is unknown.
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
    /// The params the operation is invoked with (as `prepare` completed
    /// them), JSON text. Every send of the key uses these.
    pub params: String,
    /// [`digest`] of the operation and the caller's params: the same key
    /// with another operation or other params is a conflict.
    pub digest: String,
    pub state: State,
    /// The result JSON text (`succeeded`).
    pub result: Option<String>,
    /// The error kind and message (`failed`, `in_doubt`).
    pub error_kind: Option<String>,
    pub error_message: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// The claim number: 1 for the first send, + 1 for each later claim. Only
    /// the holder of the current number may record an outcome.
    pub attempt: i64,
    /// `pending`: the holder finishes by then, or is presumed dead.
    pub lease_until_ms: i64,
    /// `in_doubt`: from then on a reconcile lookup's "not found" is proof
    /// that the venue never accepted the request.
    pub settle_at_ms: i64,
}

/// What a caller asks to claim.
#[derive(Debug, Clone, Copy)]
pub struct Intent<'a> {
    pub venue: &'a str,
    pub operation: &'a str,
    pub key: &'a str,
    /// The params to invoke with (prepared), stored on first claim.
    pub params: &'a str,
    /// [`digest`] of the operation and the caller's own params.
    pub digest: &'a str,
    /// How long the holder may take (the call's deadline and a margin).
    pub lease_ms: i64,
    /// How long after the last possible send "not found" stays unproven.
    pub settle_ms: i64,
}

/// The result of a claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The caller holds the key under `attempt` and sends `params` (the
    /// stored ones on a re-claim, so every send of a key is the same order).
    Won { attempt: i64, params: String },
    /// Someone else holds or has resolved the key; `now_ms` is the store's
    /// clock when it was read (for "retry after" hints).
    Existing { entry: Box<Entry>, now_ms: i64 },
}

/// The final state an outcome writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded { result: String },
    Failed { kind: String, message: String },
    InDoubt { kind: String, message: String },
}

impl Outcome {
    pub fn state(&self) -> State {
        match self {
            Outcome::Succeeded { .. } => State::Succeeded,
            Outcome::Failed { .. } => State::Failed,
            Outcome::InDoubt { .. } => State::InDoubt,
        }
    }

    /// The `(state, result, error_kind, error_message)` columns.
    pub(crate) fn columns(&self) -> (&'static str, Option<&str>, Option<&str>, Option<&str>) {
        match self {
            Outcome::Succeeded { result } => ("succeeded", Some(result), None, None),
            Outcome::Failed { kind, message } => ("failed", None, Some(kind), Some(message)),
            Outcome::InDoubt { kind, message } => ("in_doubt", None, Some(kind), Some(message)),
        }
    }
}

/// Which entries [`Journal::list`] returns: oldest first, after `after`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListQuery {
    pub venue: Option<String>,
    pub state: Option<State>,
    pub after: Option<Cursor>,
    pub limit: u32,
}

/// A position in the journal's order `(created_ms, venue, key)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_ms: i64,
    pub venue: String,
    pub key: String,
}

impl Cursor {
    /// The cursor just past `e`.
    pub fn after(e: &Entry) -> Cursor {
        Cursor {
            created_ms: e.created_ms,
            venue: e.venue.clone(),
            key: e.key.clone(),
        }
    }

    /// Opaque text for `?cursor=`: hex of a JSON triple.
    pub fn encode(&self) -> String {
        hex::encode(serde_json::json!([self.created_ms, self.venue, self.key]).to_string())
    }

    pub fn decode(text: &str) -> Option<Cursor> {
        let bytes = hex::decode(text).ok()?;
        let (created_ms, venue, key): (i64, String, String) =
            serde_json::from_slice(&bytes).ok()?;
        Some(Cursor {
            created_ms,
            venue,
            key,
        })
    }
}

/// A store failure. Messages never carry credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("journal: {0}")]
pub struct JournalError(pub String);

/// SHA-256 over the operation and the caller's params JSON text, hex. The
/// caller's params, not the prepared ones: `prepare` may add fresh values
/// (a salt, a timestamp) that differ between a call and its retry.
pub fn digest(operation: &str, params: &str) -> String {
    let mut h = Sha256::new();
    h.update(operation.as_bytes());
    h.update([0u8]);
    h.update(params.as_bytes());
    hex::encode(h.finalize())
}

/// The host's wall clock in ms (the embedded store's clock).
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

/// Forward a call to whichever store is configured.
macro_rules! each_store {
    ($self:ident, $j:ident => $e:expr) => {
        match $self {
            Journal::Sqlite($j) => $e,
            Journal::Postgres($j) => $e,
        }
    };
}

impl Journal {
    /// Claim the key for a send: a new intent, or a re-send of a `failed`
    /// one with the same operation and digest. Otherwise the row as it is.
    pub async fn claim(&self, intent: &Intent<'_>) -> Result<Claim, JournalError> {
        each_store!(self, j => j.claim(intent).await)
    }

    /// Record the outcome of claim `attempt`. `false` when the claim is no
    /// longer current (its lease expired and someone else moved on): the
    /// outcome is not written.
    pub async fn finish(
        &self,
        venue: &str,
        key: &str,
        attempt: i64,
        outcome: &Outcome,
    ) -> Result<bool, JournalError> {
        each_store!(self, j => j.finish(venue, key, attempt, outcome).await)
    }

    /// Record what a reconcile of in-doubt claim `attempt` found:
    /// `Succeeded` (the venue has it) or `Failed` (it never saw it; written
    /// only once the settle window has passed). `false` when the row moved on.
    pub async fn resolve(
        &self,
        venue: &str,
        key: &str,
        attempt: i64,
        outcome: &Outcome,
    ) -> Result<bool, JournalError> {
        each_store!(self, j => j.resolve(venue, key, attempt, outcome).await)
    }

    /// After a reconcile of in-doubt claim `attempt` found nothing and the
    /// settle window has passed: claim the key for a re-send. `None` when
    /// the row moved on or the window has not passed.
    pub async fn reclaim(
        &self,
        venue: &str,
        key: &str,
        attempt: i64,
        lease_ms: i64,
    ) -> Result<Option<Claim>, JournalError> {
        each_store!(self, j => j.reclaim(venue, key, attempt, lease_ms).await)
    }

    /// Move every `pending` intent whose lease has ended to `in_doubt`.
    pub async fn expire_leases(&self) -> Result<u64, JournalError> {
        each_store!(self, j => j.expire_leases().await)
    }

    /// Delete `succeeded` and `failed` entries untouched for `retention_ms`.
    pub async fn prune(&self, retention_ms: i64) -> Result<u64, JournalError> {
        each_store!(self, j => j.prune(retention_ms).await)
    }

    /// Entries matching `q`, oldest first.
    pub async fn list(&self, q: &ListQuery) -> Result<Vec<Entry>, JournalError> {
        each_store!(self, j => j.list(q).await)
    }

    /// Entries in `state` (all when `None`), oldest first, at most `limit`.
    pub async fn list_state(
        &self,
        state: Option<State>,
        limit: u32,
    ) -> Result<Vec<Entry>, JournalError> {
        self.list(&ListQuery {
            state,
            limit,
            ..ListQuery::default()
        })
        .await
    }

    /// One entry.
    pub async fn get(&self, venue: &str, key: &str) -> Result<Option<Entry>, JournalError> {
        each_store!(self, j => j.get(venue, key).await)
    }

    /// The store's clock, ms since the Unix epoch.
    pub async fn clock_ms(&self) -> Result<i64, JournalError> {
        each_store!(self, j => j.clock_ms().await)
    }

    pub fn stats(&self) -> PoolStats {
        each_store!(self, j => j.stats())
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Journal::Sqlite(_) => "embedded",
            Journal::Postgres(_) => "postgres",
        }
    }
}
