//! A plugin's default venue section, shipped inside its component.
//!
//! A plugin crate may embed its `[venues.NAME]` section (endpoints, tuning,
//! settings, secret names, with comments) as the custom section
//! `resilience:venue-defaults` (the SDK's `venue_defaults!`). The host reads
//! it when it loads the file; `resilience-host init --plugins DIR` writes a
//! commented `resilience.toml` from every plugin's section, and
//! `resilience-host plugins config NAME` prints one. Nothing in the section
//! is executed: it is TOML text, checked to parse and to name the plugin.

use wasmparser::{Parser, Payload};

/// The custom section's name (the SDK's `VENUE_DEFAULTS_SECTION`).
pub const SECTION: &str = "resilience:venue-defaults";

/// The largest section the host reads: a venue section is a few KiB.
const MAX_SECTION_BYTES: usize = 64 * 1024;

/// The section's text in a component's bytes (searched in nested core
/// modules too, where the linker put it), or `None` when it has none.
pub fn read(wasm: &[u8]) -> Result<Option<String>, String> {
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| format!("cannot read the component: {e}"))?;
        if let Payload::CustomSection(section) = payload
            && section.name() == SECTION
        {
            let data = section.data();
            if data.len() > MAX_SECTION_BYTES {
                return Err(format!(
                    "its {SECTION} section is {} bytes, over {MAX_SECTION_BYTES}",
                    data.len()
                ));
            }
            let text = std::str::from_utf8(data)
                .map_err(|_| format!("its {SECTION} section is not UTF-8"))?;
            return Ok(Some(text.to_string()));
        }
    }
    Ok(None)
}

/// Check that `text` is TOML holding exactly one `[venues.X]` table whose
/// `plugin` is `plugin`; returns the venue name.
pub fn check(text: &str, plugin: &str) -> Result<String, String> {
    let doc: toml::Table =
        toml::from_str(text).map_err(|e| format!("its {SECTION} section is not TOML: {e}"))?;
    let venues = doc
        .get("venues")
        .and_then(toml::Value::as_table)
        .filter(|v| v.len() == 1 && doc.len() == 1)
        .ok_or_else(|| {
            format!("its {SECTION} section must hold exactly one [venues.NAME] table")
        })?;
    let (venue, table) = venues.iter().next().expect("one venue");
    match table.get("plugin").and_then(toml::Value::as_str) {
        Some(p) if p == plugin => Ok(venue.clone()),
        other => Err(format!(
            "its {SECTION} section's [venues.{venue}] names plugin {other:?}, not {plugin:?}"
        )),
    }
}

/// One loaded plugin as `init` sees it.
#[derive(Debug, Clone, Copy)]
pub struct Shipped<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub file: &'a std::path::Path,
    pub section: Option<&'a str>,
}

/// A commented `resilience.toml` serving every plugin that ships a venue
/// section, reading plugins from `plugins_dir`.
pub fn config(plugins_dir: &std::path::Path, plugins: &[Shipped<'_>]) -> String {
    let mut out = format!(
        "# Written by `resilience-host init` from the default venue section each plugin\n\
         # in {dir} ships. Every key is documented in README.md (\"Configuration\").\n\
         # A venue whose secrets are not set starts as unavailable (see /health) and\n\
         # the others serve.\n\
         \n\
         [server]\n\
         listen = \"127.0.0.1:8080\"\n\
         # auth_token_env = \"RESILIENCE_TOKEN\"   # then /v1/* needs \"Authorization: Bearer <token>\"\n\
         \n\
         [plugins]\n\
         dir = {dir_toml}\n\
         \n\
         [journal]\n\
         # url_env = \"DATABASE_URL\"   # PostgreSQL; without it the embedded store (one SQLite file)\n",
        dir = plugins_dir.display(),
        dir_toml = toml::Value::String(plugins_dir.display().to_string()),
    );
    for p in plugins {
        out.push('\n');
        match p.section {
            Some(section) => {
                out.push_str(&format!(
                    "# plugin {} {} ({})\n",
                    p.name,
                    p.version,
                    p.file.display()
                ));
                out.push_str(section.trim_end());
                out.push('\n');
            }
            None => out.push_str(&format!(
                "# plugin {} {} ({}) ships no venue section; add [venues.NAME] with plugin = {:?} by hand\n",
                p.name,
                p.version,
                p.file.display(),
                p.name
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A core module with one custom section, wrapped the way a component
    /// nests its core module.
    fn module_with_section(name: &str, data: &[u8]) -> Vec<u8> {
        let mut custom = Vec::new();
        custom.push(name.len() as u8);
        custom.extend_from_slice(name.as_bytes());
        custom.extend_from_slice(data);
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        module.push(0); // custom section id
        module.push(custom.len() as u8);
        module.extend(custom);
        module
    }

    #[test]
    fn the_section_is_found_in_a_module_and_its_absence_is_none() {
        let text = "[venues.k]\nplugin = \"k\"\n";
        let wasm = module_with_section(SECTION, text.as_bytes());
        assert_eq!(read(&wasm).unwrap().as_deref(), Some(text));
        let other = module_with_section("name", b"x");
        assert_eq!(read(&other).unwrap(), None);
        assert!(read(b"not wasm").is_err());
    }

    #[test]
    fn the_config_has_every_shipped_section_and_names_the_others() {
        let dir = std::path::Path::new("target/plugins");
        let text = config(
            dir,
            &[
                Shipped {
                    name: "k",
                    version: "1.0.0",
                    file: std::path::Path::new("target/plugins/k.wasm"),
                    section: Some(
                        "[venues.k]\nplugin = \"k\"\nendpoints = [\"https://k.example\"]\n",
                    ),
                },
                Shipped {
                    name: "bare",
                    version: "0.1.0",
                    file: std::path::Path::new("target/plugins/bare.wasm"),
                    section: None,
                },
            ],
        );
        let doc: toml::Table = toml::from_str(&text).expect("init writes TOML");
        assert_eq!(doc["plugins"]["dir"].as_str(), Some("target/plugins"));
        assert_eq!(doc["venues"]["k"]["plugin"].as_str(), Some("k"));
        assert!(doc["venues"].get("bare").is_none());
        assert!(text.contains("plugin bare 0.1.0"), "{text}");
    }

    #[test]
    fn a_section_must_be_one_venue_of_this_plugin() {
        assert_eq!(check("[venues.k]\nplugin = \"k\"\n", "k").unwrap(), "k");
        assert!(check("[venues.k]\nplugin = \"other\"\n", "k").is_err());
        assert!(
            check(
                "[venues.a]\nplugin = \"k\"\n[venues.b]\nplugin = \"k\"\n",
                "k"
            )
            .is_err()
        );
        assert!(
            check(
                "[server]\nlisten = \"x\"\n[venues.k]\nplugin = \"k\"\n",
                "k"
            )
            .is_err()
        );
        assert!(check("not toml [", "k").is_err());
    }
}
