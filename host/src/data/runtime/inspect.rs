//! `portico plugin inspect`: what a built component is and needs, read the
//! way the gateway reads it — compiled with the gateway's engine, its
//! imports classified by the same rules as `capabilities::check_imports`,
//! instantiated with exactly the capabilities it imports, and asked for its
//! `metadata`. A component built with the Rust SDK also records what its
//! `Plugin::CAPABILITIES` declares (a custom section), which is set beside
//! the imports: the SDK's mock host checks the declaration, the gateway the
//! imports, so the two must agree.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::bindings::PluginPre;
use super::capabilities::{self, Grants, Import, PACKAGE, WIT_VERSION};
use super::engine::PluginEngine;
use super::identity::PluginIdentity;
use super::instance::PluginInstance;
use super::services::HostServices;
use crate::config::{Capability, StateErrorPolicy};
use portico_contract::capability::{DECLARED_SECTION, from_declared};

/// What `portico plugin inspect` reports.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// `metadata().name`, when the component could be asked.
    pub name: Option<String>,
    /// `metadata().version`.
    pub version: Option<String>,
    /// The contract version the component was built against (the
    /// `@x.y.z` of its `portico:plugin` interfaces).
    pub contract: Option<String>,
    /// The contract version this gateway speaks.
    pub gateway_contract: &'static str,
    /// Size of the file, bytes.
    pub size: usize,
    /// Lowercase hex SHA-256 of the file (as `GET /plugins` shows it).
    pub sha256: String,
    /// Time to compile it with the gateway's engine settings, ms.
    pub compile_ms: f64,
    /// The capabilities it imports: what its route entry must grant.
    pub capabilities: Vec<Capability>,
    /// What the plugin's `Plugin::CAPABILITIES` declares, when it was built
    /// with the Rust SDK (`None`: no declaration recorded).
    pub declared: Option<Vec<Capability>>,
    /// Its WASI imports (always provided, sealed).
    pub wasi: Vec<String>,
    /// Imports the gateway does not provide.
    pub unknown_imports: Vec<String>,
    /// Why it would not load under this gateway; `None`: it would (with
    /// `capabilities` granted).
    pub refused: Option<String>,
}

impl Inspection {
    /// The `capabilities = [...]` line of a route's plugin entry.
    pub fn capabilities_line(&self) -> String {
        capabilities_line(&self.capabilities)
    }

    /// How the declaration differs from the imports, in words; `None` when
    /// they agree or nothing was declared.
    pub fn declaration_mismatch(&self) -> Option<String> {
        let declared = self.declared.as_ref()?;
        let missing: Vec<&str> = self
            .capabilities
            .iter()
            .filter(|c| !declared.contains(c))
            .map(|c| c.name())
            .collect();
        let unused: Vec<&str> = declared
            .iter()
            .filter(|c| !self.capabilities.contains(c))
            .map(|c| c.name())
            .collect();
        let mut said = Vec::new();
        if !missing.is_empty() {
            said.push(format!(
                "imports {} without declaring it (the mock host would not grant it)",
                missing.join(", ")
            ));
        }
        if !unused.is_empty() {
            said.push(format!(
                "declares {} but does not import it (a grant the gateway does not need)",
                unused.join(", ")
            ));
        }
        (!said.is_empty()).then(|| said.join("; "))
    }
}

/// `capabilities = ["a", "b"]`.
pub fn capabilities_line(capabilities: &[Capability]) -> String {
    let names: Vec<String> = capabilities
        .iter()
        .map(|c| format!("\"{}\"", c.name()))
        .collect();
    format!("capabilities = [{}]", names.join(", "))
}

/// The file is not a component at all.
#[derive(Debug, thiserror::Error)]
#[error("not a WebAssembly component this gateway can compile: {0}")]
pub struct InspectError(String);

/// Inspects the component `bytes` with `engine`.
pub async fn inspect(engine: &PluginEngine, bytes: &[u8]) -> Result<Inspection, InspectError> {
    let sha256 = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let started = Instant::now();
    let component = Component::new(engine.engine(), bytes).map_err(|e| {
        // wasmtime's parse errors go on with a multi-line dump of bytes.
        let text = format!("{e:#}");
        let first = text.split(" - expected=").next().unwrap_or(&text);
        InspectError(first.lines().next().unwrap_or_default().to_owned())
    })?;
    let compile = started.elapsed();
    let mut inspection = Inspection {
        name: None,
        version: None,
        contract: None,
        gateway_contract: WIT_VERSION.trim_start_matches('@'),
        size: bytes.len(),
        sha256,
        compile_ms: ms(compile),
        capabilities: Vec::new(),
        declared: declared(bytes),
        wasi: Vec::new(),
        unknown_imports: Vec::new(),
        refused: None,
    };
    let ty = component.component_type();
    let exports = ty.exports(engine.engine()).map(|(name, _)| name.to_owned());
    let imports: Vec<String> = ty
        .imports(engine.engine())
        .map(|(name, _)| name.to_owned())
        .collect();
    for name in exports.chain(imports.iter().cloned()) {
        if let Some((_, version)) = name
            .strip_prefix(PACKAGE)
            .and_then(|rest| rest.split_once('@'))
        {
            inspection
                .contract
                .get_or_insert_with(|| version.to_owned());
        }
    }
    for name in &imports {
        match capabilities::classify(name) {
            Import::Wasi => inspection.wasi.push(name.clone()),
            Import::Types => {}
            Import::Capability(capability) => inspection.capabilities.push(capability),
            Import::Unknown => inspection.unknown_imports.push(name.clone()),
        }
    }
    inspection.capabilities.sort();
    inspection.capabilities.dedup();
    if !inspection
        .contract
        .as_deref()
        .is_some_and(portico_contract::compatible)
    {
        inspection.refused = Some(format!(
            "built against contract {}; this gateway speaks {} (and links any earlier release of its 0.x line)",
            inspection
                .contract
                .as_deref()
                .unwrap_or("(none: not a Portico plugin)"),
            inspection.gateway_contract
        ));
        return Ok(inspection);
    }
    if !inspection.unknown_imports.is_empty() {
        inspection.refused = Some(format!(
            "imports what Portico does not provide: {}",
            inspection.unknown_imports.join(", ")
        ));
        return Ok(inspection);
    }
    match metadata(engine, &component, &inspection.capabilities).await {
        Ok((name, version)) => {
            inspection.name = Some(name);
            inspection.version = Some(version);
        }
        Err(why) => inspection.refused = Some(why),
    }
    Ok(inspection)
}

/// Instantiates `component` as a route granting `capabilities` would and
/// asks for its name and version.
async fn metadata(
    engine: &PluginEngine,
    component: &Component,
    capabilities: &[Capability],
) -> Result<(String, String), String> {
    let _ticket = engine.ticket();
    let grants: Grants = capabilities.iter().copied().collect();
    capabilities::check_imports(engine.engine(), component, "inspected", "inspect", &grants)
        .map_err(|e| e.to_string())?;
    let linker = capabilities::linker(engine.engine(), &grants).map_err(|e| format!("{e:#}"))?;
    let pre = linker
        .instantiate_pre(component)
        .map_err(|e| format!("does not link: {e:#}"))?;
    let pre =
        PluginPre::new(pre).map_err(|e| format!("does not export the plugin world: {e:#}"))?;
    let identity = Arc::new(PluginIdentity {
        plugin: "inspected".into(),
        route: "inspect".into(),
        on_state_error: StateErrorPolicy::default(),
        outbound: None,
    });
    let services = Arc::new(HostServices::new(1 << 20));
    let mut instance = PluginInstance::instantiate(&pre, engine, identity, services)
        .await
        .map_err(|e| format!("cannot be instantiated: {e}"))?;
    let metadata = instance
        .metadata()
        .await
        .map_err(|e| format!("`metadata` failed: {e}"))?;
    Ok((metadata.name, metadata.version))
}

/// The capabilities recorded in the component's [`DECLARED_SECTION`], in
/// any of its core modules.
fn declared(bytes: &[u8]) -> Option<Vec<Capability>> {
    wasmparser::Parser::new(0)
        .parse_all(bytes)
        .filter_map(Result::ok)
        .find_map(|payload| match payload {
            wasmparser::Payload::CustomSection(section) if section.name() == DECLARED_SECTION => {
                Some(from_declared(section.data()))
            }
            _ => None,
        })
        .flatten()
}

fn ms(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e4).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use portico_contract::capability::declared_mask;

    /// A core module holding one custom section `name` with `data`.
    fn module_with_section(name: &str, data: &[u8]) -> Vec<u8> {
        let mut payload = vec![u8::try_from(name.len()).expect("short name")];
        payload.extend_from_slice(name.as_bytes());
        payload.extend_from_slice(data);
        let mut bytes = b"\0asm\x01\0\0\0".to_vec();
        bytes.push(0);
        bytes.push(u8::try_from(payload.len()).expect("short section"));
        bytes.extend(payload);
        bytes
    }

    fn report(capabilities: Vec<Capability>, declared: Option<Vec<Capability>>) -> Inspection {
        Inspection {
            name: None,
            version: None,
            contract: None,
            gateway_contract: "0.2.2",
            size: 0,
            sha256: String::new(),
            compile_ms: 0.0,
            capabilities,
            declared,
            wasi: Vec::new(),
            unknown_imports: Vec::new(),
            refused: None,
        }
    }

    #[test]
    fn the_declaration_is_read_from_its_custom_section() {
        let mask = declared_mask(&[Capability::Kv, Capability::Log]).to_le_bytes();
        assert_eq!(
            declared(&module_with_section(DECLARED_SECTION, &mask)),
            Some(vec![Capability::Log, Capability::Kv])
        );
        assert_eq!(declared(&module_with_section("other", &mask)), None);
        assert_eq!(
            declared(&module_with_section(DECLARED_SECTION, &[1, 2])),
            None,
            "a section of another shape is no declaration"
        );
        assert_eq!(declared(b"not wasm"), None);
    }

    #[test]
    fn a_declaration_unlike_the_imports_is_put_in_words() {
        let agreeing = report(vec![Capability::Kv], Some(vec![Capability::Kv]));
        assert_eq!(agreeing.declaration_mismatch(), None);
        assert_eq!(
            report(vec![Capability::Kv], None).declaration_mismatch(),
            None
        );
        let differing = report(
            vec![Capability::Kv, Capability::Http],
            Some(vec![Capability::Kv, Capability::Clock]),
        );
        let said = differing.declaration_mismatch().expect("differs");
        assert!(said.contains("imports http without declaring it"), "{said}");
        assert!(
            said.contains("declares clock but does not import it"),
            "{said}"
        );
        assert_eq!(
            differing.capabilities_line(),
            r#"capabilities = ["kv", "http"]"#
        );
    }
}
