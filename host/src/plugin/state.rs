//! Per-instance store state: the WASI context, memory and resource limits,
//! the venue the current call belongs to, and the CPU budget.
//!
//! What a plugin gets from WASI (least privilege: what a Rust plugin's `std`
//! needs, nothing that reaches outside the instance):
//!
//! | WASI                                   | granted |
//! |----------------------------------------|---------|
//! | `wasi:clocks` wall and monotonic       | yes, at millisecond resolution (no finer than `now-ms`) |
//! | `wasi:random`                          | yes, at most [`MAX_RANDOM_BYTES`] per call |
//! | `wasi:cli` stdout and stderr           | captured per call (the last [`OUTPUT_CAPTURE_BYTES`]), cleared when the next call starts; stderr explains a trap, both go to the host log at `debug` |
//! | `wasi:cli` stdin, environment, args    | linked, empty |
//! | `wasi:io` streams, poll, error         | yes (stdio and clock waits need them) |
//! | `wasi:filesystem`, `wasi:sockets`      | not linked: a plugin importing them is refused at load (see `plugin::GRANTED_WASI`) |
//!
//! Every resource a plugin holds through WASI (streams, pollables) lives in
//! the instance's [`ResourceTable`], capped at [`MAX_TABLE_ENTRIES`]: past the
//! cap `push` fails and the call traps, so a guest that leaks handles is
//! replaced instead of growing host memory.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;

use tokio::time::Instant;
use wasmtime::component::ResourceTable;
use wasmtime::{ResourceLimiter, StoreContextMut, StoreLimits, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};
use wasmtime_wasi::{
    HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView,
};

use crate::capabilities::CallScope;
use crate::config::PluginLimits;

/// Bytes of each of stdout and stderr kept per call: the tail, so the panic
/// message a trapping guest writes last survives any flood before it.
pub const OUTPUT_CAPTURE_BYTES: usize = 16 * 1024;
/// Most entries in an instance's WASI resource table (streams, pollables).
/// A Rust plugin holds a handful; wasmtime's own default is a million.
pub const MAX_TABLE_ENTRIES: usize = 1024;
/// Most bytes one `wasi:random` call may ask for.
pub const MAX_RANDOM_BYTES: u64 = 64 * 1024;

pub struct StoreState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: Limiter,
    stdout: CapturedOutput,
    stderr: CapturedOutput,
    /// Whether the guest's latest host call went to the venue interface
    /// (`send`) rather than to WASI: a call stopped at its deadline while
    /// waiting on the venue timed out at the venue, not in the plugin.
    in_venue_import: bool,
    /// The venue of the call in progress; `None` between calls, so a plugin
    /// cannot reach a venue outside a call.
    pub(crate) call: Option<CallScope>,
    /// Lines the guest has logged in the call in progress (see
    /// `capabilities::MAX_LOG_LINES`).
    pub(crate) log_lines: u32,
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
    /// The current run of a read-only call that may give its instance back
    /// while the venue answers (see [`super::resume`]).
    pub(crate) resume: Option<super::resume::Run>,
    /// Instances of the venue's pool waiting on the venue right now, shared
    /// by its instances.
    waiting: Arc<AtomicUsize>,
}

/// Counts an instance as waiting on the venue while it lives (also when the
/// wait is cut short with the call).
pub(crate) struct WaitingOnVenue(Arc<AtomicUsize>);

impl Drop for WaitingOnVenue {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
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
        let stdout = CapturedOutput::default();
        let stderr = CapturedOutput::default();
        // No preopened dirs, no env, no args, no network (and the filesystem
        // and sockets interfaces are not even linked). Clocks read at
        // millisecond resolution, no finer than `now-ms`.
        let wasi = WasiCtxBuilder::new()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .wall_clock(MillisWallClock)
            .monotonic_clock(MillisMonotonicClock::default())
            .max_random_size(MAX_RANDOM_BYTES)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_TABLE_ENTRIES);
        let memory = (limits.memory_mib as usize) * 1024 * 1024;
        Self {
            wasi,
            table,
            limits: Limiter::new(memory),
            stdout,
            stderr,
            in_venue_import: false,
            call: None,
            log_lines: 0,
            call_started: None,
            host_wait: Duration::ZERO,
            running_since: None,
            yielded_ns: Arc::new(AtomicU64::new(0)),
            cpu_budget: Duration::from_millis(limits.cpu_ms),
            cpu_exceeded: None,
            resume: None,
            waiting: Arc::default(),
        }
    }

    /// Count this instance's venue waits in `gauge`, its pool's.
    pub(crate) fn count_waits_in(&mut self, gauge: Arc<AtomicUsize>) {
        self.waiting = gauge;
    }

    /// Instances of the pool waiting on the venue right now.
    pub(crate) fn waiting_instances(&self) -> usize {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Count this instance as waiting on the venue until the guard drops.
    pub(crate) fn wait_on_venue(&self) -> WaitingOnVenue {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        WaitingOnVenue(Arc::clone(&self.waiting))
    }

    /// Start a call on behalf of `scope`'s venue. What the guest wrote
    /// during earlier calls is dropped: one caller's data never shows in
    /// another's error.
    pub fn begin_call(&mut self, scope: Option<CallScope>) {
        self.call = scope;
        self.stdout.clear();
        self.stderr.clear();
        self.in_venue_import = false;
        self.log_lines = 0;
        let now = Instant::now();
        self.call_started = Some(now);
        self.running_since = Some(now);
        self.host_wait = Duration::ZERO;
        self.yielded_ns.store(0, Ordering::Relaxed);
        self.cpu_exceeded = None;
        self.resume = None;
    }

    /// The guest is back from a host call that waited `waited` (network):
    /// the wait does not count against its CPU budget.
    pub fn resumed_after(&mut self, waited: Duration) {
        self.in_venue_import = false;
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

    /// What the guest wrote to stderr during the current (or last) call, at
    /// most its last [`OUTPUT_CAPTURE_BYTES`]: a Rust panic message, without
    /// the `note: run with RUST_BACKTRACE` hint, on one line.
    pub fn stderr_text(&self) -> String {
        one_line(&self.stderr.contents())
    }

    /// What the guest wrote to stdout during the current (or last) call, at
    /// most its last [`OUTPUT_CAPTURE_BYTES`], on one line.
    pub fn stdout_text(&self) -> String {
        one_line(&self.stdout.contents())
    }

    /// Mark a call into the venue interface (`send`, `config`, `log`...):
    /// the host getter of those imports runs this on every call.
    pub(crate) fn entered_venue_import(&mut self) -> &mut Self {
        self.in_venue_import = true;
        self
    }

    /// Whether the guest is (or last was) in a venue import rather than in
    /// WASI or its own code: when a call is stopped while pending, it was
    /// waiting on the venue (`send`), not sleeping on a WASI clock.
    pub fn waiting_on_venue(&self) -> bool {
        self.in_venue_import
    }

    /// Epoch callback: yield to tokio at every tick, and stop the guest once
    /// its CPU budget is spent. Yielding keeps one spinning plugin from
    /// holding a tokio worker that other venues need.
    pub fn on_epoch(mut ctx: StoreContextMut<'_, Self>) -> wasmtime::Result<UpdateDeadline> {
        let state = ctx.data_mut();
        // The guest is running its own code.
        state.in_venue_import = false;
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
    /// Every WASI host call goes through here (io, clocks, random, cli).
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.in_venue_import = false;
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// `text` on one line: trimmed non-empty lines without Rust's
/// `note: run with RUST_BACKTRACE` hint, joined by spaces.
fn one_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("note: run with"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A guest's stdout or stderr: keeps the last [`OUTPUT_CAPTURE_BYTES`]
/// written since the last [`clear`](Self::clear). Writes always succeed
/// (older bytes are dropped), so a guest that floods its output neither
/// fails differently nor grows host memory.
#[derive(Debug, Clone, Default)]
pub struct CapturedOutput {
    buf: Arc<Mutex<Vec<u8>>>,
}

impl CapturedOutput {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.buf.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn append(&self, bytes: &[u8]) {
        let mut buf = self.lock();
        if bytes.len() >= OUTPUT_CAPTURE_BYTES {
            buf.clear();
            buf.extend_from_slice(&bytes[bytes.len() - OUTPUT_CAPTURE_BYTES..]);
            return;
        }
        buf.extend_from_slice(bytes);
        // Trim in batches: at most twice the capture is ever held.
        if buf.len() > 2 * OUTPUT_CAPTURE_BYTES {
            let excess = buf.len() - OUTPUT_CAPTURE_BYTES;
            buf.drain(..excess);
        }
    }

    /// The last [`OUTPUT_CAPTURE_BYTES`] written.
    pub fn contents(&self) -> Vec<u8> {
        let buf = self.lock();
        buf[buf.len().saturating_sub(OUTPUT_CAPTURE_BYTES)..].to_vec()
    }

    pub fn clear(&self) {
        let mut buf = self.lock();
        buf.clear();
        if buf.capacity() > 2 * OUTPUT_CAPTURE_BYTES {
            buf.shrink_to(OUTPUT_CAPTURE_BYTES);
        }
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }
    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }
    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(OUTPUT_CAPTURE_BYTES)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Core instances, memories and tables one plugin instance may create: what
/// the engine's pooling allocator reserves per instance slot
/// (`PluginEngine::with_fuel`), so one plugin cannot take the slots of the
/// others' instances.
pub const MAX_CORE_INSTANCES: usize = 8;
/// Linear memories one plugin instance may create (see [`MAX_CORE_INSTANCES`]).
pub const MAX_MEMORIES: usize = 4;
/// Tables one plugin instance may create (see [`MAX_CORE_INSTANCES`]).
pub const MAX_TABLES: usize = 8;

/// The store's resource limits. `plugins.limits.memory_mib` bounds all of
/// an instance's linear memories together, not each one: a component of
/// several core modules, each with a memory, gets no more than one.
#[derive(Debug)]
pub struct Limiter {
    inner: StoreLimits,
    memory_limit: usize,
    /// Bytes of all linear memories of the instance (they never shrink).
    memory_total: usize,
    /// The largest `memory_total` reached (reported by `plugins check`).
    pub peak_memory: usize,
}

impl Limiter {
    fn new(memory_limit: usize) -> Self {
        Self {
            inner: StoreLimitsBuilder::new()
                .memory_size(memory_limit)
                .table_elements(100_000)
                .instances(MAX_CORE_INSTANCES)
                .tables(MAX_TABLES)
                .memories(MAX_MEMORIES)
                .trap_on_grow_failure(false)
                .build(),
            memory_limit,
            memory_total: 0,
            peak_memory: 0,
        }
    }
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // A new memory comes with `current` 0, so the total counts it too.
        let total = (self.memory_total + desired).saturating_sub(current);
        if total > self.memory_limit {
            return Ok(false);
        }
        let allowed = self.inner.memory_growing(current, desired, maximum)?;
        if allowed {
            self.memory_total = total;
            self.peak_memory = self.peak_memory.max(total);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memory_limit_holds_for_all_of_an_instances_memories_together() {
        const MIB: usize = 1 << 20;
        let mut l = Limiter::new(64 * MIB);
        // Two memories of 40 MiB: the second would pass a limit per memory.
        assert!(l.memory_growing(0, 40 * MIB, None).unwrap());
        assert!(!l.memory_growing(0, 40 * MIB, None).unwrap());
        // The first may still grow within the total.
        assert!(l.memory_growing(40 * MIB, 60 * MIB, None).unwrap());
        assert!(!l.memory_growing(60 * MIB, 65 * MIB, None).unwrap());
        assert!(l.memory_growing(0, 4 * MIB, None).unwrap());
        assert_eq!(l.peak_memory, 64 * MIB);
        assert_eq!(
            (l.instances(), l.memories(), l.tables()),
            (MAX_CORE_INSTANCES, MAX_MEMORIES, MAX_TABLES)
        );
    }

    #[test]
    fn captured_output_keeps_the_tail_and_clears() {
        let out = CapturedOutput::default();
        out.append(b"first caller's secret\n");
        out.clear();
        assert!(out.contents().is_empty(), "cleared between calls");
        for _ in 0..100 {
            out.append(&[b'x'; 1000]);
        }
        out.append(b"panicked at the end");
        let kept = out.contents();
        assert_eq!(kept.len(), OUTPUT_CAPTURE_BYTES);
        assert!(
            kept.ends_with(b"panicked at the end"),
            "the tail survives a flood"
        );
        out.append(&vec![b'y'; 3 * OUTPUT_CAPTURE_BYTES]);
        assert_eq!(out.contents(), vec![b'y'; OUTPUT_CAPTURE_BYTES]);
    }

    #[test]
    fn begin_call_clears_what_the_previous_call_wrote() {
        let mut state = StoreState::new(&PluginLimits::default());
        state.stderr.append(b"caller A: account 42\n");
        state.stdout.append(b"caller A again\n");
        assert!(state.stderr_text().contains("account 42"));
        state.begin_call(None);
        assert_eq!(state.stderr_text(), "");
        assert_eq!(state.stdout_text(), "");
    }

    #[test]
    fn the_resource_table_is_capped() {
        let mut state = StoreState::new(&PluginLimits::default());
        let table = state.ctx().table;
        for i in 0..MAX_TABLE_ENTRIES {
            table.push(i).expect("under the cap");
        }
        assert!(table.push(0usize).is_err(), "one past the cap is refused");
    }

    #[test]
    fn the_latest_host_call_tells_venue_waits_from_wasi_waits() {
        let mut state = StoreState::new(&PluginLimits::default());
        assert!(!state.waiting_on_venue());
        state.entered_venue_import();
        assert!(state.waiting_on_venue());
        let _ = state.ctx();
        assert!(!state.waiting_on_venue(), "a WASI call came after");
        state.entered_venue_import();
        state.resumed_after(Duration::from_millis(1));
        assert!(!state.waiting_on_venue(), "back from the venue");
    }
}
