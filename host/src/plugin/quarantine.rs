//! Quarantine of a plugin whose calls keep trapping.
//!
//! | setting                        | default | meaning |
//! |--------------------------------|---------|---------|
//! | `quarantine_after_traps`       | 5       | traps within the window that quarantine the plugin (0 = never) |
//! | `quarantine_window_ms`         | 60000   | the sliding window |
//!
//! While quarantined, every call of the plugin (on every venue using it)
//! fails fast with a `plugin` error, `/health` reports its venues degraded,
//! and `resilience_plugin_quarantined` is 1. Reloading the plugins lifts it
//! (a restart too); a plugin that traps this often needs a fixed build, not
//! another try.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct Quarantine {
    plugin: String,
    after: u32,
    window: Duration,
    traps: Mutex<VecDeque<Instant>>,
    active: AtomicBool,
}

impl Quarantine {
    pub fn new(plugin: &str, after: u32, window: Duration) -> Self {
        Self {
            plugin: plugin.to_string(),
            after,
            window,
            traps: Mutex::new(VecDeque::new()),
            active: AtomicBool::new(false),
        }
    }

    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Record a trap; returns true when this trap quarantined the plugin.
    pub fn record_trap(&self) -> bool {
        if self.after == 0 {
            return false;
        }
        let now = Instant::now();
        let mut t = self.traps.lock().unwrap_or_else(|e| e.into_inner());
        t.push_back(now);
        while t
            .front()
            .is_some_and(|at| now.duration_since(*at) > self.window)
        {
            t.pop_front();
        }
        if t.len() as u32 >= self.after && !self.active.swap(true, Ordering::Relaxed) {
            tracing::error!(
                plugin = %self.plugin,
                traps = t.len(),
                window_ms = self.window.as_millis() as u64,
                "plugin quarantined: its calls fail fast until the plugins are reloaded"
            );
            return true;
        }
        false
    }

    /// The error message for a call refused by quarantine.
    pub fn message(&self) -> String {
        format!(
            "plugin {} is quarantined after {} traps within {} ms; fix it and reload the plugins",
            self.plugin,
            self.after,
            self.window.as_millis()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn n_traps_within_the_window_quarantine() {
        let q = Quarantine::new("p", 3, Duration::from_secs(10));
        assert!(!q.record_trap());
        tokio::time::advance(Duration::from_secs(11)).await;
        assert!(!q.record_trap());
        assert!(!q.record_trap(), "the first trap left the window");
        assert!(!q.is_active());
        assert!(q.record_trap());
        assert!(q.is_active());
        assert!(!q.record_trap(), "reported once");
    }

    #[tokio::test(start_paused = true)]
    async fn zero_means_never() {
        let q = Quarantine::new("p", 0, Duration::from_secs(10));
        for _ in 0..100 {
            q.record_trap();
        }
        assert!(!q.is_active());
    }
}
