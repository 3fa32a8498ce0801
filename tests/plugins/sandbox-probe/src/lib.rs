//! Test plugin that tries what the sandbox must refuse, and reports what it
//! got, so host tests can assert each capability is absent:
//!
//! | operation | tries | the host must make it |
//! |---|---|---|
//! | `read_file {path}` | `std::fs::read` | fail (no preopened directories) |
//! | `list_dir {path}` | `std::fs::read_dir` | fail |
//! | `env {}` | `std::env::vars`, `std::env::var("HOME")`, `PATH` | see nothing |
//! | `connect {addr}` | `std::net::TcpStream::connect` | fail (no network) |
//! | `clock {}` | `SystemTime::now` | millisecond resolution at best |

use resilience_guest::prelude::*;
use serde_json::{Value, json};

#[derive(Debug, Default)]
pub struct SandboxProbe;

#[derive(Debug, serde::Deserialize)]
pub struct PathParams {
    path: String,
}

#[derive(Debug, serde::Deserialize)]
pub struct AddrParams {
    addr: String,
}

impl SandboxProbe {
    fn read_file(&mut self, p: PathParams) -> Result<Value, VenueError> {
        Ok(match std::fs::read(&p.path) {
            Ok(bytes) => json!({"ok": true, "bytes": bytes.len()}),
            Err(e) => json!({"ok": false, "error": e.to_string()}),
        })
    }

    fn list_dir(&mut self, p: PathParams) -> Result<Value, VenueError> {
        Ok(match std::fs::read_dir(&p.path) {
            Ok(rd) => json!({"ok": true, "entries": rd.count()}),
            Err(e) => json!({"ok": false, "error": e.to_string()}),
        })
    }

    fn env(&mut self, _: Value) -> Result<Value, VenueError> {
        Ok(json!({
            "count": std::env::vars().count(),
            "home": std::env::var("HOME").ok(),
            "path": std::env::var("PATH").ok(),
            "args": std::env::args().count(),
        }))
    }

    fn connect(&mut self, p: AddrParams) -> Result<Value, VenueError> {
        Ok(match std::net::TcpStream::connect(&p.addr) {
            Ok(_) => json!({"ok": true}),
            Err(e) => json!({"ok": false, "error": e.to_string()}),
        })
    }

    fn clock(&mut self, _: Value) -> Result<Value, VenueError> {
        // Sub-millisecond part of several readings: all zero at ms resolution.
        let sub_ms: Vec<u32> = (0..5)
            .map(|_| {
                let d = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                d.subsec_nanos() % 1_000_000
            })
            .collect();
        Ok(json!({"sub_ms_nanos": sub_ms}))
    }
}

impl Plugin for SandboxProbe {
    const NAME: &'static str = "sandbox-probe";
    const VERSION: &'static str = "0.1.0";

    fn operations() -> Operations<Self> {
        Operations::new()
            .op("read_file", "Try to read a file", Self::read_file)
            .op("list_dir", "Try to list a directory", Self::list_dir)
            .op("env", "Try to read the environment", Self::env)
            .op("connect", "Try to open a TCP connection", Self::connect)
            .op(
                "clock",
                "Read the wall clock's sub-millisecond part",
                Self::clock,
            )
    }
}

#[cfg(target_arch = "wasm32")]
resilience_guest::export_plugin!(SandboxProbe);
