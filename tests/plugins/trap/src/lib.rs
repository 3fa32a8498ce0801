//! Test plugin `trap`: traps on request, and counts calls per instance.
//!
//! Proves the host survives a guest trap and replaces the instance: `calls`
//! counts every call made to this instance (including the one that trapped),
//! so after a trap a fresh instance answers `calls` with 1.
//!
//! | operation         | result |
//! |-------------------|--------|
//! | `panic {}`        | panics: "deliberate panic in trap plugin" (a trap under `panic = "abort"`) |
//! | `unreachable {}`  | `std::process::abort()` (a wasm `unreachable` trap) |
//! | `ok {}`           | `{"ok": true}` |
//! | `calls {}`        | `{"calls": n}`, n counting this call |
//! | `recurse {}`      | unbounded recursion: a stack-overflow trap |
//! | `huge_output {mib}` | returns a string of `mib` MiB (the host caps plugin output) |

use resilience_guest::prelude::*;
use serde_json::{Value, json};

#[derive(Debug, Default)]
pub struct Trap {
    /// Calls made to this instance; reset only by a new instance.
    calls: u64,
}

impl Trap {
    fn panic(&mut self, _: Value) -> Result<Value, VenueError> {
        self.calls += 1;
        panic!("deliberate panic in trap plugin");
    }

    fn unreachable(&mut self, _: Value) -> Result<Value, VenueError> {
        self.calls += 1;
        std::process::abort();
    }

    fn ok(&mut self, _: Value) -> Result<Value, VenueError> {
        self.calls += 1;
        Ok(json!({ "ok": true }))
    }

    fn recurse(&mut self, _: Value) -> Result<Value, VenueError> {
        self.calls += 1;
        Ok(json!({ "depth": depth(std::hint::black_box(1)) }))
    }

    fn huge_output(&mut self, p: HugeParams) -> Result<Value, VenueError> {
        self.calls += 1;
        Ok(json!({ "data": "x".repeat(p.mib << 20) }))
    }

    fn calls(&mut self, _: Value) -> Result<Value, VenueError> {
        self.calls += 1;
        Ok(json!({ "calls": self.calls }))
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct HugeParams {
    mib: usize,
}

/// Recurse without end; the frame keeps a buffer so the optimiser cannot
/// turn it into a loop.
#[allow(unconditional_recursion)]
fn depth(n: u64) -> u64 {
    let buf = std::hint::black_box([n; 64]);
    1 + depth(buf[(n % 64) as usize] + 1)
}

impl Plugin for Trap {
    const NAME: &'static str = "trap";
    const VERSION: &'static str = "0.1.0";

    fn operations() -> Operations<Self> {
        Operations::new()
            .op("panic", "Panic", Self::panic)
            .op("unreachable", "Abort (wasm unreachable)", Self::unreachable)
            .op("ok", "Return {\"ok\":true}", Self::ok)
            .op(
                "calls",
                "Calls made to this instance, this one included",
                Self::calls,
            )
            .op(
                "recurse",
                "Recurse until the stack overflows",
                Self::recurse,
            )
            .op(
                "huge_output",
                "Return a string of `mib` MiB",
                Self::huge_output,
            )
    }
}

// Exported only for WebAssembly: the export names (`resilience:venue/adapter@0.1.0#…`)
// are not valid symbols for a native linker, and native builds only run tests.
#[cfg(target_arch = "wasm32")]
resilience_guest::export_plugin!(Trap);
