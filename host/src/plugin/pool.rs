//! Warm instance pool for one venue.
//!
//! Instantiating a component costs tens of microseconds; reusing a warm one a
//! few. So each venue keeps up to `max_instances` instances of its plugin:
//! a call takes an idle one (or instantiates a new one while under the bound),
//! and gives it back afterwards. Callers beyond the bound wait, up to the
//! venue's deadline. An instance that trapped is dead and is dropped (the
//! next call gets a fresh one); an instance is also retired after
//! `max_calls_per_instance` calls, which bounds slow leaks inside a plugin.
//!
//! Idle instances are taken most recent first, so after a burst the extra
//! ones sit unused at the bottom of the idle list; one unused for
//! `idle_instance_ms` (default 60 s) is dropped, when an instance is given
//! back or at the host's periodic [`InstancePool::trim_idle`], which returns
//! the burst's memory.
//!
//! A read-only call need not hold its instance while the venue answers:
//! past `max_waiting_instances` instances waiting on the venue it parks, and
//! is run again with the answer ([`super::resume`]); the pool counts the
//! instances waiting and the parks.
//!
//! The pool is per venue, not per plugin, so instance-level caches a plugin
//! keeps (a feed's decimals, say) never leak between two venues that share a
//! plugin (mainnet and testnet).
//!
//! Every guest entry (instantiation included) has two bounds: the CPU budget
//! (`cpu_ms`, enforced at epoch ticks while the guest runs) and a wall-clock
//! limit, which also stops a guest that burns no CPU because it waits (a WASI
//! clock sleep). The wall-clock limit of a call is its deadline (the `wait`
//! given to [`InstancePool::run`], never later than the call scope's
//! deadline); `describe` at load gets [`super::DESCRIBE_LIMIT`]. When it passes:
//!
//! | the guest was                    | error     | instance  | quarantine |
//! |----------------------------------|-----------|-----------|------------|
//! | in WASI or its own code          | `plugin`, naming plugin, operation and limit | discarded | counts as a trap |
//! | waiting on the venue (`send`)    | `timeout` | discarded | no (the venue was slow, the plugin was not) |
//!
//! The instance is dropped with the call's future, never reused: its state
//! is unknown once a call is cut short.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use tokio::time::Instant;
use wasmtime::Store;

use super::bindings::{Info, Venue, VenueError, VenuePre};
use super::quarantine::Quarantine;
use super::resume::Run;
use super::state::StoreState;
use super::ticker::EpochTicker;
use crate::capabilities::CallScope;
use crate::config::PluginLimits;
use crate::error::CallError;

/// One exported function call.
#[derive(Debug, Clone, Copy)]
pub enum Call<'a> {
    Describe,
    Prepare {
        operation: &'a str,
        params: &'a str,
        /// The caller's `Idempotency-Key`.
        caller_key: Option<&'a str>,
    },
    Invoke {
        operation: &'a str,
        params: &'a str,
    },
    Reconcile {
        operation: &'a str,
        params: &'a str,
        key: &'a str,
    },
}

impl Call<'_> {
    /// The export and operation, for messages: `invoke of "get_balance"`.
    pub fn describe_entry(&self) -> String {
        match self {
            Call::Describe => "describe".to_string(),
            Call::Prepare { operation, .. } => format!("prepare of {operation:?}"),
            Call::Invoke { operation, .. } => format!("invoke of {operation:?}"),
            Call::Reconcile { operation, .. } => format!("reconcile of {operation:?}"),
        }
    }
}

/// What an exported function returned.
#[derive(Debug)]
pub enum Reply {
    Info(Info),
    Prepared(Result<super::bindings::exports::resilience::venue::adapter::Prepared, VenueError>),
    Json(Result<String, VenueError>),
    Reconciled(Result<Option<String>, VenueError>),
}

struct Warm {
    store: Store<StoreState>,
    bindings: Venue,
    calls: u32,
    /// When it was last given back.
    idle_since: Instant,
}

/// Why an instance stopped: what the guest did, in words for the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trap {
    pub message: String,
    pub cpu_deadline: bool,
}

pub struct InstancePool {
    plugin: String,
    quarantine: Arc<Quarantine>,
    pre: VenuePre<StoreState>,
    limits: PluginLimits,
    idle: Mutex<Vec<Warm>>,
    permits: Semaphore,
    created: AtomicU64,
    traps: AtomicU64,
    invocations: AtomicU64,
    deadline_hits: AtomicU64,
    wall_hits: AtomicU64,
    /// Idle instances dropped since [`InstancePool::take_trimmed`] last ran.
    trimmed: AtomicU64,
    /// Instances waiting on the venue right now (shared with their stores).
    waiting: Arc<AtomicUsize>,
    /// Runs of read-only calls that gave their instance back while the
    /// venue answered ([`super::resume`]).
    parks: AtomicU64,
    ticker: EpochTicker,
}

impl std::fmt::Debug for InstancePool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstancePool")
            .field("plugin", &self.plugin)
            .field("created", &self.created.load(Ordering::Relaxed))
            .finish()
    }
}

impl InstancePool {
    pub fn new(
        plugin: &str,
        pre: VenuePre<StoreState>,
        limits: PluginLimits,
        quarantine: Arc<Quarantine>,
        ticker: EpochTicker,
    ) -> Self {
        Self {
            plugin: plugin.to_string(),
            quarantine,
            pre,
            limits,
            idle: Mutex::new(Vec::new()),
            permits: Semaphore::new(limits.max_instances as usize),
            created: AtomicU64::new(0),
            traps: AtomicU64::new(0),
            invocations: AtomicU64::new(0),
            deadline_hits: AtomicU64::new(0),
            wall_hits: AtomicU64::new(0),
            trimmed: AtomicU64::new(0),
            waiting: Arc::default(),
            parks: AtomicU64::new(0),
            ticker,
        }
    }

    /// Instances created so far (a trap or retirement makes the next call create one).
    pub fn instances_created(&self) -> u64 {
        self.created.load(Ordering::Relaxed)
    }

    /// Calls that trapped (including CPU deadline hits).
    pub fn traps(&self) -> u64 {
        self.traps.load(Ordering::Relaxed)
    }

    /// Export calls made.
    pub fn invocations(&self) -> u64 {
        self.invocations.load(Ordering::Relaxed)
    }

    /// Calls stopped at their CPU deadline.
    pub fn deadline_hits(&self) -> u64 {
        self.deadline_hits.load(Ordering::Relaxed)
    }

    /// Calls stopped at their wall-clock limit while the guest was in WASI
    /// or its own code (a sleep, say); also counted in [`Self::traps`].
    pub fn wall_limit_hits(&self) -> u64 {
        self.wall_hits.load(Ordering::Relaxed)
    }

    /// Runs that parked: read-only calls that gave their instance back
    /// while the venue answered, each resumed by another run.
    pub fn parks(&self) -> u64 {
        self.parks.load(Ordering::Relaxed)
    }

    /// Count one park.
    pub(super) fn count_park(&self) {
        self.parks.fetch_add(1, Ordering::Relaxed);
    }

    /// Instances waiting on the venue right now.
    pub fn waiting_on_venue(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// How many instances may wait on the venue before a read parks
    /// (`max_waiting_instances`).
    pub fn hold_limit(&self) -> usize {
        self.limits.max_waiting_instances as usize
    }

    /// Idle warm instances right now.
    pub fn idle(&self) -> usize {
        self.idle.lock().map(|v| v.len()).unwrap_or(0)
    }

    /// Run `call` on a warm instance on behalf of `scope`'s venue. `wait`
    /// bounds the whole call: waiting for a free instance, instantiating one,
    /// and the guest's run (its wall-clock limit; see the module doc).
    pub async fn run(
        &self,
        scope: Option<CallScope>,
        call: Call<'_>,
        wait: Duration,
    ) -> Result<Reply, CallError> {
        self.run_with(scope, call, wait, None)
            .await
            .map(|(reply, _)| reply)
    }

    /// [`InstancePool::run`] with `resume` installed in the store for the
    /// run and handed back after it (see [`super::resume`]).
    pub(super) async fn run_with(
        &self,
        scope: Option<CallScope>,
        call: Call<'_>,
        wait: Duration,
        resume: Option<Run>,
    ) -> Result<(Reply, Option<Run>), CallError> {
        if self.quarantine.is_active() {
            return Err(CallError::Plugin(self.quarantine.message()));
        }
        // Never later than the scope's deadline, so that this answer (which
        // names the plugin) comes before a caller's own timeout at the same
        // deadline.
        let started = Instant::now();
        let until = match &scope {
            Some(s) => s.deadline.instant().min(started + wait),
            None => started + wait,
        };
        let limit = until.saturating_duration_since(started);
        let permit = self.acquire(wait).await?;
        // Epoch ticks (CPU deadline, yields) run while guest code may run.
        let _ticking = self.ticker.enter();
        let mut warm = match self.take_idle() {
            Some(w) => w,
            None => match tokio::time::timeout_at(until, self.instantiate()).await {
                Ok(w) => w?,
                Err(_) => {
                    // The half-built store was dropped with the future.
                    drop(permit);
                    return Err(self.wall_limit_hit(&call, limit, false));
                }
            },
        };
        self.invocations.fetch_add(1, Ordering::Relaxed);
        let state = warm.store.data_mut();
        state.begin_call(scope);
        state.resume = resume;
        warm.store.set_epoch_deadline(1);
        let result = match tokio::time::timeout_at(until, call_export(&mut warm, call)).await {
            Ok(r) => r,
            Err(_) => {
                // The call's future is gone, mid-call: the instance's state
                // is unknown, so it is never reused.
                let on_venue = warm.store.data().waiting_on_venue();
                self.log_output(&warm);
                drop(warm);
                drop(permit);
                return Err(self.wall_limit_hit(&call, limit, on_venue));
            }
        };
        let resume = warm.store.data_mut().resume.take();
        warm.store.data_mut().end_call();
        warm.calls += 1;
        self.log_output(&warm);
        match result {
            Ok(reply) => {
                self.give_back(warm, permit);
                Ok((reply, resume))
            }
            Err(e) => {
                // A trapped instance is dead: drop it, the next call gets a fresh one.
                self.traps.fetch_add(1, Ordering::Relaxed);
                let trap = describe_trap(&e, warm.store.data());
                if trap.cpu_deadline {
                    self.deadline_hits.fetch_add(1, Ordering::Relaxed);
                }
                self.quarantine.record_trap();
                // The debug form carries wasmtime's wasm backtrace (with function
                // names when the plugin was built with `cargo xtask plugins --debug`).
                tracing::error!(plugin = %self.plugin, error = %trap.message, backtrace = ?e, "plugin trapped; instance discarded");
                drop(permit);
                Err(CallError::Plugin(trap.message))
            }
        }
    }

    /// The error for a call stopped at its wall-clock limit, counted like a
    /// trap unless the guest was waiting on the venue.
    fn wall_limit_hit(&self, call: &Call<'_>, limit: Duration, on_venue: bool) -> CallError {
        let entry = call.describe_entry();
        // Rounded up: a limit handed down as "999.8 ms left" reads as 1000.
        let limit_ms = limit.as_micros().div_ceil(1000);
        if on_venue {
            tracing::warn!(plugin = %self.plugin, call = %entry, limit_ms = limit_ms as u64, "deadline passed while the plugin waited on the venue; instance discarded");
            return CallError::Timeout(format!(
                "plugin {} was waiting on the venue in {entry} when its deadline of {limit_ms} ms passed",
                self.plugin,
            ));
        }
        self.traps.fetch_add(1, Ordering::Relaxed);
        self.wall_hits.fetch_add(1, Ordering::Relaxed);
        self.quarantine.record_trap();
        let message = format!(
            "plugin {} did not return from {entry} within its wall-clock limit of {limit_ms} ms; instance discarded",
            self.plugin,
        );
        tracing::error!(plugin = %self.plugin, error = %message, "plugin stopped at its wall-clock limit");
        CallError::Plugin(message)
    }

    /// What the guest wrote to stdout and stderr during its last call, to the
    /// host log (bounded by the capture).
    fn log_output(&self, warm: &Warm) {
        if !tracing::enabled!(tracing::Level::DEBUG) {
            return;
        }
        let state = warm.store.data();
        for (stream, text) in [
            ("stdout", state.stdout_text()),
            ("stderr", state.stderr_text()),
        ] {
            if !text.is_empty() {
                tracing::debug!(plugin = %self.plugin, stream, output = %text, "plugin output");
            }
        }
    }

    async fn acquire(&self, wait: Duration) -> Result<SemaphorePermit<'_>, CallError> {
        match tokio::time::timeout(wait, self.permits.acquire()).await {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(_)) => Err(CallError::Plugin(format!(
                "plugin {} is shutting down",
                self.plugin
            ))),
            Err(_) => Err(CallError::Timeout(format!(
                "no free instance of plugin {} within {} ms ({} busy)",
                self.plugin,
                wait.as_millis(),
                self.limits.max_instances
            ))),
        }
    }

    fn take_idle(&self) -> Option<Warm> {
        self.idle.lock().ok().and_then(|mut v| v.pop())
    }

    fn give_back(&self, mut warm: Warm, permit: SemaphorePermit<'_>) {
        let now = Instant::now();
        let mut stale = Vec::new();
        if warm.calls < self.limits.max_calls_per_instance
            && let Ok(mut idle) = self.idle.lock()
        {
            warm.idle_since = now;
            idle.push(warm);
            stale = self.split_stale(&mut idle, now);
        }
        drop(permit);
        // Dropped outside the lock: freeing a store unmaps its memory.
        drop(stale);
    }

    /// Idle instances dropped (here or when an instance was given back) since
    /// the last time this was asked; the host's trimmer then gives the freed
    /// memory back ([`crate::heap::release`]).
    pub fn take_trimmed(&self) -> u64 {
        self.trimmed.swap(0, Ordering::Relaxed)
    }

    /// Drop the idle instances unused for `idle_instance_ms`; returns how
    /// many. The host calls it periodically, so a pool nobody calls after a
    /// burst shrinks too.
    pub fn trim_idle(&self) -> usize {
        let stale = match self.idle.lock() {
            Ok(mut idle) => self.split_stale(&mut idle, Instant::now()),
            Err(_) => return 0,
        };
        let n = stale.len();
        if n > 0 {
            tracing::debug!(plugin = %self.plugin, dropped = n, "idle instances trimmed");
        }
        n
    }

    /// The stale instances at the bottom of `idle` (least recently used),
    /// taken out of it.
    fn split_stale(&self, idle: &mut Vec<Warm>, now: Instant) -> Vec<Warm> {
        let ttl = Duration::from_millis(self.limits.idle_instance_ms);
        if ttl.is_zero() {
            return Vec::new();
        }
        let fresh_from = idle
            .iter()
            .position(|w| now.saturating_duration_since(w.idle_since) < ttl)
            .unwrap_or(idle.len());
        if fresh_from == 0 {
            // Every give-back comes here: no write to the shared counter
            // when nothing is stale.
            return Vec::new();
        }
        self.trimmed.fetch_add(fresh_from as u64, Ordering::Relaxed);
        idle.drain(..fresh_from).collect()
    }

    /// Instantiate a fresh instance and call `describe` once with fuel
    /// metering (the engine must have `consume_fuel` on): returns the info,
    /// the fuel the call used, and the peak linear memory of the instance.
    pub async fn describe_metered(&self) -> Result<(Info, u64, usize), CallError> {
        match tokio::time::timeout(super::DESCRIBE_LIMIT, self.describe_metered_unbounded()).await {
            Ok(r) => r,
            Err(_) => Err(self.wall_limit_hit(&Call::Describe, super::DESCRIBE_LIMIT, false)),
        }
    }

    async fn describe_metered_unbounded(&self) -> Result<(Info, u64, usize), CallError> {
        let _ticking = self.ticker.enter();
        let mut warm = self.instantiate().await?;
        const START: u64 = u64::MAX / 2;
        warm.store
            .set_fuel(START)
            .map_err(|e| CallError::Plugin(format!("fuel metering is off: {e}")))?;
        warm.store.data_mut().begin_call(None);
        warm.store.set_epoch_deadline(1);
        let reply = call_export(&mut warm, Call::Describe).await;
        let left = warm.store.get_fuel().unwrap_or(START);
        match reply {
            Ok(Reply::Info(info)) => Ok((info, START - left, warm.store.data().limits.peak_memory)),
            Ok(other) => Err(CallError::Plugin(format!("describe returned {other:?}"))),
            Err(e) => Err(CallError::Plugin(
                describe_trap(&e, warm.store.data()).message,
            )),
        }
    }

    async fn instantiate(&self) -> Result<Warm, CallError> {
        let mut state = StoreState::new(&self.limits);
        state.count_waits_in(Arc::clone(&self.waiting));
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|s| &mut s.limits);
        // Engines that meter fuel (`plugins check`) start each store with
        // plenty; on the serving engine this is a no-op error we ignore.
        let _ = store.set_fuel(u64::MAX / 2);
        store.epoch_deadline_callback(StoreState::on_epoch);
        // Instantiation runs guest start functions: bound it like a call.
        store.data_mut().begin_call(None);
        store.set_epoch_deadline(1);
        let bindings = self.pre.instantiate_async(&mut store).await.map_err(|e| {
            let trap = describe_trap(&e, store.data());
            CallError::Plugin(format!(
                "plugin {} could not be instantiated: {}",
                self.plugin, trap.message
            ))
        })?;
        store.data_mut().end_call();
        self.created.fetch_add(1, Ordering::Relaxed);
        Ok(Warm {
            store,
            bindings,
            calls: 0,
            idle_since: Instant::now(),
        })
    }
}

async fn call_export(warm: &mut Warm, call: Call<'_>) -> wasmtime::Result<Reply> {
    let adapter = warm.bindings.resilience_venue_adapter();
    let store = &mut warm.store;
    Ok(match call {
        Call::Describe => Reply::Info(adapter.call_describe(store).await?),
        Call::Prepare {
            operation,
            params,
            caller_key,
        } => Reply::Prepared(
            adapter
                .call_prepare(store, operation, params, caller_key)
                .await?,
        ),
        Call::Invoke { operation, params } => {
            Reply::Json(adapter.call_invoke(store, operation, params).await?)
        }
        Call::Reconcile {
            operation,
            params,
            key,
        } => Reply::Reconciled(
            adapter
                .call_reconcile(store, operation, params, key)
                .await?,
        ),
    })
}

/// Characters of a guest's stderr quoted in a trap message: the last ones,
/// where a panic message is.
pub const TRAP_STDERR_CHARS: usize = 1000;

/// Explain a trap: CPU deadline, memory, or the guest's own panic message
/// (the end of what it wrote to stderr during this call).
pub fn describe_trap(err: &wasmtime::Error, state: &StoreState) -> Trap {
    if let Some(used) = state.cpu_exceeded {
        return Trap {
            message: format!(
                "plugin exceeded its CPU deadline ({} ms of guest time, limit {} ms)",
                used.as_millis(),
                state.cpu_budget().as_millis()
            ),
            cpu_deadline: true,
        };
    }
    let said = state.stderr_text();
    let base = match err.downcast_ref::<wasmtime::Trap>() {
        Some(t) => format!("trap: {t}"),
        None => format!("{err}"),
    };
    let message = if said.is_empty() {
        base
    } else {
        format!(
            "{base}; plugin said: {}",
            tail_chars(&said, TRAP_STDERR_CHARS)
        )
    };
    Trap {
        message,
        cpu_deadline: false,
    }
}

/// The last `n` characters of `text`, with `…` in front when cut.
fn tail_chars(text: &str, n: usize) -> String {
    let count = text.chars().count();
    if count <= n {
        return text.to_string();
    }
    let mut out = String::from("…");
    out.extend(text.chars().skip(count - n));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_chars_keeps_the_end() {
        assert_eq!(tail_chars("abc", 5), "abc");
        assert_eq!(tail_chars("xxxxpanicked", 8), "…panicked");
    }
}
