//! The embedded default store: one SQLite file (bundled SQLite, WAL mode),
//! used when no PostgreSQL URL is configured, so the host runs with no
//! server. Calls run on tokio's blocking pool; the connection is behind a
//! mutex (SQLite serialises writers anyway).

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};

use super::{Claim, Entry, Intent, JournalError, ListQuery, Outcome, PoolStats, State, now_ms};

const SCHEMA: &[&str] = &[
    // v1
    "CREATE TABLE IF NOT EXISTS journal (
        venue TEXT NOT NULL,
        key TEXT NOT NULL,
        operation TEXT NOT NULL,
        params TEXT NOT NULL,
        digest TEXT NOT NULL,
        state TEXT NOT NULL,
        result TEXT,
        error_kind TEXT,
        error_message TEXT,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (venue, key)
    );
    CREATE INDEX IF NOT EXISTS journal_state ON journal (state, created_ms);",
    // v2: claims (attempt), leases and settle windows. Rows from v1 get a
    // lease and a settle window of two minutes from their last update, so a
    // v1 `pending` row is reconciled, never trusted as "not sent".
    "ALTER TABLE journal ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE journal ADD COLUMN lease_until_ms INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE journal ADD COLUMN settle_ms INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE journal ADD COLUMN settle_at_ms INTEGER NOT NULL DEFAULT 0;
    UPDATE journal SET lease_until_ms = updated_ms + 120000, settle_ms = 120000,
        settle_at_ms = updated_ms + 120000;
    CREATE INDEX IF NOT EXISTS journal_updated ON journal (state, updated_ms);
    CREATE INDEX IF NOT EXISTS journal_venue ON journal (venue, created_ms);",
];

#[derive(Debug, Clone)]
pub struct SqliteJournal {
    conn: Arc<Mutex<Connection>>,
}

fn err(e: impl std::fmt::Display) -> JournalError {
    JournalError(e.to_string())
}

impl SqliteJournal {
    /// Open (creating if needed) the store at `path` and migrate its schema.
    pub fn open(path: &Path) -> Result<Self, JournalError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
        }
        let conn = Connection::open(path)
            .map_err(|e| err(format!("cannot open {}: {e}", path.display())))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(err)?;
        migrate(&conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<R, JournalError> + Send + 'static,
    ) -> Result<R, JournalError> {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut c = conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut c)
        })
        .await
        .map_err(|e| err(format!("journal task failed: {e}")))?
    }

    pub async fn claim(&self, i: &Intent<'_>) -> Result<Claim, JournalError> {
        let (venue, operation, key, params, digest) = (
            i.venue.to_string(),
            i.operation.to_string(),
            i.key.to_string(),
            i.params.to_string(),
            i.digest.to_string(),
        );
        let (lease_ms, settle_ms) = (i.lease_ms, i.settle_ms);
        self.with(move |c| {
            let now = now_ms();
            let inserted = c
                .execute(
                    "INSERT OR IGNORE INTO journal (venue, key, operation, params, digest, state,
                        created_ms, updated_ms, attempt, lease_until_ms, settle_ms, settle_at_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6, 1, ?6 + ?7, ?8, 0)",
                    params![venue, key, operation, params, digest, now, lease_ms, settle_ms],
                )
                .map_err(err)?;
            if inserted == 1 {
                return Ok(Claim::Won { attempt: 1, params });
            }
            let reclaimed = c
                .query_row(
                    "UPDATE journal SET state = 'pending', attempt = attempt + 1, lease_until_ms = ?5 + ?6,
                        settle_ms = ?7, result = NULL, error_kind = NULL, error_message = NULL, updated_ms = ?5
                     WHERE venue = ?1 AND key = ?2 AND state = 'failed' AND operation = ?3 AND digest = ?4
                     RETURNING attempt, params",
                    params![venue, key, operation, digest, now, lease_ms, settle_ms],
                    |r| Ok(Claim::Won { attempt: r.get(0)?, params: r.get(1)? }),
                )
                .optional()
                .map_err(err)?;
            if let Some(won) = reclaimed {
                return Ok(won);
            }
            let entry = get(c, &venue, &key)?.ok_or_else(|| err("intent vanished"))?;
            Ok(Claim::Existing { entry: Box::new(entry), now_ms: now })
        })
        .await
    }

    pub async fn finish(
        &self,
        venue: &str,
        key: &str,
        attempt: i64,
        outcome: &Outcome,
    ) -> Result<bool, JournalError> {
        let (venue, key, outcome) = (venue.to_string(), key.to_string(), outcome.clone());
        self.with(move |c| {
            let (state, result, kind, message) = outcome.columns();
            let n = c
                .execute(
                    "UPDATE journal SET state = ?4, result = ?5, error_kind = ?6, error_message = ?7, updated_ms = ?8,
                        settle_at_ms = CASE WHEN ?4 = 'in_doubt' THEN ?8 + settle_ms ELSE settle_at_ms END
                     WHERE venue = ?1 AND key = ?2 AND attempt = ?3 AND state = 'pending'",
                    params![venue, key, attempt, state, result, kind, message, now_ms()],
                )
                .map_err(err)?;
            Ok(n == 1)
        })
        .await
    }

    pub async fn resolve(
        &self,
        venue: &str,
        key: &str,
        attempt: i64,
        outcome: &Outcome,
    ) -> Result<bool, JournalError> {
        let (venue, key, outcome) = (venue.to_string(), key.to_string(), outcome.clone());
        self.with(move |c| {
            let (state, result, kind, message) = outcome.columns();
            let n = c
                .execute(
                    "UPDATE journal SET state = ?4, result = ?5, error_kind = ?6, error_message = ?7, updated_ms = ?8
                     WHERE venue = ?1 AND key = ?2 AND attempt = ?3 AND state = 'in_doubt'
                       AND (?4 <> 'failed' OR settle_at_ms <= ?8)",
                    params![venue, key, attempt, state, result, kind, message, now_ms()],
                )
                .map_err(err)?;
            Ok(n == 1)
        })
        .await
    }

    pub async fn reclaim(
        &self,
        venue: &str,
        key: &str,
        attempt: i64,
        lease_ms: i64,
    ) -> Result<Option<Claim>, JournalError> {
        let (venue, key) = (venue.to_string(), key.to_string());
        self.with(move |c| {
            let now = now_ms();
            c.query_row(
                "UPDATE journal SET state = 'pending', attempt = attempt + 1, lease_until_ms = ?4 + ?5,
                    result = NULL, error_kind = NULL, error_message = NULL, updated_ms = ?4
                 WHERE venue = ?1 AND key = ?2 AND attempt = ?3 AND state = 'in_doubt' AND settle_at_ms <= ?4
                 RETURNING attempt, params",
                params![venue, key, attempt, now, lease_ms],
                |r| Ok(Claim::Won { attempt: r.get(0)?, params: r.get(1)? }),
            )
            .optional()
            .map_err(err)
        })
        .await
    }

    pub async fn expire_leases(&self) -> Result<u64, JournalError> {
        self.with(move |c| {
            let n = c
                .execute(
                    "UPDATE journal SET state = 'in_doubt', error_kind = 'lease_expired',
                        error_message = 'the host holding this call stopped before recording its outcome',
                        settle_at_ms = lease_until_ms + settle_ms, updated_ms = ?1
                     WHERE state = 'pending' AND lease_until_ms < ?1",
                    params![now_ms()],
                )
                .map_err(err)?;
            Ok(n as u64)
        })
        .await
    }

    pub async fn prune(&self, retention_ms: i64) -> Result<u64, JournalError> {
        self.with(move |c| {
            let n = c
                .execute(
                    "DELETE FROM journal WHERE state IN ('succeeded', 'failed') AND updated_ms < ?1",
                    params![now_ms().saturating_sub(retention_ms)],
                )
                .map_err(err)?;
            Ok(n as u64)
        })
        .await
    }

    pub async fn list(&self, q: &ListQuery) -> Result<Vec<Entry>, JournalError> {
        let q = q.clone();
        self.with(move |c| {
            let mut stmt = c
                .prepare_cached(concat!(
                    "SELECT ",
                    entry_columns!(),
                    " FROM journal
                     WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR venue = ?2)
                       AND (?3 IS NULL OR (created_ms, venue, key) > (?3, ?4, ?5))
                     ORDER BY created_ms, venue, key LIMIT ?6"
                ))
                .map_err(err)?;
            let after = q.after.as_ref();
            let rows = stmt
                .query_map(
                    params![
                        q.state.map(State::as_str),
                        q.venue,
                        after.map(|a| a.created_ms),
                        after.map(|a| a.venue.as_str()),
                        after.map(|a| a.key.as_str()),
                        q.limit
                    ],
                    row,
                )
                .map_err(err)?;
            rows.map(|r| r.map_err(err)).collect()
        })
        .await
    }

    pub async fn get(&self, venue: &str, key: &str) -> Result<Option<Entry>, JournalError> {
        let (venue, key) = (venue.to_string(), key.to_string());
        self.with(move |c| get(c, &venue, &key)).await
    }

    pub async fn clock_ms(&self) -> Result<i64, JournalError> {
        Ok(now_ms())
    }

    pub fn stats(&self) -> PoolStats {
        let busy = self.conn.try_lock().is_err();
        PoolStats {
            size: 1,
            idle: usize::from(!busy),
            waiting: 0,
            failures: 0,
        }
    }
}

fn migrate(c: &Connection) -> Result<(), JournalError> {
    let version: i64 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(err)?;
    for (i, step) in SCHEMA.iter().enumerate().skip(version.max(0) as usize) {
        c.execute_batch(&format!(
            "BEGIN IMMEDIATE; {step}; PRAGMA user_version = {}; COMMIT;",
            i + 1
        ))
        .map_err(err)?;
    }
    Ok(())
}

fn get(c: &Connection, venue: &str, key: &str) -> Result<Option<Entry>, JournalError> {
    c.query_row(
        concat!(
            "SELECT ",
            entry_columns!(),
            " FROM journal WHERE venue = ?1 AND key = ?2"
        ),
        params![venue, key],
        row,
    )
    .optional()
    .map_err(err)
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    let state: String = r.get(5)?;
    Ok(Entry {
        venue: r.get(0)?,
        key: r.get(1)?,
        operation: r.get(2)?,
        params: r.get(3)?,
        digest: r.get(4)?,
        state: State::parse(&state).unwrap_or(State::InDoubt),
        result: r.get(6)?,
        error_kind: r.get(7)?,
        error_message: r.get(8)?,
        created_ms: r.get(9)?,
        updated_ms: r.get(10)?,
        attempt: r.get(11)?,
        lease_until_ms: r.get(12)?,
        settle_at_ms: r.get(13)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v1 store (no claims, leases or settle windows) upgrades in place:
    /// its `pending` row becomes one whose lease and settle window run two
    /// minutes past its last update, so it is reconciled, never trusted.
    #[tokio::test]
    async fn a_v1_store_is_migrated_and_its_open_intents_stay_guarded() {
        let dir = std::env::temp_dir().join(format!("rh-journal-v1-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("j.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(SCHEMA[0]).unwrap();
            c.pragma_update(None, "user_version", 1).unwrap();
            c.execute(
                "INSERT INTO journal (venue, key, operation, params, digest, state, created_ms, updated_ms)
                 VALUES ('v', 'k', 'create', '{}', 'd', 'pending', 1000, 1000)",
                [],
            )
            .unwrap();
        }
        let j = SqliteJournal::open(&path).unwrap();
        let e = j.get("v", "k").await.unwrap().unwrap();
        assert_eq!((e.state, e.attempt), (State::Pending, 1));
        assert_eq!((e.lease_until_ms, e.settle_at_ms), (121_000, 121_000));
        assert_eq!(
            j.expire_leases().await.unwrap(),
            1,
            "its lease is long over"
        );
        let e = j.get("v", "k").await.unwrap().unwrap();
        assert_eq!(e.state, State::InDoubt);
        drop(j);
        // Opening again migrates nothing twice.
        let j = SqliteJournal::open(&path).unwrap();
        assert_eq!(
            j.get("v", "k").await.unwrap().unwrap().state,
            State::InDoubt
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
