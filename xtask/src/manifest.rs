//! Just enough Cargo.toml reading and editing for xtask, by lines.
//!
//! The manifests read here (plugin crates and the root workspace) are small
//! and under our control, so a line parser is enough and keeps xtask free of
//! a TOML dependency. It understands `[section]` headers, `key = "string"`,
//! `key = [ "array", ... ]` (also over several lines) and `#` comments.

use anyhow::{Context, Result, bail};

/// What xtask needs from a plugin crate's Cargo.toml.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// `[package] name`, used with `cargo build -p`.
    pub package: String,
    /// `[lib] name`, or the package name with `-` -> `_`: the `.wasm` file stem.
    pub lib: String,
    /// `[lib] crate-type`; empty when not given.
    pub crate_types: Vec<String>,
}

/// One `key = value` of a manifest, with the section it is in.
#[derive(Debug)]
struct Entry {
    section: String,
    key: String,
    value: String,
}

/// The text before a `#` comment (a `#` inside a string does not count).
pub fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '#') => return &line[..i],
            _ => {}
        }
    }
    line
}

/// Every `key = value` of `text`, with multi-line arrays joined into one value.
fn entries(text: &str) -> Vec<Entry> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        let line = strip_comment(line).trim();
        if line.starts_with('[') {
            section = line
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string();
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let mut value = value.trim().to_string();
        if value.starts_with('[') {
            while !value.contains(']') {
                let Some(next) = lines.next() else { break };
                value.push(' ');
                value.push_str(strip_comment(next).trim());
            }
        }
        out.push(Entry {
            section: section.clone(),
            key: key.trim().to_string(),
            value,
        });
    }
    out
}

/// The contents of a `"..."` or `'...'` value.
fn string_value(value: &str) -> Option<String> {
    let v = value.trim();
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|v| v.strip_suffix(q)) {
            return Some(inner.to_string());
        }
    }
    None
}

/// The strings of a `[ "a", "b" ]` value.
fn array_value(value: &str) -> Option<Vec<String>> {
    let inner = value.trim().strip_prefix('[')?.split(']').next()?;
    Some(
        inner
            .split(',')
            .filter(|s| !s.trim().is_empty())
            .filter_map(string_value)
            .collect(),
    )
}

fn find<'a>(entries: &'a [Entry], section: &str, key: &str) -> Option<&'a Entry> {
    entries
        .iter()
        .find(|e| e.section == section && e.key == key)
}

/// Read a plugin crate's Cargo.toml.
pub fn parse(text: &str) -> Result<Manifest> {
    let entries = entries(text);
    let package = find(&entries, "package", "name")
        .context("no `name` in [package]")?
        .value
        .as_str();
    let package = string_value(package).context("[package] name is not a string")?;
    let lib = match find(&entries, "lib", "name") {
        Some(e) => string_value(&e.value).context("[lib] name is not a string")?,
        None => package.replace('-', "_"),
    };
    let crate_types = match find(&entries, "lib", "crate-type") {
        Some(e) => array_value(&e.value).context("[lib] crate-type is not an array")?,
        None => Vec::new(),
    };
    Ok(Manifest {
        package,
        lib,
        crate_types,
    })
}

/// `[workspace] members` and `exclude` of the root Cargo.toml.
pub fn workspace_members(text: &str) -> Result<(Vec<String>, Vec<String>)> {
    let entries = entries(text);
    let list = |key| -> Result<Vec<String>> {
        match find(&entries, "workspace", key) {
            Some(e) => array_value(&e.value)
                .with_context(|| format!("[workspace] {key} is not an array of strings")),
            None => Ok(Vec::new()),
        }
    };
    Ok((list("members")?, list("exclude")?))
}

/// Whether a workspace `members` pattern (`plugins/ton`, `tests/plugins/*`)
/// matches the relative path `path` (both with `/`).
pub fn member_matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.trim_end_matches('/').split('/').collect();
    let path: Vec<&str> = path.split('/').collect();
    pattern.len() == path.len() && pattern.iter().zip(&path).all(|(p, s)| wildcard(p, s))
}

/// `*` and `?` glob matching of one path component.
fn wildcard(pattern: &str, s: &str) -> bool {
    let (p, s): (Vec<char>, Vec<char>) = (pattern.chars().collect(), s.chars().collect());
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// `text` (the root Cargo.toml) with `"entry"` added to `[workspace] members`:
/// after the last entry that starts with the same folder (`plugins/`), else
/// at the end of the list. Comments and layout are kept.
pub fn add_member(text: &str, entry: &str) -> Result<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut section = String::new();
    let mut start = None;
    for (i, line) in lines.iter().enumerate() {
        let code = strip_comment(line).trim();
        if code.starts_with('[') && !code.contains('=') {
            section = code
                .trim_matches(|c| c == '[' || c == ']')
                .trim()
                .to_string();
        } else if section == "workspace"
            && code
                .split_once('=')
                .is_some_and(|(k, _)| k.trim() == "members")
        {
            start = Some(i);
            break;
        }
    }
    let Some(start) = start else {
        bail!("no `members = [...]` in [workspace]")
    };
    let quoted = format!("\"{entry}\"");

    // `members = ["a", "b"]` on one line.
    let first = strip_comment(lines[start]);
    if let Some(close) = first.rfind(']') {
        let (head, tail) = lines[start].split_at(close);
        let before = head.trim_end();
        let sep = if before.ends_with('[') || before.ends_with(',') {
            ""
        } else {
            ", "
        };
        let mut out: String = lines[..start].concat();
        out.push_str(&format!("{before}{sep}{quoted}{tail}"));
        out.push_str(&lines[start + 1..].concat());
        return Ok(out);
    }

    // Over several lines: find the closing `]`.
    let end = (start + 1..lines.len())
        .find(|&i| strip_comment(lines[i]).trim_start().starts_with(']'))
        .context("[workspace] members: no closing `]` at the start of a line")?;
    let items: Vec<usize> = (start + 1..end)
        .filter(|&i| strip_comment(lines[i]).trim().starts_with(['"', '\'']))
        .collect();
    let folder = entry.rsplit_once('/').map(|(dir, _)| format!("{dir}/"));
    let anchor = folder
        .and_then(|f| {
            items.iter().rev().copied().find(|&i| {
                let code = strip_comment(lines[i]).trim();
                code[1..].starts_with(&f)
            })
        })
        .or(items.last().copied());
    let mut out = String::new();
    let indent = match anchor {
        Some(a) => {
            let l = lines[a];
            l[..l.len() - l.trim_start().len()].to_string()
        }
        None => "    ".to_string(),
    };
    let insert_after = anchor.unwrap_or(start);
    for (i, line) in lines.iter().enumerate() {
        if Some(i) == anchor {
            // Make sure the anchor item ends with a comma.
            let code = strip_comment(line).trim_end();
            if code.ends_with(',') {
                out.push_str(line);
            } else {
                out.push_str(code);
                out.push(',');
                out.push_str(&line[code.len()..]);
            }
        } else {
            out.push_str(line);
        }
        if i == insert_after {
            if !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&format!("{indent}{quoted},\n"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_package_lib_and_crate_types() {
        let m = parse(
            "# comment\n[package]\nname = \"ton-plugin\" # trailing\nversion.workspace = true\n\n\
             [lib]\n# the file name\nname = \"ton\"\ncrate-type = [\"cdylib\",\n  \"rlib\"]\n\n\
             [dependencies]\nname = \"not-this\"\n",
        )
        .unwrap();
        assert_eq!(
            m,
            Manifest {
                package: "ton-plugin".into(),
                lib: "ton".into(),
                crate_types: vec!["cdylib".into(), "rlib".into()],
            }
        );
    }

    #[test]
    fn lib_name_defaults_to_package_with_underscores() {
        let m = parse("[package]\nname = 'spin-loop'\n").unwrap();
        assert_eq!(m.lib, "spin_loop");
        assert!(m.crate_types.is_empty());
        assert!(parse("[lib]\nname = \"x\"\n").is_err());
    }

    #[test]
    fn member_patterns() {
        assert!(member_matches("plugins/ton", "plugins/ton"));
        assert!(member_matches("tests/plugins/*", "tests/plugins/echo"));
        assert!(!member_matches("tests/plugins/*", "plugins/echo"));
        assert!(!member_matches("plugins/ton", "plugins/template"));
        assert!(member_matches("plugins/t*n", "plugins/ton"));
    }

    const ROOT: &str = "[workspace]\nresolver = \"3\"\nmembers = [\n    \"host\",\n    \
                        \"plugins/ton\", # venue\n    \"plugins/template\",\n    \
                        \"tests/plugins/*\",\n\n]\ndefault-members = [\"host\"]\n";

    #[test]
    fn reads_members() {
        let (members, exclude) = workspace_members(ROOT).unwrap();
        assert_eq!(
            members,
            ["host", "plugins/ton", "plugins/template", "tests/plugins/*"]
        );
        assert!(exclude.is_empty());
    }

    #[test]
    fn adds_member_after_its_folder() {
        let out = add_member(ROOT, "plugins/demo").unwrap();
        assert!(
            out.contains(
                "    \"plugins/template\",\n    \"plugins/demo\",\n    \"tests/plugins/*\""
            ),
            "{out}"
        );
        let (members, _) = workspace_members(&out).unwrap();
        assert_eq!(members.len(), 5);
    }

    #[test]
    fn adds_member_at_the_end_and_adds_a_missing_comma() {
        let text = "[workspace]\nmembers = [\n  \"host\" # the host\n]\n";
        let out = add_member(text, "plugins/demo").unwrap();
        assert_eq!(
            out,
            "[workspace]\nmembers = [\n  \"host\", # the host\n  \"plugins/demo\",\n]\n"
        );
    }

    #[test]
    fn adds_member_to_a_one_line_list() {
        let out = add_member("[workspace]\nmembers = [\"host\"]\n", "plugins/x").unwrap();
        assert_eq!(out, "[workspace]\nmembers = [\"host\", \"plugins/x\"]\n");
        let out = add_member("[workspace]\nmembers = []\n", "plugins/x").unwrap();
        assert_eq!(out, "[workspace]\nmembers = [\"plugins/x\"]\n");
        assert!(add_member("[package]\nmembers = []\n", "x").is_err());
    }
}
