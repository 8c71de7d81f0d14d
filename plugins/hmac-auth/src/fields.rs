//! The two request fields of RFC 9421, parsed as the Structured Field
//! dictionaries (RFC 8941) they are: `Signature-Input` (label → inner list
//! of component identifiers with the signature's parameters) and
//! `Signature` (label → byte sequence). Only what these fields use is
//! understood; anything else is a parse error, never a guess.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// A parameter value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bare {
    /// An integer.
    Integer(i64),
    /// A string.
    String(String),
    /// A token.
    Token(String),
    /// A boolean.
    Boolean(bool),
    /// A byte sequence.
    Bytes(Vec<u8>),
}

/// A component identifier: its name and parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// The name (`@method`, `content-digest`, ...).
    pub name: String,
    /// Its parameters (`;sf`, `;req`, ...), in order.
    pub params: Vec<(String, Bare)>,
    /// The identifier exactly as written (`"@method"`, `"x";sf`).
    pub raw: String,
}

/// One member of `Signature-Input`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// The label (`sig1`).
    pub label: String,
    /// The covered components, in order.
    pub components: Vec<Component>,
    /// The signature parameters (`created`, `keyid`, `alg`, ...).
    pub params: Vec<(String, Bare)>,
    /// The member's value as written: the `@signature-params` line.
    pub raw: String,
}

impl Input {
    /// The parameter `name`, if present.
    pub fn param(&self, name: &str) -> Option<&Bare> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// Parses `Signature-Input` (every field line joined with `, `).
pub fn inputs(text: &str) -> Result<Vec<Input>, String> {
    let mut p = Parser::new(text);
    let mut inputs = Vec::new();
    loop {
        p.skip_sp();
        let label = p.key()?;
        p.expect(b'=')?;
        let start = p.pos;
        let components = p.inner_list()?;
        let params = p.params()?;
        let raw = text[start..p.pos].to_owned();
        if inputs.iter().any(|i: &Input| i.label == label) {
            return Err(format!("the label `{label}` appears twice"));
        }
        inputs.push(Input {
            label,
            components,
            params,
            raw,
        });
        if !p.member_end()? {
            return Ok(inputs);
        }
    }
}

/// Parses `Signature`: each label's bytes.
pub fn signatures(text: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut p = Parser::new(text);
    let mut out = Vec::new();
    loop {
        p.skip_sp();
        let label = p.key()?;
        p.expect(b'=')?;
        let bytes = match p.bare()? {
            Bare::Bytes(bytes) => bytes,
            _ => return Err(format!("the signature `{label}` is not a byte sequence")),
        };
        p.params()?;
        out.push((label, bytes));
        if !p.member_end()? {
            return Ok(out);
        }
    }
}

/// Parses a `Content-Digest` dictionary: algorithm → digest bytes.
pub fn digests(text: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    signatures(text).map_err(|e| e.replace("signature", "digest"))
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            text: text.as_bytes(),
            pos: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn skip_sp(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), String> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(format!("expected `{}` at byte {}", byte as char, self.pos))
        }
    }

    /// After a member: `true` when another follows (`,`), `false` at the end.
    fn member_end(&mut self) -> Result<bool, String> {
        self.skip_sp();
        match self.peek() {
            None => Ok(false),
            Some(b',') => {
                self.pos += 1;
                self.skip_sp();
                if self.peek().is_none() {
                    return Err("a trailing `,`".into());
                }
                Ok(true)
            }
            Some(_) => Err(format!("unexpected text at byte {}", self.pos)),
        }
    }

    /// `[a-z*][a-z0-9_.*-]*`
    fn key(&mut self) -> Result<String, String> {
        let start = self.pos;
        match self.peek() {
            Some(b'a'..=b'z' | b'*') => self.pos += 1,
            _ => return Err(format!("expected a key at byte {start}")),
        }
        while matches!(
            self.peek(),
            Some(b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'*')
        ) {
            self.pos += 1;
        }
        Ok(String::from_utf8_lossy(&self.text[start..self.pos]).into_owned())
    }

    /// `(` strings with parameters `)`.
    fn inner_list(&mut self) -> Result<Vec<Component>, String> {
        self.expect(b'(')?;
        let mut items = Vec::new();
        loop {
            while self.peek() == Some(b' ') {
                self.pos += 1;
            }
            if self.peek() == Some(b')') {
                self.pos += 1;
                return Ok(items);
            }
            let start = self.pos;
            let Bare::String(name) = self.bare()? else {
                return Err(format!("a component at byte {start} is not a string"));
            };
            let params = self.params()?;
            let raw = String::from_utf8_lossy(&self.text[start..self.pos]).into_owned();
            items.push(Component { name, params, raw });
            match self.peek() {
                Some(b' ' | b')') => {}
                _ => return Err(format!("expected ` ` or `)` at byte {}", self.pos)),
            }
        }
    }

    /// `;key[=value]`*
    fn params(&mut self) -> Result<Vec<(String, Bare)>, String> {
        let mut params = Vec::new();
        while self.peek() == Some(b';') {
            self.pos += 1;
            self.skip_sp();
            let key = self.key()?;
            let value = if self.peek() == Some(b'=') {
                self.pos += 1;
                self.bare()?
            } else {
                Bare::Boolean(true)
            };
            if params.iter().any(|(k, _)| k == &key) {
                return Err(format!("the parameter `{key}` appears twice"));
            }
            params.push((key, value));
        }
        Ok(params)
    }

    fn bare(&mut self) -> Result<Bare, String> {
        match self.peek() {
            Some(b'"') => self.string().map(Bare::String),
            Some(b':') => self.bytes().map(Bare::Bytes),
            Some(b'?') => {
                self.pos += 1;
                let value = match self.peek() {
                    Some(b'1') => true,
                    Some(b'0') => false,
                    _ => return Err(format!("a bad boolean at byte {}", self.pos)),
                };
                self.pos += 1;
                Ok(Bare::Boolean(value))
            }
            Some(b'-' | b'0'..=b'9') => self.integer().map(Bare::Integer),
            Some(b'a'..=b'z' | b'A'..=b'Z' | b'*') => {
                let start = self.pos;
                while matches!(self.peek(), Some(b) if b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&b))
                {
                    self.pos += 1;
                }
                Ok(Bare::Token(
                    String::from_utf8_lossy(&self.text[start..self.pos]).into_owned(),
                ))
            }
            _ => Err(format!("expected a value at byte {}", self.pos)),
        }
    }

    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out = String::new();
        loop {
            match self.peek() {
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(b @ (b'"' | b'\\')) => out.push(b as char),
                        _ => return Err(format!("a bad escape at byte {}", self.pos)),
                    }
                }
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b @ 0x20..=0x7e) => out.push(b as char),
                _ => return Err(format!("a bad string at byte {}", self.pos)),
            }
            self.pos += 1;
        }
    }

    fn bytes(&mut self) -> Result<Vec<u8>, String> {
        self.expect(b':')?;
        let start = self.pos;
        while matches!(self.peek(), Some(b) if b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=')
        {
            self.pos += 1;
        }
        let encoded = &self.text[start..self.pos];
        self.expect(b':')?;
        STANDARD
            .decode(encoded)
            .map_err(|_| format!("a byte sequence at byte {start} is not base64"))
    }

    fn integer(&mut self) -> Result<i64, String> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let digits = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        if self.pos == digits || self.pos - digits > 15 || self.peek() == Some(b'.') {
            return Err(format!("a bad integer at byte {start}"));
        }
        std::str::from_utf8(&self.text[start..self.pos])
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| format!("a bad integer at byte {start}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_input_keeps_components_params_and_the_raw_value() {
        let text = r#"sig1=("@method" "@path" "x-a";sf);created=1618884473;keyid="k 1";alg="hmac-sha256", sig2=();tag=t"#;
        let parsed = inputs(text).expect("parses");
        assert_eq!(parsed.len(), 2);
        let one = &parsed[0];
        assert_eq!(one.label, "sig1");
        let names: Vec<&str> = one.components.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["@method", "@path", "x-a"]);
        assert_eq!(one.components[2].raw, r#""x-a";sf"#);
        assert_eq!(one.param("created"), Some(&Bare::Integer(1618884473)));
        assert_eq!(one.param("keyid"), Some(&Bare::String("k 1".into())));
        assert_eq!(
            one.raw,
            r#"("@method" "@path" "x-a";sf);created=1618884473;keyid="k 1";alg="hmac-sha256""#
        );
        assert_eq!(parsed[1].param("tag"), Some(&Bare::Token("t".into())));
    }

    #[test]
    fn malformed_fields_are_errors() {
        for bad in [
            "",
            "sig1",
            "sig1=(\"a\"",
            "sig1=(a)",
            "Sig1=(\"a\")",
            "sig1=(\"a\");created=1.5",
            "sig1=(\"a\"), sig1=(\"b\")",
            "sig1=(\"a\");x=1;x=2",
            "sig1=(\"a\"),",
            "sig1=(\"a\") junk",
        ] {
            assert!(inputs(bad).is_err(), "{bad:?} parsed");
        }
        assert!(signatures("sig1=\"not bytes\"").is_err());
        assert!(signatures("sig1=:not base64!:").is_err());
        assert_eq!(
            signatures("sig1=:AAE=:, sig2=:Ag==:").expect("parses"),
            [
                ("sig1".to_owned(), vec![0, 1]),
                ("sig2".to_owned(), vec![2])
            ]
        );
    }
}
