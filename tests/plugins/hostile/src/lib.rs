//! `hostile`: a test-only plugin that misbehaves in `on_request`, to check
//! that the gateway contains it. Config: `{ mode = "spin" | "grow-memory" |
//! "panic" | "error" | "spin-in-init" }`; any other mode is a config error.
//! `spin-in-init` loops while the config is read, in `init`, so the gateway
//! must stop it at `[runtime] init_deadline_ms` when it loads the route. With
//! `only_with_header = "x-name"` it misbehaves only for requests carrying that
//! header and lets the others through.

#![warn(missing_docs)]

use std::hint::black_box;

use portico_sdk::{Action, Capability, Error, Plugin, Request, export_plugin};
use serde::{Deserialize, Deserializer};

/// Memory `grow-memory` tries to allocate.
const GROW_BYTES: usize = 1 << 30;
/// Size of each allocation `grow-memory` makes.
const CHUNK_BYTES: usize = 1 << 20;

/// How to misbehave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Loop forever (the gateway's deadline must stop it).
    Spin,
    /// Allocate and touch 1 GiB in 1 MiB chunks, all kept alive (the memory
    /// limit must stop it).
    GrowMemory,
    /// Panic (a trap: panics abort in the guest).
    Panic,
    /// Return a plugin error.
    Error,
    /// Loop forever while `init` reads the config.
    SpinInInit,
}

/// Reads `mode`, and never returns for `spin-in-init`.
fn mode<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Mode, D::Error> {
    let mode = Mode::deserialize(deserializer)?;
    if mode == Mode::SpinInInit {
        spin();
    }
    Ok(mode)
}

/// The config table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How to misbehave.
    #[serde(deserialize_with = "mode")]
    pub mode: Mode,
    /// Misbehave only when the request has this header.
    #[serde(default)]
    pub only_with_header: Option<String>,
}

/// The plugin.
pub struct Hostile {
    config: &'static Config,
}

impl Plugin for Hostile {
    type Config = Config;
    /// Calls no host capability: its route grants none.
    const CAPABILITIES: &'static [Capability] = &[];

    fn new(config: &'static Config) -> Self {
        Hostile { config }
    }

    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        if let Some(header) = &self.config.only_with_header
            && req.header(header).is_none()
        {
            return Ok(Action::Continue);
        }
        match self.config.mode {
            Mode::Spin => spin(),
            Mode::GrowMemory => {
                let chunks = grow(GROW_BYTES);
                // Not stopped: let the test see the request go through.
                black_box(chunks);
                Ok(Action::Continue)
            }
            Mode::Panic => panic!("hostile plugin panicked on purpose"),
            Mode::Error => Err(Error::msg("hostile plugin failed on purpose")),
            // `init` never returned, so no request reaches this instance.
            Mode::SpinInInit => Ok(Action::Continue),
        }
    }
}

export_plugin!(Hostile);

/// Loops forever; `black_box` keeps the optimizer from removing the loop.
fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

/// Allocates `total` bytes in chunks, writing to every page, and keeps them.
fn grow(total: usize) -> Vec<Vec<u8>> {
    let mut chunks = Vec::with_capacity(total / CHUNK_BYTES);
    for i in 0..total / CHUNK_BYTES {
        // Non-zero fill: every page is written, not just reserved.
        chunks.push(black_box(vec![(i % 255) as u8 + 1; CHUNK_BYTES]));
    }
    chunks
}

#[cfg(test)]
mod tests {
    use portico_sdk::testing::{MockHost, MockRequest};
    use serde_json::json;

    use super::*;

    #[test]
    fn error_mode_fails_the_request() -> Result<(), portico_sdk::ConfigError> {
        let mut plugin = MockHost::with_grants(&[]).load::<Hostile>(json!({ "mode": "error" }))?;
        let err = plugin.on_request(&mut MockRequest::get("/")).err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("hostile plugin failed on purpose")
        );
        Ok(())
    }

    #[test]
    #[should_panic(expected = "hostile plugin panicked on purpose")]
    fn panic_mode_panics() {
        let host = MockHost::with_grants(&[]);
        if let Ok(mut plugin) = host.load::<Hostile>(json!({ "mode": "panic" })) {
            let _ = plugin.on_request(&mut MockRequest::get("/"));
        }
    }

    #[test]
    fn grow_keeps_every_chunk() {
        let chunks = grow(4 * CHUNK_BYTES);
        assert_eq!(chunks.len(), 4);
        assert!(
            chunks
                .iter()
                .all(|c| c.len() == CHUNK_BYTES && c[CHUNK_BYTES - 1] != 0)
        );
    }

    #[test]
    fn unknown_modes_are_config_errors() {
        let host = MockHost::with_grants(&[]);
        for config in [
            json!({ "mode": "explode" }),
            json!({}),
            json!({ "mode": "spin", "x": 1 }),
        ] {
            let err = host.load::<Hostile>(config).err();
            assert!(err.is_some_and(|e| ["mode", "x"].contains(&e.key())));
        }
    }
}
