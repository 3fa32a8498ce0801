//! Compiled-component cache keyed by content hash, so a restart does not
//! recompile (compiling takes ~60 ms per plugin in a release host and ~1 s in a
//! debug one).
//!
//! A cache entry is `<sha256 of the .wasm>-<wasmtime version>.cwasm`. Loading
//! an entry is `unsafe` in wasmtime because the file holds native code that is
//! trusted as-is; we only load files this module wrote, under a name bound to
//! the source's hash, and wasmtime itself refuses entries built by an
//! incompatible engine (we then recompile and overwrite). Whoever can write
//! the cache folder can run code in the host: keep it as private as the
//! plugins folder. When the folder cannot be written, plugins still load,
//! just compiled every time.

use std::path::{Path, PathBuf};

use wasmtime::Engine;
use wasmtime::component::Component;

/// How a component was obtained, for start-up logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Cache,
    Compiled,
}

/// Compile `wasm` (whose hash is `sha256_hex`), or load it from `cache_dir`.
pub fn load_or_compile(
    engine: &Engine,
    wasm: &[u8],
    sha256_hex: &str,
    cache_dir: Option<&Path>,
) -> wasmtime::Result<(Component, Source)> {
    let entry = cache_dir.map(|d| entry_path(d, sha256_hex));
    if let Some(path) = &entry
        && path.exists()
    {
        match deserialize(engine, path) {
            Ok(c) => return Ok((c, Source::Cache)),
            Err(e) => {
                tracing::info!(file = %path.display(), error = %e, "compiled cache entry unusable; recompiling");
            }
        }
    }
    let component = Component::new(engine, wasm)?;
    if let Some(path) = &entry
        && let Err(e) = store(&component, path)
    {
        tracing::warn!(file = %path.display(), error = %e, "cannot write compiled-component cache; continuing without it");
    }
    Ok((component, Source::Compiled))
}

fn entry_path(dir: &Path, sha256_hex: &str) -> PathBuf {
    dir.join(format!("{sha256_hex}-wasmtime{}.cwasm", wasmtime_version()))
}

fn wasmtime_version() -> &'static str {
    // Bumping wasmtime changes the native code format; the engine also checks,
    // this just keeps old entries from being tried at all.
    "48.0.8"
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: the file was written by `store` below from a component this
    // engine compiled, under a name bound to the source's SHA-256; wasmtime
    // validates the header and engine compatibility before using it.
    unsafe { Component::deserialize_file(engine, path) }
}

fn store(component: &Component, path: &Path) -> std::io::Result<()> {
    let bytes = component
        .serialize()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Write then rename, so concurrent hosts (or tests) never read a torn file.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
