//! The oracle virtualenv: the Python packages the tests use (pinned in
//! `tests/oracle/requirements.txt`: the venues' official clients for the
//! plugins' differential tests, schemathesis for the API fuzz) in a throwaway
//! virtualenv under the target directory. The tests find the interpreter
//! through `RESILIENCE_ORACLE_PYTHON`.
//!
//! The virtualenv is rebuilt only when the requirements change (a copy of the
//! file that built it is kept beside it). Without network or Python, a local
//! run goes on and the differential tests say they were skipped; under `CI`
//! that is a failure, so CI never passes without the oracles.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cmd, plugins};

/// The variable the differential tests read.
pub const PYTHON_VAR: &str = "RESILIENCE_ORACLE_PYTHON";

/// The interpreter of an up-to-date oracle virtualenv, built if needed; `None`
/// (after a warning) when it cannot be built outside CI.
pub fn python(root: &Path) -> Result<Option<PathBuf>> {
    match ensure(root) {
        Ok(python) => Ok(Some(python)),
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!(
                "warning: no oracle virtualenv ({e:#}); the differential tests against the \
                 venues' official clients and the API fuzz will be skipped"
            );
            Ok(None)
        }
        Err(e) => Err(e.context("CI needs the oracle virtualenv")),
    }
}

fn ensure(root: &Path) -> Result<PathBuf> {
    let requirements = root.join("tests/oracle/requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .with_context(|| format!("cannot read {}", requirements.display()))?;
    let venv = plugins::target_dir(root)?.join("oracle-venv");
    let python = venv.join("bin/python");
    let stamp = venv.join("requirements.txt");
    if python.exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&wanted) {
        return Ok(python);
    }
    if venv.exists() {
        std::fs::remove_dir_all(&venv)
            .with_context(|| format!("cannot remove the stale {}", venv.display()))?;
    }
    let system_python = ["python3", "python"].into_iter().find(|p| {
        Command::new(p)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    let Some(system_python) = system_python else {
        bail!("neither python3 nor python is on PATH");
    };
    cmd::run(Command::new(system_python).arg("-m").arg("venv").arg(&venv))?;
    cmd::run(
        Command::new(&python)
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements),
    )?;
    std::fs::copy(&requirements, &stamp)
        .with_context(|| format!("cannot write {}", stamp.display()))?;
    Ok(python)
}
