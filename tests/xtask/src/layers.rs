//! `cargo xtask lint`'s check of the host's module order: every top-level
//! module of `host/src` has a layer, and a module may import (`crate::x`)
//! only modules of lower layers. The order, bottom to top:
//!
//! | layer | modules | what |
//! |---|---|---|
//! | 0 | `body`, `histogram`, `shutdown`, `net`, `worker` | leaves |
//! | 1 | `config` | the parsed, validated config |
//! | 2 | `router`, `tls` | matching requests, terminating TLS |
//! | 3 | `observe` | access log, metrics, traces, request samples |
//! | 4 | `runtime` | plugins |
//! | 5 | `upstream` | targets, pools, balancing, health |
//! | 6 | `error` | every error as a client's response |
//! | 7 | `limits` | edge limits |
//! | 8 | `gateway` | a config's snapshot, and the one serving |
//! | 9 | `proxy` | the request path |
//! | 10 | `server` | listeners and connections |
//! | 11 | `live` | live stats over finished requests |
//! | 12 | `alerts`, `analytics` | rules over the live stats; the analytics store |
//! | 13 | `monitor` | the telemetry tied to a gateway |
//! | 14 | `reload` | live changes |
//! | 15 | `admin` | the admin API |
//! | 16 | `app` | a whole gateway process |
//!
//! Unit tests (`#[cfg(test)] mod tests`) and comments are not read.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Module layers, bottom first; modules of one layer may not import each other.
const LAYERS: &[&[&str]] = &[
    &["body", "histogram", "shutdown", "net", "worker"],
    &["config"],
    &["router", "tls"],
    &["observe"],
    &["runtime"],
    &["upstream"],
    &["error"],
    &["limits"],
    &["gateway"],
    &["proxy"],
    &["server"],
    &["live"],
    &["alerts", "analytics"],
    &["monitor"],
    &["reload"],
    &["admin"],
    &["app"],
];

/// Checks `src` (the host's `src/`); an error lists every violation.
pub fn check(src: &Path) -> Result<()> {
    let layer_of: BTreeMap<&str, usize> = LAYERS
        .iter()
        .enumerate()
        .flat_map(|(layer, modules)| modules.iter().map(move |m| (*m, layer)))
        .collect();
    let mut problems = Vec::new();
    for (module, files) in modules(src)? {
        let Some(&own) = layer_of.get(module.as_str()) else {
            problems.push(format!(
                "module `{module}` has no layer: add it to LAYERS in tests/xtask/src/layers.rs"
            ));
            continue;
        };
        for file in files {
            let text = fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            for (line, used) in imports(&text) {
                match layer_of.get(used.as_str()) {
                    Some(&layer) if used != module && layer >= own => problems.push(format!(
                        "{}:{line}: `{module}` (layer {own}) imports `{used}` (layer {layer}); a module may use only lower layers",
                        file.display()
                    )),
                    _ => {}
                }
            }
        }
    }
    if problems.is_empty() {
        println!("xtask: module layers in order ({} modules)", layer_of.len());
        return Ok(());
    }
    bail!("module order broken:\n  {}", problems.join("\n  "))
}

/// Top-level modules of `src` and their files (`lib.rs`/`main.rs` aside).
fn modules(src: &Path) -> Result<BTreeMap<String, Vec<PathBuf>>> {
    let mut found = BTreeMap::new();
    for entry in fs::read_dir(src).with_context(|| format!("cannot list {}", src.display()))? {
        let path = entry?.path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        if path.is_dir() {
            found.insert(name, rust_files(&path)?);
        } else if path.extension().is_some_and(|e| e == "rs") && name != "lib" && name != "main" {
            found.entry(name).or_insert_with(Vec::new).push(path);
        }
    }
    Ok(found)
}

fn rust_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            files.extend(rust_files(&path)?);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    Ok(files)
}

/// `(line, module)` for every `crate::module` a file names, including the
/// top-level members of `use crate::{a, b::C}`, outside comments and unit
/// tests.
fn imports(text: &str) -> Vec<(usize, String)> {
    let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text);
    // Comments blanked out, keeping every byte's position.
    let code: String = code
        .lines()
        .map(|line| match line.find("//") {
            Some(at) => format!("{}{}\n", &line[..at], " ".repeat(line.len() - at)),
            None => format!("{line}\n"),
        })
        .collect();
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = code[from..].find("crate::") {
        let at = from + offset;
        let after = at + "crate::".len();
        from = after;
        if !code[after..].starts_with('{') {
            found.push((line_of(at), ident(&code[after..])));
            continue;
        }
        // A group: the first identifier of each item at depth 1.
        let mut depth = 0;
        let mut item_start = true;
        for (index, c) in code[after..].char_indices() {
            match c {
                '{' => {
                    depth += 1;
                    item_start = depth == 1;
                }
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        from = after + index;
                        break;
                    }
                }
                ',' if depth == 1 => item_start = true,
                c if item_start && depth == 1 && (c.is_ascii_alphabetic() || c == '_') => {
                    let name = ident(&code[after + index..]);
                    found.push((line_of(after + index), name));
                    item_start = false;
                }
                _ => {}
            }
        }
    }
    found
}

fn ident(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_groups_and_comments() {
        let text = "use crate::config::Config;\nuse crate::{\n    body,\n    observe::{metrics, limits},\n};\n// crate::app\nlet x = crate::proxy::serve(); // crate::admin\n#[cfg(test)]\nmod tests {\n    use crate::app;\n}\n";
        let found = imports(text);
        let names: Vec<&str> = found.iter().map(|(_, m)| m.as_str()).collect();
        assert_eq!(names, ["config", "body", "observe", "proxy"]);
        assert_eq!(found[2].0, 4, "the line of the group member");
    }

    #[test]
    fn an_upward_import_and_an_unplaced_module_are_refused() {
        let src = std::env::temp_dir().join(format!("xtask-layers-{}", std::process::id()));
        fs::create_dir_all(src.join("config")).unwrap();
        fs::write(src.join("body.rs"), "use crate::config::X;\n").unwrap();
        fs::write(src.join("config/mod.rs"), "use crate::body;\n").unwrap();
        fs::write(src.join("extra.rs"), "").unwrap();
        let error = check(&src).unwrap_err().to_string();
        fs::remove_dir_all(&src).unwrap();
        assert!(
            error.contains("body.rs:1: `body` (layer 0) imports `config`"),
            "{error}"
        );
        assert!(error.contains("module `extra` has no layer"), "{error}");
        assert!(
            !error.contains("config/mod.rs"),
            "a downward import is fine: {error}"
        );
    }
}
