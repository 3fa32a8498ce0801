//! What a plugin may do with its venue's secrets and usage counters, from
//! what it declares in `describe` (WIT 0.2 `info.secrets`,
//! `info.usage-counters`).
//!
//! **Invariant: no secret byte leaves the host except in its declared use.**
//! Each secret has exactly one use:
//!
//! | use             | where its bytes go                                              |
//! |-----------------|-----------------------------------------------------------------|
//! | `header`        | the whole value of a request header (`header-value.secret`), only to endpoints the secret is bound to (`secrets.NAME.endpoints`); a request pinned to an endpoint (`endpoints.send-all-to`) can narrow that set, never widen it |
//! | `hmac-key`      | keys `hmac-sha256` and signing recipes; only the MAC leaves     |
//! | `secp256k1-key` | keys `sign-secp256k1`; only the signature leaves                |
//!
//! Requests carry secrets only by reference (a typed header value or a
//! recipe naming the key), never as text the host parses, so a caller's
//! params can never become a secret in any encoding. A signing key can never
//! be sent in a header, so no venue echo can hand it back to the plugin.
//! Every other use is refused with `denied`, naming the secret, never its value.

use std::collections::{BTreeMap, BTreeSet};

use crate::plugin::bindings::{Info, SecretUse};

/// Most secrets a plugin may declare.
pub const MAX_SECRETS: usize = 32;
/// Most usage counters a plugin may declare.
pub const MAX_USAGE_COUNTERS: usize = 16;

/// How a secret may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    Header,
    HmacKey,
    Secp256k1Key,
}

impl Use {
    pub fn as_str(self) -> &'static str {
        match self {
            Use::Header => "header",
            Use::HmacKey => "hmac-key",
            Use::Secp256k1Key => "secp256k1-key",
        }
    }
}

impl From<SecretUse> for Use {
    fn from(u: SecretUse) -> Self {
        match u {
            SecretUse::Header => Use::Header,
            SecretUse::HmacKey => Use::HmacKey,
            SecretUse::Secp256k1Key => Use::Secp256k1Key,
        }
    }
}

/// A plugin's declared secrets and usage counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    secrets: BTreeMap<String, Use>,
    usage_counters: BTreeSet<String>,
}

impl Grants {
    /// Check and collect what `info` declares: names like venue keys
    /// (letters, digits, `-`, `_`, 1-64), each secret once, bounded counts.
    pub fn from_info(info: &Info) -> Result<Grants, String> {
        if info.secrets.len() > MAX_SECRETS {
            return Err(format!(
                "declares {} secrets; at most {MAX_SECRETS}",
                info.secrets.len()
            ));
        }
        if info.usage_counters.len() > MAX_USAGE_COUNTERS {
            return Err(format!(
                "declares {} usage counters; at most {MAX_USAGE_COUNTERS}",
                info.usage_counters.len()
            ));
        }
        let mut secrets = BTreeMap::new();
        for d in &info.secrets {
            if !valid_name(&d.name) {
                return Err(format!(
                    "declares a secret with an invalid name {:?}",
                    d.name
                ));
            }
            if secrets
                .insert(d.name.clone(), Use::from(d.purpose))
                .is_some()
            {
                return Err(format!(
                    "declares secret {:?} twice (a secret has one use)",
                    d.name
                ));
            }
        }
        let mut usage_counters = BTreeSet::new();
        for c in &info.usage_counters {
            if !valid_name(c) {
                return Err(format!(
                    "declares a usage counter with an invalid name {c:?}"
                ));
            }
            usage_counters.insert(c.clone());
        }
        Ok(Grants {
            secrets,
            usage_counters,
        })
    }

    /// `Ok` when secret `name` is declared for `want`; otherwise why not.
    pub fn check(&self, name: &str, want: Use) -> Result<(), String> {
        match self.secrets.get(name) {
            Some(u) if *u == want => Ok(()),
            Some(u) => Err(format!(
                "secret {name:?} is declared for use {}, not {}",
                u.as_str(),
                want.as_str()
            )),
            None => Err(format!(
                "secret {name:?} is not declared by the plugin (info.secrets)"
            )),
        }
    }

    /// The declared secrets and their uses.
    pub fn secrets(&self) -> impl Iterator<Item = (&str, Use)> {
        self.secrets.iter().map(|(n, u)| (n.as_str(), *u))
    }

    /// Whether `report-usage` may name `counter`.
    pub fn usage_counter(&self, counter: &str) -> bool {
        self.usage_counters.contains(counter)
    }
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::bindings::SecretDecl;

    fn info(secrets: &[(&str, SecretUse)], counters: &[&str]) -> Info {
        Info {
            name: "p".into(),
            version: "1".into(),
            sdk_version: "x".into(),
            operations: Vec::new(),
            secrets: secrets
                .iter()
                .map(|(n, u)| SecretDecl {
                    name: n.to_string(),
                    purpose: *u,
                })
                .collect(),
            usage_counters: counters.iter().map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn each_secret_has_one_declared_use_and_others_are_refused() {
        let g = Grants::from_info(&info(
            &[
                ("api_key", SecretUse::Header),
                ("api_secret", SecretUse::HmacKey),
            ],
            &["weight"],
        ))
        .unwrap();
        assert!(g.check("api_key", Use::Header).is_ok());
        assert!(g.check("api_secret", Use::HmacKey).is_ok());
        let e = g.check("api_secret", Use::Header).unwrap_err();
        assert!(e.contains("hmac-key") && e.contains("not header"), "{e}");
        assert!(g.check("api_key", Use::Secp256k1Key).is_err());
        assert!(
            g.check("other", Use::Header)
                .unwrap_err()
                .contains("not declared")
        );
        assert!(g.usage_counter("weight") && !g.usage_counter("orders"));
    }

    #[test]
    fn bad_declarations_refuse_the_plugin() {
        let twice = info(&[("k", SecretUse::Header), ("k", SecretUse::HmacKey)], &[]);
        assert!(Grants::from_info(&twice).unwrap_err().contains("twice"));
        assert!(Grants::from_info(&info(&[("a b", SecretUse::Header)], &[])).is_err());
        let many: Vec<String> = (0..17).map(|i| format!("c{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert!(
            Grants::from_info(&info(&[], &many))
                .unwrap_err()
                .contains("at most 16")
        );
    }
}
