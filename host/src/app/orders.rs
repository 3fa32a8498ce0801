//! Mutating calls (orders): the plugin's `prepare` chooses the idempotency
//! key, then the [journal protocol](crate::journal::protocol) sends the
//! order at most once per key. Also the journal's sweeper and its API view.
//!
//! The caller's `Idempotency-Key` header reaches `prepare` as its
//! `caller-key` argument; the plugin derives the venue's client order id
//! from it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::invoke::{check_output_size, invoke_json, venue_error};
use super::{App, VenueRuntime};
use crate::error::CallError;
use crate::journal::protocol::{BoxFuture, Executor, Order, Policy, SendLedger, Sweeper};
use crate::journal::{self, Cursor, ListQuery, State};
use crate::plugin::pool::{Call, Reply};
use crate::resilience::deadline::Deadline;

/// Longest `Idempotency-Key` accepted.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

/// Check an `Idempotency-Key` header value: 1 to 255 visible ASCII characters.
pub fn check_idempotency_key(key: &str) -> Result<(), CallError> {
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(CallError::InvalidParams(format!(
            "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"
        )));
    }
    Ok(())
}

/// A venue's plugin as the protocol's [`Executor`], for one call's deadline.
struct PluginExecutor {
    venue: Arc<VenueRuntime>,
    deadline: Deadline,
}

impl Executor for PluginExecutor {
    fn invoke(
        self: Arc<Self>,
        operation: String,
        params: String,
        sends: Arc<SendLedger>,
    ) -> BoxFuture<Result<Value, CallError>> {
        Box::pin(async move {
            let scope = self.venue.scope(self.deadline).counting_sends(sends);
            invoke_json(&self.venue, &scope, &operation, &params).await
        })
    }

    fn reconcile(
        self: Arc<Self>,
        operation: String,
        params: String,
        key: String,
    ) -> BoxFuture<Result<Option<Value>, CallError>> {
        Box::pin(async move {
            let scope = self.venue.scope(self.deadline);
            let reply = self
                .venue
                .pool
                .run(
                    Some(scope),
                    Call::Reconcile {
                        operation: &operation,
                        params: &params,
                        key: &key,
                    },
                    self.deadline.remaining(),
                )
                .await?;
            let Reply::Reconciled(found) = reply else {
                return Err(CallError::Plugin(
                    "reconcile returned the wrong reply".into(),
                ));
            };
            match found.map_err(venue_error)? {
                None => Ok(None),
                Some(text) => {
                    check_output_size(&self.venue, "reconcile", &text)?;
                    serde_json::from_str(&text)
                        .map(Some)
                        .map_err(|e| CallError::Plugin(format!("reconcile returned non-JSON: {e}")))
                }
            }
        })
    }
}

impl App {
    /// A mutating call: `prepare`, then at most one send per key.
    pub(super) async fn order(
        &self,
        v: &Arc<VenueRuntime>,
        operation: &str,
        params: &Value,
        idempotency_key: Option<&str>,
        deadline: Deadline,
    ) -> Result<Value, CallError> {
        if let Some(key) = idempotency_key {
            check_idempotency_key(key)?;
        }
        // Without `preserve_order`, serde_json's maps are sorted: this text is
        // canonical, so a retry with the same params has the same digest.
        let caller_params = params.to_string();
        let reply = v
            .pool
            .run(
                Some(v.scope(deadline)),
                Call::Prepare {
                    operation,
                    params: &caller_params,
                    caller_key: idempotency_key,
                },
                deadline.remaining(),
            )
            .await?;
        let Reply::Prepared(prepared) = reply else {
            return Err(CallError::Plugin("prepare returned the wrong reply".into()));
        };
        let prepared = prepared.map_err(venue_error)?;
        let Some(key) = prepared.idempotency_key.filter(|k| !k.is_empty()) else {
            return Err(CallError::InvalidParams(format!(
                "{operation} places an order and the plugin chose no idempotency key for it; \
                 send an Idempotency-Key header so that a retry cannot place it twice"
            )));
        };
        // Both are journaled and kept for the retention period.
        if key.len() > MAX_IDEMPOTENCY_KEY || key.chars().any(char::is_control) {
            return Err(CallError::Plugin(format!(
                "prepare returned an idempotency key that is not 1 to {MAX_IDEMPOTENCY_KEY} bytes \
                 without control characters"
            )));
        }
        check_output_size(v, "prepare", &prepared.params)?;
        tracing::debug!(idempotency_key = %key, "prepared mutating call");
        let digest = journal::digest(operation, &caller_params);
        let order = Order {
            venue: &v.name,
            operation,
            key: &key,
            digest: &digest,
            params: &prepared.params,
        };
        let exec = Arc::new(PluginExecutor {
            venue: Arc::clone(v),
            deadline,
        });
        let policy = Policy {
            deadline: deadline.remaining(),
            settle: v.settle,
        };
        self.protocol.call(&exec, &order, policy).await
    }

    /// Sweep the journal every `journal.sweep_interval_ms` (the first sweep
    /// at once, so intents left by an earlier run are settled at start-up).
    pub fn spawn_journal_sweeper(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let app = Arc::downgrade(self);
        let mut sweeper = self.journal_sweeper();
        let every = Duration::from_millis(self.config.journal.sweep_interval_ms);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(app) = app.upgrade() else { break };
                app.sweep_journal(&mut sweeper).await;
            }
        })
    }

    /// A sweeper over this host's journal, with the configured batch and
    /// retention (`journal.sweep_batch`, `journal.retention_days`).
    pub fn journal_sweeper(&self) -> Sweeper {
        let cfg = &self.config.journal;
        Sweeper::new(
            self.protocol.clone(),
            cfg.sweep_batch,
            Duration::from_secs(u64::from(cfg.retention_days) * 86_400),
        )
    }

    /// One sweep over the venues serving now; what it did is logged.
    pub async fn sweep_journal(&self, sweeper: &mut Sweeper) -> journal::protocol::SweepReport {
        let loaded = self.loaded();
        let venue = |name: &str| {
            let v = loaded.venues.get(name)?;
            let exec = Arc::new(PluginExecutor {
                venue: Arc::clone(v),
                deadline: Deadline::after(v.deadline),
            });
            Some((
                exec,
                Policy {
                    deadline: v.deadline,
                    settle: v.settle,
                },
            ))
        };
        match sweeper.sweep(venue).await {
            Ok(r) => {
                if r.expired + r.found + r.not_sent + r.pruned > 0 {
                    tracing::info!(
                        expired = r.expired,
                        found = r.found,
                        not_sent = r.not_sent,
                        still_in_doubt = r.open,
                        pruned = r.pruned,
                        "journal sweep"
                    );
                }
                r
            }
            Err(e) => {
                tracing::warn!(error = %e, "journal sweep failed; the next one tries again");
                Default::default()
            }
        }
    }

    /// `GET /v1/journal?venue=&state=&limit=&cursor=`: a page of entries,
    /// oldest first, and the cursor of the next page (absent on the last).
    pub async fn journal_json(
        &self,
        venue: Option<&str>,
        state: Option<&str>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Value, CallError> {
        let state = match state {
            None => None,
            Some(s) => Some(State::parse(s).ok_or_else(|| {
                CallError::InvalidParams(format!(
                    "state must be pending, succeeded, failed or in_doubt, not {s:?}"
                ))
            })?),
        };
        let after = match cursor {
            None => None,
            Some(c) => Some(Cursor::decode(c).ok_or_else(|| {
                CallError::InvalidParams("cursor is not one this host handed out".into())
            })?),
        };
        let limit = limit.clamp(1, 1_000);
        let entries = self
            .protocol
            .journal()
            .list(&ListQuery {
                venue: venue.map(str::to_string),
                state,
                after,
                limit,
            })
            .await
            .map_err(|e| CallError::Unavailable(e.to_string()))?;
        let next = (entries.len() as u32 == limit)
            .then(|| entries.last().map(|e| Cursor::after(e).encode()))
            .flatten();
        Ok(json!({
            "backend": self.protocol.journal().backend(),
            "entries": entries,
            "next_cursor": next,
        }))
    }
}
