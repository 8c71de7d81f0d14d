//! `stamp`: a test-only plugin that marks each request and response with
//! its own package version, so hot-swap tests can tell which version served
//! a request and that one request never saw two versions. `stamp-v1` and
//! `stamp-v2` build this same file with different package versions.
//!
//! ```toml
//! config = { label = "a" }  # optional; stamps read `<version>/<label>`
//! ```
//!
//! On request it appends `x-stamp: <stamp>` to the upstream request; on
//! response it appends `x-stamp-response: <stamp>`.

#![warn(missing_docs)]

use portico_sdk::{Action, Capability, Error, Plugin, Request, Response, export_plugin};
use serde::Deserialize;

/// The config table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Added to the stamp after the version.
    pub label: Option<String>,
}

/// The plugin; it keeps only its stamp.
pub struct Stamp {
    stamp: String,
}

impl Plugin for Stamp {
    type Config = Config;
    /// Calls no host capability: its route grants none.
    const CAPABILITIES: &'static [Capability] = &[];

    fn new(config: &'static Config) -> Self {
        let version = env!("CARGO_PKG_VERSION");
        let stamp = match &config.label {
            Some(label) => format!("{version}/{label}"),
            None => version.to_owned(),
        };
        Stamp { stamp }
    }

    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        req.append_header("x-stamp", &self.stamp)?;
        Ok(Action::Continue)
    }

    fn on_response(&mut self, res: &mut Response<'_>) -> Result<Action, Error> {
        res.append_header("x-stamp-response", &self.stamp)?;
        Ok(Action::Continue)
    }
}

export_plugin!(Stamp);

#[cfg(test)]
mod tests {
    use portico_sdk::testing::{MockHost, MockRequest, MockResponse};
    use serde_json::json;

    use super::*;

    #[test]
    fn stamps_both_ways_with_the_package_version() -> Result<(), Box<dyn std::error::Error>> {
        let host = MockHost::with_grants(&[]);
        let mut plugin = host.load::<Stamp>(json!({ "label": "a" }))?;
        let mut req = MockRequest::get("/");
        plugin.on_request(&mut req)?;
        let expected = format!("{}/a", env!("CARGO_PKG_VERSION"));
        assert_eq!(req.header_values("x-stamp"), [expected.as_str()]);
        let mut res = MockResponse::new(200);
        plugin.on_response(&mut res)?;
        assert_eq!(res.header_values("x-stamp-response"), [expected.as_str()]);
        Ok(())
    }

    #[test]
    fn unknown_config_keys_are_refused() {
        let host = MockHost::with_grants(&[]);
        assert!(host.load::<Stamp>(json!({ "labels": "a" })).is_err());
    }
}
