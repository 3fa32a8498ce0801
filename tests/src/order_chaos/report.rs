//! What a run did and found: the counts that show the run exercised what it
//! claims (calls, kills, faults, lookups), the journal's states at the end
//! and the broken guarantees, printed as a few lines.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// What a run did and found.
#[derive(Debug, Clone, Default)]
pub struct ChaosReport {
    pub seed: u64,
    /// `sqlite` or `postgres`.
    pub store: String,
    pub replicas: usize,
    pub host_binary: PathBuf,
    /// Seconds of chaos, and of waiting for the sweeper at the end.
    pub chaos_secs: f64,
    pub settle_secs: f64,
    /// Requests the callers made.
    pub calls: u64,
    /// Distinct keys called.
    pub keys: u64,
    /// Answers by HTTP status, and `hung_up` / `no_answer` (host down or
    /// killed mid-call) / `slow` (no answer within 5 s).
    pub answers: BTreeMap<String, u64>,
    pub hang_ups: u64,
    /// 409 answers (in flight or in doubt, with `retry_after_ms`).
    pub conflicts: u64,
    /// Answers no correct host gives here (409 without `retry_after_ms`,
    /// 4xx, 500, a 200 for another order id); the first few.
    pub unexpected: Vec<String>,
    /// Host processes SIGKILLed during the chaos (of them, while the venue
    /// held an accepted order it had not answered yet), and started again.
    pub kills: u64,
    pub kills_mid_send: u64,
    pub restarts: u64,
    /// What the hosts logged doing (from their JSON logs): `lease_expired`
    /// (a dead holder's claim moved to in doubt by a sweeper),
    /// `sweeper_found` / `sweeper_not_sent` (in-doubt intents it settled),
    /// `caller_reconciled` (a retry found the order at the venue),
    /// `resent_after_proof` (a retry proved "never accepted" after the settle
    /// window and sent again), `stale_holder` (a holder whose lease had ended
    /// found its claim gone).
    pub host_events: BTreeMap<String, u64>,
    /// New Order requests the venue received, and what it did with them.
    pub venue_creates: u64,
    pub venue_faults: BTreeMap<String, u64>,
    /// Query Order answers: `found`, `not_found`, `hidden` (accepted, not yet
    /// visible), `unavailable` (503).
    pub lookups: BTreeMap<String, u64>,
    /// Orders the venue accepted, over how many client ids, and the most for one id.
    pub orders_accepted: u64,
    pub keys_accepted: u64,
    pub max_orders_per_key: u64,
    /// Journal entries of this run by state at the end.
    pub states: BTreeMap<String, u64>,
    /// Broken guarantees (empty on a passing run).
    pub violations: Vec<String>,
    /// The run's folder (config, host logs): kept when [`run`](super::run())
    /// found a violation, deleted otherwise.
    pub dir: PathBuf,
}

impl fmt::Display for ChaosReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let map = |m: &BTreeMap<String, u64>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            f,
            "order chaos seed={}: {} x{} ({}), {:.1} s of chaos, {:.1} s to settle",
            self.seed,
            self.store,
            self.replicas,
            self.host_binary.display(),
            self.chaos_secs,
            self.settle_secs
        )?;
        writeln!(
            f,
            "  callers: {} calls over {} keys; {} hang-ups, {} conflicts (409); answers: {}",
            self.calls,
            self.keys,
            self.hang_ups,
            self.conflicts,
            map(&self.answers)
        )?;
        writeln!(
            f,
            "  hosts: {} kills ({} while the venue held an unanswered order), {} restarts; journal events: {}",
            self.kills,
            self.kills_mid_send,
            self.restarts,
            map(&self.host_events)
        )?;
        writeln!(
            f,
            "  venue: {} creates ({}); lookups: {}",
            self.venue_creates,
            map(&self.venue_faults),
            map(&self.lookups)
        )?;
        writeln!(
            f,
            "  venue book: {} orders accepted over {} client ids, max {} per client id",
            self.orders_accepted, self.keys_accepted, self.max_orders_per_key
        )?;
        writeln!(f, "  journal at the end: {}", map(&self.states))?;
        if !self.unexpected.is_empty() {
            writeln!(f, "  unexpected answers: {:?}", self.unexpected)?;
        }
        if self.violations.is_empty() {
            write!(f, "  violations: none")
        } else {
            write!(
                f,
                "  VIOLATIONS ({}), run folder {}:\n{}",
                self.violations.len(),
                self.dir.display(),
                self.violations.join("\n")
            )
        }
    }
}
