//! Which WIT versions this host supports, and how a component's version is read.
//!
//! The version is part of every interface name a component imports or exports
//! (`resilience:venue/adapter@0.1.0`); wit-bindgen writes it there from the
//! `wit/` the guest SDK was built against. Reading it before linking turns
//! what would be a cryptic link error into a message naming both versions.

use wasmtime::Engine;
use wasmtime::component::Component;

/// The package every plugin implements.
pub const PACKAGE: &str = "resilience:venue";

/// WIT versions this host can load.
pub const SUPPORTED: &[&str] = &["0.1.0"];

/// The WIT version a component was built against, from its export of
/// `resilience:venue/adapter@X` (and its imports, which must agree).
pub fn wit_version(engine: &Engine, component: &Component) -> Result<String, String> {
    let ty = component.component_type();
    let mut versions: Vec<String> = Vec::new();
    let names = ty
        .exports(engine)
        .map(|(n, _)| n.to_string())
        .chain(ty.imports(engine).map(|(n, _)| n.to_string()));
    for name in names {
        if let Some(rest) = name.strip_prefix(&format!("{PACKAGE}/")) {
            match rest.split_once('@') {
                Some((_, v)) => versions.push(v.to_string()),
                None => versions.push("unversioned".to_string()),
            }
        }
    }
    versions.sort();
    versions.dedup();
    match versions.as_slice() {
        [] => Err(format!(
            "it does not export {PACKAGE}/adapter; is it a venue plugin built with resilience-guest?"
        )),
        [one] => Ok(one.clone()),
        many => Err(format!(
            "it mixes WIT versions {} of {PACKAGE}",
            many.join(", ")
        )),
    }
}

/// Check `found` against [`SUPPORTED`], with a message naming both.
pub fn check(found: &str) -> Result<(), String> {
    if SUPPORTED.contains(&found) {
        Ok(())
    } else {
        Err(format!(
            "built for WIT {PACKAGE}@{found}, but this host supports {}",
            SUPPORTED
                .iter()
                .map(|v| format!("{PACKAGE}@{v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsupported_version_message_names_both_versions() {
        let e = check("0.2.0").unwrap_err();
        assert!(e.contains("resilience:venue@0.2.0"), "{e}");
        assert!(e.contains("resilience:venue@0.1.0"), "{e}");
        assert!(check("0.1.0").is_ok());
    }
}
