//! Checks a parsed config for what its types cannot express.

use std::collections::HashSet;

use super::{Config, ConfigError, ConfigErrors, PathMatchConfig};

/// Validates references and values, collecting every problem found.
pub(crate) fn validate(config: &Config) -> Result<(), ConfigErrors> {
    let mut errors = Errors {
        config,
        found: Vec::new(),
    };
    if config.version != 1 {
        errors.add(
            "version",
            format!("unsupported version {}; expected 1", config.version),
        );
    }
    check_runtime(config, &mut errors);
    check_admin(config, &mut errors);
    if config.listeners.is_empty() {
        errors.add("listeners", "at least one listener is required");
    }
    let mut names = HashSet::new();
    for (i, listener) in config.listeners.iter().enumerate() {
        if !names.insert(listener.name.as_str()) {
            errors.add(
                format!("listeners[{i}].name"),
                format!("duplicate listener `{}`", listener.name),
            );
        }
        let mut add = |key, message| errors.add(key, message);
        if let Some(tls) = &listener.tls {
            super::tls::check(tls, &format!("listeners[{i}].tls"), &mut add);
        }
        if let Some(limits) = &listener.limits {
            super::limits::check(limits, &format!("listeners[{i}].limits"), &mut add);
        }
    }
    super::limits::check(&config.limits, "limits", &mut |key, message| {
        errors.add(key, message)
    });
    super::observability::check(&config.observability, &mut |key, message| {
        errors.add(key, message)
    });
    for (name, upstream) in &config.upstreams {
        for (key, message) in super::upstream_check::check(upstream) {
            let key = match key.as_str() {
                "" => format!("upstreams.{name}"),
                _ => format!("upstreams.{name}.{key}"),
            };
            errors.add(key, message);
        }
    }
    let mut routes = HashSet::new();
    for (i, route) in config.routes.iter().enumerate() {
        let key = format!("routes[{i}]");
        if !routes.insert(route.name.as_str()) {
            errors.add(
                format!("{key}.name"),
                format!("duplicate route `{}`", route.name),
            );
        }
        if !config.upstreams.contains_key(&route.upstream) {
            errors.add(
                format!("{key}.upstream"),
                format!("no upstream named `{}`", route.upstream),
            );
        }
        for (h, host) in route.hosts.iter().enumerate() {
            if let Some(problem) = host.problem() {
                errors.add(format!("{key}.hosts[{h}]"), problem);
            }
        }
        if route.timeout_ms == Some(0) {
            errors.add(format!("{key}.timeout_ms"), "must be at least 1");
        }
        if let Err(message) = check_path(&route.path) {
            errors.add(format!("{key}.path"), message);
        }
        for (m, method) in route.methods.iter().enumerate() {
            if let Some(problem) = method.problem() {
                errors.add(format!("{key}.methods[{m}]"), problem);
            }
        }
        for header in &route.headers {
            let problem = header.name.problem().or(header.value.problem());
            if let Some(problem) = problem {
                errors.add(format!("{key}.headers.{}", header.name.text()), problem);
            }
        }
        for (p, plugin) in route.plugins.iter().enumerate() {
            let pkey = format!("{key}.plugins[{p}]");
            if !is_plugin_name(&plugin.name) {
                errors.add(
                    format!("{pkey}.name"),
                    format!(
                        "`{}` is not a plugin name (letters, digits, `-`, `_`)",
                        plugin.name
                    ),
                );
            }
            let mut seen = HashSet::new();
            for (c, capability) in plugin.capabilities.iter().enumerate() {
                if !seen.insert(capability) {
                    errors.add(
                        format!("{pkey}.capabilities[{c}]"),
                        format!("`{}` is listed twice", capability.name()),
                    );
                }
            }
            if plugin.max_uses == 0 {
                errors.add(format!("{pkey}.max_uses"), "must be at least 1");
            }
            let granted = plugin.capabilities.contains(&super::Capability::Http);
            let http_key = format!("{pkey}.http");
            for (key, message) in super::outbound::check(&http_key, plugin.http.as_ref(), granted) {
                errors.add(key, message);
            }
        }
    }
    super::monitor::check(config, &mut |key, message| errors.add(key, message));
    for (key, message) in super::state::check(&config.state) {
        errors.add(key, message);
    }
    for (key, message) in config.encryption.iter().flat_map(super::encryption::check) {
        errors.add(key, message);
    }
    if let Some(etcd) = &config.etcd {
        for (key, message) in super::etcd::check(etcd) {
            errors.add(key, message);
        }
    }
    for (name, upstream) in &config.upstreams {
        if let Some(discovery) = &upstream.etcd {
            let key = format!("upstreams.{name}.etcd");
            let cluster = config.etcd.as_ref();
            for (key, message) in super::etcd::check_discovery(&key, discovery, cluster) {
                errors.add(key, message);
            }
        }
    }
    if errors.found.is_empty() {
        Ok(())
    } else {
        Err(ConfigErrors(errors.found))
    }
}

struct Errors<'a> {
    config: &'a Config,
    found: Vec<ConfigError>,
}

impl Errors<'_> {
    fn add(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.found
            .push(ConfigError::new(&self.config.source, key, message));
    }
}

fn check_runtime(config: &Config, errors: &mut Errors<'_>) {
    let runtime = &config.runtime;
    if runtime.max_instances == 0 {
        errors.add("runtime.max_instances", "must be at least 1");
    }
    if runtime.memory_limit_mb == 0 || runtime.memory_limit_mb > 4096 {
        errors.add("runtime.memory_limit_mb", "must be between 1 and 4096");
    }
    if runtime.deadline_ms == 0 {
        errors.add("runtime.deadline_ms", "must be at least 1");
    }
    if runtime.init_deadline_ms == 0 {
        errors.add("runtime.init_deadline_ms", "must be at least 1");
    }
}

fn check_path(path: &PathMatchConfig) -> Result<(), String> {
    match path {
        PathMatchConfig::Exact(p) | PathMatchConfig::Prefix(p) if !p.starts_with('/') => {
            Err(format!("`{p}` must start with `/`"))
        }
        PathMatchConfig::Regex(regex) => regex.value().map(|_| ()).map_err(str::to_owned),
        _ => Ok(()),
    }
}

fn is_plugin_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn check_admin(config: &Config, errors: &mut Errors) {
    if let Some(admin) = &config.admin
        && !admin.addr.ip().is_loopback()
        && admin.tokens.is_empty()
        && admin.clients.is_empty()
        && !admin.allow_non_loopback
    {
        errors.add(
            "admin.addr",
            format!(
                "{} is not a loopback address and the admin listener has no credentials \
                 (add `[[admin.tokens]]` or `[[admin.clients]]` with `admin.tls.client_ca`, \
                 or set `admin.allow_non_loopback = true` to bind it anyway)",
                admin.addr
            ),
        );
    }
    if let Some(admin) = &config.admin {
        for (key, message) in crate::config::admin::check_tokens(&admin.tokens) {
            errors.add(&key, message);
        }
        let has_ca = admin.tls.as_ref().is_some_and(|t| t.client_ca.is_some());
        for (key, message) in crate::config::admin::check_clients(&admin.clients, has_ca) {
            errors.add(&key, message);
        }
        if let Some(tls) = &admin.tls {
            let mut add = |key, message| errors.add(key, message);
            super::tls::check(tls, "admin.tls", &mut add);
        }
        if let Some(audit) = &admin.audit {
            if audit.max_bytes < 4096 {
                errors.add("admin.audit.max_bytes", "must be at least 4096");
            }
            if audit.keep == 0 {
                errors.add("admin.audit.keep", "must be at least 1");
            }
        }
    }
    if config.reload.interval_ms == 0 {
        errors.add("reload.interval_ms", "must be at least 1");
    }
}
