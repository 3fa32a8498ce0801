//! `cargo xtask plugins`: build every plugin crate for wasm32-wasip2 and
//! gather the components where the host and the tests look for them.
//!
//! | crates              | copied to             |
//! |---------------------|-----------------------|
//! | `plugins/*`         | `target/plugins/`      |
//! | `tests/plugins/*`   | `target/test-plugins/` |

use std::collections::BTreeSet;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::cmd;
use crate::manifest::{self, Manifest};

pub const TARGET: &str = "wasm32-wasip2";

/// Where plugin crates live, and where their components are gathered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Venue,
    Test,
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Venue, Kind::Test];

    /// The folder of the crates, relative to the workspace root.
    pub fn source_dir(self) -> &'static str {
        match self {
            Kind::Venue => "plugins",
            Kind::Test => "tests/plugins",
        }
    }

    /// The folder of the gathered `.wasm` files, relative to the target dir.
    pub fn output_dir(self) -> &'static str {
        match self {
            Kind::Venue => "plugins",
            Kind::Test => "test-plugins",
        }
    }
}

/// One plugin crate.
#[derive(Debug)]
pub struct PluginCrate {
    pub kind: Kind,
    /// Relative to the workspace root, with `/`: `plugins/ton`.
    pub dir: String,
    pub manifest: Manifest,
}

/// The target dir: `$CARGO_TARGET_DIR` (relative to the current dir) or `<root>/target`.
pub fn target_dir(root: &Path) -> Result<PathBuf> {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                Ok(dir)
            } else {
                Ok(std::env::current_dir()?.join(dir))
            }
        }
        _ => Ok(root.join("target")),
    }
}

/// Every plugin crate: the folders of `plugins/` and `tests/plugins/` that
/// have a Cargo.toml, checked to be workspace members with a `cdylib`.
pub fn discover(root: &Path) -> Result<Vec<PluginCrate>> {
    let root_manifest = root.join("Cargo.toml");
    let root_text = fs::read_to_string(&root_manifest)
        .with_context(|| format!("cannot read {}", root_manifest.display()))?;
    let (members, exclude) = manifest::workspace_members(&root_text)
        .with_context(|| format!("in {}", root_manifest.display()))?;

    let mut crates = Vec::new();
    for kind in Kind::ALL {
        let dir = root.join(kind.source_dir());
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", dir.display())),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry?;
            if entry.path().join("Cargo.toml").is_file() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        for name in names {
            let rel = format!("{}/{name}", kind.source_dir());
            let path = root.join(&rel).join("Cargo.toml");
            let text = fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let manifest =
                manifest::parse(&text).with_context(|| format!("in {}", path.display()))?;
            if !manifest.crate_types.is_empty()
                && !manifest.crate_types.iter().any(|t| t == "cdylib")
            {
                bail!(
                    "{rel}/Cargo.toml: [lib] crate-type has no \"cdylib\", so no .wasm component \
                     would be built; use crate-type = [\"cdylib\", \"rlib\"]"
                );
            }
            let member = members.iter().any(|m| manifest::member_matches(m, &rel))
                && !exclude.iter().any(|m| manifest::member_matches(m, &rel));
            if !member {
                bail!(
                    "{rel} has a Cargo.toml but is not a workspace member: add \"{rel}\" to \
                     `members` in the root Cargo.toml"
                );
            }
            crates.push(PluginCrate {
                kind,
                dir: rel,
                manifest,
            });
        }
    }

    // Two crates with one lib name would overwrite each other's `.wasm`.
    let mut seen = BTreeSet::new();
    for c in &crates {
        if !seen.insert(c.manifest.lib.as_str()) {
            bail!(
                "two plugin crates have the lib name `{}` (one is {}): each needs its own, it is \
                 the .wasm file name",
                c.manifest.lib,
                c.dir
            );
        }
    }
    Ok(crates)
}

/// Make sure the Rust standard library for wasm32-wasip2 is installed.
pub fn ensure_target() -> Result<()> {
    let output = match Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == ErrorKind::NotFound => return target_without_rustup(),
        Err(e) => return Err(e).context("cannot run `rustup target list --installed`"),
    };
    if !output.status.success() {
        bail!(
            "`rustup target list --installed` failed with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let installed = String::from_utf8_lossy(&output.stdout);
    if installed.lines().any(|l| l.trim() == TARGET) {
        return Ok(());
    }
    cmd::run(Command::new("rustup").args(["target", "add", TARGET]))
}

/// Without rustup, the target is usable only if the toolchain ships it.
fn target_without_rustup() -> Result<()> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(sysroot) = sysroot
        && sysroot.join("lib/rustlib").join(TARGET).is_dir()
    {
        return Ok(());
    }
    bail!(
        "rustup is not on PATH, and the Rust toolchain has no {TARGET} standard library. \
         Plugins are built for {TARGET}: install rustup (https://rustup.rs) and run \
         `rustup target add {TARGET}`, or install that target with your Rust distribution"
    )
}

/// `cargo xtask plugins [--debug] [-p NAME]...`: every plugin crate, or only
/// the named ones (`NAME`: the folder name, the package or the lib name).
pub fn build(root: &Path, debug: bool, only: &[&str]) -> Result<()> {
    let mut crates = discover(root)?;
    if crates.is_empty() {
        bail!("no plugin crates found under plugins/ or tests/plugins/");
    }
    let everything = only.is_empty();
    if !everything {
        crates = select(crates, only)?;
    }
    ensure_target()?;

    let (profile, profile_dir) = if debug {
        ("dev", "debug")
    } else {
        ("plugin", "plugin")
    };
    let mut build = cmd::cargo(root);
    build.args(["build", "--profile", profile, "--target", TARGET]);
    for c in &crates {
        build.args(["-p", &c.manifest.package]);
    }
    cmd::run(&mut build)?;

    let target = target_dir(root)?;
    let built = target.join(TARGET).join(profile_dir);
    let mut report = Vec::new();
    for kind in Kind::ALL {
        let out_dir = target.join(kind.output_dir());
        fs::create_dir_all(&out_dir)
            .with_context(|| format!("cannot create {}", out_dir.display()))?;
        let mut keep = BTreeSet::new();
        for c in crates.iter().filter(|c| c.kind == kind) {
            let file = format!("{}.wasm", c.manifest.lib);
            let from = built.join(&file);
            let to = out_dir.join(&file);
            let size = copy(&from, &to).with_context(|| {
                format!(
                    "cannot copy the component of {} ({}) from {}",
                    c.manifest.package,
                    c.dir,
                    from.display()
                )
            })?;
            report.push((to, c.manifest.package.as_str(), size));
            keep.insert(file);
        }
        // A partial build knows only its own crates' files.
        if everything {
            remove_stale(&out_dir, &keep)?;
        }
    }

    println!("plugins ({profile} profile):");
    for (path, package, size) in report {
        let shown = path.strip_prefix(root).unwrap_or(&path);
        println!(
            "  {:<36} {:>9.1} KiB  ({package})",
            shown.display().to_string(),
            size as f64 / 1024.0
        );
    }
    Ok(())
}

/// The crates named in `only`, in discovery order; an unknown name is an
/// error listing the known ones.
fn select(crates: Vec<PluginCrate>, only: &[&str]) -> Result<Vec<PluginCrate>> {
    let names = |c: &PluginCrate| {
        let folder = c.dir.rsplit('/').next().unwrap_or(&c.dir).to_string();
        [folder, c.manifest.package.clone(), c.manifest.lib.clone()]
    };
    if let Some(unknown) = only
        .iter()
        .find(|n| !crates.iter().any(|c| names(c).iter().any(|x| x == *n)))
    {
        let known: Vec<String> = crates.iter().map(|c| names(c)[0].clone()).collect();
        bail!(
            "no plugin crate named `{unknown}`; the plugin crates are: {}",
            known.join(", ")
        );
    }
    Ok(crates
        .into_iter()
        .filter(|c| names(c).iter().any(|x| only.contains(&x.as_str())))
        .collect())
}

/// Copy through a temporary file and rename, so a host reading the folder
/// never sees a half-written component. Returns the size in bytes.
fn copy(from: &Path, to: &Path) -> Result<u64> {
    let tmp = to.with_extension("wasm.tmp");
    let size = fs::copy(from, &tmp)?;
    fs::rename(&tmp, to)?;
    Ok(size)
}

/// Remove the `.wasm` files of `dir` that no plugin crate produces any more
/// (the host loads every `.wasm` in its folder).
fn remove_stale(dir: &Path, keep: &BTreeSet<String>) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stale_wasm = name.ends_with(".wasm") && !keep.contains(&name);
        if stale_wasm || name.ends_with(".wasm.tmp") {
            eprintln!("removing stale {}", path.display());
            fs::remove_file(&path).with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn discovers_members_and_refuses_the_others() {
        let root = std::env::temp_dir().join(format!("xtask-discover-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let plugin = |name: &str| {
            format!("[package]\nname = \"{name}\"\n[lib]\ncrate-type = [\"cdylib\"]\n")
        };
        write(
            &root.join("Cargo.toml"),
            "[workspace]\nmembers = [\"plugins/a\", \"tests/plugins/*\"]\n",
        );
        write(&root.join("plugins/a/Cargo.toml"), &plugin("a-plugin"));
        write(&root.join("plugins/README.md"), "not a crate");
        write(
            &root.join("tests/plugins/b-c/Cargo.toml"),
            &plugin("test-b-c"),
        );
        let found = discover(&root).unwrap();
        let found: Vec<_> = found
            .iter()
            .map(|c| (c.kind, c.dir.as_str(), c.manifest.lib.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                (Kind::Venue, "plugins/a", "a_plugin"),
                (Kind::Test, "tests/plugins/b-c", "test_b_c")
            ]
        );

        write(&root.join("plugins/z/Cargo.toml"), &plugin("z-plugin"));
        let err = discover(&root).unwrap_err().to_string();
        assert!(err.contains("\"plugins/z\" to `members`"), "{err}");
        fs::remove_dir_all(&root).unwrap();
    }
}
