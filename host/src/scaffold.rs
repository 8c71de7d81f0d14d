//! `portico plugin new NAME [--lang rust|python|js]`: a plugin that builds
//! into a component and passes its native tests without edits.
//!
//! - Rust: `Cargo.toml` with the SDK, `src/lib.rs` with a typed config, both
//!   phases and unit tests on the SDK's mock host.
//! - Python (componentize-py) and JavaScript (ComponentizeJS): the plugin
//!   module, unit tests that run natively (`python3 -m unittest`,
//!   `node --test`), the world it targets (`wit/world.wit`) and a copy of
//!   the contract (`contract/plugin.wit`), and the build tool pinned as the
//!   repository's own Python and JavaScript plugins pin it.
//!
//! Each also gets a README and `route.toml`, the route entry with the
//! capabilities the plugin imports. The templates live in
//! `host/templates/plugin*/` and are compiled into the binary.
//!
//! Nothing is overwritten: the target directory must not exist, or be
//! empty.

use std::path::{Path, PathBuf};

use portico_contract::{WIT, WIT_VERSION};

const CARGO_TOML: &str = include_str!("../templates/plugin/Cargo.toml.tmpl");
const LIB_RS: &str = include_str!("../templates/plugin/lib.rs.tmpl");
const README: &str = include_str!("../templates/plugin/README.md.tmpl");
const ROUTE: &str = include_str!("../templates/plugin/route.toml.tmpl");

const PY_APP: &str = include_str!("../templates/plugin-py/app.py.tmpl");
const PY_TEST: &str = include_str!("../templates/plugin-py/test_app.py.tmpl");
const PY_WORLD: &str = include_str!("../templates/plugin-py/world.wit.tmpl");
const PY_README: &str = include_str!("../templates/plugin-py/README.md.tmpl");
const PY_ROUTE: &str = include_str!("../templates/plugin-py/route.toml.tmpl");
/// The componentize-py pin of the repository's own Python plugin.
const PY_REQUIREMENTS: &str = include_str!("../../plugins/canary-py/requirements.txt");

const JS_PLUGIN: &str = include_str!("../templates/plugin-js/plugin.js.tmpl");
const JS_TEST: &str = include_str!("../templates/plugin-js/test.mjs.tmpl");
const JS_BUILD: &str = include_str!("../templates/plugin-js/build.mjs.tmpl");
const JS_PACKAGE: &str = include_str!("../templates/plugin-js/package.json.tmpl");
const JS_WORLD: &str = include_str!("../templates/plugin-js/world.wit.tmpl");
const JS_README: &str = include_str!("../templates/plugin-js/README.md.tmpl");
const JS_ROUTE: &str = include_str!("../templates/plugin-js/route.toml.tmpl");

/// The language of a new plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// A cargo crate on `portico-sdk`.
    #[default]
    Rust,
    /// A componentize-py app.
    Python,
    /// A ComponentizeJS module.
    JavaScript,
}

impl Lang {
    /// `rust`, `python` (`py`) or `js` (`javascript`).
    pub fn from_name(name: &str) -> Option<Lang> {
        match name {
            "rust" | "rs" => Some(Lang::Rust),
            "python" | "py" => Some(Lang::Python),
            "js" | "javascript" => Some(Lang::JavaScript),
            _ => None,
        }
    }

    /// The commands that build and test a new plugin of this language in
    /// `dir`, for `portico plugin new` to print.
    pub fn next_steps(self, name: &str, dir: &Path) -> String {
        let dir = dir.display();
        match self {
            Lang::Rust => {
                let wasm = name.replace('-', "_");
                format!(
                    "cd {dir}\n  cargo test\n  cargo build --release --target wasm32-wasip2\n  \
                     portico plugin inspect target/wasm32-wasip2/release/{wasm}.wasm\n  \
                     cp target/wasm32-wasip2/release/{wasm}.wasm <plugin_dir>/{name}.wasm"
                )
            }
            Lang::Python => format!(
                "cd {dir}\n  python3 -m pip install -r requirements.txt\n  \
                 {PY_BUILD} bindings .bindings\n  python3 -m unittest\n  \
                 {PY_BUILD} componentize app -o {name}.wasm\n  \
                 portico plugin inspect {name}.wasm\n  cp {name}.wasm <plugin_dir>/{name}.wasm"
            ),
            Lang::JavaScript => format!(
                "cd {dir}\n  node --test\n  npm install\n  node build.mjs\n  \
                 portico plugin inspect {name}.wasm\n  cp {name}.wasm <plugin_dir>/{name}.wasm"
            ),
        }
    }
}

/// componentize-py's options for a scaffolded Python plugin.
pub const PY_BUILD: &str = "componentize-py -d contract -d wit -w local:plugin/plugin";

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

/// Creates the plugin `name` in `dir`, in `lang` (Rust with the SDK from
/// `sdk`); the files written.
pub fn create(
    name: &str,
    dir: &Path,
    lang: Lang,
    sdk: &SdkSource,
) -> Result<Vec<PathBuf>, ScaffoldError> {
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
            .replace("{{contract}}", WIT_VERSION.trim_start_matches('@'))
    };
    let files: Vec<(&str, String)> = match lang {
        Lang::Rust => vec![
            ("Cargo.toml", fill(CARGO_TOML)),
            ("src/lib.rs", fill(LIB_RS)),
            ("README.md", fill(README)),
            ("route.toml", fill(ROUTE)),
            (".gitignore", "/target\n".to_owned()),
        ],
        Lang::Python => vec![
            ("app.py", fill(PY_APP)),
            ("test_app.py", fill(PY_TEST)),
            ("wit/world.wit", fill(PY_WORLD)),
            ("contract/plugin.wit", WIT.to_owned()),
            ("requirements.txt", PY_REQUIREMENTS.to_owned()),
            ("README.md", fill(PY_README)),
            ("route.toml", fill(PY_ROUTE)),
            (
                ".gitignore",
                "/.bindings\n__pycache__/\n/*.wasm\n".to_owned(),
            ),
        ],
        Lang::JavaScript => vec![
            ("plugin.js", fill(JS_PLUGIN)),
            ("test.mjs", fill(JS_TEST)),
            ("build.mjs", fill(JS_BUILD)),
            ("package.json", fill(JS_PACKAGE)),
            ("wit/world.wit", fill(JS_WORLD)),
            ("contract/plugin.wit", WIT.to_owned()),
            ("README.md", fill(JS_README)),
            ("route.toml", fill(JS_ROUTE)),
            (".gitignore", "/node_modules\n/build\n/*.wasm\n".to_owned()),
        ],
    };
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
        let files = create("canary-router", &target, Lang::Rust, &sdk).expect("created");
        assert_eq!(files.len(), 5);
        let lib = std::fs::read_to_string(target.join("src/lib.rs")).expect("lib");
        assert!(lib.contains("pub struct CanaryRouter"), "{lib}");
        assert!(!lib.contains("{{"), "a placeholder is left: {lib}");
        let manifest = std::fs::read_to_string(target.join("Cargo.toml")).expect("toml");
        assert!(
            manifest.contains(r#"portico-sdk = { version = "0.1.0" }"#),
            "{manifest}"
        );
        let again = create("canary-router", &target, Lang::Python, &sdk).expect_err("not empty");
        assert!(matches!(again, ScaffoldError::NotEmpty(_)));
        assert_eq!(
            std::fs::read_to_string(target.join("src/lib.rs")).expect("lib"),
            lib
        );
    }

    #[test]
    fn python_and_javascript_plugins_carry_the_contract_and_the_pinned_tools() {
        let sdk = SdkSource::Version("0.1.0".into());
        let dir = tempfile::tempdir().expect("tempdir");
        for (lang, module, tests) in [
            (Lang::Python, "app.py", "test_app.py"),
            (Lang::JavaScript, "plugin.js", "test.mjs"),
        ] {
            let target = dir.path().join(format!("{lang:?}"));
            let files = create("edge-stamp", &target, lang, &sdk).expect("created");
            for file in &files {
                let text = std::fs::read_to_string(file).expect("read");
                assert!(!text.contains("{{"), "a placeholder is left in {file:?}");
            }
            let read = |file: &str| std::fs::read_to_string(target.join(file)).expect(file);
            assert!(read(module).contains("edge-stamp"));
            assert!(read(tests).contains("x-edge-stamp"));
            assert_eq!(read("contract/plugin.wit"), WIT, "the contract, unchanged");
            let version = WIT_VERSION.trim_start_matches('@');
            assert!(
                read("wit/world.wit")
                    .contains(&format!("export portico:plugin/handler@{version};"))
            );
        }
        let requirements = std::fs::read_to_string(dir.path().join("Python/requirements.txt"))
            .expect("requirements");
        assert!(requirements.contains("componentize-py=="), "{requirements}");
        // The JavaScript pins are the repository's own plugin's.
        let ours: serde_json::Value =
            serde_json::from_str(include_str!("../../plugins/body-validator-js/package.json"))
                .expect("package.json");
        let scaffolded: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join("JavaScript/package.json")).expect("read"),
        )
        .expect("scaffolded package.json");
        assert_eq!(scaffolded["devDependencies"], ours["devDependencies"]);
        assert_eq!(Lang::from_name("py"), Some(Lang::Python));
        assert_eq!(Lang::from_name("ruby"), None);
    }
}
