//! Secrets by reference inside plugin configs: any value written
//! `{ secret = "env:NAME" }` or `{ secret = "file:path" }` (the path
//! relative to the config file) becomes the variable's or the file's text
//! (without a trailing newline) when the route is built, at start and on
//! every reload, so the config never holds the value. Errors name the key
//! path and the reference, never a value.

use std::path::Path;

/// The text `reference` (`env:NAME` or `file:/absolute/path`) names.
pub fn read_reference(reference: &str) -> Result<String, String> {
    if let Some(name) = reference.strip_prefix("env:") {
        return std::env::var(name).map_err(|_| {
            format!("secret `{reference}`: environment variable `{name}` is not set (or not UTF-8)")
        });
    }
    if let Some(path) = reference.strip_prefix("file:") {
        return std::fs::read_to_string(path)
            .map(|text| text.trim_end_matches(['\r', '\n']).to_owned())
            .map_err(|e| format!("secret `{reference}`: cannot read the file: {e}"));
    }
    Err(format!(
        "secret `{reference}`: write `env:NAME` or `file:path`"
    ))
}

/// `reference` with a relative `file:` path made absolute against `base`.
pub fn resolve_reference(reference: &str, base: &Path) -> String {
    match reference.strip_prefix("file:") {
        Some(path) if Path::new(path).is_relative() => {
            format!("file:{}", base.join(path).display())
        }
        _ => reference.to_owned(),
    }
}

/// The reference a value is, if it is one: a table whose only key is
/// `secret`, with a string.
fn reference(value: &toml::Value) -> Option<&str> {
    let table = value.as_table()?;
    match (table.len(), table.get("secret")) {
        (1, Some(toml::Value::String(reference))) => Some(reference),
        _ => None,
    }
}

/// Makes every `file:` reference in `table` absolute against `base`.
pub fn resolve_paths(table: &mut toml::Table, base: &Path) {
    for (_, value) in table.iter_mut() {
        resolve_value_paths(value, base);
    }
}

fn resolve_value_paths(value: &mut toml::Value, base: &Path) {
    if let Some(resolved) = reference(value).map(|r| resolve_reference(r, base)) {
        *value = toml::Value::Table(toml::Table::from_iter([(
            "secret".to_owned(),
            toml::Value::String(resolved),
        )]));
        return;
    }
    match value {
        toml::Value::Table(table) => resolve_paths(table, base),
        toml::Value::Array(items) => items.iter_mut().for_each(|v| resolve_value_paths(v, base)),
        _ => {}
    }
}

/// Replaces every reference in `table` by the text it names. `Err`: the
/// key path under `table` (`keys[0].secret`) and what is wrong.
pub fn read_all(table: &mut toml::Table) -> Result<(), (String, String)> {
    for (key, value) in table.iter_mut() {
        read_value(value, key)?;
    }
    Ok(())
}

fn read_value(value: &mut toml::Value, path: &str) -> Result<(), (String, String)> {
    if let Some(reference) = reference(value) {
        let text = read_reference(reference).map_err(|e| (path.to_owned(), e))?;
        *value = toml::Value::String(text);
        return Ok(());
    }
    match value {
        toml::Value::Table(table) => {
            for (key, value) in table.iter_mut() {
                read_value(value, &format!("{path}.{key}"))?;
            }
        }
        toml::Value::Array(items) => {
            for (i, value) in items.iter_mut().enumerate() {
                read_value(value, &format!("{path}[{i}]"))?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_read_where_they_stand_and_errors_name_the_key_not_a_value() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("s.txt"), "from-a-file\n").expect("write");
        // SAFETY: tests in this module are the only ones using this name.
        unsafe { std::env::set_var("PORTICO_TEST_SECRET_REF", "from-the-env") };
        let mut table: toml::Table = toml::from_str(
            r#"
plain = "stays"
keys = [{ id = "a", secret = { secret = "env:PORTICO_TEST_SECRET_REF" } }]
nested = { deep = { secret = "file:s.txt" } }
"#,
        )
        .expect("toml");
        resolve_paths(&mut table, dir.path());
        read_all(&mut table).expect("resolved");
        assert_eq!(table["plain"].as_str(), Some("stays"));
        assert_eq!(table["keys"][0]["secret"].as_str(), Some("from-the-env"));
        assert_eq!(table["nested"]["deep"].as_str(), Some("from-a-file"));

        let mut missing: toml::Table =
            toml::from_str(r#"keys = [{ secret = { secret = "env:PORTICO_TEST_UNSET_SECRET" } }]"#)
                .expect("toml");
        let (key, message) = read_all(&mut missing).expect_err("unset");
        assert_eq!(key, "keys[0].secret");
        assert!(message.contains("PORTICO_TEST_UNSET_SECRET"), "{message}");
        let mut bad: toml::Table = toml::from_str(r#"k = { secret = "vault:x" }"#).expect("toml");
        assert!(read_all(&mut bad).expect_err("bad").1.contains("env:NAME"));
    }
}
