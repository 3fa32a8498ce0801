//! Per-instance store state: the WASI context (empty: no files, env, sockets),
//! memory limits, the venue the current call belongs to, and the CPU budget.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreContextMut, StoreLimits, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{
    HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView,
};

use crate::capabilities::CallScope;
use crate::config::PluginLimits;

/// Bytes of guest stderr kept to explain a trap (a Rust panic message).
const STDERR_CAPTURE_BYTES: usize = 16 * 1024;

pub struct StoreState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: Limiter,
    stderr: MemoryOutputPipe,
    /// The venue of the call in progress; `None` between calls, so a plugin
    /// cannot reach a venue outside a call.
    pub(crate) call: Option<CallScope>,
    /// When the current call started, and how long it spent waiting on the
    /// host (network), which does not count against the CPU budget.
    call_started: Option<Instant>,
    pub(crate) host_wait: Duration,
    /// When the guest last started running: the call's start, or its return
    /// from a host wait. A guest that just came back from the network has not
    /// been hogging a worker, so the epoch callback does not make it yield.
    running_since: Option<Instant>,
    /// Nanoseconds the guest spent yielded to tokio at epoch ticks (written
    /// by the yield future, which cannot borrow the store).
    yielded_ns: Arc<AtomicU64>,
    cpu_budget: Duration,
    /// Guest time at which the epoch callback stopped the guest for running
    /// too long, if it did.
    pub(crate) cpu_exceeded: Option<Duration>,
}

impl std::fmt::Debug for StoreState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreState")
            .field("venue", &self.call.as_ref().map(|c| c.venue.venue.clone()))
            .field("host_wait", &self.host_wait)
            .finish()
    }
}

impl StoreState {
    pub fn new(limits: &PluginLimits) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE_BYTES);
        // Nothing is granted: no preopened dirs, no env, no args, no network.
        // Only stderr is captured, to surface panic messages. Clocks read at
        // millisecond resolution, no finer than `now-ms`.
        let wasi = WasiCtxBuilder::new()
            .stderr(stderr.clone())
            .wall_clock(MillisWallClock)
            .monotonic_clock(MillisMonotonicClock::default())
            .build();
        let memory = (limits.memory_mib as usize) * 1024 * 1024;
        Self {
            wasi,
            table: ResourceTable::new(),
            limits: Limiter {
                inner: StoreLimitsBuilder::new()
                    .memory_size(memory)
                    .table_elements(100_000)
                    .instances(64)
                    .tables(64)
                    .memories(16)
                    .trap_on_grow_failure(false)
                    .build(),
                peak_memory: 0,
            },
            stderr,
            call: None,
            call_started: None,
            host_wait: Duration::ZERO,
            running_since: None,
            yielded_ns: Arc::new(AtomicU64::new(0)),
            cpu_budget: Duration::from_millis(limits.cpu_ms),
            cpu_exceeded: None,
        }
    }

    /// Start a call on behalf of `scope`'s venue.
    pub fn begin_call(&mut self, scope: Option<CallScope>) {
        self.call = scope;
        let now = Instant::now();
        self.call_started = Some(now);
        self.running_since = Some(now);
        self.host_wait = Duration::ZERO;
        self.yielded_ns.store(0, Ordering::Relaxed);
        self.cpu_exceeded = None;
    }

    /// The guest is back from a host call that waited `waited` (network):
    /// the wait does not count against its CPU budget.
    pub fn resumed_after(&mut self, waited: Duration) {
        self.host_wait += waited;
        self.running_since = Some(Instant::now());
    }

    /// End the current call; the instance keeps no venue between calls.
    pub fn end_call(&mut self) {
        self.call = None;
        self.call_started = None;
    }

    /// The CPU budget of one call.
    pub fn cpu_budget(&self) -> Duration {
        self.cpu_budget
    }

    /// Guest time used by the current call: wall time minus host waits and
    /// minus time yielded to other tasks, so a busy host does not shorten a
    /// plugin's budget.
    pub fn guest_time(&self) -> Duration {
        let yielded = Duration::from_nanos(self.yielded_ns.load(Ordering::Relaxed));
        self.call_started
            .map(|s| {
                s.elapsed()
                    .saturating_sub(self.host_wait)
                    .saturating_sub(yielded)
            })
            .unwrap_or_default()
    }

    /// What the guest wrote to stderr (a Rust panic message), without the
    /// `note: run with RUST_BACKTRACE` hint, on one line.
    pub fn stderr_text(&self) -> String {
        let bytes = self.stderr.contents();
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("note: run with"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Epoch callback: yield to tokio at every tick, and stop the guest once
    /// its CPU budget is spent. Yielding keeps one spinning plugin from
    /// holding a tokio worker that other venues need.
    pub fn on_epoch(mut ctx: StoreContextMut<'_, Self>) -> wasmtime::Result<UpdateDeadline> {
        let state = ctx.data_mut();
        let used = state.guest_time();
        if used > state.cpu_budget {
            state.cpu_exceeded = Some(used);
            return Ok(UpdateDeadline::Interrupt);
        }
        // A guest that has run for less than a tick since it started or came
        // back from the network is not hogging the worker: yielding it would
        // only add a reschedule to every I/O-bound call that spans a tick.
        if state
            .running_since
            .is_some_and(|t| t.elapsed() < super::EPOCH_TICK)
        {
            return Ok(UpdateDeadline::Continue(1));
        }
        // tokio's `yield_now` defers the wake-up until the scheduler has run
        // other tasks and polled its I/O and timer drivers; a plain
        // re-schedule would let a spinning guest starve them.
        let yielded = Arc::clone(&state.yielded_ns);
        Ok(UpdateDeadline::YieldCustom(
            1,
            Box::pin(async move {
                let started = Instant::now();
                tokio::task::yield_now().await;
                let ns = started.elapsed().as_nanos().min(u64::MAX as u128) as u64;
                yielded.fetch_add(ns, Ordering::Relaxed);
            }),
        ))
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// [`StoreLimits`] plus the peak size any linear memory asked for (reported
/// by `plugins check`).
#[derive(Debug)]
pub struct Limiter {
    inner: StoreLimits,
    pub peak_memory: usize,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.inner.memory_growing(current, desired, maximum)?;
        if allowed {
            self.peak_memory = self.peak_memory.max(desired);
        }
        Ok(allowed)
    }
    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.inner.table_growing(current, desired, maximum)
    }
    fn instances(&self) -> usize {
        self.inner.instances()
    }
    fn tables(&self) -> usize {
        self.inner.tables()
    }
    fn memories(&self) -> usize {
        self.inner.memories()
    }
}

/// Wall clock at millisecond resolution.
struct MillisWallClock;

impl HostWallClock for MillisWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }
    fn now(&self) -> Duration {
        let d = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Duration::from_millis(d.as_millis() as u64)
    }
}

/// Monotonic clock at millisecond resolution.
struct MillisMonotonicClock(std::time::Instant);

impl Default for MillisMonotonicClock {
    fn default() -> Self {
        Self(std::time::Instant::now())
    }
}

impl HostMonotonicClock for MillisMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000
    }
    fn now(&self) -> u64 {
        (self.0.elapsed().as_millis() as u64).saturating_mul(1_000_000)
    }
}
