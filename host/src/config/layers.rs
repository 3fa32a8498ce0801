//! Steps 2 and 3 of loading, on the plain JSON tree so that an error can
//! name the exact key: `RESILIENCE_`-prefixed environment overrides, then
//! `[defaults]` merged under each venue.

use serde_json::{Map, Value};

use super::{ConfigError, Env};

/// Apply `RESILIENCE_A__B__C=value` overrides to the tree.
pub(super) fn apply_env_overrides(tree: &mut Value, env: &Env) -> Result<(), ConfigError> {
    let mut overrides: Vec<(&String, &String)> = env
        .iter()
        .filter(|(k, _)| k.starts_with("RESILIENCE_") && k.contains("__"))
        .map(|(k, v)| (k, v))
        .collect();
    // Deterministic order: shorter paths first, so a table override is refined
    // by a deeper key rather than replacing it.
    overrides.sort_by_key(|(k, _)| (k.matches("__").count(), (*k).clone()));
    for (name, raw) in overrides {
        let path: Vec<String> = name["RESILIENCE_".len()..]
            .split("__")
            .map(str::to_ascii_lowercase)
            .collect();
        if path.iter().any(String::is_empty) {
            return Err(ConfigError::new(
                name.clone(),
                "environment override has an empty path segment",
            ));
        }
        let value = parse_env_value(raw);
        let mut node = &mut *tree;
        for (i, seg) in path.iter().enumerate() {
            let obj = match node {
                Value::Object(map) => map,
                _ => {
                    return Err(ConfigError::new(
                        path[..i].join("."),
                        format!("{name} overrides a key below a value that is not a table"),
                    ));
                }
            };
            if i + 1 == path.len() {
                obj.insert(seg.clone(), value.clone());
                break;
            }
            node = obj
                .entry(seg.clone())
                .or_insert_with(|| Value::Object(Map::new()));
        }
    }
    Ok(())
}

/// Read an override as a TOML literal (`60000`, `true`, `[1, 2]`, `{ a = 1 }`),
/// falling back to the raw string.
fn parse_env_value(raw: &str) -> Value {
    let doc = format!("v = {raw}");
    toml::from_str::<toml::Table>(&doc)
        .ok()
        .and_then(|mut t| t.remove("v"))
        .and_then(|v| serde_json::to_value(v).ok())
        .unwrap_or_else(|| Value::String(raw.to_string()))
}

/// Merge `defaults` under every venue: a venue's own keys win; tables merge.
pub(super) fn inherit_defaults(tree: &mut Value) -> Result<(), ConfigError> {
    let Some(root) = tree.as_object_mut() else {
        return Ok(());
    };
    let defaults = match root.get("defaults") {
        None => return Ok(()),
        Some(Value::Object(d)) => d.clone(),
        Some(_) => return Err(ConfigError::new("defaults", "must be a table")),
    };
    const INHERITABLE: &[&str] = &[
        "timeout_ms",
        "deadline_ms",
        "reconcile_settle_ms",
        "retry",
        "breaker",
        "pool",
        "rate_limit",
        "settings",
    ];
    for key in defaults.keys() {
        if !INHERITABLE.contains(&key.as_str()) {
            return Err(ConfigError::new(
                format!("defaults.{key}"),
                format!("unknown key; [defaults] may set {}", INHERITABLE.join(", ")),
            ));
        }
    }
    let Some(venues) = root.get_mut("venues") else {
        return Ok(());
    };
    let Some(venues) = venues.as_object_mut() else {
        return Err(ConfigError::new("venues", "must be a table of venues"));
    };
    for (name, venue) in venues.iter_mut() {
        let Some(v) = venue.as_object_mut() else {
            return Err(ConfigError::new(
                format!("venues.{name}"),
                "must be a table",
            ));
        };
        for (k, dv) in &defaults {
            match (v.get_mut(k), dv) {
                (None, _) => {
                    v.insert(k.clone(), dv.clone());
                }
                (Some(Value::Object(own)), Value::Object(inherited)) => {
                    for (ik, iv) in inherited {
                        own.entry(ik.clone()).or_insert_with(|| iv.clone());
                    }
                }
                (Some(_), _) => {}
            }
        }
    }
    Ok(())
}
