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
//! The pool is per venue, not per plugin, so instance-level caches a plugin
//! keeps (a feed's decimals, say) never leak between two venues that share a
//! plugin (mainnet and testnet).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use wasmtime::Store;

use super::bindings::{Info, Venue, VenueError, VenuePre};
use super::quarantine::Quarantine;
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

    /// Idle warm instances right now.
    pub fn idle(&self) -> usize {
        self.idle.lock().map(|v| v.len()).unwrap_or(0)
    }

    /// Run `call` on a warm instance on behalf of `venue`, waiting at most
    /// `wait` for a free instance.
    pub async fn run(
        &self,
        scope: Option<CallScope>,
        call: Call<'_>,
        wait: Duration,
    ) -> Result<Reply, CallError> {
        if self.quarantine.is_active() {
            return Err(CallError::Plugin(self.quarantine.message()));
        }
        let permit = self.acquire(wait).await?;
        // Epoch ticks (CPU deadline, yields) run while guest code may run.
        let _ticking = self.ticker.enter();
        let mut warm = match self.take_idle() {
            Some(w) => w,
            None => self.instantiate().await?,
        };
        self.invocations.fetch_add(1, Ordering::Relaxed);
        let state = warm.store.data_mut();
        state.begin_call(scope);
        warm.store.set_epoch_deadline(1);
        let result = call_export(&mut warm, call).await;
        warm.store.data_mut().end_call();
        warm.calls += 1;
        match result {
            Ok(reply) => {
                self.give_back(warm, permit);
                Ok(reply)
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

    fn give_back(&self, warm: Warm, permit: SemaphorePermit<'_>) {
        if warm.calls < self.limits.max_calls_per_instance
            && let Ok(mut idle) = self.idle.lock()
        {
            idle.push(warm);
        }
        drop(permit);
    }

    /// Instantiate a fresh instance and call `describe` once with fuel
    /// metering (the engine must have `consume_fuel` on): returns the info,
    /// the fuel the call used, and the peak linear memory of the instance.
    pub async fn describe_metered(&self) -> Result<(Info, u64, usize), CallError> {
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
        let mut store = Store::new(self.pre.engine(), StoreState::new(&self.limits));
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

/// Explain a trap: CPU deadline, memory, or the guest's own panic message.
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
            said.chars().take(1000).collect::<String>()
        )
    };
    Trap {
        message,
        cpu_deadline: false,
    }
}
