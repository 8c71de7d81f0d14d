//! A typed config builder for tests: the gateway a test needs, said in
//! Rust rather than spliced TOML.
//!
//! ```ignore
//! let gw = Gateway::builder()
//!     .echo("origin")
//!     .route("r", |r| r.prefix("/x").upstream("origin").plugin(probe("a").grant([Kv])))
//!     .start()
//!     .await;
//! ```
//!
//! It renders the same TOML a user would write (see [`GatewayBuilder::toml`])
//! on top of [`super::config_prelude_keys`], so the gateway under test is built
//! exactly as `portico run` builds it.

use std::fmt::Write as _;
use std::net::SocketAddr;

use super::monitor::{Monitored, monitored};
use super::{PreludeKeys, TestGateway, config_prelude_keys, gateway, try_gateway, upstream};

/// The capabilities a route can grant a plugin: the contract's own list.
pub use portico_contract::Capability as Cap;

/// Entry point: `Gateway::builder()`.
pub struct Gateway;

impl Gateway {
    /// A gateway with the test prelude (plugin dir, compile cache, an admin
    /// listener and one traffic listener on ephemeral ports).
    pub fn builder() -> GatewayBuilder {
        GatewayBuilder::default()
    }
}

/// A gateway config under construction.
#[derive(Default)]
pub struct GatewayBuilder {
    prelude: PreludeKeys,
    listener_tls: Option<String>,
    tables: String,
    echoes: Vec<String>,
    upstreams: Vec<(String, String)>,
    routes: Vec<RouteBuilder>,
}

impl GatewayBuilder {
    /// An echo upstream (`demo-upstream`, naming itself `name` in
    /// `x-upstream`) started with the gateway, as upstream `name`.
    pub fn echo(mut self, name: &str) -> Self {
        self.echoes.push(name.to_owned());
        self
    }

    /// Upstream `name` with these targets.
    pub fn upstream(self, name: &str, targets: &[SocketAddr]) -> Self {
        self.upstream_with(name, targets, "")
    }

    /// Upstream `name` with these targets and more keys of its table
    /// (`retries = 0`, ...).
    pub fn upstream_with(mut self, name: &str, targets: &[SocketAddr], keys: &str) -> Self {
        let targets: Vec<String> = targets.iter().map(|t| format!("\"{t}\"")).collect();
        self.upstreams.push((
            name.to_owned(),
            format!("targets = [{}]\n{keys}", targets.join(", ")),
        ));
        self
    }

    /// Upstream `name` as the keys of its table, written out (weighted
    /// targets, `balance`, discovery from a file or DNS, `tls`, ...).
    pub fn upstream_toml(mut self, name: &str, keys: &str) -> Self {
        self.upstreams.push((name.to_owned(), keys.to_owned()));
        self
    }

    /// A route named `name`, shaped by `build`; without `.upstream(..)`
    /// it goes to the first upstream (or echo) declared.
    pub fn route(mut self, name: &str, build: impl FnOnce(RouteBuilder) -> RouteBuilder) -> Self {
        self.routes.push(build(RouteBuilder::new(name)));
        self
    }

    /// More keys for `[runtime]` (`deadline_ms = 200`, ...).
    pub fn runtime(mut self, keys: &str) -> Self {
        push_line(&mut self.prelude.runtime, keys);
        self
    }

    /// More keys for `[admin]` (`max_connections = 2`).
    pub fn admin(mut self, keys: &str) -> Self {
        push_line(&mut self.prelude.admin, keys);
        self
    }

    /// More keys for the traffic listener (`limits.http2 = { .. }`).
    pub fn listener(mut self, keys: &str) -> Self {
        push_line(&mut self.prelude.listener, keys);
        self
    }

    /// TLS on the traffic listener: the keys of its `[listeners.tls]`
    /// table (`certificates = [..]`, `client_auth = ".."`).
    pub fn listener_tls(mut self, keys: &str) -> Self {
        self.listener_tls = Some(keys.to_owned());
        self
    }

    /// The gateway-wide `[limits]` table with these keys.
    pub fn limits(self, keys: &str) -> Self {
        self.table(&format!("[limits]\n{keys}"))
    }

    /// A top-level table as TOML (`[limits]` with its keys, `[analytics]`,
    /// ...), for what has no method of its own yet.
    pub fn table(mut self, toml: &str) -> Self {
        push_line(&mut self.tables, toml);
        self
    }

    /// The config text, with echo upstreams at `echo_addrs` (in the order
    /// they were declared).
    pub fn toml(&self, echo_addrs: &[SocketAddr]) -> String {
        let mut prelude = self.prelude.clone();
        if let Some(tls) = &self.listener_tls {
            push_line(&mut prelude.listener, &format!("\n[listeners.tls]\n{tls}"));
        }
        let mut text = config_prelude_keys(&prelude);
        text.push('\n');
        text.push_str(&self.body(echo_addrs));
        text
    }

    /// The config without the prelude: the tables, upstreams and routes,
    /// for a test that writes its own prelude (a gateway on a config file
    /// that changes).
    pub fn body(&self, echo_addrs: &[SocketAddr]) -> String {
        let mut text = self.tables.clone();
        let mut upstream_names = Vec::new();
        for (name, addr) in self.echoes.iter().zip(echo_addrs) {
            let _ = write!(text, "\n[upstreams.{name}]\ntargets = [\"{addr}\"]\n");
            upstream_names.push(name.clone());
        }
        for (name, body) in &self.upstreams {
            let _ = write!(text, "\n[upstreams.{name}]\n{body}\n");
            upstream_names.push(name.clone());
        }
        for route in &self.routes {
            route.render(&mut text, upstream_names.first().map(String::as_str));
        }
        text
    }

    async fn echo_addrs(&self) -> Vec<SocketAddr> {
        let mut addrs = Vec::new();
        for name in &self.echoes {
            addrs.push(upstream(name).await);
        }
        addrs
    }

    /// Starts the echo upstreams and the gateway; panics with the config
    /// errors if it refuses the config.
    pub async fn start(self) -> TestGateway {
        let addrs = self.echo_addrs().await;
        gateway(&self.toml(&addrs)).await
    }

    /// Starts the echo upstreams and the gateway with its monitor (the
    /// prelude has the admin listener).
    pub async fn start_monitored(self) -> Monitored {
        let addrs = self.echo_addrs().await;
        monitored(&self.toml(&addrs)).await
    }

    /// Starts the echo upstreams and tries the gateway: its config errors
    /// when it refuses.
    pub async fn try_start(self) -> Result<TestGateway, String> {
        let addrs = self.echo_addrs().await;
        try_gateway(&self.toml(&addrs)).await
    }
}

/// One route under construction.
pub struct RouteBuilder {
    name: String,
    upstream: Option<String>,
    keys: Vec<String>,
    plugins: Vec<PluginBuilder>,
}

impl RouteBuilder {
    fn new(name: &str) -> Self {
        RouteBuilder {
            name: name.to_owned(),
            upstream: None,
            keys: Vec::new(),
            plugins: Vec::new(),
        }
    }

    /// The route's upstream.
    pub fn upstream(mut self, name: &str) -> Self {
        self.upstream = Some(name.to_owned());
        self
    }

    /// `path = { prefix = .. }`.
    pub fn prefix(self, prefix: &str) -> Self {
        self.key(&format!("path = {{ prefix = {} }}", quote(prefix)))
    }

    /// `path = { exact = .. }`.
    pub fn exact(self, path: &str) -> Self {
        self.key(&format!("path = {{ exact = {} }}", quote(path)))
    }

    /// `path = { regex = .. }`.
    pub fn regex(self, regex: &str) -> Self {
        self.key(&format!("path = {{ regex = {} }}", quote(regex)))
    }

    /// `methods = [..]`.
    pub fn methods(self, methods: &[&str]) -> Self {
        let list: Vec<String> = methods.iter().map(|m| quote(m)).collect();
        self.key(&format!("methods = [{}]", list.join(", ")))
    }

    /// `hosts = [..]`.
    pub fn hosts(self, hosts: &[&str]) -> Self {
        let list: Vec<String> = hosts.iter().map(|h| quote(h)).collect();
        self.key(&format!("hosts = [{}]", list.join(", ")))
    }

    /// `headers = { name = value, .. }`: every one must match.
    pub fn headers(self, headers: &[(&str, &str)]) -> Self {
        let list: Vec<String> = headers
            .iter()
            .map(|(name, value)| format!("{} = {}", quote(name), quote(value)))
            .collect();
        self.key(&format!("headers = {{ {} }}", list.join(", ")))
    }

    /// Any other key of the route, as TOML (`timeout_ms = 100`).
    pub fn key(mut self, toml: &str) -> Self {
        self.keys.push(toml.to_owned());
        self
    }

    /// The next plugin in the chain.
    pub fn plugin(mut self, plugin: PluginBuilder) -> Self {
        self.plugins.push(plugin);
        self
    }

    fn render(&self, text: &mut String, default_upstream: Option<&str>) {
        let _ = write!(text, "\n[[routes]]\nname = {}\n", quote(&self.name));
        if let Some(upstream) = self.upstream.as_deref().or(default_upstream) {
            let _ = writeln!(text, "upstream = {}", quote(upstream));
        }
        for key in &self.keys {
            let _ = writeln!(text, "{key}");
        }
        for plugin in &self.plugins {
            plugin.render(text);
        }
    }
}

/// A plugin of a route's chain: `plugin("probe").grant([Cap::Kv]).config("tag", "a")`.
pub fn plugin(name: &str) -> PluginBuilder {
    PluginBuilder {
        name: name.to_owned(),
        keys: Vec::new(),
        grants: Vec::new(),
        config: Vec::new(),
        table: None,
    }
}

/// `probe` standing in for an auth plugin, as api-key or jwt would be: tag
/// `auth`, the context's `consumer` from the `x-user` header.
pub fn auth_probe() -> PluginBuilder {
    plugin("probe")
        .grant([Cap::Log, Cap::Clock, Cap::Kv, Cap::Cache, Cap::Context])
        .config("tag", "auth")
        .config_toml("context_set", r#"{ consumer = "from-header:x-user" }"#)
}

/// One plugin under construction.
pub struct PluginBuilder {
    name: String,
    keys: Vec<String>,
    grants: Vec<Cap>,
    config: Vec<(String, String)>,
    table: Option<String>,
}

impl PluginBuilder {
    /// `instance = "pooled" | "fresh"`.
    pub fn instance(self, mode: &str) -> Self {
        self.key(&format!("instance = {}", quote(mode)))
    }

    /// Any other key of the plugin entry, as TOML (`on_failure = "open"`,
    /// `config_files = { jwks = ".." }`).
    pub fn key(mut self, toml: &str) -> Self {
        self.keys.push(toml.to_owned());
        self
    }

    /// Grants these capabilities.
    pub fn grant(mut self, caps: impl IntoIterator<Item = Cap>) -> Self {
        self.grants.extend(caps);
        self
    }

    /// A string config key: `config.<key> = "<value>"`.
    pub fn config(self, key: &str, value: &str) -> Self {
        self.config_toml(key, &quote(value))
    }

    /// A config key with a TOML value as written (`3`, `true`, `["a"]`,
    /// `{ limit = 1, window = "1s" }`).
    pub fn config_toml(mut self, key: &str, toml: &str) -> Self {
        self.config.push((key.to_owned(), toml.to_owned()));
        self
    }

    /// The whole config as the body of a TOML inline table, as a user
    /// would write it on one line (`realm = "orders", keys = [..]`); not
    /// combined with [`config`](Self::config) or
    /// [`config_toml`](Self::config_toml).
    pub fn config_table(mut self, body: &str) -> Self {
        self.table = Some(body.to_owned());
        self
    }

    fn render(&self, text: &mut String) {
        assert!(
            self.table.is_none() || self.config.is_empty(),
            "plugin {}: config_table and config keys do not mix",
            self.name
        );
        let _ = write!(text, "\n[[routes.plugins]]\nname = {}\n", quote(&self.name));
        for key in &self.keys {
            let _ = writeln!(text, "{key}");
        }
        if !self.grants.is_empty() {
            let caps: Vec<String> = self.grants.iter().map(|c| quote(c.name())).collect();
            let _ = writeln!(text, "capabilities = [{}]", caps.join(", "));
        }
        if let Some(body) = &self.table {
            let _ = writeln!(text, "config = {{ {body} }}");
        }
        for (key, value) in &self.config {
            let _ = writeln!(text, "config.{key} = {value}");
        }
    }
}

/// Appends `text` and a newline.
fn push_line(to: &mut String, text: &str) {
    to.push_str(text);
    to.push('\n');
}

/// A TOML basic string.
fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
