//! PostgreSQL store through a `deadpool-postgres` pool.
//!
//! | `[journal.pool]` key      | default | meaning |
//! |---------------------------|---------|---------|
//! | `max_size`                | 20      | connections at most |
//! | `acquire_timeout_ms`      | 5000    | wait for a free connection, per try |
//! | `acquire_retries`         | 3       | tries after the first, `acquire_retry_delay_ms` (500) apart, doubling |
//! | `max_lifetime_ms`         | 3600000 | connections older than this are closed (rotation) |
//! | `idle_timeout_ms`         | 300000  | connections unused this long are closed |
//! | `health_check_ms`         | 60000   | how often rotation and idle cleanup run |
//! | `verify_after_idle_ms`    | 1000    | a connection idle this long runs `SELECT 1` before use |
//!
//! A URL with `sslmode=require` connects over TLS (rustls, ring), verifying
//! the server against the Mozilla roots and `journal.tls_ca_file`.
//!
//! A checkout of a connection that sat idle for `verify_after_idle_ms` (1000)
//! runs a cheap query first, so a connection the server killed is replaced
//! instead of failing the caller; statements are prepared once per connection. The schema is migrated at
//! start-up (versioned, in one transaction under an advisory lock, so
//! replicas starting together do not race); when the database is down at
//! start-up the host still starts, mutating calls fail `unavailable`, and
//! the migration is retried on the next use.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

use super::{Claim, Entry, Intent, JournalError, ListQuery, Outcome, PoolStats, State};
use crate::config::DbPoolConfig;
use crate::error::error_chain;

const MIGRATIONS: &[&str] = &[
    // v1
    "CREATE TABLE IF NOT EXISTS resilience_journal (
        venue TEXT NOT NULL,
        key TEXT NOT NULL,
        operation TEXT NOT NULL,
        params TEXT NOT NULL,
        digest TEXT NOT NULL,
        state TEXT NOT NULL,
        result TEXT,
        error_kind TEXT,
        error_message TEXT,
        created_ms BIGINT NOT NULL,
        updated_ms BIGINT NOT NULL,
        PRIMARY KEY (venue, key)
    );
    CREATE INDEX IF NOT EXISTS resilience_journal_state ON resilience_journal (state, created_ms);",
    // v2: claims (attempt), leases and settle windows, all on the database's
    // clock. Rows from v1 get a lease and a settle window of two minutes from
    // their last update, so a v1 `pending` row is reconciled, never trusted.
    "ALTER TABLE resilience_journal ADD COLUMN IF NOT EXISTS attempt BIGINT NOT NULL DEFAULT 1;
    ALTER TABLE resilience_journal ADD COLUMN IF NOT EXISTS lease_until_ms BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE resilience_journal ADD COLUMN IF NOT EXISTS settle_ms BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE resilience_journal ADD COLUMN IF NOT EXISTS settle_at_ms BIGINT NOT NULL DEFAULT 0;
    UPDATE resilience_journal SET lease_until_ms = updated_ms + 120000, settle_ms = 120000,
        settle_at_ms = updated_ms + 120000;
    CREATE INDEX IF NOT EXISTS resilience_journal_updated ON resilience_journal (state, updated_ms);
    CREATE INDEX IF NOT EXISTS resilience_journal_venue ON resilience_journal (venue, created_ms);",
];

/// The database's clock in ms since the Unix epoch: every time in the
/// journal comes from here, so replicas with skewed clocks agree.
const NOW: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

#[derive(Debug, Clone)]
pub struct PgJournal {
    pool: Pool,
    cfg: DbPoolConfig,
    migrated: Arc<AtomicBool>,
    failures: Arc<AtomicU64>,
}

fn err(e: impl std::fmt::Display) -> JournalError {
    JournalError(e.to_string())
}

impl PgJournal {
    /// A pool for `url` (never logged: it may carry a password). Does not
    /// fail when the database is down; see the module docs.
    pub async fn connect(url: &str, cfg: DbPoolConfig) -> Result<Self, JournalError> {
        Self::connect_with_ca(url, cfg, None).await
    }

    /// Like [`PgJournal::connect`]; a URL with `sslmode=require` connects
    /// over TLS (rustls), trusting the Mozilla roots and `ca_file` (PEM).
    pub async fn connect_with_ca(
        url: &str,
        cfg: DbPoolConfig,
        ca_file: Option<&std::path::Path>,
    ) -> Result<Self, JournalError> {
        let pg: tokio_postgres::Config = url
            .parse()
            .map_err(|e| err(format!("the database URL is not valid: {e}")))?;
        // Checkout checks `is_closed` only; a connection that sat idle longer
        // than `verify_after_idle_ms` also runs `SELECT 1` first (the
        // pre-recycle hook below), so a connection the server dropped while
        // idle is replaced, without a round trip on every busy checkout.
        let mgr_cfg = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let mgr = if matches!(pg.get_ssl_mode(), tokio_postgres::config::SslMode::Require) {
            Manager::from_config(pg, tls_connector(ca_file)?, mgr_cfg)
        } else {
            Manager::from_config(pg, NoTls, mgr_cfg)
        };
        let verify_after = Duration::from_millis(cfg.verify_after_idle_ms);
        let pool = Pool::builder(mgr)
            .pre_recycle(deadpool_postgres::Hook::async_fn(move |client, metrics| {
                Box::pin(async move {
                    if metrics.last_used() >= verify_after {
                        client
                            .simple_query("SELECT 1")
                            .await
                            .map_err(deadpool_postgres::HookError::Backend)?;
                    }
                    Ok(())
                })
            }))
            .max_size(cfg.max_size as usize)
            .wait_timeout(Some(Duration::from_millis(cfg.acquire_timeout_ms)))
            .create_timeout(Some(Duration::from_millis(cfg.acquire_timeout_ms)))
            .recycle_timeout(Some(Duration::from_millis(cfg.acquire_timeout_ms)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(err)?;
        let j = Self {
            pool,
            cfg,
            migrated: Arc::new(AtomicBool::new(false)),
            failures: Arc::new(AtomicU64::new(0)),
        };
        if let Err(e) = j.migrate().await {
            tracing::error!(error = %e, "journal database unavailable at start-up; mutating calls fail until it is reachable");
        }
        j.spawn_maintenance();
        Ok(j)
    }

    /// Rotation and idle cleanup on an interval, for as long as the pool lives.
    fn spawn_maintenance(&self) {
        let weak = self.pool.weak();
        let (lifetime, idle) = (
            Duration::from_millis(self.cfg.max_lifetime_ms),
            Duration::from_millis(self.cfg.idle_timeout_ms),
        );
        let every = Duration::from_millis(self.cfg.health_check_ms.max(100));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(pool) = weak.upgrade() else { break };
                let r = pool.retain(|_, m| m.age() < lifetime && m.last_used() < idle);
                if !r.removed.is_empty() {
                    tracing::debug!(
                        closed = r.removed.len(),
                        "journal pool: rotated or idle connections closed"
                    );
                }
            }
        });
    }

    /// A connection, retrying `acquire_retries` times with doubling delays.
    async fn conn(&self) -> Result<deadpool_postgres::Object, JournalError> {
        let mut delay = Duration::from_millis(self.cfg.acquire_retry_delay_ms);
        let mut tries = 0;
        loop {
            match self.pool.get().await {
                Ok(c) => return Ok(c),
                Err(e) => {
                    self.failures.fetch_add(1, Ordering::Relaxed);
                    if tries >= self.cfg.acquire_retries {
                        // tokio-postgres errors never carry the URL (nor its password).
                        let why = match &e {
                            deadpool_postgres::PoolError::Backend(inner) => error_chain(inner),
                            other => error_chain(other),
                        };
                        return Err(err(format!(
                            "no database connection after {} tries: {why}",
                            tries + 1
                        )));
                    }
                    tries += 1;
                    tracing::warn!(error = %e, try_ = tries, "journal: acquiring a connection failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        }
    }

    async fn migrate(&self) -> Result<(), JournalError> {
        if self.migrated.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut c = self.conn().await?;
        let tx = c.transaction().await.map_err(|e| self.fail(e))?;
        tx.batch_execute(
            "SELECT pg_advisory_xact_lock(74315001);
             CREATE TABLE IF NOT EXISTS resilience_schema (version INTEGER NOT NULL);",
        )
        .await
        .map_err(|e| self.fail(e))?;
        let version: i32 = tx
            .query_opt("SELECT max(version) FROM resilience_schema", &[])
            .await
            .map_err(|e| self.fail(e))?
            .and_then(|r| r.get::<_, Option<i32>>(0))
            .unwrap_or(0);
        for (i, step) in MIGRATIONS.iter().enumerate().skip(version.max(0) as usize) {
            tx.batch_execute(step).await.map_err(|e| self.fail(e))?;
            tx.execute(
                "INSERT INTO resilience_schema (version) VALUES ($1)",
                &[&((i + 1) as i32)],
            )
            .await
            .map_err(|e| self.fail(e))?;
        }
        tx.commit().await.map_err(|e| self.fail(e))?;
        self.migrated.store(true, Ordering::Release);
        Ok(())
    }

    fn fail(&self, e: tokio_postgres::Error) -> JournalError {
        self.failures.fetch_add(1, Ordering::Relaxed);
        err(e)
    }

    /// Run one prepared statement, returning its rows.
    async fn rows(
        &self,
        sql: &str,
        args: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, JournalError> {
        self.migrate().await?;
        let c = self.conn().await?;
        let stmt = c.prepare_cached(sql).await.map_err(|e| self.fail(e))?;
        c.query(&stmt, args).await.map_err(|e| self.fail(e))
    }

    pub async fn claim(&self, i: &Intent<'_>) -> Result<Claim, JournalError> {
        // Insert, else re-claim a failed intent, else read the row as it is:
        // each step one atomic statement (the primary key decides the insert,
        // the UPDATE's row lock and WHERE decide the re-claim), so of any
        // number of concurrent claims exactly one wins.
        let inserted = self
            .rows(
                &format!(
                    "INSERT INTO resilience_journal (venue, key, operation, params, digest, state,
                        created_ms, updated_ms, attempt, lease_until_ms, settle_ms, settle_at_ms)
                     VALUES ($1, $2, $3, $4, $5, 'pending', {NOW}, {NOW}, 1, {NOW} + $6, $7, 0)
                     ON CONFLICT (venue, key) DO NOTHING RETURNING attempt"
                ),
                &[
                    &i.venue,
                    &i.key,
                    &i.operation,
                    &i.params,
                    &i.digest,
                    &i.lease_ms,
                    &i.settle_ms,
                ],
            )
            .await?;
        if !inserted.is_empty() {
            return Ok(Claim::Won {
                attempt: 1,
                params: i.params.to_string(),
            });
        }
        let reclaimed = self
            .rows(
                &format!(
                    "UPDATE resilience_journal SET state = 'pending', attempt = attempt + 1,
                        lease_until_ms = {NOW} + $5, settle_ms = $6, result = NULL, error_kind = NULL,
                        error_message = NULL, updated_ms = {NOW}
                     WHERE venue = $1 AND key = $2 AND state = 'failed' AND operation = $3 AND digest = $4
                     RETURNING attempt, params"
                ),
                &[&i.venue, &i.key, &i.operation, &i.digest, &i.lease_ms, &i.settle_ms],
            )
            .await?;
        if let Some(r) = reclaimed.first() {
            return Ok(Claim::Won {
                attempt: r.get(0),
                params: r.get(1),
            });
        }
        let rows = self
            .rows(
                &format!(
                    concat!(
                        "SELECT ",
                        entry_columns!(),
                        ", {NOW} FROM resilience_journal WHERE venue = $1 AND key = $2"
                    ),
                    NOW = NOW
                ),
                &[&i.venue, &i.key],
            )
            .await?;
        let r = rows.first().ok_or_else(|| err("intent vanished"))?;
        Ok(Claim::Existing {
            entry: Box::new(entry(r)),
            now_ms: r.get(14),
        })
    }

    pub async fn finish(
        &self,
        venue: &str,
        key: &str,
        attempt: i64,
        outcome: &Outcome,
    ) -> Result<bool, JournalError> {
        let (state, result, kind, message) = outcome.columns();
        let rows = self
            .rows(
                &format!(
                    "UPDATE resilience_journal SET state = $4, result = $5, error_kind = $6, error_message = $7,
                        updated_ms = {NOW},
                        settle_at_ms = CASE WHEN $4 = 'in_doubt' THEN {NOW} + settle_ms ELSE settle_at_ms END
                     WHERE venue = $1 AND key = $2 AND attempt = $3 AND state = 'pending' RETURNING 1"
                ),
                &[&venue, &key, &attempt, &state, &result, &kind, &message],
            )
            .await?;
        Ok(rows.len() == 1)
    }

    pub async fn resolve(
        &self,
        venue: &str,
        key: &str,
        attempt: i64,
        outcome: &Outcome,
    ) -> Result<bool, JournalError> {
        let (state, result, kind, message) = outcome.columns();
        let rows = self
            .rows(
                &format!(
                    "UPDATE resilience_journal SET state = $4, result = $5, error_kind = $6, error_message = $7,
                        updated_ms = {NOW}
                     WHERE venue = $1 AND key = $2 AND attempt = $3 AND state = 'in_doubt'
                       AND ($4 <> 'failed' OR settle_at_ms <= {NOW}) RETURNING 1"
                ),
                &[&venue, &key, &attempt, &state, &result, &kind, &message],
            )
            .await?;
        Ok(rows.len() == 1)
    }

    pub async fn reclaim(
        &self,
        venue: &str,
        key: &str,
        attempt: i64,
        lease_ms: i64,
    ) -> Result<Option<Claim>, JournalError> {
        let rows = self
            .rows(
                &format!(
                    "UPDATE resilience_journal SET state = 'pending', attempt = attempt + 1,
                        lease_until_ms = {NOW} + $4, result = NULL, error_kind = NULL, error_message = NULL,
                        updated_ms = {NOW}
                     WHERE venue = $1 AND key = $2 AND attempt = $3 AND state = 'in_doubt'
                       AND settle_at_ms <= {NOW}
                     RETURNING attempt, params"
                ),
                &[&venue, &key, &attempt, &lease_ms],
            )
            .await?;
        Ok(rows.first().map(|r| Claim::Won {
            attempt: r.get(0),
            params: r.get(1),
        }))
    }

    pub async fn expire_leases(&self) -> Result<u64, JournalError> {
        let rows = self
            .rows(
                &format!(
                    "UPDATE resilience_journal SET state = 'in_doubt', error_kind = 'lease_expired',
                        error_message = 'the host holding this call stopped before recording its outcome',
                        settle_at_ms = lease_until_ms + settle_ms, updated_ms = {NOW}
                     WHERE state = 'pending' AND lease_until_ms < {NOW} RETURNING 1"
                ),
                &[],
            )
            .await?;
        Ok(rows.len() as u64)
    }

    pub async fn prune(&self, retention_ms: i64) -> Result<u64, JournalError> {
        let rows = self
            .rows(
                &format!(
                    "DELETE FROM resilience_journal
                     WHERE state IN ('succeeded', 'failed') AND updated_ms < {NOW} - $1 RETURNING 1"
                ),
                &[&retention_ms],
            )
            .await?;
        Ok(rows.len() as u64)
    }

    pub async fn list(&self, q: &ListQuery) -> Result<Vec<Entry>, JournalError> {
        let after = q.after.as_ref();
        let rows = self
            .rows(
                concat!(
                    "SELECT ",
                    entry_columns!(),
                    " FROM resilience_journal
                     WHERE ($1::TEXT IS NULL OR state = $1) AND ($2::TEXT IS NULL OR venue = $2)
                       AND ($3::BIGINT IS NULL OR (created_ms, venue, key) > ($3, $4::TEXT, $5::TEXT))
                     ORDER BY created_ms, venue, key LIMIT $6"
                ),
                &[
                    &q.state.map(State::as_str),
                    &q.venue,
                    &after.map(|a| a.created_ms),
                    &after.map(|a| a.venue.as_str()),
                    &after.map(|a| a.key.as_str()),
                    &i64::from(q.limit),
                ],
            )
            .await?;
        Ok(rows.iter().map(entry).collect())
    }

    pub async fn get(&self, venue: &str, key: &str) -> Result<Option<Entry>, JournalError> {
        let rows = self
            .rows(
                concat!(
                    "SELECT ",
                    entry_columns!(),
                    " FROM resilience_journal WHERE venue = $1 AND key = $2"
                ),
                &[&venue, &key],
            )
            .await?;
        Ok(rows.first().map(entry))
    }

    pub async fn clock_ms(&self) -> Result<i64, JournalError> {
        let rows = self.rows(&format!("SELECT {NOW}"), &[]).await?;
        rows.first()
            .map(|r| r.get(0))
            .ok_or_else(|| err("the database returned no clock"))
    }

    /// Hold a pooled connection for `secs` inside the database (tests of
    /// pool exhaustion use it).
    #[doc(hidden)]
    pub async fn list_sleeping(&self, secs: f64) -> Result<(), JournalError> {
        let c = self.conn().await?;
        c.simple_query(&format!("SELECT pg_sleep({secs})"))
            .await
            .map_err(|e| self.fail(e))?;
        Ok(())
    }

    pub fn stats(&self) -> PoolStats {
        let s = self.pool.status();
        PoolStats {
            size: s.size,
            idle: s.available,
            waiting: s.waiting,
            failures: self.failures.load(Ordering::Relaxed),
        }
    }
}

/// rustls with the Mozilla roots plus `ca_file`.
fn tls_connector(
    ca_file: Option<&std::path::Path>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, JournalError> {
    let config = crate::tls::client_config(ca_file, "journal.tls_ca_file").map_err(err)?;
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

fn entry(r: &tokio_postgres::Row) -> Entry {
    let state: String = r.get(5);
    Entry {
        venue: r.get(0),
        key: r.get(1),
        operation: r.get(2),
        params: r.get(3),
        digest: r.get(4),
        state: State::parse(&state).unwrap_or(State::InDoubt),
        result: r.get(6),
        error_kind: r.get(7),
        error_message: r.get(8),
        created_ms: r.get(9),
        updated_ms: r.get(10),
        attempt: r.get(11),
        lease_until_ms: r.get(12),
        settle_at_ms: r.get(13),
    }
}
