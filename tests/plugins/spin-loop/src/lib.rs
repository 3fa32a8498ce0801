//! Test plugin `spin_loop`: an operation that never returns.
//!
//! Proves the host interrupts a runaway guest (epoch deadline or fuel) and
//! answers with a timeout instead of hanging the worker.
//!
//! | operation | result |
//! |-----------|--------|
//! | `spin {}` | never returns |
//! | `ok {}`   | `{"ok": true}` |

use resilience_guest::prelude::*;
use serde_json::{Value, json};
use std::hint::black_box;

#[derive(Debug, Default)]
pub struct SpinLoop;

impl SpinLoop {
    fn spin(&mut self, _: Value) -> Result<Value, VenueError> {
        let mut counter: u64 = 0;
        // `black_box` keeps the optimiser from proving the loop has no effect.
        loop {
            counter = black_box(counter.wrapping_add(1));
        }
    }

    fn ok(&mut self, _: Value) -> Result<Value, VenueError> {
        Ok(json!({ "ok": true }))
    }
}

impl Plugin for SpinLoop {
    const NAME: &'static str = "spin-loop";
    const VERSION: &'static str = "0.1.0";

    fn operations() -> Operations<Self> {
        Operations::new().op("spin", "Loop forever", Self::spin).op(
            "ok",
            "Return {\"ok\":true}",
            Self::ok,
        )
    }
}

// Exported only for WebAssembly: the export names (`resilience:venue/adapter@0.1.0#…`)
// are not valid symbols for a native linker, and native builds only run tests.
#[cfg(target_arch = "wasm32")]
resilience_guest::export_plugin!(SpinLoop);
