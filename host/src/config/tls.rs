//! The `tls` table of a listener: certificates chosen by SNI, how they are
//! reloaded, and optional client-certificate verification (mTLS).
//!
//! ```toml
//! [listeners.tls]
//! certificates = [
//!   { cert = "certs/api.pem", key = "certs/api.key" },            # names from the certificate
//!   { cert = "certs/other.pem", key = "certs/other.key", hosts = ["*.example.net"], default = true },
//! ]
//! reload_interval_ms = 5000      # files are checked for changes this often
//! handshake_timeout_ms = 10000   # a handshake taking longer is dropped
//! client_ca = "certs/clients.pem"  # optional: verify client certificates
//! client_auth = "required"         # or "optional"
//! ```

use std::path::PathBuf;

use serde::Deserialize;

/// A listener's `tls` table: TLS is terminated on the listener.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// Certificates served, chosen by the SNI name the client sends.
    pub certificates: Vec<CertificateConfig>,
    /// How often the certificate, key and CA files are checked for changes,
    /// ms. A changed set is loaded off the handshake path and swapped in; a
    /// broken one is logged and the previous one keeps serving.
    #[serde(default = "default_reload_interval")]
    pub reload_interval_ms: u64,
    /// Time allowed for a TLS handshake, ms; slower clients are dropped.
    #[serde(default = "default_handshake_timeout")]
    pub handshake_timeout_ms: u64,
    /// PEM bundle of the CAs that sign client certificates. Unset: clients
    /// are not asked for a certificate.
    #[serde(default)]
    pub client_ca: Option<PathBuf>,
    /// Whether a client certificate is required (default) or optional when
    /// `client_ca` is set. Either way a certificate that is sent must verify.
    #[serde(default)]
    pub client_auth: Option<ClientAuth>,
}

/// Default of [`TlsConfig::reload_interval_ms`].
pub(crate) const DEFAULT_RELOAD_INTERVAL_MS: u64 = 5_000;
/// Default of [`TlsConfig::handshake_timeout_ms`].
pub(crate) const DEFAULT_HANDSHAKE_TIMEOUT_MS: u64 = 10_000;

fn default_reload_interval() -> u64 {
    DEFAULT_RELOAD_INTERVAL_MS
}
fn default_handshake_timeout() -> u64 {
    DEFAULT_HANDSHAKE_TIMEOUT_MS
}

/// One certificate: a PEM chain and its private key.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CertificateConfig {
    /// PEM file with the certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// SNI names this certificate serves: exact (`api.example.com`) or
    /// wildcard (`*.example.com`, exactly one label). Empty: the DNS names
    /// of the certificate's subject alternative names.
    #[serde(default)]
    pub hosts: Vec<String>,
    /// Served when the client sends no SNI name or one that no certificate
    /// serves. At most one certificate is the default; when none is marked,
    /// the first one is.
    #[serde(default)]
    pub default: bool,
}

/// Whether clients must present a certificate.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ClientAuth {
    /// The handshake fails without a valid client certificate.
    #[default]
    Required,
    /// Clients without a certificate are served; a certificate that is sent
    /// must verify.
    Optional,
}

/// Checks a `tls` table; `key` is its path (`listeners[0].tls`).
pub(super) fn check(tls: &TlsConfig, key: &str, add: &mut dyn FnMut(String, String)) {
    if tls.certificates.is_empty() {
        add(
            format!("{key}.certificates"),
            "at least one certificate is required".into(),
        );
    }
    let defaults = tls.certificates.iter().filter(|c| c.default).count();
    if defaults > 1 {
        add(
            format!("{key}.certificates"),
            format!("{defaults} certificates are marked `default`; at most one may be"),
        );
    }
    for (c, certificate) in tls.certificates.iter().enumerate() {
        for (h, host) in certificate.hosts.iter().enumerate() {
            if !is_sni_name(host) {
                add(
                    format!("{key}.certificates[{c}].hosts[{h}]"),
                    format!("`{host}` is not a host name or `*.` wildcard"),
                );
            }
        }
    }
    if tls.reload_interval_ms == 0 {
        add(
            format!("{key}.reload_interval_ms"),
            "must be at least 1".into(),
        );
    }
    if tls.handshake_timeout_ms == 0 {
        add(
            format!("{key}.handshake_timeout_ms"),
            "must be at least 1".into(),
        );
    }
    if tls.client_auth.is_some() && tls.client_ca.is_none() {
        add(
            format!("{key}.client_auth"),
            "needs `client_ca`, the CAs client certificates are verified against".into(),
        );
    }
}

fn is_sni_name(host: &str) -> bool {
    let bare = host.strip_prefix("*.").unwrap_or(host);
    !bare.is_empty()
        && bare.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}
