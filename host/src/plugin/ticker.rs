//! The epoch ticker: advances the engine's epoch every [`EPOCH_TICK`] while
//! guest code may be running, so CPU deadlines fire and a busy guest yields
//! to tokio. It ticks only on demand: every guest entry (instantiate, call)
//! holds an [`Active`] guard, and after `IDLE_TICKS` ticks with no guard the
//! thread parks until the next entry. An idle host then costs no wake-ups
//! (a free-running 1 ms ticker costs ~3% of a core), and the grace period
//! keeps the park/unpark pair off the path of a steady stream of calls.
//!
//! Deadlines keep their meaning: a store's deadline is counted in ticks from
//! its entry, and ticks run whenever a guard is held.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use wasmtime::Engine;

use super::EPOCH_TICK;

/// Ticks without an active guest before the thread parks (100 ms).
const IDLE_TICKS: u32 = 100;

#[derive(Debug, Default)]
struct Shared {
    /// Guest entries in progress.
    active: AtomicUsize,
    /// Epoch increments so far.
    ticks: AtomicU64,
    /// True while the ticker thread is parked (or about to park).
    parked: Mutex<bool>,
    wake: Condvar,
}

/// Handle to an engine's ticker; cheap to clone.
#[derive(Debug, Clone)]
pub struct EpochTicker {
    shared: Arc<Shared>,
}

/// Held while guest code may run; ticks continue until it is dropped.
#[derive(Debug)]
#[must_use = "the ticker runs only while the guard is held"]
pub struct Active<'a> {
    shared: &'a Shared,
}

impl EpochTicker {
    /// Start the ticker thread for `engine`; it ends when the engine is dropped.
    pub fn spawn(engine: &Engine) -> EpochTicker {
        let shared = Arc::new(Shared::default());
        let weak = engine.weak();
        let inner = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || run(weak, &inner));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the epoch ticker; CPU deadlines will not fire");
        }
        EpochTicker { shared }
    }

    /// Mark a guest entry; the ticker runs (waking if parked) until the
    /// guard is dropped.
    pub fn enter(&self) -> Active<'_> {
        if self.shared.active.fetch_add(1, Ordering::SeqCst) == 0 {
            // Only the 0 -> 1 transition can find the thread parked.
            let parked = self.shared.parked.lock().unwrap_or_else(|p| p.into_inner());
            if *parked {
                self.shared.wake.notify_one();
            }
        }
        Active {
            shared: &self.shared,
        }
    }

    /// Epoch increments so far.
    #[cfg(test)]
    fn ticks(&self) -> u64 {
        self.shared.ticks.load(Ordering::Relaxed)
    }

    /// Whether the thread is parked (no guest has run for a while).
    #[cfg(test)]
    fn is_parked(&self) -> bool {
        *self.shared.parked.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.shared.active.fetch_sub(1, Ordering::SeqCst);
    }
}

fn run(engine: wasmtime::EngineWeak, shared: &Shared) {
    let mut idle = 0u32;
    loop {
        std::thread::sleep(EPOCH_TICK);
        match engine.upgrade() {
            Some(e) => e.increment_epoch(),
            None => return,
        }
        shared.ticks.fetch_add(1, Ordering::Relaxed);
        if shared.active.load(Ordering::SeqCst) > 0 {
            idle = 0;
            continue;
        }
        idle += 1;
        if idle < IDLE_TICKS {
            continue;
        }
        let mut parked = shared.parked.lock().unwrap_or_else(|p| p.into_inner());
        *parked = true;
        // Checked under the lock: an `enter` either incremented before this
        // load (no wait) or notifies after it (wakes the wait).
        while shared.active.load(Ordering::SeqCst) == 0 {
            let (guard, _) = shared
                .wake
                .wait_timeout(parked, Duration::from_secs(1))
                .unwrap_or_else(|p| p.into_inner());
            parked = guard;
            if engine.upgrade().is_none() {
                return;
            }
        }
        *parked = false;
        idle = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine() -> Engine {
        let mut cfg = wasmtime::Config::new();
        cfg.epoch_interruption(true);
        Engine::new(&cfg).expect("engine")
    }

    /// Wait (bounded) until `f` holds.
    fn eventually(f: impl Fn() -> bool) -> bool {
        for _ in 0..500 {
            if f() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    #[test]
    fn parks_when_idle_and_ticks_while_a_guard_is_held() {
        let engine = engine();
        let ticker = EpochTicker::spawn(&engine);
        assert!(
            eventually(|| ticker.is_parked()),
            "parks after the idle ticks"
        );

        let parked_at = ticker.ticks();
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(ticker.ticks(), parked_at, "no ticks while parked");

        let guard = ticker.enter();
        assert!(eventually(|| !ticker.is_parked()), "an entry wakes it");
        let from = ticker.ticks();
        assert!(
            eventually(|| ticker.ticks() >= from + 10),
            "the epoch advances while a guard is held"
        );
        drop(guard);
        assert!(eventually(|| ticker.is_parked()), "parks again once idle");
    }

    #[test]
    fn concurrent_entries_never_leave_it_parked() {
        let engine = engine();
        let ticker = EpochTicker::spawn(&engine);
        assert!(eventually(|| ticker.is_parked()));
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..200 {
                        let _g = ticker.enter();
                        std::thread::yield_now();
                    }
                });
            }
        });
        let _held = ticker.enter();
        assert!(
            eventually(|| !ticker.is_parked()),
            "a held guard keeps it running"
        );
    }
}
