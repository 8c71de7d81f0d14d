//! The host capabilities a route grants to a plugin, and how a component's
//! import names map to them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::PACKAGE;

/// A host capability a route grants to a plugin (`capabilities = [...]`).
/// A component importing one its route does not grant is refused at load.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    /// `portico:plugin/log`.
    Log,
    /// `portico:plugin/clock`.
    Clock,
    /// `portico:plugin/kv`.
    Kv,
    /// `portico:plugin/cache`.
    Cache,
    /// `portico:plugin/context`.
    Context,
    /// `portico:plugin/metrics`.
    Metrics,
    /// `portico:plugin/http`: outbound requests, to the destinations of the
    /// entry's `http` table.
    Http,
}

impl Capability {
    /// Every capability, in the WIT world's order.
    pub const ALL: [Capability; 7] = [
        Capability::Log,
        Capability::Clock,
        Capability::Kv,
        Capability::Cache,
        Capability::Context,
        Capability::Metrics,
        Capability::Http,
    ];

    /// The config and WIT interface name, e.g. `kv`.
    pub fn name(self) -> &'static str {
        match self {
            Capability::Log => "log",
            Capability::Clock => "clock",
            Capability::Kv => "kv",
            Capability::Cache => "cache",
            Capability::Context => "context",
            Capability::Metrics => "metrics",
            Capability::Http => "http",
        }
    }

    /// The capability named `name` (as in the config), if there is one.
    pub fn from_name(name: &str) -> Option<Capability> {
        Capability::ALL.into_iter().find(|c| c.name() == name)
    }
}

impl Capability {
    /// The capability's bit in a [`DECLARED_SECTION`] mask. Fixed per
    /// capability (never reused), so a mask means the same in every version.
    pub const fn bit(self) -> u32 {
        match self {
            Capability::Log => 1 << 0,
            Capability::Clock => 1 << 1,
            Capability::Kv => 1 << 2,
            Capability::Cache => 1 << 3,
            Capability::Context => 1 << 4,
            Capability::Metrics => 1 << 5,
            Capability::Http => 1 << 6,
        }
    }
}

/// The custom section in which `portico_sdk::export_plugin!` records the
/// plugin's `Plugin::CAPABILITIES` in its core module: four bytes, a
/// little-endian mask of [`Capability::bit`]s. `portico plugin inspect`
/// compares it with what the component imports.
pub const DECLARED_SECTION: &str = "portico-capabilities";

/// The mask of `capabilities`, as [`DECLARED_SECTION`] holds it.
pub const fn declared_mask(capabilities: &[Capability]) -> u32 {
    let mut mask = 0;
    let mut index = 0;
    while index < capabilities.len() {
        mask |= capabilities[index].bit();
        index += 1;
    }
    mask
}

/// The capabilities in a [`DECLARED_SECTION`]'s contents, in
/// [`Capability::ALL`] order; `None` when it is not a mask this contract
/// knows (another length, or a bit no capability has).
pub fn from_declared(section: &[u8]) -> Option<Vec<Capability>> {
    let mask = u32::from_le_bytes(section.try_into().ok()?);
    let known = declared_mask(&Capability::ALL);
    if mask & !known != 0 {
        return None;
    }
    Some(
        Capability::ALL
            .into_iter()
            .filter(|c| mask & c.bit() != 0)
            .collect(),
    )
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a component import is, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Import {
    /// A WASI interface (`wasi:…`): provided to every plugin, and sandboxed.
    Wasi,
    /// The contract's shared `types` interface: needs no grant.
    Types,
    /// A contract capability: needs the route's grant.
    Capability(Capability),
    /// Neither: the gateway does not provide it (another package, or
    /// another version of this contract).
    Unknown,
}

/// Classifies the import `name` (`portico:plugin/kv@0.2.2`, `wasi:…`); a
/// contract interface of any compatible version (`@0.2.0`) counts.
pub fn classify(name: &str) -> Import {
    if name.starts_with("wasi:") {
        return Import::Wasi;
    }
    let interface = name
        .strip_prefix(PACKAGE)
        .and_then(|rest| rest.split_once('@'))
        .filter(|(_, version)| crate::compatible(version))
        .map(|(interface, _)| interface);
    match interface {
        Some("types") => Import::Types,
        Some(interface) => {
            Capability::from_name(interface).map_or(Import::Unknown, Import::Capability)
        }
        None => Import::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_are_classified_by_package_and_version() {
        assert_eq!(
            classify("portico:plugin/kv@0.2.2"),
            Import::Capability(Capability::Kv)
        );
        assert_eq!(
            classify("portico:plugin/kv@0.2.0"),
            Import::Capability(Capability::Kv),
            "a component built against 0.2.0 links with 0.2.2"
        );
        assert_eq!(classify("portico:plugin/types@0.2.2"), Import::Types);
        assert_eq!(classify("portico:plugin/types@0.2.1"), Import::Types);
        assert_eq!(classify("portico:plugin/kv@0.3.0"), Import::Unknown);
        assert_eq!(classify("wasi:io/streams@0.2.6"), Import::Wasi);
        assert_eq!(classify("portico:plugin/kv@0.1.0"), Import::Unknown);
        assert_eq!(classify("portico:plugin/sockets@0.2.0"), Import::Unknown);
        assert_eq!(classify("acme:evil/kv@0.2.0"), Import::Unknown);
    }

    #[test]
    fn declared_masks_round_trip_and_unknown_bits_are_refused() {
        let declared = [Capability::Context, Capability::Kv];
        let section = declared_mask(&declared).to_le_bytes();
        assert_eq!(
            from_declared(&section),
            Some(vec![Capability::Kv, Capability::Context])
        );
        assert_eq!(
            from_declared(&declared_mask(&Capability::ALL).to_le_bytes()),
            Some(Capability::ALL.to_vec())
        );
        assert_eq!(from_declared(&0u32.to_le_bytes()), Some(Vec::new()));
        assert_eq!(from_declared(&(1u32 << 31).to_le_bytes()), None);
        assert_eq!(from_declared(&[1, 0]), None);
        assert_eq!(
            declared_mask(&Capability::ALL).count_ones() as usize,
            Capability::ALL.len(),
            "one bit of its own per capability"
        );
    }

    #[test]
    fn names_round_trip() {
        for capability in Capability::ALL {
            assert_eq!(Capability::from_name(capability.name()), Some(capability));
        }
        assert_eq!(Capability::from_name("sockets"), None);
    }
}
