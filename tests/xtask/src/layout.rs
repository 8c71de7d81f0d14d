//! The README's layout table stays complete: every first-party plugin
//! (`plugins/<name>`), every integration test (`tests/<name>.rs`) and
//! every test-only plugin (`tests/plugins/<name>`) is named in it.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// Fails with every name the README's `## Layout` section leaves out.
pub fn check(root: &Path) -> Result<()> {
    let readme = std::fs::read_to_string(root.join("README.md")).context("read README.md")?;
    let layout = section(&readme, "## Layout").context("README.md has no `## Layout` section")?;
    let mut missing = Vec::new();
    for name in entries(&root.join("plugins"), false)? {
        if !layout.contains(&format!("`plugins/{name}`")) {
            missing.push(format!("plugins/{name}"));
        }
    }
    for name in entries(&root.join("tests/plugins"), false)? {
        if !layout.contains(&format!("`{name}`")) {
            missing.push(format!("tests/plugins/{name}"));
        }
    }
    for name in entries(&root.join("tests"), true)? {
        if !layout.contains(&format!("`{name}`")) {
            missing.push(format!("tests/{name}.rs"));
        }
    }
    if !missing.is_empty() {
        bail!(
            "README.md's layout table does not name: {}",
            missing.join(", ")
        );
    }
    eprintln!("xtask: README layout names every plugin and test");
    Ok(())
}

/// The text of the `heading` section, up to the next `## ` heading.
fn section<'a>(text: &'a str, heading: &str) -> Option<&'a str> {
    let start = text.find(&format!("\n{heading}\n"))? + 1;
    let rest = &text[start + heading.len()..];
    Some(&text[start..start + heading.len() + rest.find("\n## ").unwrap_or(rest.len())])
}

/// Directory names under `dir`, or with `rust_files` the stems of its
/// `.rs` files; sorted.
fn entries(dir: &Path, rust_files: bool) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("read {}", dir.display()))? {
        let path = entry?.path();
        let name = if rust_files {
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            path.file_stem()
        } else {
            if !path.is_dir() {
                continue;
            }
            path.file_name()
        };
        if let Some(name) = name.and_then(|n| n.to_str()) {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_ends_at_the_next_heading() {
        let text = "# T\n\n## Layout\n| `plugins/a` |\n\n## Next\n`plugins/b`\n";
        let layout = section(text, "## Layout").expect("found");
        assert!(layout.contains("plugins/a"));
        assert!(!layout.contains("plugins/b"));
    }

    #[test]
    fn this_repository_s_layout_is_complete() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        check(&root).expect("README layout complete");
    }
}
