//! Test plugin `memory_bomb`: allocates as much memory as it is asked to.
//!
//! Proves the host's per-instance memory limit: past the limit the allocation
//! fails, the guest aborts (a trap), and the host replaces the instance.
//!
//! | operation          | result |
//! |--------------------|--------|
//! | `allocate {mib}`   | `{"allocated_mib": mib}` once `mib` MiB are allocated and written |
//! | `ok {}`            | `{"ok": true}` |

use resilience_guest::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};
use std::hint::black_box;

const MIB: usize = 1 << 20;

#[derive(Debug, Default)]
pub struct MemoryBomb;

#[derive(Debug, Deserialize)]
struct AllocateParams {
    mib: u32,
}

impl MemoryBomb {
    fn allocate(&mut self, p: AllocateParams) -> Result<Value, VenueError> {
        // Chunks stay in `held` until the call ends, so memory only grows.
        let mut held: Vec<Vec<u8>> = Vec::new();
        for _ in 0..p.mib {
            // A non-zero fill writes every byte (a zeroed allocation could be
            // satisfied without touching the pages).
            held.push(vec![0xA5u8; MIB]);
            // Keep the optimiser from eliding allocations nobody reads.
            black_box(&held);
        }
        Ok(json!({ "allocated_mib": black_box(held.len()) }))
    }

    fn ok(&mut self, _: Value) -> Result<Value, VenueError> {
        Ok(json!({ "ok": true }))
    }
}

impl Plugin for MemoryBomb {
    const NAME: &'static str = "memory-bomb";
    const VERSION: &'static str = "0.1.0";

    fn operations() -> Operations<Self> {
        Operations::new()
            .op(
                "allocate",
                "Allocate and write `mib` MiB, in 1 MiB chunks",
                Self::allocate,
            )
            .op("ok", "Return {\"ok\":true}", Self::ok)
    }
}

// Exported only for WebAssembly: the export names (`resilience:venue/adapter@0.2.0#…`)
// are not valid symbols for a native linker, and native builds only run tests.
#[cfg(target_arch = "wasm32")]
resilience_guest::export_plugin!(MemoryBomb);
