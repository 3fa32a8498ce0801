//! The params schemas a plugin declares, enforced by the host.
//!
//! Each operation's `params-schema` (JSON Schema, from `describe`) is compiled
//! once when the plugin loads; every call's params are checked against it
//! before an instance is taken, and a mismatch is `invalid_params` naming the
//! field. So the schema the OpenAPI description publishes is a promise the
//! host keeps, whatever the plugin's own checks, and a caller's malformed
//! params never reach a plugin.
//!
//! A schema that does not compile refuses the plugin at load, naming the
//! operation. Messages name the field and the rule, never the value the caller
//! sent (they are logged).

use std::collections::BTreeMap;

use serde_json::Value;

use super::bindings::Operation;

/// The compiled params schema of each operation of one plugin.
pub struct ParamsSchemas {
    by_operation: BTreeMap<String, jsonschema::Validator>,
}

impl std::fmt::Debug for ParamsSchemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParamsSchemas")
            .field("operations", &self.by_operation.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ParamsSchemas {
    /// Compile the schema of every operation; the first that is not JSON or
    /// not a valid JSON Schema is the error.
    pub fn compile(operations: &[Operation]) -> Result<Self, String> {
        let mut by_operation = BTreeMap::new();
        for op in operations {
            let schema: Value = serde_json::from_str(&op.params_schema).map_err(|e| {
                format!(
                    "operation {:?} has a params schema that is not JSON: {e}",
                    op.name
                )
            })?;
            let validator = jsonschema::validator_for(&schema).map_err(|e| {
                format!(
                    "operation {:?} has a params schema that is not a valid JSON Schema: {}",
                    op.name,
                    e.masked()
                )
            })?;
            by_operation.insert(op.name.clone(), validator);
        }
        Ok(Self { by_operation })
    }

    /// `Err` naming the first field of `params` that breaks `operation`'s
    /// schema, and the rule it breaks.
    pub fn check(&self, operation: &str, params: &Value) -> Result<(), String> {
        let Some(validator) = self.by_operation.get(operation) else {
            return Ok(());
        };
        match validator.iter_errors(params).next() {
            None => Ok(()),
            Some(e) => Err(describe(&e)),
        }
    }
}

/// `params/field: rule`. A failed `oneOf`/`anyOf` lists the first failure of
/// each alternative, so "order_id or client_order_id" reads as such rather
/// than as "not valid under any of the schemas".
fn describe(e: &jsonschema::ValidationError<'_>) -> String {
    use jsonschema::error::ValidationErrorKind as Kind;
    let path = e.instance_path().to_string();
    let field = if path.is_empty() {
        "params".to_string()
    } else {
        format!("params{path}")
    };
    match e.kind() {
        Kind::AnyOf { context } | Kind::OneOfNotValid { context } if !context.is_empty() => {
            let alternatives: Vec<String> = context
                .iter()
                .filter_map(|branch| branch.first())
                .map(describe)
                .collect();
            format!("{field}: must match one of: {}", alternatives.join(" | "))
        }
        _ => format!("{field}: {}", e.masked()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn op(name: &str, schema: &str) -> Operation {
        Operation {
            name: name.into(),
            summary: String::new(),
            mutating: false,
            params_schema: schema.into(),
        }
    }

    #[test]
    fn params_are_checked_and_the_message_names_the_field_not_the_value() {
        let schemas = ParamsSchemas::compile(&[op(
            "get",
            r#"{"type":"object","required":["symbol"],"additionalProperties":false,
                "properties":{"symbol":{"type":"string","pattern":"^[A-Z]+$"},"limit":{"type":"integer"}}}"#,
        )])
        .unwrap();
        assert_eq!(schemas.check("get", &json!({"symbol": "BTCUSDT"})), Ok(()));
        let err = schemas
            .check("get", &json!({"symbol": "secret-looking-value"}))
            .unwrap_err();
        assert!(err.starts_with("params/symbol: "), "{err}");
        assert!(!err.contains("secret-looking-value"), "{err}");
        let err = schemas
            .check("get", &json!({"symbol": "A", "limit": "ten"}))
            .unwrap_err();
        assert!(err.starts_with("params/limit: "), "{err}");
        assert!(
            schemas
                .check("get", &json!({}))
                .unwrap_err()
                .contains("symbol")
        );
        assert!(
            schemas
                .check("get", &json!({"symbol": "A", "x": 1}))
                .is_err()
        );
        assert_eq!(schemas.check("unknown", &json!(1)), Ok(()));
    }

    #[test]
    fn a_failed_one_of_names_each_alternative() {
        let schemas = ParamsSchemas::compile(&[op(
            "cancel",
            r#"{"type":"object","oneOf":[{"required":["order_id"]},{"required":["client_order_id"]}]}"#,
        )])
        .unwrap();
        let err = schemas
            .check("cancel", &json!({"symbol": "X"}))
            .unwrap_err();
        assert!(
            err.contains("order_id") && err.contains("client_order_id") && err.contains(" | "),
            "{err}"
        );
    }

    #[test]
    fn a_schema_that_does_not_compile_names_its_operation() {
        let err =
            ParamsSchemas::compile(&[op("ok", "{}"), op("bad", r#"{"type": 5}"#)]).unwrap_err();
        assert!(err.contains("\"bad\""), "{err}");
        let err = ParamsSchemas::compile(&[op("nojson", "{")]).unwrap_err();
        assert!(err.contains("not JSON"), "{err}");
    }
}
