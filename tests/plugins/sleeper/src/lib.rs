//! Test plugin `sleeper`: waits on the WASI clock where the host calls it, and
//! writes to stderr on request.
//!
//! `std::thread::sleep` on `wasm32-wasip2` is a real clock wait
//! (`monotonic-clock.subscribe-duration` + `poll`): the guest burns no CPU, so
//! only a wall-clock limit stops it.
//!
//! | operation                  | result |
//! |----------------------------|--------|
//! | `sleep {ms}`               | sleeps `ms`, then `{"slept_ms": ms}` |
//! | `calls {}`                 | `{"calls": n}`, n counting this call on this instance |
//! | `say {text}`               | writes `text` to stderr and stdout, `{"said": bytes}` |
//! | `flood_then_panic {bytes}` | writes `bytes` bytes to stderr, then panics "deliberate panic after a flood" |
//! | `panic {}`                 | panics "deliberate panic in sleeper" |
//! | `env {}`                   | what `std::env` sees: `{"count", "home", "path", "args"}` |
//! | `clock {}`                 | `{"sub_ms_nanos": [..]}`: the sub-millisecond part of five wall-clock readings |
//! | `order {sleep_ms?, key_bytes?, pad_bytes?}` (mutating) | `prepare` sleeps `sleep_ms` when given, and chooses a key of `key_bytes` bytes instead of the caller's and adds a field of `pad_bytes` bytes to the params when given; `invoke` answers `{"placed": true}`; `reconcile` sleeps `sleep_ms` when given, then says "not found" |
//! | `long_error {bytes}`       | fails `parse` with a message of `bytes` bytes |

use std::io::Write;
use std::time::Duration;

use resilience_guest::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Default)]
pub struct Sleeper {
    /// Calls made to this instance; reset only by a new instance.
    calls: u64,
}

#[derive(Debug, Deserialize)]
pub struct SleepParams {
    ms: u64,
}

#[derive(Debug, Deserialize)]
pub struct SayParams {
    text: String,
}

#[derive(Debug, Deserialize)]
pub struct FloodParams {
    bytes: usize,
}

/// Sleep for the `sleep_ms` member of `params`, if any.
fn sleep_if_asked(params: &Value) {
    if let Some(ms) = params.get("sleep_ms").and_then(Value::as_u64) {
        std::thread::sleep(Duration::from_millis(ms));
    }
}

impl Sleeper {
    fn sleep(&mut self, p: SleepParams) -> Result<Value, VenueError> {
        self.calls += 1;
        std::thread::sleep(Duration::from_millis(p.ms));
        Ok(json!({ "slept_ms": p.ms }))
    }

    fn calls(&mut self, _: Value) -> Result<Value, VenueError> {
        self.calls += 1;
        Ok(json!({ "calls": self.calls }))
    }

    fn say(&mut self, p: SayParams) -> Result<Value, VenueError> {
        self.calls += 1;
        eprintln!("{}", p.text);
        println!("{}", p.text);
        Ok(json!({ "said": p.text.len() }))
    }

    fn flood_then_panic(&mut self, p: FloodParams) -> Result<Value, VenueError> {
        self.calls += 1;
        let chunk = [b'x'; 4096];
        let mut err = std::io::stderr();
        let mut left = p.bytes;
        while left > 0 {
            let n = left.min(chunk.len());
            // A host that refuses more output must not turn this into a
            // different failure: ignore write errors.
            let _ = err.write_all(&chunk[..n]);
            left -= n;
        }
        let _ = err.write_all(b"\n");
        panic!("deliberate panic after a flood");
    }

    fn panic(&mut self, _: Value) -> Result<Value, VenueError> {
        self.calls += 1;
        panic!("deliberate panic in sleeper");
    }

    fn env(&mut self, _: Value) -> Result<Value, VenueError> {
        self.calls += 1;
        Ok(json!({
            "count": std::env::vars().count(),
            "home": std::env::var("HOME").ok(),
            "path": std::env::var("PATH").ok(),
            "args": std::env::args().count(),
        }))
    }

    fn clock(&mut self, _: Value) -> Result<Value, VenueError> {
        self.calls += 1;
        let sub_ms: Vec<u32> = (0..5)
            .map(|_| {
                let d = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                d.subsec_nanos() % 1_000_000
            })
            .collect();
        Ok(json!({ "sub_ms_nanos": sub_ms }))
    }

    fn long_error(&mut self, p: FloodParams) -> Result<Value, VenueError> {
        Err(VenueError::parse("e".repeat(p.bytes)))
    }

    fn order(&mut self, _: Value) -> Result<Value, VenueError> {
        self.calls += 1;
        Ok(json!({ "placed": true }))
    }
}

impl Plugin for Sleeper {
    const NAME: &'static str = "sleeper";
    const VERSION: &'static str = "0.1.0";

    fn operations() -> Operations<Self> {
        Operations::new()
            .op(
                "sleep",
                "Sleep `ms` milliseconds (a WASI clock wait)",
                Self::sleep,
            )
            .op(
                "calls",
                "Calls made to this instance, this one included",
                Self::calls,
            )
            .op("say", "Write `text` to stderr and stdout", Self::say)
            .op(
                "flood_then_panic",
                "Write `bytes` bytes to stderr, then panic",
                Self::flood_then_panic,
            )
            .op("panic", "Panic", Self::panic)
            .op("env", "What std::env sees", Self::env)
            .op(
                "clock",
                "Sub-millisecond parts of wall-clock readings",
                Self::clock,
            )
            .op(
                "long_error",
                "Fail with a message of `bytes` bytes",
                Self::long_error,
            )
            .mutating("order", "Place a pretend order", Self::order)
    }

    fn prepare(
        &mut self,
        _operation: &str,
        params: Value,
        caller_key: Option<&str>,
    ) -> Result<Prepared, VenueError> {
        sleep_if_asked(&params);
        let bytes = |name: &str| params.get(name).and_then(Value::as_u64).map(|n| n as usize);
        let (key_bytes, pad_bytes) = (bytes("key_bytes"), bytes("pad_bytes"));
        let key = match key_bytes {
            Some(n) => Some("k".repeat(n)),
            None => caller_key.map(str::to_string),
        };
        let mut params = params;
        if let (Some(n), Some(map)) = (pad_bytes, params.as_object_mut()) {
            map.insert("pad".into(), Value::String("p".repeat(n)));
        }
        Ok(Prepared {
            idempotency_key: key,
            params,
        })
    }

    fn reconcile(
        &mut self,
        _operation: &str,
        params: Value,
        _idempotency_key: &str,
    ) -> Result<Option<Value>, VenueError> {
        sleep_if_asked(&params);
        Ok(None)
    }
}

#[cfg(target_arch = "wasm32")]
resilience_guest::export_plugin!(Sleeper);
