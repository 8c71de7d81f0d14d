//! The README's code cannot drift from the code CI builds: every `rust` and
//! `wit` block names the file it is taken from on its fence
//! (```` ```rust examples/hello-header/src/lib.rs ````), and each of its
//! lines must appear in that file, in the same order (lines may be left out
//! between them, and indentation does not count). A `toml` block may name a
//! file the same way and is then checked too.

use std::path::Path;

use anyhow::{Context, Result, bail};

/// Languages whose blocks must name their source.
const MUST_NAME_A_SOURCE: [&str; 2] = ["rust", "wit"];

/// One fenced block of the README.
struct Block<'a> {
    /// 1-based line of the opening fence.
    line: usize,
    /// The first word of the info string.
    language: &'a str,
    /// The file named after the language, if any.
    source: Option<&'a str>,
    /// The lines between the fences.
    body: Vec<&'a str>,
}

/// Fails with every README block that names no source or has drifted
/// from it.
pub fn check(root: &Path) -> Result<()> {
    let readme = std::fs::read_to_string(root.join("README.md")).context("read README.md")?;
    let mut problems = Vec::new();
    let mut checked = 0;
    for block in blocks(&readme) {
        let Some(source) = block.source else {
            if MUST_NAME_A_SOURCE.contains(&block.language) {
                problems.push(format!(
                    "README.md:{}: a `{}` block names no source file on its fence \
                     (```{} path/to/file)",
                    block.line, block.language, block.language
                ));
            }
            continue;
        };
        let text = match std::fs::read_to_string(root.join(source)) {
            Ok(text) => text,
            Err(error) => {
                problems.push(format!(
                    "README.md:{}: cannot read `{source}`: {error}",
                    block.line
                ));
                continue;
            }
        };
        if let Some(missing) = first_line_not_in_order(&block.body, &text) {
            problems.push(format!(
                "README.md:{}: `{missing}` is not in `{source}` (or not in this order)",
                block.line
            ));
        }
        checked += 1;
    }
    if !problems.is_empty() {
        bail!("README code blocks drifted:\n  {}", problems.join("\n  "));
    }
    eprintln!("xtask: README's {checked} code blocks match the files they are taken from");
    Ok(())
}

/// The fenced blocks of a Markdown text (fences may be indented, as in a
/// list item).
fn blocks(text: &str) -> Vec<Block<'_>> {
    let mut blocks = Vec::new();
    let mut open: Option<Block<'_>> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let Some(info) = trimmed.strip_prefix("```") else {
            if let Some(block) = open.as_mut() {
                block.body.push(line);
            }
            continue;
        };
        match open.take() {
            Some(block) => blocks.push(block),
            None => {
                let mut words = info.split_whitespace();
                open = Some(Block {
                    line: index + 1,
                    language: words.next().unwrap_or(""),
                    source: words.next(),
                    body: Vec::new(),
                });
            }
        }
    }
    blocks
}

/// The first non-blank line of `body` that does not follow the previous
/// one in `source` (both compared with surrounding whitespace trimmed).
fn first_line_not_in_order<'a>(body: &[&'a str], source: &str) -> Option<&'a str> {
    let mut lines = source.lines().map(str::trim);
    body.iter()
        .map(|line| line.trim())
        .filter(|line| !line.is_empty())
        .find(|wanted| !lines.any(|line| line == *wanted))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_must_follow_in_order_with_gaps_allowed() {
        let source = "fn a() {\n    one();\n    two();\n}\n";
        assert_eq!(
            first_line_not_in_order(&["fn a() {", "  two();"], source),
            None
        );
        assert_eq!(
            first_line_not_in_order(&["two();", "one();"], source),
            Some("one();")
        );
        assert_eq!(
            first_line_not_in_order(&["three();"], source),
            Some("three();")
        );
    }

    #[test]
    fn fences_carry_language_and_source() {
        let text = "x\n   ```rust examples/a.rs\n   let a = 1;\n   ```\n```sh\nls\n```\n";
        let found = blocks(text);
        assert_eq!(found.len(), 2);
        assert_eq!(
            (found[0].line, found[0].language, found[0].source),
            (2, "rust", Some("examples/a.rs"))
        );
        assert_eq!(found[0].body, ["   let a = 1;"]);
        assert_eq!((found[1].language, found[1].source), ("sh", None));
    }
}
