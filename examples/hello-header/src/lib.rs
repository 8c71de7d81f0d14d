//! `hello-header`: the smallest useful Portico plugin, and the one to copy.
//!
//! It sets a header on the request forwarded upstream and on the response
//! sent back to the client, and logs each request. Route config:
//!
//! ```toml
//! [[routes.plugins]]
//! name = "hello-header"
//! capabilities = ["log"]
//! config = { name = "x-hello", value = "world" }  # `name` defaults to "x-hello"
//! ```

#![warn(missing_docs)]

use portico_sdk::config::{HeaderName, HeaderValue};
use portico_sdk::{Action, Capability, Error, Plugin, Request, Response, export_plugin, log};
use serde::Deserialize;

/// The route's `config` table. Header name and value are checked when the
/// route loads, so a typo is reported as a config error naming the key.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The header to set.
    #[serde(default = "default_name")]
    pub name: HeaderName,
    /// Its value.
    pub value: HeaderValue,
}

fn default_name() -> HeaderName {
    HeaderName::from_static("x-hello")
}

/// The plugin. It keeps no per-request state, only its config.
pub struct HelloHeader {
    config: &'static Config,
}

impl Plugin for HelloHeader {
    type Config = Config;
    /// The host capabilities it calls: its route grants `capabilities = ["log"]`.
    const CAPABILITIES: &'static [Capability] = &[Capability::Log];

    fn new(config: &'static Config) -> Self {
        HelloHeader { config }
    }

    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        let Config { name, value } = self.config;
        req.set_header(name, value)?;
        let (method, path) = (req.method(), req.path());
        log::info(format!("{method} {path}: set {name}: {value}"));
        Ok(Action::Continue)
    }

    fn on_response(&mut self, res: &mut Response<'_>) -> Result<Action, Error> {
        res.set_header(&self.config.name, &self.config.value)?;
        Ok(Action::Continue)
    }
}

export_plugin!(HelloHeader);

#[cfg(test)]
mod tests {
    use portico_sdk::log::Level;
    use portico_sdk::testing::{MockHost, MockRequest, MockResponse};
    use serde_json::json;

    use super::*;

    #[test]
    fn sets_the_header_both_ways_and_logs() -> Result<(), Box<dyn std::error::Error>> {
        let host = MockHost::with_grants(&["log"]);
        let mut plugin = host.load::<HelloHeader>(json!({ "value": "world" }))?;

        let mut req = MockRequest::get("/greet").header("x-hello", "old");
        assert_eq!(plugin.on_request(&mut req)?, Action::Continue);
        assert_eq!(req.header_values("x-hello"), ["world"]);

        let mut res = MockResponse::new(200);
        assert_eq!(plugin.on_response(&mut res)?, Action::Continue);
        assert_eq!(res.header_value("x-hello"), Some("world"));

        let logs = host.logs();
        assert_eq!(logs.len(), 1);
        assert_eq!(logs[0].level, Level::Info);
        assert_eq!(logs[0].message, "GET /greet: set x-hello: world");
        Ok(())
    }

    #[test]
    fn header_name_is_configurable() -> Result<(), Box<dyn std::error::Error>> {
        let host = MockHost::with_grants(&["log"]);
        let mut plugin =
            host.load::<HelloHeader>(json!({ "name": "X-Greeting", "value": "hi" }))?;
        let mut req = MockRequest::get("/");
        plugin.on_request(&mut req)?;
        assert_eq!(req.header_value("x-greeting"), Some("hi"));
        assert_eq!(req.header_value("x-hello"), None);
        Ok(())
    }

    #[test]
    fn bad_config_names_the_key() {
        let host = MockHost::with_grants(&["log"]);
        let key = |config| {
            host.load::<HelloHeader>(config)
                .err()
                .map(|e| e.key().to_owned())
        };
        assert_eq!(
            key(json!({ "name": "bad name", "value": "v" })).as_deref(),
            Some("name")
        );
        assert_eq!(
            key(json!({ "value": "line\nbreak" })).as_deref(),
            Some("value")
        );
        assert_eq!(key(json!({})).as_deref(), Some("value"));
        assert_eq!(
            key(json!({ "value": "v", "extra": 1 })).as_deref(),
            Some("extra")
        );
    }
}
