//! Checks on the typed config that serde cannot express: ranges, relations
//! between keys (a deadline no shorter than a timeout), endpoint URLs. Each
//! error names the key at fault.

use super::{Config, ConfigError, PluginLimits, VenueConfig};

impl Config {
    /// Plugin limits (each plugin's overrides too), the journal and the
    /// server, then each venue.
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        validate_limits(&self.plugins.limits, "plugins.limits")?;
        // The base limits are valid here, so a bad value comes from the override.
        for name in self.plugins.overrides.keys() {
            validate_limits(
                &self.plugins.limits_for(name),
                &format!("plugins.overrides.{name}"),
            )?;
        }
        if self.journal.sweep_interval_ms == 0 || self.journal.sweep_batch == 0 {
            return Err(ConfigError::new(
                "journal.sweep_interval_ms",
                "journal.sweep_interval_ms and journal.sweep_batch must be positive",
            ));
        }
        // A key is known as used only while its entry is kept: with no
        // retention the first sweep forgets a finished order, and a retry of
        // its key would place it again.
        if self.journal.retention_days == 0 {
            return Err(ConfigError::new(
                "journal.retention_days",
                "must be at least 1: an idempotency key is recognised only while its entry is kept, \
                 and a retry after it is pruned would send the order again",
            ));
        }
        if let Some(env) = &self.server.auth_token_env
            && env.trim().is_empty()
        {
            return Err(ConfigError::new(
                "server.auth_token_env",
                "must name an environment variable",
            ));
        }
        for (name, v) in &self.venues {
            v.validate(name)?;
        }
        Ok(())
    }
}

impl VenueConfig {
    /// Venue `name`'s own keys.
    fn validate(&self, name: &str) -> Result<(), ConfigError> {
        if !valid_name(name) {
            return Err(ConfigError::new(
                format!("venues.{name}"),
                "venue names use letters, digits, '-' and '_' only",
            ));
        }
        let key = |k: &str| format!("venues.{name}.{k}");
        if self.plugin.trim().is_empty() {
            return Err(ConfigError::new(key("plugin"), "must name a plugin"));
        }
        self.validate_endpoints(&key)?;
        self.validate_secrets(&key)?;
        self.validate_timing(&key)?;
        self.validate_retry_and_breaker(&key)?;
        self.validate_traffic(&key)
    }

    /// At least one endpoint, each an http(s) URL without a query.
    fn validate_endpoints(&self, key: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
        if self.endpoints.is_empty() {
            return Err(ConfigError::new(
                key("endpoints"),
                "must list at least one URL",
            ));
        }
        for (i, ep) in self.endpoints.iter().enumerate() {
            validate_endpoint(ep)
                .map_err(|m| ConfigError::new(format!("{}[{i}]", key("endpoints")), m))?;
        }
        Ok(())
    }

    /// Each secret has exactly one source, and is bound only to endpoints of
    /// this venue.
    fn validate_secrets(&self, key: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
        for (secret, src) in &self.secrets {
            match (&src.env, &src.file) {
                (Some(_), None) | (None, Some(_)) => {}
                _ => {
                    return Err(ConfigError::new(
                        key(&format!("secrets.{secret}")),
                        "give exactly one of `env` or `file`",
                    ));
                }
            }
            for ep in src.endpoints.iter().flatten() {
                if !self.endpoints.contains(ep) {
                    return Err(ConfigError::new(
                        key(&format!("secrets.{secret}.endpoints")),
                        format!(
                            "{:?} is not one of this venue's endpoints",
                            crate::redact::redact_url(ep)
                        ),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The attempt timeout, the call deadline and the reconcile settle time,
    /// each no shorter than the attempt timeout.
    fn validate_timing(&self, key: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
        if self.timeout_ms == 0 {
            return Err(ConfigError::new(key("timeout_ms"), "must be positive"));
        }
        if let Some(settle) = self.reconcile_settle_ms
            && settle < self.timeout_ms
        {
            return Err(ConfigError::new(
                key("reconcile_settle_ms"),
                format!(
                    "must be at least timeout_ms ({} ms): a request sent just before the end \
                     of an attempt may still reach the venue that long after; got {settle} ms",
                    self.timeout_ms
                ),
            ));
        }
        if self.deadline_ms < self.timeout_ms {
            return Err(ConfigError::new(
                key("deadline_ms"),
                format!(
                    "must be at least timeout_ms ({} ms), got {} ms",
                    self.timeout_ms, self.deadline_ms
                ),
            ));
        }
        if self.connect_timeout_ms == Some(0) {
            return Err(ConfigError::new(
                key("connect_timeout_ms"),
                "must be positive",
            ));
        }
        Ok(())
    }

    /// `retry` and `breaker`.
    fn validate_retry_and_breaker(&self, key: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
        let r = &self.retry;
        if r.max_attempts == 0 {
            return Err(ConfigError::new(
                key("retry.max_attempts"),
                "must be at least 1 (the first call counts)",
            ));
        }
        if !(r.multiplier.is_finite() && r.multiplier >= 1.0) {
            return Err(ConfigError::new(key("retry.multiplier"), "must be >= 1.0"));
        }
        if !(0.0..=1.0).contains(&r.jitter) {
            return Err(ConfigError::new(
                key("retry.jitter"),
                "must be between 0.0 and 1.0",
            ));
        }
        if r.max_delay_ms < r.base_delay_ms {
            return Err(ConfigError::new(
                key("retry.max_delay_ms"),
                "must be at least retry.base_delay_ms",
            ));
        }
        if !(r.budget_ratio.is_finite() && r.budget_ratio >= 0.0) {
            return Err(ConfigError::new(
                key("retry.budget_ratio"),
                "must be >= 0.0",
            ));
        }
        let b = &self.breaker;
        if b.failure_threshold == 0 {
            return Err(ConfigError::new(
                key("breaker.failure_threshold"),
                "must be positive",
            ));
        }
        if b.success_threshold == 0 {
            return Err(ConfigError::new(
                key("breaker.success_threshold"),
                "must be positive",
            ));
        }
        if let Some(rate) = b.failure_rate
            && !(rate > 0.0 && rate <= 1.0)
        {
            return Err(ConfigError::new(
                key("breaker.failure_rate"),
                "must be in (0.0, 1.0]",
            ));
        }
        Ok(())
    }

    /// The connection pool, the rate limit and the health probe.
    fn validate_traffic(&self, key: &dyn Fn(&str) -> String) -> Result<(), ConfigError> {
        if self.pool.max_connections_per_host == 0 {
            return Err(ConfigError::new(
                key("pool.max_connections_per_host"),
                "must be positive",
            ));
        }
        if let Some(rps) = self.rate_limit.requests_per_second
            && !(rps.is_finite() && rps > 0.0)
        {
            return Err(ConfigError::new(
                key("rate_limit.requests_per_second"),
                "must be a positive number",
            ));
        }
        if let Some(p) = &self.health_probe {
            if p.interval_ms < 100 {
                return Err(ConfigError::new(
                    key("health_probe.interval_ms"),
                    "must be at least 100",
                ));
            }
            if !p.params.is_object() {
                return Err(ConfigError::new(
                    key("health_probe.params"),
                    "must be a table/object",
                ));
            }
        }
        Ok(())
    }
}

/// Sandbox limits, under config key `at`.
fn validate_limits(l: &PluginLimits, at: &str) -> Result<(), ConfigError> {
    if l.memory_mib == 0 || l.memory_mib > 4096 {
        return Err(ConfigError::new(
            format!("{at}.memory_mib"),
            "must be between 1 and 4096",
        ));
    }
    if l.max_instances == 0 || l.max_instances > 1024 {
        return Err(ConfigError::new(
            format!("{at}.max_instances"),
            "must be between 1 and 1024",
        ));
    }
    if l.cpu_ms == 0 {
        return Err(ConfigError::new(format!("{at}.cpu_ms"), "must be positive"));
    }
    if l.max_calls_per_instance == 0 {
        return Err(ConfigError::new(
            format!("{at}.max_calls_per_instance"),
            "must be positive",
        ));
    }
    Ok(())
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn validate_endpoint(ep: &str) -> Result<(), String> {
    // `${secret:NAME}` placeholders are filled in at start-up; check the shape around them.
    let shape: String = crate::endpoint_secrets::pieces(ep)?
        .into_iter()
        .map(|p| match p {
            crate::endpoint_secrets::Piece::Text(t) => t,
            crate::endpoint_secrets::Piece::Secret(_) => "x",
        })
        .collect();
    let ep_shown = crate::redact::redact_url(ep);
    let ep = ep_shown.as_str();
    let uri: http::Uri = shape
        .parse()
        .map_err(|e| format!("{ep:?} is not a valid URL: {e}"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        _ => return Err(format!("{ep:?} must start with http:// or https://")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(format!("{ep:?} has no host"));
    }
    if uri.query().is_some() {
        return Err(format!(
            "{ep:?} must not carry a query; plugins append path and query"
        ));
    }
    Ok(())
}
