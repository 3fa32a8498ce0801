//! Every relative link in the project's Markdown resolves to a file or folder
//! inside the repository, so a reader following the guide never lands on a
//! missing page or on something outside the clone.

use std::path::{Component, Path, PathBuf};

use resilience_tests::workspace_root;

/// Markdown files of the repository, skipping build output and dot folders.
fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name == "target" || name == "node_modules" {
            continue;
        }
        if path.is_dir() {
            markdown_files(&path, out);
        } else if name.ends_with(".md") {
            out.push(path);
        }
    }
}

/// The targets of inline links and images, `[text](target)`, outside code
/// blocks and code spans.
fn link_targets(text: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        // Drop code spans: a `[a](b)` inside backticks is not a link.
        let mut plain = String::new();
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 0 {
                plain.push_str(part);
            }
        }
        let mut rest = plain.as_str();
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let Some(end) = after.find(')') else { break };
            let target = after[..end].split_whitespace().next().unwrap_or("");
            targets.push(target.to_string());
            rest = &after[end..];
        }
    }
    targets
}

fn is_external(target: &str) -> bool {
    target.is_empty()
        || target.starts_with('#')
        || target.contains("://")
        || target.starts_with("mailto:")
}

/// `base/target` without `.` and `..`, or `None` when it climbs out of `root`.
fn resolve(root: &Path, base: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split('#').next().unwrap_or("");
    let mut out = base.to_path_buf();
    for c in Path::new(path).components() {
        match c {
            Component::ParentDir => {
                let inside = out.pop() && out.starts_with(root);
                if !inside {
                    return None;
                }
            }
            Component::Normal(p) => out.push(p),
            _ => {}
        }
    }
    out.starts_with(root).then_some(out)
}

#[test]
fn every_relative_link_in_the_docs_resolves_inside_the_repository() {
    let root = workspace_root();
    let mut files = Vec::new();
    markdown_files(&root, &mut files);
    assert!(
        files
            .iter()
            .any(|f| f.ends_with("docs/writing-a-plugin.md")),
        "the guide is among the files checked"
    );
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("readable Markdown");
        let base = file.parent().expect("a file has a folder");
        for target in link_targets(&text).iter().filter(|t| !is_external(t)) {
            checked += 1;
            let shown = file.strip_prefix(&root).unwrap_or(file).display();
            match resolve(&root, base, target) {
                Some(path) if path.exists() => {}
                Some(_) => broken.push(format!("{shown}: {target} does not exist")),
                None => broken.push(format!("{shown}: {target} points outside the repository")),
            }
        }
    }
    assert!(
        checked > 0,
        "no relative links found; the scanner is broken"
    );
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// Text files of the repository (code, config, docs, scripts).
fn text_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" || name == "node_modules" {
            continue;
        }
        if path.is_dir() {
            text_files(&path, out);
        } else if [".rs", ".toml", ".md", ".py", ".sh", ".wit"]
            .iter()
            .any(|ext| name.ends_with(ext))
        {
            out.push(path);
        }
    }
}

#[test]
fn nothing_points_at_material_outside_the_repository() {
    let root = workspace_root();
    let mut files = Vec::new();
    text_files(&root, &mut files);
    // Spelled in pieces so this file does not name them itself.
    let outside = [
        ["FACTS", ".md"].concat(),
        ["shared", "/venues"].concat(),
        ["shared", "/seed"].concat(),
        ["../", "shared"].concat(),
    ];
    let mut found = Vec::new();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            if let Some(what) = outside.iter().find(|o| line.contains(o.as_str())) {
                let shown = file.strip_prefix(&root).unwrap_or(file).display();
                found.push(format!("{shown}:{}: {what}", n + 1));
            }
        }
    }
    assert!(files.len() > 50, "the scan found the repository's files");
    assert!(
        found.is_empty(),
        "copy what users need into docs/ and point there:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_link_scanner_finds_links_and_skips_code() {
    let text = "see [a](docs/a.md) and [b](../b.md#x), `[c](nope.md)`\n```\n[d](code.md)\n```\n![img](i.png)";
    assert_eq!(link_targets(text), ["docs/a.md", "../b.md#x", "i.png"]);
    let root = Path::new("/r");
    assert_eq!(
        resolve(root, Path::new("/r/docs"), "../README.md"),
        Some(PathBuf::from("/r/README.md"))
    );
    assert_eq!(
        resolve(root, Path::new("/r/docs"), "../../elsewhere/x.md"),
        None
    );
}
