//! The admin listener's credentials and audit log: `[[admin.tokens]]`,
//! `[admin.tls]` with `[[admin.clients]]` (mTLS), and `[admin.audit]`.
//!
//! ```toml
//! [admin]
//! addr = "0.0.0.0:9901"              # with tokens, any address may be bound
//!
//! [[admin.tokens]]
//! name = "ops"                       # who, in the audit log
//! sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
//! role = "write"                     # or "read" (the default)
//!
//! [admin.tls]                        # optional: HTTPS on the admin listener
//! certificates = [{ cert = "admin.pem", key = "admin.key" }]
//! client_ca = "ops-ca.pem"           # verify client certificates (mTLS)
//! client_auth = "optional"           # tokens still work without a certificate
//!
//! [[admin.clients]]
//! cn = "alice.ops.example"           # the certificate's common name, or
//! # san = "URI:spiffe://example.org/ops/alice"   # one of its alternative names
//! role = "write"
//!
//! [admin.audit]
//! path = "/var/log/portico/audit.jsonl"
//! max_bytes = 67108864               # rotate past this (default 64 MiB)
//! keep = 10                          # rotated files kept
//! retention_days = 400               # files past this are deleted (default: kept)
//! ```

use std::path::PathBuf;

use serde::Deserialize;

/// What a token may do.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize,
)]
#[serde(rename_all = "snake_case")]
pub enum AdminRole {
    /// Listings, metrics, the dashboard, analytics, the audit log.
    #[default]
    Read,
    /// Everything `read` may, and reload, rollback, erasure.
    Write,
}

/// One bearer token of the admin API, kept as its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminToken {
    /// The token's holder, as the audit log names it.
    pub name: String,
    /// Lowercase hex SHA-256 of the token (`printf %s TOKEN | sha256sum`).
    pub sha256: String,
    /// What it may do.
    #[serde(default)]
    pub role: AdminRole,
}

/// One client certificate of the admin API: matched by its common name or
/// one of its subject alternative names (typed, as `tls.client.san`
/// shows them: `DNS:…`, `URI:…`, `email:…`, `IP:…`), verified against
/// `admin.tls.client_ca` first.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminClient {
    /// The subject's common name.
    pub cn: Option<String>,
    /// A subject alternative name.
    pub san: Option<String>,
    /// What it may do.
    #[serde(default)]
    pub role: AdminRole,
}

/// `[admin.audit]`: the hash-chained audit log.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// The file records are appended to (relative: to the config file).
    pub path: PathBuf,
    /// Past this size the file is rotated (`path.1`, `path.2`, ...).
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// Rotated files kept.
    #[serde(default = "default_keep")]
    pub keep: usize,
    /// Rotated files whose newest record is older than this many days are
    /// deleted (and the deletion recorded); the current file is rotated
    /// once its oldest record is. Unset: kept until `keep` pushes them out.
    #[serde(default)]
    pub retention_days: Option<u32>,
}

fn default_max_bytes() -> u64 {
    64 * 1024 * 1024
}

fn default_keep() -> usize {
    10
}

/// Problems with `[[admin.clients]]`, as `(key, message)`; `has_ca`:
/// whether `admin.tls.client_ca` is set.
pub fn check_clients(clients: &[AdminClient], has_ca: bool) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    if !clients.is_empty() && !has_ca {
        problems.push((
            "admin.clients".to_owned(),
            "client certificates need `admin.tls.client_ca` to verify them".to_owned(),
        ));
    }
    for (i, client) in clients.iter().enumerate() {
        let both_or_neither = client.cn.is_some() == client.san.is_some();
        let empty = [&client.cn, &client.san]
            .into_iter()
            .flatten()
            .any(|v| v.is_empty());
        if both_or_neither || empty {
            problems.push((
                format!("admin.clients[{i}]"),
                "set exactly one of `cn` and `san`, non-empty".to_owned(),
            ));
        }
    }
    problems
}

/// Problems with `[admin]` credentials, as `(key, message)`.
pub fn check_tokens(tokens: &[AdminToken]) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        let key = |field: &str| format!("admin.tokens[{i}].{field}");
        if token.name.is_empty() || token.name.chars().any(char::is_control) {
            problems.push((key("name"), "must be non-empty text".to_owned()));
        }
        if tokens[..i].iter().any(|t| t.name == token.name) {
            problems.push((key("name"), format!("`{}` is used twice", token.name)));
        }
        if token.sha256.len() != 64
            || !token
                .sha256
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            problems.push((
                key("sha256"),
                "must be 64 lowercase hex digits (printf %s TOKEN | sha256sum)".to_owned(),
            ));
        }
    }
    problems
}
