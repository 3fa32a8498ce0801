//! Reading each venue's secrets from their sources (an environment variable
//! or a file), once, at start-up.
//!
//! Invariant: no error, log line or `Debug` output carries a secret's bytes.
//! An error names the secret's config key, and the variable or file it was
//! read from, never its value.

use std::collections::BTreeMap;

use super::{Config, ConfigError, Env, Secret};

impl Config {
    /// Read every venue's secrets (from `env` or `file`). A missing variable
    /// or unreadable file is an error naming the secret's key, never its value.
    pub fn resolve_secrets(
        &self,
        env: &Env,
    ) -> Result<BTreeMap<String, BTreeMap<String, Secret>>, ConfigError> {
        self.venues
            .keys()
            .map(|v| Ok((v.clone(), self.resolve_venue_secrets(v, env)?)))
            .collect()
    }

    /// Read one venue's secrets; see [`Config::resolve_secrets`].
    pub fn resolve_venue_secrets(
        &self,
        venue: &str,
        env: &Env,
    ) -> Result<BTreeMap<String, Secret>, ConfigError> {
        let lookup = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let mut secrets = BTreeMap::new();
        let Some(v) = self.venues.get(venue) else {
            return Ok(secrets);
        };
        for (name, src) in &v.secrets {
            let key = format!("venues.{venue}.secrets.{name}");
            let bytes = match (&src.env, &src.file) {
                (Some(var), _) => lookup(var)
                    .ok_or_else(|| {
                        ConfigError::new(&key, format!("environment variable {var} is not set"))
                    })?
                    .into_bytes(),
                (None, Some(file)) => {
                    std::fs::read(file)
                        .map(trim_trailing_newline)
                        .map_err(|e| {
                            ConfigError::new(
                                &key,
                                format!("cannot read secret file {}: {}", file.display(), e.kind()),
                            )
                        })?
                }
                (None, None) => unreachable_secret(&key)?,
            };
            let bytes = src.encoding.decode(bytes).map_err(|m| {
                ConfigError::new(
                    &key,
                    format!("the secret {m} ({:?} encoding)", src.encoding),
                )
            })?;
            if bytes.is_empty() {
                return Err(ConfigError::new(key, "secret is empty"));
            }
            secrets.insert(name.clone(), Secret::new(bytes));
        }
        Ok(secrets)
    }
}

fn unreachable_secret(key: &str) -> Result<Vec<u8>, ConfigError> {
    // `validate` refuses a source with neither `env` nor `file`.
    Err(ConfigError::new(key, "give exactly one of `env` or `file`"))
}

fn trim_trailing_newline(mut b: Vec<u8>) -> Vec<u8> {
    while matches!(b.last(), Some(b'\n' | b'\r')) {
        b.pop();
    }
    b
}
