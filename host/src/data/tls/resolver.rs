//! Certificates chosen by SNI: exact names first, then one-label wildcards
//! (`*.example.com` serves `a.example.com`, not `a.b.example.com`), then
//! the default certificate.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use x509_parser::extensions::GeneralName;

use super::TlsError;
use crate::config::CertificateConfig;

/// The certificates of one listener, indexed by the names they serve.
#[derive(Debug)]
pub struct SniResolver {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// Keyed by the suffix after `*.`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    default: Arc<CertifiedKey>,
}

impl SniResolver {
    /// Loads every certificate and key; `key` is the config path of the
    /// `certificates` list, for errors.
    pub fn load(
        certificates: &[CertificateConfig],
        key: &str,
        provider: &CryptoProvider,
    ) -> Result<Self, TlsError> {
        let mut exact = HashMap::new();
        let mut wildcard = HashMap::new();
        let mut default = None;
        let default_index = certificates.iter().position(|c| c.default).unwrap_or(0);
        for (c, config) in certificates.iter().enumerate() {
            let key = format!("{key}[{c}]");
            let certified = Arc::new(load_pair(config, &key, provider)?);
            let names = if config.hosts.is_empty() {
                dns_names(&certified.cert[0]).map_err(|reason| TlsError::Invalid {
                    key: format!("{key}.cert"),
                    path: config.cert.clone(),
                    reason,
                })?
            } else {
                config.hosts.clone()
            };
            for name in names {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                let map = match name.strip_prefix("*.") {
                    Some(suffix) => wildcard.entry(suffix.to_owned()),
                    None => exact.entry(name),
                };
                // The first certificate naming a host serves it.
                map.or_insert_with(|| certified.clone());
            }
            if c == default_index {
                default = Some(certified);
            }
        }
        let default = default.ok_or_else(|| TlsError::Setup {
            key: key.to_owned(),
            reason: "at least one certificate is required".into(),
        })?;
        Ok(SniResolver {
            exact,
            wildcard,
            default,
        })
    }

    /// The certificate for an SNI name (or for none).
    pub fn find(&self, server_name: Option<&str>) -> Arc<CertifiedKey> {
        let Some(name) = server_name.map(str::to_ascii_lowercase) else {
            return self.default.clone();
        };
        if let Some(found) = self.exact.get(&name) {
            return found.clone();
        }
        name.split_once('.')
            .and_then(|(_, parent)| self.wildcard.get(parent))
            .unwrap_or(&self.default)
            .clone()
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.find(client_hello.server_name()))
    }
}

/// Reads a PEM chain and its key and checks that they belong together.
fn load_pair(
    config: &CertificateConfig,
    key: &str,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, TlsError> {
    let chain = read_certificates(&config.cert, &format!("{key}.cert"))?;
    let private = read_key(&config.key, &format!("{key}.key"))?;
    CertifiedKey::from_der(chain, private, provider).map_err(|e| TlsError::Invalid {
        key: format!("{key}.key"),
        path: config.key.clone(),
        reason: format!("unusable with its certificate: {e}"),
    })
}

/// Every certificate in a PEM file, in order; at least one.
pub(super) fn read_certificates(
    path: &Path,
    key: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path, key)?;
    let invalid = |reason: String| TlsError::Invalid {
        key: key.to_owned(),
        path: path.to_path_buf(),
        reason,
    };
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("invalid PEM: {e}")))?;
    if chain.is_empty() {
        return Err(invalid("holds no PEM certificate".into()));
    }
    Ok(chain)
}

fn read_key(path: &Path, key: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(path, key)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|e| TlsError::Invalid {
        key: key.to_owned(),
        path: path.to_path_buf(),
        reason: format!("no usable PEM private key: {e}"),
    })
}

fn read(path: &Path, key: &str) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError::Read {
        key: key.to_owned(),
        path: path.to_path_buf(),
        error,
    })
}

/// The DNS names of a certificate's subject alternative names.
fn dns_names(cert: &CertificateDer<'_>) -> Result<Vec<String>, String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert)
        .map_err(|e| format!("cannot parse the certificate: {e}"))?;
    let names: Vec<String> = parsed
        .subject_alternative_name()
        .map_err(|e| format!("invalid subject alternative names: {e}"))?
        .map(|san| {
            san.value
                .general_names
                .iter()
                .filter_map(|name| match name {
                    GeneralName::DNSName(dns) => Some((*dns).to_owned()),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        return Err("names no DNS host; list the names it serves in `hosts`".into());
    }
    Ok(names)
}
