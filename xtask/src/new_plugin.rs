//! `cargo xtask new-plugin NAME`: start a venue plugin from `plugins/template`.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::manifest::{self, strip_comment};
use crate::plugins;

const TEMPLATE: &str = "plugins/template";

/// `[a-z][a-z0-9-]*`, at most 64 characters (the host's limit on plugin names).
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// `demo-venue` -> `DemoVenue`.
fn camel(name: &str) -> String {
    name.split('-')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut cs = p.chars();
            cs.next()
                .map(|c| c.to_ascii_uppercase().to_string() + cs.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `word` occurs in `text` as a whole identifier.
fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(is_ident_char) && !after.is_some_and(is_ident_char)
    })
}

/// `line` with every whole-identifier `from` replaced by `to`.
fn replace_word(line: &str, from: &str, to: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find(from) {
        let before = rest[..i].chars().next_back().or(out.chars().next_back());
        let after = rest[i + from.len()..].chars().next();
        out.push_str(&rest[..i]);
        if before.is_some_and(is_ident_char) || after.is_some_and(is_ident_char) {
            out.push_str(from);
        } else {
            out.push_str(to);
        }
        rest = &rest[i + from.len()..];
    }
    out.push_str(rest);
    out
}

/// The template's Cargo.toml for plugin `name`: package `NAME-plugin`, lib
/// `NAME` with `_`, a fresh description, without the copy instructions on top.
pub fn rewrite_manifest(text: &str, name: &str) -> Result<String> {
    let lib = name.replace('-', "_");
    let mut out = String::new();
    let mut section: Option<String> = None;
    let (mut package_named, mut lib_named, mut has_lib) = (false, false, false);
    for line in text.lines() {
        let code = strip_comment(line).trim();
        if code.starts_with('[') {
            if section.as_deref() == Some("lib") && !lib_named {
                out.push_str(&format!("name = \"{lib}\"\n"));
                lib_named = true;
            }
            let s = code
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string();
            has_lib |= s == "lib";
            section = Some(s);
            out.push_str(line);
            out.push('\n');
            continue;
        }
        // The comment above [package] tells how to copy the template.
        if section.is_none() {
            continue;
        }
        let key = code.split_once('=').map(|(k, _)| k.trim());
        let replaced = match (section.as_deref(), key) {
            (Some("package"), Some("name")) => {
                package_named = true;
                Some(format!("name = \"{name}-plugin\""))
            }
            (Some("package"), Some("description")) => {
                Some(format!("description = \"Venue plugin for {name}\""))
            }
            (Some("lib"), Some("name")) => {
                lib_named = true;
                Some(format!("name = \"{lib}\""))
            }
            _ => None,
        };
        match replaced {
            Some(new) => out.push_str(&new),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    if section.as_deref() == Some("lib") && !lib_named {
        out.push_str(&format!("name = \"{lib}\"\n"));
        lib_named = true;
    }
    if !package_named {
        bail!("{TEMPLATE}/Cargo.toml has no [package] name to rewrite");
    }
    if !has_lib || !lib_named {
        bail!("{TEMPLATE}/Cargo.toml has no [lib] section to name the .wasm file");
    }
    Ok(out)
}

/// The template's src/lib.rs for plugin `name`: `const NAME` set to `name`,
/// the `Template` type renamed, and `template-plugin`/`template.wasm` in the
/// docs updated. Returns the new text and the type name.
pub fn rewrite_lib(text: &str, name: &str) -> Result<(String, String)> {
    let lib = name.replace('-', "_");
    // A type name that clashes with nothing the template already uses
    // (`Request`, `Plugin`, ...).
    let ty = [camel(name), format!("{}Venue", camel(name))]
        .into_iter()
        .find(|t| !has_word(text, t))
        .unwrap_or_else(|| "Template".to_string());
    let mut out = String::with_capacity(text.len());
    let mut named = false;
    for line in text.split_inclusive('\n') {
        let mut line = line
            .replace("template-plugin", &format!("{name}-plugin"))
            .replace("template.wasm", &format!("{lib}.wasm"));
        let code = line.trim_start();
        let comment = code.starts_with("//");
        if !comment && code.contains("const NAME") && line.contains("\"template\"") {
            line = line.replace("\"template\"", &format!("\"{name}\""));
            named = true;
        }
        if !comment {
            line = replace_word(&line, "Template", &ty);
        }
        out.push_str(&line);
    }
    if !named {
        bail!("{TEMPLATE}/src/lib.rs has no `const NAME: &'static str = \"template\";` to rewrite");
    }
    Ok((out, ty))
}

/// Copy `from` to `to` recursively, skipping `target/` folders.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let ty = entry.file_type()?;
        if ty.is_dir() {
            if entry.file_name() != "target" {
                copy_tree(&src, &dst)?;
            }
        } else if ty.is_file() {
            fs::copy(&src, &dst)
                .with_context(|| format!("cannot copy {} to {}", src.display(), dst.display()))?;
        }
    }
    Ok(())
}

/// `cargo xtask new-plugin NAME`.
pub fn run(root: &Path, name: &str) -> Result<()> {
    if !valid_name(name) {
        bail!(
            "invalid plugin name {name:?}: use a lowercase letter, then lowercase letters, digits \
             and '-' (at most 64), e.g. `kraken` or `binance-spot`"
        );
    }
    let rel = format!("plugins/{name}");
    let dst = root.join(&rel);
    if dst.exists() {
        bail!("{rel} already exists");
    }
    let template = root.join(TEMPLATE);
    let lib = name.replace('-', "_");
    let package = format!("{name}-plugin");
    for c in plugins::discover(root)? {
        if c.manifest.lib == lib || c.manifest.package == package {
            bail!(
                "{} already uses the package `{}` / lib `{}`; choose another name",
                c.dir,
                c.manifest.package,
                c.manifest.lib
            );
        }
    }

    // Prepare every change before touching the tree.
    let read = |p: &str| {
        let path = template.join(p);
        fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
    };
    let cargo_toml = rewrite_manifest(&read("Cargo.toml")?, name)?;
    let (lib_rs, ty) = rewrite_lib(&read("src/lib.rs")?, name)?;
    let root_manifest = root.join("Cargo.toml");
    let root_text = fs::read_to_string(&root_manifest)
        .with_context(|| format!("cannot read {}", root_manifest.display()))?;
    let (members, _) = manifest::workspace_members(&root_text)?;
    let root_text = if members.iter().any(|m| manifest::member_matches(m, &rel)) {
        None
    } else {
        Some(manifest::add_member(&root_text, &rel).context("cannot add to the root Cargo.toml")?)
    };

    copy_tree(&template, &dst)?;
    fs::write(dst.join("Cargo.toml"), cargo_toml)?;
    fs::write(dst.join("src/lib.rs"), lib_rs)?;
    if let Some(text) = root_text {
        fs::write(&root_manifest, text)
            .with_context(|| format!("cannot write {}", root_manifest.display()))?;
    }

    // Renaming can lengthen lines: format the new crate so `cargo fmt --check`
    // (CI) passes without edits. A missing rustfmt only costs the formatting.
    let mut fmt = crate::cmd::cargo(root);
    fmt.args(["fmt", "-p", &package]);
    if let Err(e) = crate::cmd::run(&mut fmt) {
        eprintln!("warning: could not format {rel}: {e:#}");
    }

    let test = format!("cargo test -p {package}");
    let build = format!("cargo xtask plugins -p {name}");
    println!(
        "Created {rel}: package `{package}`, lib `{lib}` (target/plugins/{lib}.wasm), plugin \
         name \"{name}\", type `{ty}`; added \"{rel}\" to the workspace members.

Next steps:
  1. Write the venue's operations in {rel}/src/lib.rs: constants with their
     sources, params structs, the operations table, response parsing and
     error mapping (the template's numbered comments walk through them;
     docs/writing-a-plugin.md is the guide). Update the module docs.
  2. {test:<40} # the pure parts, natively
  3. {build:<40} # builds target/plugins/{lib}.wasm
  4. cargo build --release -p resilience-host   # once; the first build takes 5-15 minutes
     target/release/resilience-host plugins check target/plugins/{lib}.wasm
  5. Add a venue to a config (resilience.toml, or a file of your own):
       [venues.{name}]
       plugin = \"{name}\"
       endpoints = [\"https://...\"]
     then: target/release/resilience-host serve --config FILE
     (docs/writing-a-plugin.md, \"Try it locally\", runs it against a mock venue)"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "kraken", "binance-spot", "x1-2"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "1x", "-x", "Kraken", "a_b", "a b", &"a".repeat(65)] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert_eq!(camel("demo-venue"), "DemoVenue");
        assert_eq!(camel("x1-2"), "X12");
    }

    #[test]
    fn manifest_is_renamed() {
        let text = "# Copy this folder\n# and rename\n[package]\nname = \"template-plugin\"\n\
                    description = \"The template\"\nversion.workspace = true\n\n[lib]\n\
                    name = \"template\"\ncrate-type = [\"cdylib\", \"rlib\"]\n\n[lints]\n\
                    workspace = true\n";
        let out = rewrite_manifest(text, "demo-venue").unwrap();
        assert_eq!(
            out,
            "[package]\nname = \"demo-venue-plugin\"\ndescription = \"Venue plugin for \
             demo-venue\"\nversion.workspace = true\n\n[lib]\nname = \"demo_venue\"\n\
             crate-type = [\"cdylib\", \"rlib\"]\n\n[lints]\nworkspace = true\n"
        );
        let m = manifest::parse(&out).unwrap();
        assert_eq!(
            (m.package.as_str(), m.lib.as_str()),
            ("demo-venue-plugin", "demo_venue")
        );
        // A [lib] without a name gets one.
        let out = rewrite_manifest("[package]\nname = \"t\"\n[lib]\n", "x-y").unwrap();
        assert_eq!(manifest::parse(&out).unwrap().lib, "x_y");
        assert!(rewrite_manifest("[package]\nname = \"t\"\n", "x").is_err());
    }

    #[test]
    fn lib_is_renamed() {
        let text = "//! Template venue plugin; `-p template-plugin` makes `template.wasm`.\n\
                    pub struct Template;\nimpl Plugin for Template {\n    \
                    const NAME: &'static str = \"template\";\n}\n\
                    export_plugin!(Template);\nstruct TemplateX;\n";
        let (out, ty) = rewrite_lib(text, "demo-venue").unwrap();
        assert_eq!(ty, "DemoVenue");
        assert_eq!(
            out,
            "//! Template venue plugin; `-p demo-venue-plugin` makes `demo_venue.wasm`.\n\
             pub struct DemoVenue;\nimpl Plugin for DemoVenue {\n    \
             const NAME: &'static str = \"demo-venue\";\n}\n\
             export_plugin!(DemoVenue);\nstruct TemplateX;\n"
        );
        // `Plugin` is taken by the trait, so the type is `PluginVenue`.
        let (_, ty) = rewrite_lib(text, "plugin").unwrap();
        assert_eq!(ty, "PluginVenue");
        assert!(rewrite_lib("struct Template;\n", "x").is_err());
    }
}
