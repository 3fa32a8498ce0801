//! The journal protocol: how a mutating call (an order) is sent at most once
//! per (venue, idempotency key), whatever its callers, the network and the
//! host's processes do.
//!
//! # Invariants
//!
//! 1. **One send in flight per key.** A send needs a claim, and a claim is
//!    one atomic compare-and-set in the store (a new row, or `failed` →
//!    `pending` under the next `attempt`; see the table in
//!    [`journal`](super)). Only the holder of the current `attempt` writes an
//!    outcome, so a stale writer (a slow replica, a holder whose lease ran
//!    out, a reconcile that lost a race) never overwrites a newer one.
//! 2. **Calls survive their callers.** A claimed call runs in a task of its
//!    own until its outcome is recorded; the caller only waits for it. A
//!    caller that hangs up changes nothing.
//! 3. **"Never sent" needs proof**: no non-idempotent request of the call
//!    may have been written ([`SendLedger`]: connection refused, no
//!    connection slot, breaker open and local rate limits prove it), the
//!    venue definitively refused every one that was (a 4xx other than 408,
//!    and the call failed with that answer), or a reconcile lookup that
//!    *started* after the settle window says "not found".
//! 4. **Anything that may have reached the venue is in doubt**: timeouts and
//!    resets after writing, 5xx, 408, unreadable answers, a plugin trap or a
//!    follow-up failing after a send, a caller deadline that cut a send short.
//! 5. **No intent is forgotten.** A holder that dies leaves a `pending` row
//!    whose lease ends; the [`Sweeper`] moves it to `in_doubt` and
//!    reconciles every in-doubt intent at a bounded rate, whatever its age.
//!
//! # Transitions
//!
//! | from        | event                                                   | to                    | by |
//! |-------------|---------------------------------------------------------|-----------------------|----|
//! | (none)      | claim                                                   | `pending` (attempt 1) | a caller |
//! | `failed`    | claim with the same operation and params                | `pending` (attempt + 1), stored params | a caller |
//! | `pending`   | the call succeeded                                      | `succeeded`           | the holder |
//! | `pending`   | the call failed and nothing may have been accepted      | `failed`              | the holder |
//! | `pending`   | the call failed after a request may have left           | `in_doubt`, settle window starts | the holder |
//! | `pending`   | the lease ended (the holder died or hung)               | `in_doubt`, window from the lease's end | the sweeper |
//! | `in_doubt`  | reconcile found the order                               | `succeeded`           | a caller or the sweeper |
//! | `in_doubt`  | reconcile started after the window and found nothing    | `pending` (attempt + 1) and re-sent | a caller |
//! | `in_doubt`  | the same, with no caller waiting                        | `failed` (`not_sent`) | the sweeper |
//! | `succeeded`, `failed` | older than `journal.retention_days`           | deleted               | the sweeper |
//!
//! A key is one order while its entry is kept: once the sweeper deletes a
//! finished entry, the key is unknown and a claim with it starts afresh.
//! So `journal.retention_days` is at least 1 (the config refuses 0).
//!
//! What a caller gets for a key that is already journaled: `succeeded`, the
//! recorded result (no send); `pending`, `409 conflict` with `retry_after_ms`
//! until the holder's lease ends (a retry does not wait for the outcome: the
//! holder may be another replica); `in_doubt`, the reconciled result, a
//! re-send once "not found" is proven, else `409 conflict` with
//! `retry_after_ms` until the settle window ends. The same key with another
//! operation or other params is `409 conflict`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::Value;

use super::{Claim, Cursor, Entry, Intent, Journal, JournalError, ListQuery, Outcome, State};
use crate::error::CallError;

/// What the protocol needs of a venue: run the operation, look an intent up.
pub trait Executor: Send + Sync + 'static {
    /// Run `operation` with `params`, noting in `sends` every non-idempotent
    /// request that may leave.
    fn invoke(
        self: Arc<Self>,
        operation: String,
        params: String,
        sends: Arc<SendLedger>,
    ) -> BoxFuture<Result<Value, CallError>>;

    /// What became of an intent: `Some(result)` when the venue has it,
    /// `None` when it does not (proof only after the settle window).
    fn reconcile(
        self: Arc<Self>,
        operation: String,
        params: String,
        key: String,
    ) -> BoxFuture<Result<Option<Value>, CallError>>;
}

pub type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

/// Per-venue timing of the protocol.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// The call's deadline: the holder's task gives up after it.
    pub deadline: Duration,
    /// How long after the last possible send a "not found" is not yet proof
    /// (`venues.NAME.reconcile_settle_ms`).
    pub settle: Duration,
}

/// Time a holder has beyond its deadline to record the outcome.
const LEASE_MARGIN: Duration = Duration::from_secs(2);
/// Hint for a caller when reconciling failed for a reason with no wait.
const RECONCILE_RETRY_MS: u64 = 1_000;
/// Claims one call tries before answering `conflict` (each lost race means
/// someone else moved the key on; a few rounds settle it).
const MAX_ROUNDS: usize = 4;

impl Policy {
    fn lease_ms(&self) -> i64 {
        (self.deadline + LEASE_MARGIN).as_millis() as i64
    }
    fn settle_ms(&self) -> i64 {
        self.settle.as_millis() as i64
    }
}

/// Which non-idempotent requests of one call may have reached the venue.
///
/// A request is counted *before* it is handed to the pipeline and uncounted
/// only on proof, so a send cut short (deadline, cancellation, crash) stays
/// counted: the safe side.
#[derive(Debug, Default)]
pub struct SendLedger {
    /// Requests that may have been written.
    written: AtomicU32,
    /// Of those, the ones the venue did not definitively refuse.
    unrefused: AtomicU32,
}

/// One counted request; say how it ended with [`Counted::not_sent`],
/// [`Counted::refused`] or [`Counted::may_have_left`]. Dropping it (a send
/// cut short) is the same as the last: it stays counted.
#[derive(Debug)]
pub struct Counted<'a>(&'a SendLedger);

impl SendLedger {
    /// Count a non-idempotent request about to be handed over.
    pub fn begin(&self) -> Counted<'_> {
        self.written.fetch_add(1, Ordering::SeqCst);
        self.unrefused.fetch_add(1, Ordering::SeqCst);
        Counted(self)
    }

    /// Whether any request may have been written.
    pub fn any_written(&self) -> bool {
        self.written.load(Ordering::SeqCst) > 0
    }

    /// Whether every request written was definitively refused.
    pub fn all_refused(&self) -> bool {
        self.unrefused.load(Ordering::SeqCst) == 0
    }
}

impl Counted<'_> {
    /// Proven never written (connect refused, breaker open, ...).
    pub fn not_sent(self) {
        self.0.written.fetch_sub(1, Ordering::SeqCst);
        self.0.unrefused.fetch_sub(1, Ordering::SeqCst);
    }

    /// The venue answered with a definitive refusal.
    pub fn refused(self) {
        self.0.unrefused.fetch_sub(1, Ordering::SeqCst);
    }

    /// The request may have been accepted (an answer other than a refusal,
    /// or none): it stays counted.
    pub fn may_have_left(self) {}
}

/// Whether an HTTP status definitively refuses a request: a 4xx other than
/// 408 (which says the server gave up reading, not that it refused).
pub fn is_refusal(status: u16) -> bool {
    (400..500).contains(&status) && status != 408
}

/// How a call that held the key ended, from its result and its sends.
pub fn outcome_of(result: &Result<Value, CallError>, sends: &SendLedger) -> Outcome {
    let e = match result {
        Ok(v) => {
            return Outcome::Succeeded {
                result: v.to_string(),
            };
        }
        Err(e) => e,
    };
    let (kind, message) = (e.kind().to_string(), e.to_string());
    let refused_by_venue = matches!(e, CallError::Upstream { status, .. } if is_refusal(*status))
        && sends.all_refused();
    if !sends.any_written() || refused_by_venue {
        Outcome::Failed { kind, message }
    } else {
        Outcome::InDoubt { kind, message }
    }
}

/// One mutating call to run under the protocol.
#[derive(Debug, Clone)]
pub struct Order<'a> {
    pub venue: &'a str,
    pub operation: &'a str,
    pub key: &'a str,
    /// [`digest`](super::digest) of the operation and the caller's params.
    pub digest: &'a str,
    /// The params `prepare` completed (stored on the first claim).
    pub params: &'a str,
}

/// The protocol over one store.
#[derive(Debug, Clone)]
pub struct Protocol {
    journal: Arc<Journal>,
}

impl Protocol {
    pub fn new(journal: Arc<Journal>) -> Self {
        Self { journal }
    }

    pub fn journal(&self) -> &Arc<Journal> {
        &self.journal
    }

    /// Run `order` at most once per key: the recorded result, the result of
    /// this call's send, or `conflict` while another send or a doubt is open.
    pub async fn call<E: Executor>(
        &self,
        exec: &Arc<E>,
        order: &Order<'_>,
        policy: Policy,
    ) -> Result<Value, CallError> {
        let intent = Intent {
            venue: order.venue,
            operation: order.operation,
            key: order.key,
            params: order.params,
            digest: order.digest,
            lease_ms: policy.lease_ms(),
            settle_ms: policy.settle_ms(),
        };
        for _ in 0..MAX_ROUNDS {
            let (entry, now_ms) = match self.journal.claim(&intent).await.map_err(unavailable)? {
                Claim::Won { attempt, params } => {
                    return self.hold(exec, order, attempt, params, policy).await;
                }
                Claim::Existing { entry, now_ms } => (*entry, now_ms),
            };
            if entry.operation != order.operation || entry.digest != order.digest {
                return Err(CallError::Conflict {
                    message: format!(
                        "idempotency key {:?} was already used for {} with different params",
                        entry.key, entry.operation
                    ),
                    retry_after_ms: None,
                });
            }
            match entry.state {
                State::Succeeded => return recorded(&entry),
                // Re-claimed by someone else between our two statements: look again.
                State::Failed => continue,
                State::Pending => {
                    return Err(conflict(
                        format!(
                            "a call with idempotency key {:?} is in flight (attempt {})",
                            entry.key, entry.attempt
                        ),
                        entry.lease_until_ms - now_ms,
                    ));
                }
                State::InDoubt => {
                    if let Some(done) = self.settle_doubt(exec, order, &entry, now_ms, policy).await
                    {
                        return done;
                    }
                }
            }
        }
        Err(conflict(
            format!(
                "idempotency key {:?} is contended; its state changed under every look",
                order.key
            ),
            RECONCILE_RETRY_MS as i64,
        ))
    }

    /// An in-doubt key: ask the venue. `None` means the row moved on while we
    /// asked: look again.
    async fn settle_doubt<E: Executor>(
        &self,
        exec: &Arc<E>,
        order: &Order<'_>,
        entry: &Entry,
        now_ms: i64,
        policy: Policy,
    ) -> Option<Result<Value, CallError>> {
        match look_up(Arc::clone(exec), entry, policy.deadline).await {
            Ok(Some(value)) => {
                let outcome = Outcome::Succeeded {
                    result: value.to_string(),
                };
                match self
                    .journal
                    .resolve(&entry.venue, &entry.key, entry.attempt, &outcome)
                    .await
                {
                    Ok(true) => {
                        tracing::info!(venue = %entry.venue, key = %entry.key, "journal: reconciled, the venue has it");
                        Some(Ok(value))
                    }
                    Ok(false) => None,
                    Err(e) => Some(Err(unavailable(e))),
                }
            }
            // The lookup began after the window (`now_ms` was read before
            // it), so "not found" is proof: re-claim and send.
            Ok(None) if now_ms >= entry.settle_at_ms => {
                match self
                    .journal
                    .reclaim(&entry.venue, &entry.key, entry.attempt, policy.lease_ms())
                    .await
                {
                    Ok(Some(Claim::Won { attempt, params })) => {
                        tracing::info!(venue = %entry.venue, key = %entry.key, attempt, "journal: the venue never saw it; sending again");
                        Some(self.hold(exec, order, attempt, params, policy).await)
                    }
                    Ok(_) => None,
                    Err(e) => Some(Err(unavailable(e))),
                }
            }
            Ok(None) => Some(Err(conflict(
                format!(
                    "the outcome of idempotency key {:?} is in doubt: the venue does not show it yet, \
                     which is proof only once the settle window has passed",
                    entry.key
                ),
                entry.settle_at_ms - now_ms,
            ))),
            Err(e) => Some(Err(conflict(
                format!(
                    "the outcome of idempotency key {:?} is in doubt and could not be reconciled: {e}",
                    entry.key
                ),
                RECONCILE_RETRY_MS as i64,
            ))),
        }
    }

    /// Run a claimed call to its recorded outcome in a task of its own, and
    /// wait for it (dropping this future leaves the task running).
    async fn hold<E: Executor>(
        &self,
        exec: &Arc<E>,
        order: &Order<'_>,
        attempt: i64,
        params: String,
        policy: Policy,
    ) -> Result<Value, CallError> {
        let journal = Arc::clone(&self.journal);
        let exec = Arc::clone(exec);
        let (venue, key, operation) = (
            order.venue.to_string(),
            order.key.to_string(),
            order.operation.to_string(),
        );
        let task = tokio::spawn(async move {
            let sends = Arc::new(SendLedger::default());
            let result = tokio::time::timeout(
                policy.deadline,
                exec.invoke(operation, params, Arc::clone(&sends)),
            )
            .await
            .unwrap_or_else(|_| {
                Err(CallError::Timeout(format!(
                    "call did not finish within the venue deadline of {} ms",
                    policy.deadline.as_millis()
                )))
            });
            let outcome = outcome_of(&result, &sends);
            record(&journal, &venue, &key, attempt, &outcome).await;
            result
        });
        task.await.unwrap_or_else(|e| {
            Err(CallError::Plugin(format!(
                "the journaled call's task failed: {e}"
            )))
        })
    }
}

/// Ask the venue (through the plugin's `reconcile`) about `entry`, within
/// `deadline`.
async fn look_up<E: Executor>(
    exec: Arc<E>,
    entry: &Entry,
    deadline: Duration,
) -> Result<Option<Value>, CallError> {
    let lookup = exec.reconcile(
        entry.operation.clone(),
        entry.params.clone(),
        entry.key.clone(),
    );
    tokio::time::timeout(deadline, lookup)
        .await
        .unwrap_or_else(|_| {
            Err(CallError::Timeout(
                "reconcile did not finish in time".into(),
            ))
        })
}

/// Write a holder's outcome, retrying a store failure briefly. If it cannot
/// be written the row stays `pending` and the sweeper settles it when the
/// lease ends.
async fn record(journal: &Journal, venue: &str, key: &str, attempt: i64, outcome: &Outcome) {
    let mut delay = Duration::from_millis(100);
    for left in (0..3).rev() {
        match journal.finish(venue, key, attempt, outcome).await {
            Ok(true) => return,
            Ok(false) => {
                tracing::warn!(
                    venue,
                    key,
                    attempt,
                    state = outcome.state().as_str(),
                    "journal: this call's claim is no longer current (its lease ended); its outcome is left to the reconciler"
                );
                return;
            }
            Err(e) if left == 0 => {
                tracing::error!(venue, key, attempt, error = %e, "journal: could not record the outcome; the sweeper reconciles it when the lease ends");
            }
            Err(e) => {
                tracing::warn!(venue, key, attempt, error = %e, "journal: recording the outcome failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
    }
}

fn recorded(entry: &Entry) -> Result<Value, CallError> {
    let text = entry.result.as_deref().unwrap_or("null");
    serde_json::from_str(text)
        .map_err(|e| CallError::Plugin(format!("journaled result is not JSON: {e}")))
}

fn conflict(message: String, retry_after_ms: i64) -> CallError {
    CallError::Conflict {
        message,
        retry_after_ms: Some(retry_after_ms.clamp(100, 3_600_000) as u64),
    }
}

fn unavailable(e: JournalError) -> CallError {
    CallError::Unavailable(format!(
        "{e}; mutating calls need the journal (read-only calls still work)"
    ))
}

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    /// `pending` intents whose holder's lease had ended.
    pub expired: u64,
    /// In-doubt intents the venue has (now `succeeded`).
    pub found: u64,
    /// In-doubt intents proven never accepted (now `failed`).
    pub not_sent: u64,
    /// In-doubt intents still open (not proven yet, or the lookup failed).
    pub open: u64,
    /// Finished entries deleted after the retention period.
    pub pruned: u64,
}

/// Reconciles what no caller is waiting for: expires leases, prunes finished
/// entries past retention, and reconciles in-doubt intents (a bounded batch
/// per sweep, in journal order, resuming where the last sweep stopped). A
/// venue's intents are looked up one after another and the venues side by
/// side, so a plugin whose `reconcile` runs to its deadline every time
/// cannot hold back another venue's orders.
#[derive(Debug)]
pub struct Sweeper {
    protocol: Protocol,
    /// In-doubt intents looked up per sweep at most.
    pub batch: u32,
    /// Finished entries older than this are deleted.
    pub retention: Duration,
    cursor: Option<Cursor>,
}

impl Sweeper {
    pub fn new(protocol: Protocol, batch: u32, retention: Duration) -> Self {
        Self {
            protocol,
            batch: batch.max(1),
            retention,
            cursor: None,
        }
    }

    /// One sweep. `venue` gives the executor and policy of a venue that can
    /// serve now (intents of other venues wait).
    pub async fn sweep<E: Executor>(
        &mut self,
        venue: impl Fn(&str) -> Option<(Arc<E>, Policy)>,
    ) -> Result<SweepReport, JournalError> {
        let journal = Arc::clone(self.protocol.journal());
        let mut report = SweepReport {
            expired: journal.expire_leases().await?,
            pruned: journal.prune(self.retention.as_millis() as i64).await?,
            ..SweepReport::default()
        };
        let page = journal
            .list(&ListQuery {
                state: Some(State::InDoubt),
                after: self.cursor.take(),
                limit: self.batch,
                venue: None,
            })
            .await?;
        // A short page means the end: start over next time.
        if page.len() as u32 == self.batch {
            self.cursor = page.last().map(Cursor::after);
        }
        // Each venue's intents in turn, the venues side by side: a plugin whose
        // lookups run to their deadline delays its own venue's intents, never
        // another's.
        let mut by_venue: BTreeMap<String, (Arc<E>, Policy, Vec<Entry>)> = BTreeMap::new();
        for entry in page {
            if let Some(group) = by_venue.get_mut(&entry.venue) {
                group.2.push(entry);
            } else if let Some((exec, policy)) = venue(&entry.venue) {
                by_venue.insert(entry.venue.clone(), (exec, policy, vec![entry]));
            } else {
                report.open += 1;
            }
        }
        let grouped: usize = by_venue.values().map(|g| g.2.len()).sum();
        let mut venues = tokio::task::JoinSet::new();
        for (exec, policy, entries) in by_venue.into_values() {
            let journal = Arc::clone(&journal);
            venues.spawn(async move {
                let mut settled = Vec::with_capacity(entries.len());
                for entry in &entries {
                    settled.push(settle(&journal, Arc::clone(&exec), entry, policy).await);
                }
                settled
            });
        }
        let mut reported = 0;
        while let Some(done) = venues.join_next().await {
            // A venue whose lookup panicked leaves its intents open.
            for state in done.unwrap_or_default() {
                reported += 1;
                match state {
                    Some(State::Succeeded) => report.found += 1,
                    Some(State::Failed) => report.not_sent += 1,
                    _ => report.open += 1,
                }
            }
        }
        report.open += (grouped - reported) as u64;
        Ok(report)
    }
}

/// Reconcile one in-doubt intent; the state it was moved to, if any.
async fn settle<E: Executor>(
    journal: &Journal,
    exec: Arc<E>,
    entry: &Entry,
    policy: Policy,
) -> Option<State> {
    // Read before the lookup starts: "not found" is proof only when the
    // lookup began after the settle window.
    let started_ms = journal.clock_ms().await.ok()?;
    let outcome = match look_up(exec, entry, policy.deadline).await {
        Ok(Some(value)) => Outcome::Succeeded {
            result: value.to_string(),
        },
        Ok(None) if started_ms >= entry.settle_at_ms => Outcome::Failed {
            kind: "not_sent".into(),
            message: "reconciled: the venue never accepted it".into(),
        },
        Ok(None) => return None,
        Err(e) => {
            tracing::warn!(venue = %entry.venue, key = %entry.key, error = %e, "journal: could not reconcile; the next sweep tries again");
            return None;
        }
    };
    match journal
        .resolve(&entry.venue, &entry.key, entry.attempt, &outcome)
        .await
    {
        Ok(true) => {
            tracing::info!(venue = %entry.venue, key = %entry.key, state = outcome.state().as_str(), "journal: reconciled an in-doubt intent");
            Some(outcome.state())
        }
        Ok(false) => None,
        Err(e) => {
            tracing::warn!(venue = %entry.venue, key = %entry.key, error = %e, "journal: could not record a reconcile");
            None
        }
    }
}
