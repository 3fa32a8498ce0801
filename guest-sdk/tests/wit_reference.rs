//! `docs/wit-reference.md` cannot drift from `wit/venue.wit`: every
//! interface, world, type, field, case and function the WIT file names must
//! appear in the reference in backticks.

use std::path::Path;

/// Names declared in a WIT file, with what each is (for the failure message).
fn wit_names(wit: &str) -> Vec<(String, &'static str)> {
    let mut names = Vec::new();
    // What the innermost open `{ … }` block is, to tell fields from cases.
    let mut block: Vec<&'static str> = Vec::new();
    for raw in wit.lines() {
        let line = raw.split("//").next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || c == '{' || c == '(' || c == ',' || c == ';')
            .filter(|w| !w.is_empty())
            .collect();
        let opens = line.contains('{');
        let closes = line.matches('}').count();
        match words.as_slice() {
            ["package", id, ..] => names.push((id.to_string(), "package")),
            [kind @ ("interface" | "world"), name, ..] => {
                names.push((
                    name.to_string(),
                    if *kind == "world" {
                        "world"
                    } else {
                        "interface"
                    },
                ));
                if opens {
                    block.push("scope");
                }
            }
            [
                kind @ ("record" | "variant" | "enum" | "flags" | "resource"),
                name,
                rest @ ..,
            ] => {
                names.push((name.to_string(), "type"));
                let inner = match *kind {
                    "record" | "resource" => "field",
                    _ => "case",
                };
                // One-line enums: `enum method { get, post }`.
                for case in rest.iter().map(|w| w.trim_end_matches('}')) {
                    if !case.is_empty() {
                        names.push((case.to_string(), "case"));
                    }
                }
                if opens && closes == 0 {
                    block.push(inner);
                }
            }
            ["type", name, ..] => names.push((name.to_string(), "type")),
            ["use", ..] | ["import", ..] | ["export", ..] => {}
            [first, ..] if first.ends_with(':') && line.contains(": func(") => {
                names.push((first.trim_end_matches(':').to_string(), "function"));
            }
            [first, ..] => match block.last() {
                Some(&"field") if first.ends_with(':') => {
                    names.push((first.trim_end_matches(':').to_string(), "field"));
                }
                Some(&"case") if *first != "}" => {
                    names.push((first.trim_end_matches('}').to_string(), "case"));
                }
                _ => {}
            },
            [] => {}
        }
        for _ in 0..closes {
            block.pop();
        }
    }
    names.retain(|(n, _)| !n.is_empty());
    names
}

#[test]
fn wit_reference_mentions_every_wit_name() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let wit = std::fs::read_to_string(root.join("wit/venue.wit")).expect("read wit/venue.wit");
    let reference = std::fs::read_to_string(root.join("docs/wit-reference.md"))
        .expect("read docs/wit-reference.md");
    let names = wit_names(&wit);
    // The parser must see the contract, not an empty list.
    for expected in [
        "send-error",
        "hmac-sha256",
        "retry-after-ms",
        "circuit-open",
        "reconcile",
    ] {
        assert!(
            names.iter().any(|(n, _)| n == expected),
            "parser missed {expected}: {names:?}"
        );
    }
    let missing: Vec<String> = names
        .iter()
        .filter(|(name, _)| !reference.contains(&format!("`{name}`")))
        .map(|(name, kind)| format!("{kind} `{name}`"))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/wit-reference.md does not mention: {}",
        missing.join(", ")
    );
}

#[test]
fn parser_reads_types_fields_cases_and_functions() {
    let wit = "package a:b@1.0.0;\ninterface t {\n  /// doc with a: func( in it\n  enum e { x, y }\n  record r {\n    f-one: u8,\n    f-two: option<string>,\n  }\n  variant v {\n    c-one(string),\n    c-two,\n  }\n  type h = list<u8>;\n  do-it: func(a: r) -> e;\n}\nworld w {\n  import t;\n}\n";
    let names: Vec<String> = wit_names(wit).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "a:b@1.0.0",
            "t",
            "e",
            "x",
            "y",
            "r",
            "f-one",
            "f-two",
            "v",
            "c-one",
            "c-two",
            "h",
            "do-it",
            "w"
        ]
    );
}
