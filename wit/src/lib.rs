//! The Portico plugin contract, in one place for both sides of it.
//!
//! The WIT world (`plugin.wit`, [`WIT`]) says what a plugin component
//! exports and which host capabilities it may import. This crate holds that
//! file and the rules that the WIT's comments promise and that the gateway
//! (`portico`) and the SDK's native mock host (`portico_sdk::testing`)
//! both enforce, so the two cannot drift apart:
//!
//! - [`capability`]: the capabilities a route grants, and how a
//!   component's import names map to them;
//! - [`limits`]: the bounds on `kv`, `cache`, `context` and `log` values;
//! - [`metrics`]: metric and label name rules and the series bound;
//! - [`headers`]: which header names and values a plugin may set;
//! - [`path`]: the request path's normal form and what `set-path` accepts.

pub mod capability;
pub mod headers;
pub mod limits;
pub mod metrics;
pub mod path;

pub use capability::{Capability, Import};

/// The WIT text of the contract (`package portico:plugin@0.2.2`, world
/// `plugin`).
pub const WIT: &str = include_str!("../plugin.wit");

/// The WIT package every contract interface belongs to, as an import name
/// prefix: `portico:plugin/kv@0.2.2`.
pub const PACKAGE: &str = "portico:plugin/";

/// The contract's version, as it ends an import name.
pub const WIT_VERSION: &str = "@0.2.2";

/// The contract's version, e.g. `0.2.2`.
pub fn version() -> &'static str {
    WIT_VERSION.trim_start_matches('@')
}

/// Whether a component built against contract `version` (`0.2.0`) links
/// with this one: the same `0.x` line, where versions only add (wasmtime
/// links a `0.2.0` import to the host's `0.2.2` the same way).
pub fn compatible(version: &str) -> bool {
    let line = |v: &str| -> Option<(u64, u64)> {
        let mut parts = v.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        let _patch: u64 = parts.next()?.parse().ok()?;
        parts.next().is_none().then_some((major, minor))
    };
    matches!((line(version), line(self::version())), (Some(a), Some(b)) if a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_is_the_wit_package_version() {
        let package = format!("package portico:plugin@{};", version());
        assert!(WIT.contains(&package), "plugin.wit declares {package}");
    }

    #[test]
    fn only_the_same_zero_minor_line_is_compatible() {
        assert!(compatible("0.2.0"));
        assert!(compatible(version()));
        assert!(compatible("0.2.9"));
        for other in ["0.1.0", "0.3.0", "1.2.1", "0.2", "0.2.x", "0.2.0.1", ""] {
            assert!(!compatible(other), "{other}");
        }
    }

    #[test]
    fn the_world_imports_every_capability() {
        for capability in Capability::ALL {
            let import = format!("    import {};", capability.name());
            assert!(WIT.contains(&import), "world plugin has `{import}`");
        }
    }
}
