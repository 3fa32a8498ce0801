//! Spawning commands: each is echoed as `$ cargo ...` before it runs, and a
//! failure names the command and its exit status.

use std::ffi::OsStr;
use std::fmt;
use std::path::Path;
use std::process::{Command, ExitStatus};

use anyhow::{Context, Result};

/// A command that ran and did not succeed.
#[derive(Debug)]
pub struct Failed {
    pub command: String,
    pub status: ExitStatus,
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` failed with {}", self.command, self.status)
    }
}

impl std::error::Error for Failed {}

/// `cargo` (the one that runs xtask, from `$CARGO`), in the workspace root.
pub fn cargo(root: &Path) -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(program);
    cmd.current_dir(root);
    cmd
}

/// `cmd` as a shell line: `cargo build -p x`, with the program's file name only.
pub fn display(cmd: &Command) -> String {
    let program = Path::new(cmd.get_program());
    let program = program.file_name().unwrap_or(program.as_os_str());
    std::iter::once(program)
        .chain(cmd.get_args())
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ")
}

fn quote(arg: &OsStr) -> String {
    let s = arg.to_string_lossy();
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        s.into_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Echo `cmd`, run it with inherited stdio, and fail unless it succeeds.
pub fn run(cmd: &mut Command) -> Result<()> {
    let line = display(cmd);
    eprintln!("$ {line}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{line}`"))?;
    if status.success() {
        Ok(())
    } else {
        Err(Failed {
            command: line,
            status,
        }
        .into())
    }
}
