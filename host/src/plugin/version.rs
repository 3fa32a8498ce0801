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

/// WIT versions this host can load. A 0.2.1 host loads 0.2.0 plugins
/// unchanged: 0.2.1 only adds the `endpoints` import, and wasmtime links and
/// looks up `@0.2.0` names against their semver-compatible `@0.2.1`
/// definitions (`tests/tests/wit_compat.rs` loads one).
pub const SUPPORTED: &[&str] = &["0.2.0", "0.2.1"];

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

    fn wit_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit")
    }

    /// The CI check: the current WIT must be frozen under the version it
    /// declares, so it cannot change without a version bump.
    #[test]
    fn current_wit_is_frozen_under_its_version() {
        let current = std::fs::read_to_string(wit_dir().join("venue.wit")).unwrap();
        let version = current
            .lines()
            .find_map(|l| l.trim().strip_prefix(&format!("package {PACKAGE}@")))
            .and_then(|v| v.strip_suffix(';'))
            .expect("wit/venue.wit declares `package resilience:venue@X;`");
        let frozen_path = wit_dir()
            .join("frozen")
            .join(format!("resilience-venue@{version}.wit"));
        let frozen = std::fs::read_to_string(&frozen_path).unwrap_or_else(|_| {
            panic!(
                "{} is missing: freeze the new version (see wit/frozen/README.md)",
                frozen_path.display()
            )
        });
        assert!(
            frozen.replace("\r\n", "\n") == current.replace("\r\n", "\n"),
            "wit/venue.wit changed but still declares {version}, which is frozen in {}: bump the version \
             (see wit/frozen/README.md) or undo the change",
            frozen_path.display()
        );
        assert!(
            SUPPORTED.contains(&version),
            "the host must support the current WIT {version}"
        );
    }

    #[test]
    fn every_supported_version_is_frozen() {
        for v in SUPPORTED {
            let p = wit_dir()
                .join("frozen")
                .join(format!("resilience-venue@{v}.wit"));
            assert!(p.exists(), "{} missing", p.display());
        }
    }

    #[test]
    fn unsupported_version_message_names_both_versions() {
        // 0.1 let a caller's data become a secret reference: its plugins are
        // refused with both versions named, never adapted.
        let e = check("0.1.0").unwrap_err();
        assert!(e.contains("resilience:venue@0.1.0"), "{e}");
        assert!(e.contains("resilience:venue@0.2.0"), "{e}");
        assert!(check("0.2.0").is_ok());
        assert!(check("0.2.1").is_ok());
    }
}
