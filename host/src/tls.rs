//! TLS client settings shared by the venue pools and the journal: rustls with
//! the `ring` provider, the Mozilla roots (webpki-roots, so a container without
//! a CA bundle still works) plus an optional extra CA from a PEM file, for a
//! private gateway in front of a venue, a TLS-terminating proxy or a test venue.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// The root store: Mozilla roots plus every certificate in `extra_ca`.
/// `key` names the setting in errors (e.g. `venues.binance.tls_ca_file`).
pub fn root_store(extra_ca: Option<&Path>, key: &str) -> Result<rustls::RootCertStore, String> {
    let mut roots =
        rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let Some(path) = extra_ca else {
        return Ok(roots);
    };
    let pem =
        std::fs::read(path).map_err(|e| format!("cannot read {key} {}: {e}", path.display()))?;
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| format!("{key} {} is not PEM: {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("{key} {}: {e}", path.display()))?;
        added += 1;
    }
    if added == 0 {
        return Err(format!("{key} {} holds no certificate", path.display()));
    }
    Ok(roots)
}

/// A client configuration trusting [`root_store`].
pub fn client_config(extra_ca: Option<&Path>, key: &str) -> Result<rustls::ClientConfig, String> {
    let roots = root_store(extra_ca, key)?;
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS setup: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_extra_ca_is_the_mozilla_roots() {
        let roots = root_store(None, "k").expect("roots");
        assert_eq!(roots.len(), webpki_roots::TLS_SERVER_ROOTS.len());
    }

    #[test]
    fn bad_files_are_named_with_their_key() {
        let dir = std::env::temp_dir().join(format!("resilience-tls-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let missing = dir.join("missing.pem");
        let e = root_store(Some(&missing), "venues.v.tls_ca_file").unwrap_err();
        assert!(e.starts_with("cannot read venues.v.tls_ca_file"), "{e}");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let e = root_store(Some(&empty), "venues.v.tls_ca_file").unwrap_err();
        assert!(e.contains("holds no certificate"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
