//! `portico plugin new NAME`: a plugin crate that builds for
//! `wasm32-wasip2` and passes its tests without edits — `Cargo.toml` with
//! the SDK, `src/lib.rs` with a typed config, both phases and native unit
//! tests on the mock host, a README, and `route.toml`, the route entry
//! with the capabilities the plugin imports. The templates live in
//! `host/templates/plugin/` and are compiled into the binary.
//!
//! Nothing is overwritten: the target directory must not exist, or be
//! empty.

use std::path::{Path, PathBuf};

const CARGO_TOML: &str = include_str!("../templates/plugin/Cargo.toml.tmpl");
const LIB_RS: &str = include_str!("../templates/plugin/lib.rs.tmpl");
const README: &str = include_str!("../templates/plugin/README.md.tmpl");
const ROUTE: &str = include_str!("../templates/plugin/route.toml.tmpl");

/// Where the SDK comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdkSource {
    /// A local checkout's `sdk/` directory (`portico-sdk = { path = .. }`).
    Path(PathBuf),
    /// A registry version (`portico-sdk = "0.1"`).
    Version(String),
}

impl SdkSource {
    /// The SDK next to the `host/` this binary was built from, when that
    /// checkout is still there; the registry version otherwise.
    pub fn default_for_this_build() -> SdkSource {
        let sdk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
        match sdk.canonicalize() {
            Ok(path) if path.join("Cargo.toml").is_file() => SdkSource::Path(path),
            _ => SdkSource::Version(env!("CARGO_PKG_VERSION").to_owned()),
        }
    }

    fn dependency(&self) -> String {
        match self {
            SdkSource::Path(path) => format!("path = {:?}", path.display().to_string()),
            SdkSource::Version(version) => format!("version = {version:?}"),
        }
    }
}

/// A plugin could not be created.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name cannot be a plugin's (and a crate's) name.
    #[error(
        "`{0}` cannot name a plugin: use 1-64 lowercase letters, digits and `-`, starting with a letter"
    )]
    BadName(String),
    /// The directory exists and holds files.
    #[error("{} exists and is not empty; nothing was written", .0.display())]
    NotEmpty(PathBuf),
    /// A file could not be written.
    #[error("cannot write {}: {error}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
}

/// Whether `name` may name a plugin: the plugin directory's `NAME.wasm`,
/// the route entry's `name`, and the crate.
pub fn valid_name(name: &str) -> bool {
    name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.ends_with('-')
}

/// Creates the plugin `name` in `dir` with the SDK from `sdk`; the files
/// written.
pub fn create(name: &str, dir: &Path, sdk: &SdkSource) -> Result<Vec<PathBuf>, ScaffoldError> {
    if !valid_name(name) {
        return Err(ScaffoldError::BadName(name.to_owned()));
    }
    if std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_some()) {
        return Err(ScaffoldError::NotEmpty(dir.to_owned()));
    }
    let type_name: String = name
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect();
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{crate}}", &name.replace('-', "_"))
            .replace("{{Type}}", &type_name)
            .replace("{{sdk}}", &sdk.dependency())
    };
    let files = [
        ("Cargo.toml", fill(CARGO_TOML)),
        ("src/lib.rs", fill(LIB_RS)),
        ("README.md", fill(README)),
        ("route.toml", fill(ROUTE)),
        (".gitignore", "/target\n".to_owned()),
    ];
    let mut written = Vec::new();
    for (file, text) in files {
        let path = dir.join(file);
        let write = |error| ScaffoldError::Write {
            path: path.clone(),
            error,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(write)?;
        }
        std::fs::write(&path, text).map_err(write)?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_and_nothing_is_overwritten() {
        assert!(valid_name("header-stamp2"));
        for bad in ["", "Header", "2fa", "a_b", "a-", "a b", &"a".repeat(65)] {
            assert!(!valid_name(bad), "{bad}");
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("canary-router");
        let sdk = SdkSource::Version("0.1.0".into());
        let files = create("canary-router", &target, &sdk).expect("created");
        assert_eq!(files.len(), 5);
        let lib = std::fs::read_to_string(target.join("src/lib.rs")).expect("lib");
        assert!(lib.contains("pub struct CanaryRouter"), "{lib}");
        assert!(!lib.contains("{{"), "a placeholder is left: {lib}");
        let manifest = std::fs::read_to_string(target.join("Cargo.toml")).expect("toml");
        assert!(
            manifest.contains(r#"portico-sdk = { version = "0.1.0" }"#),
            "{manifest}"
        );
        let again = create("canary-router", &target, &sdk).expect_err("not empty");
        assert!(matches!(again, ScaffoldError::NotEmpty(_)));
        assert_eq!(
            std::fs::read_to_string(target.join("src/lib.rs")).expect("lib"),
            lib
        );
    }
}
