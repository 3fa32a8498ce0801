//! The host's periodic work beside the calls: active health probes and the
//! idle-instance trimmer. Each task holds only a weak reference to the
//! [`App`] between ticks, so it stops when the host is dropped.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::App;

/// How often idle plugin instances are looked at for trimming.
pub const IDLE_TRIM_INTERVAL: Duration = Duration::from_secs(10);

impl App {
    /// Start the configured active health probes. Each runs its operation
    /// every `interval_ms`; the requests go through the venue's pipeline, so a
    /// failing probe counts against the endpoint breakers like any call.
    pub fn spawn_health_probes(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = Vec::new();
        for (name, vc) in &self.config.venues {
            let (Some(probe), true) = (vc.health_probe.clone(), self.shared.contains_key(name))
            else {
                continue;
            };
            let app = Arc::downgrade(self);
            let name = name.clone();
            tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(probe.interval_ms));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    // Stop when the host is gone.
                    let Some(app) = app.upgrade() else { break };
                    let result = app.call(&name, &probe.operation, &probe.params).await;
                    let Some(v) = app.shared.get(&name) else { break };
                    match result {
                        Ok(_) => {
                            v.probes_ok.fetch_add(1, Ordering::Relaxed);
                            tracing::debug!(venue = %name, operation = %probe.operation, "health probe ok");
                        }
                        Err(e) => {
                            v.probes_failed.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(venue = %name, operation = %probe.operation, kind = e.kind(), error = %e, "health probe failed");
                        }
                    }
                }
            }));
        }
        tasks
    }

    /// Drop every venue's idle plugin instances unused for their
    /// `idle_instance_ms`, every [`IDLE_TRIM_INTERVAL`], so a burst's
    /// instances are freed even when no call comes after it; when any were
    /// dropped since the last tick, give the freed heap back to the
    /// operating system ([`crate::heap`]).
    pub fn spawn_idle_trimmer(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let app = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(IDLE_TRIM_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(app) = app.upgrade() else { break };
                let mut dropped = 0;
                for venue in app.loaded().venues.values() {
                    venue.pool.trim_idle();
                    dropped += venue.pool.take_trimmed();
                }
                drop(app);
                if dropped > 0 {
                    let released = tokio::task::spawn_blocking(crate::heap::release).await;
                    tracing::debug!(
                        dropped,
                        released = released.unwrap_or(false),
                        "heap released after trimming idle instances"
                    );
                }
            }
        })
    }
}
