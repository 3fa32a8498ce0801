//! The embedded default store: one SQLite file (bundled SQLite, WAL mode),
//! used when no PostgreSQL URL is configured, so the host runs with no
//! server. Calls run on tokio's blocking pool; the connection is behind a
//! mutex (SQLite serialises writers anyway).

use std::path::Path;
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, params};

use super::{Begin, Entry, JournalError, Outcome, PoolStats, State, digest, now_ms};

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

    pub async fn begin(
        &self,
        venue: &str,
        operation: &str,
        key: &str,
        params: &str,
    ) -> Result<Begin, JournalError> {
        let (venue, operation, key, params) = (
            venue.to_string(),
            operation.to_string(),
            key.to_string(),
            params.to_string(),
        );
        self.with(move |c| {
            let now = now_ms();
            let inserted = c
                .execute(
                    "INSERT OR IGNORE INTO journal (venue, key, operation, params, digest, state, created_ms, updated_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?6)",
                    params![venue, key, operation, params, digest(&params), now],
                )
                .map_err(err)?;
            if inserted == 1 {
                return Ok(Begin::New);
            }
            let e = get(c, &venue, &key)?.ok_or_else(|| err("intent vanished"))?;
            Ok(Begin::Existing(Box::new(e)))
        })
        .await
    }

    pub async fn finish(
        &self,
        venue: &str,
        key: &str,
        outcome: &Outcome,
    ) -> Result<(), JournalError> {
        let (venue, key, outcome) = (venue.to_string(), key.to_string(), outcome.clone());
        self.with(move |c| {
            let (state, result, kind, message) = columns(&outcome);
            c.execute(
                "UPDATE journal SET state = ?3, result = ?4, error_kind = ?5, error_message = ?6, updated_ms = ?7
                 WHERE venue = ?1 AND key = ?2",
                params![venue, key, state, result, kind, message, now_ms()],
            )
            .map_err(err)?;
            Ok(())
        })
        .await
    }

    pub async fn list(&self, state: Option<State>, limit: u32) -> Result<Vec<Entry>, JournalError> {
        self.with(move |c| {
            let mut stmt = c
                .prepare(
                    concat!("SELECT ", entry_columns!(), "
                     FROM journal WHERE (?1 IS NULL OR state = ?1) ORDER BY created_ms, venue, key LIMIT ?2"),
                )
                .map_err(err)?;
            let rows = stmt
                .query_map(params![state.map(State::as_str), limit], row)
                .map_err(err)?;
            rows.map(|r| r.map_err(err)).collect()
        })
        .await
    }

    pub async fn get(&self, venue: &str, key: &str) -> Result<Option<Entry>, JournalError> {
        let (venue, key) = (venue.to_string(), key.to_string());
        self.with(move |c| get(c, &venue, &key)).await
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

pub(crate) fn columns(
    o: &Outcome,
) -> (&'static str, Option<String>, Option<String>, Option<String>) {
    match o {
        Outcome::Succeeded { result } => ("succeeded", Some(result.clone()), None, None),
        Outcome::Failed { kind, message } => {
            ("failed", None, Some(kind.clone()), Some(message.clone()))
        }
        Outcome::InDoubt { kind, message } => {
            ("in_doubt", None, Some(kind.clone()), Some(message.clone()))
        }
    }
}

fn migrate(c: &Connection) -> Result<(), JournalError> {
    let version: i64 = c
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(err)?;
    for (i, step) in SCHEMA.iter().enumerate().skip(version.max(0) as usize) {
        c.execute_batch(step).map_err(err)?;
        c.pragma_update(None, "user_version", (i + 1) as i64)
            .map_err(err)?;
    }
    Ok(())
}

fn get(c: &Connection, venue: &str, key: &str) -> Result<Option<Entry>, JournalError> {
    c.query_row(
        concat!(
            "SELECT ",
            entry_columns!(),
            "
         FROM journal WHERE venue = ?1 AND key = ?2"
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
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Journal;

    #[tokio::test]
    async fn embedded_store_passes_the_journal_suite() {
        let dir = std::env::temp_dir().join(format!("rh-journal-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let j = Journal::Sqlite(SqliteJournal::open(&dir.join("j.db")).unwrap());
        crate::journal::conformance::run(&j).await;
        // Reopening keeps everything (and the migration is idempotent).
        drop(j);
        let j = Journal::Sqlite(SqliteJournal::open(&dir.join("j.db")).unwrap());
        assert_eq!(j.list(None, 100).await.unwrap().len(), 5);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
