//! Test plugin `slow-describe`: building its operations table sleeps for an
//! hour in a real WASI clock wait (`std::thread::sleep` is
//! `monotonic-clock.subscribe-duration` + `poll`), not a spin loop, so no
//! CPU deadline sees it.
//!
//! The host must refuse it at load once the describe wall-clock limit passes,
//! naming the file and the limit, and serve the other plugins meanwhile.

use resilience_guest::prelude::*;

#[derive(Debug, Default)]
pub struct SlowDescribe;

impl Plugin for SlowDescribe {
    const NAME: &'static str = "slow-describe";
    const VERSION: &'static str = "0.1.0";

    fn operations() -> Operations<Self> {
        std::thread::sleep(std::time::Duration::from_secs(3600));
        Operations::new()
    }
}

#[cfg(target_arch = "wasm32")]
resilience_guest::export_plugin!(SlowDescribe);
