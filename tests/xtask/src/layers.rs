//! `cargo xtask lint`'s check of the host's module order: every module of
//! `host/src` has a layer and sits in its plane's folder, and a module may
//! import (`crate::x`, `crate::data::x`) only modules of lower layers. The
//! order, bottom to top:
//!
//! | layer | plane (folder) | modules | what |
//! |---|---|---|---|
//! | 0 | foundation (`src/`) | `body`, `histogram`, `shutdown`, `net`, `worker`, `seal`, `scaffold` | leaves |
//! | 1 | foundation | `config` | the parsed, validated config |
//! | 2 | foundation | `etcd`, `audit` | the etcd cluster; the hash-chained audit log |
//! | 3 | `data/` | `router`, `tls` | matching requests, terminating TLS |
//! | 4 | `data/` | `observe` | access log, metrics, traces, request samples |
//! | 5 | `data/` | `runtime` | plugins |
//! | 6 | `data/` | `upstream` | targets, pools, balancing, health |
//! | 7 | `data/` | `error` | every error as a client's response |
//! | 8 | `data/` | `limits` | edge limits |
//! | 9 | `data/` | `gateway` | a config's snapshot, and the one serving |
//! | 10 | `data/` | `proxy` | the request path |
//! | 11 | `data/` | `server` | listeners and connections |
//! | 12 | `telemetry/` | `live` | live stats over finished requests |
//! | 13 | `telemetry/` | `alerts`, `analytics` | rules over the live stats; the analytics store |
//! | 14 | `telemetry/` | `monitor` | the telemetry tied to a gateway |
//! | 15 | `control/` | `reload` | live changes |
//! | 16 | `control/` | `cluster` | instances registered in etcd |
//! | 17 | `control/` | `admin` | the admin API |
//! | 18 | foundation's folder (`src/`) | `app` | a whole gateway process |
//!
//! Since the planes are contiguous bands of layers, the planes themselves
//! are in order too: data → telemetry → control. Unit tests
//! (`#[cfg(test)] mod tests`) and comments are not read.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// The plane folders of `src`; a module outside them sits in `src/` itself.
const PLANES: &[&str] = &["data", "telemetry", "control"];

/// Module layers, bottom first, each with its plane's folder (`""`: `src/`
/// itself); modules of one layer may not import each other.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "",
        &[
            "body",
            "histogram",
            "shutdown",
            "net",
            "worker",
            "seal",
            "scaffold",
        ],
    ),
    ("", &["config"]),
    ("", &["etcd", "audit"]),
    ("data", &["router", "tls"]),
    ("data", &["observe"]),
    ("data", &["runtime"]),
    ("data", &["upstream"]),
    ("data", &["error"]),
    ("data", &["limits"]),
    ("data", &["gateway"]),
    ("data", &["proxy"]),
    ("data", &["server"]),
    ("telemetry", &["live"]),
    ("telemetry", &["alerts", "analytics"]),
    ("telemetry", &["monitor"]),
    ("control", &["reload"]),
    ("control", &["cluster"]),
    ("control", &["admin"]),
    ("", &["app"]),
];

/// Checks `src` (the host's `src/`); an error lists every violation.
pub fn check(src: &Path) -> Result<()> {
    let layer_of: BTreeMap<&str, (usize, &str)> = LAYERS
        .iter()
        .enumerate()
        .flat_map(|(layer, (plane, modules))| modules.iter().map(move |m| (*m, (layer, *plane))))
        .collect();
    let mut problems = Vec::new();
    for ((plane, module), files) in modules(src)? {
        let Some(&(own, own_plane)) = layer_of.get(module.as_str()) else {
            problems.push(format!(
                "module `{module}` has no layer: add it to LAYERS in tests/xtask/src/layers.rs"
            ));
            continue;
        };
        if plane != own_plane {
            let folder = |p: &str| {
                if p.is_empty() {
                    "src/".to_owned()
                } else {
                    format!("src/{p}/")
                }
            };
            problems.push(format!(
                "module `{module}` sits in {} but its layer ({own}) is in {}",
                folder(&plane),
                folder(own_plane)
            ));
        }
        for file in files {
            let text = fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            for (line, used) in imports(&text) {
                match layer_of.get(used.as_str()) {
                    Some(&(layer, _)) if used != module && layer >= own => problems.push(format!(
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

/// The modules of `src` (`(plane, module)`: those of `src/` itself and of
/// each plane folder) and their files (`lib.rs`, `main.rs` and the planes'
/// `mod.rs` aside).
fn modules(src: &Path) -> Result<BTreeMap<(String, String), Vec<PathBuf>>> {
    let mut found = BTreeMap::new();
    collect(src, "", &mut found)?;
    for plane in PLANES {
        let dir = src.join(plane);
        if dir.is_dir() {
            collect(&dir, plane, &mut found)?;
        }
    }
    Ok(found)
}

/// The modules directly in `dir` (of plane `plane`) into `found`.
fn collect(
    dir: &Path,
    plane: &str,
    found: &mut BTreeMap<(String, String), Vec<PathBuf>>,
) -> Result<()> {
    for entry in fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        let key = (plane.to_owned(), name.clone());
        if path.is_dir() {
            if plane.is_empty() && PLANES.contains(&name.as_str()) {
                continue;
            }
            found.insert(key, rust_files(&path)?);
        } else if path.extension().is_some_and(|e| e == "rs")
            && !matches!(name.as_str(), "lib" | "main" | "mod")
        {
            found.entry(key).or_default().push(path);
        }
    }
    Ok(())
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
        let at = from + offset + "crate::".len();
        let mut names = Vec::new();
        from = path_tree(&code, at, &mut names);
        found.extend(names.into_iter().map(|(at, name)| (line_of(at), name)));
    }
    found
}

/// The modules a path names from `at` (just after `crate::`): its first
/// segment (the one after a plane's, for `data::x`), or for a group
/// `{a, b::c, data::{d, e}}` the first segment of each item. Returns where
/// the path ends.
fn path_tree(code: &str, at: usize, names: &mut Vec<(usize, String)>) -> usize {
    let rest = &code[at..];
    if rest.starts_with('{') {
        let mut index = at + 1;
        loop {
            let item = index + (code[index..].len() - code[index..].trim_start().len());
            match code[item..].chars().next() {
                None => return code.len(),
                Some('}') => return item + 1,
                Some(',') => index = item + 1,
                Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '{' => {
                    index = path_tree(code, item, names);
                }
                Some(_) => index = item + 1,
            }
        }
    }
    let name = ident(rest);
    let after = at + name.len();
    if PLANES.contains(&name.as_str()) && code[after..].starts_with("::") {
        return path_tree(code, after + 2, names);
    }
    if !name.is_empty() {
        names.push((at, name));
    }
    // The rest of this path: further segments, a nested group.
    let mut end = after;
    let mut depth = 0;
    for (index, c) in code[after..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => return after + index,
            '}' => depth -= 1,
            ',' | ';' | ' ' | '\n' | '(' | ')' if depth == 0 => return after + index,
            _ => {}
        }
        end = after + index + c.len_utf8();
    }
    end
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
    fn paths_groups_planes_and_comments() {
        let text = "use crate::config::Config;\nuse crate::{\n    body,\n    data::observe::{metrics, limits},\n};\n// crate::app\nlet x = crate::data::proxy::serve(); // crate::control::admin\nuse crate::telemetry::{live, monitor::Monitor};\n#[cfg(test)]\nmod tests {\n    use crate::app;\n}\n";
        let found = imports(text);
        let names: Vec<&str> = found.iter().map(|(_, m)| m.as_str()).collect();
        assert_eq!(
            names,
            ["config", "body", "observe", "proxy", "live", "monitor"]
        );
        assert_eq!(found[2].0, 4, "the line of the group member");
    }

    #[test]
    fn an_upward_import_a_misplaced_and_an_unplaced_module_are_refused() {
        let src = std::env::temp_dir().join(format!("xtask-layers-{}", std::process::id()));
        fs::create_dir_all(src.join("config")).unwrap();
        fs::create_dir_all(src.join("data")).unwrap();
        fs::write(src.join("body.rs"), "use crate::config::X;\n").unwrap();
        fs::write(src.join("config/mod.rs"), "use crate::body;\n").unwrap();
        fs::write(src.join("data/mod.rs"), "pub mod router;\n").unwrap();
        fs::write(
            src.join("data/router.rs"),
            "use crate::{config, data::proxy::P};\n",
        )
        .unwrap();
        fs::write(
            src.join("data/proxy.rs"),
            "use crate::data::router::Router;\n",
        )
        .unwrap();
        fs::write(src.join("data/monitor.rs"), "").unwrap();
        fs::write(src.join("extra.rs"), "").unwrap();
        let error = check(&src).unwrap_err().to_string();
        fs::remove_dir_all(&src).unwrap();
        assert!(
            error.contains("body.rs:1: `body` (layer 0) imports `config`"),
            "{error}"
        );
        assert!(
            error.contains("router.rs:1: `router` (layer 3) imports `proxy` (layer 10)"),
            "{error}"
        );
        assert!(
            error.contains(
                "module `monitor` sits in src/data/ but its layer (14) is in src/telemetry/"
            ),
            "{error}"
        );
        assert!(error.contains("module `extra` has no layer"), "{error}");
        assert!(
            !error.contains("config/mod.rs") && !error.contains("proxy.rs"),
            "a downward import is fine: {error}"
        );
    }
}
