//! Upstream TLS: the rustls client config (ring provider, TLS 1.2 and 1.3)
//! for an upstream's `tls` table: trusted roots, optional client
//! certificate, ALPN for the configured protocol.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};

use crate::config::{UpstreamProtocol, UpstreamTlsConfig};

/// An upstream's TLS settings could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file is missing, unreadable or holds nothing usable.
    #[error("{}: {reason}", path.display())]
    File {
        /// The config key naming the file, e.g. `tls.ca_file`.
        key: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// No root certificate could be loaded from the system.
    #[error("no system root certificates found")]
    NoSystemRoots,
    /// `server_name` is not a DNS name or IP address.
    #[error("`{0}` is not a server name")]
    ServerName(String),
    /// rustls refused the combination.
    #[error("{0}")]
    Rustls(#[from] rustls::Error),
}

impl TlsError {
    /// The config key (under `upstreams.<name>`) the error is about.
    pub fn key(&self) -> &'static str {
        match self {
            TlsError::File { key, .. } => key,
            TlsError::ServerName(_) => "tls.server_name",
            _ => "tls",
        }
    }
}

/// What the connector needs for TLS.
#[derive(Clone)]
pub struct UpstreamTls {
    /// The rustls client config.
    pub config: Arc<ClientConfig>,
    /// SNI and verified name; the target's host when `None`.
    pub server_name: Option<ServerName<'static>>,
}

/// Builds the TLS settings; `default_name` is used for SNI when the config
/// names none (the DNS name of a DNS upstream).
pub fn load(
    tls: &UpstreamTlsConfig,
    protocol: UpstreamProtocol,
    default_name: Option<&str>,
) -> Result<UpstreamTls, TlsError> {
    let mut roots = RootCertStore::empty();
    match &tls.ca_file {
        Some(path) => {
            for cert in read_certs("tls.ca_file", path)? {
                roots
                    .add(cert)
                    .map_err(|e| file_error("tls.ca_file", path, e))?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                return Err(TlsError::NoSystemRoots);
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots);
    let mut config = match (&tls.client_cert, &tls.client_key) {
        (Some(cert), Some(key)) => {
            let chain = read_certs("tls.client_cert", cert)?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| file_error("tls.client_key", key, e))?;
            builder.with_client_auth_cert(chain, key)?
        }
        _ => builder.with_no_client_auth(),
    };
    config.alpn_protocols = match protocol {
        UpstreamProtocol::H2 => vec![b"h2".to_vec()],
        UpstreamProtocol::Http1 => vec![b"http/1.1".to_vec()],
    };
    let name = tls.server_name.as_deref().or(default_name);
    let server_name = name
        .map(|n| {
            ServerName::try_from(n.trim_end_matches('.').to_owned())
                .map_err(|_| TlsError::ServerName(n.to_owned()))
        })
        .transpose()?;
    Ok(UpstreamTls {
        config: Arc::new(config),
        server_name,
    })
}

fn read_certs(key: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(key, path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_error(key, path, e))?;
    if certs.is_empty() {
        return Err(file_error(key, path, "no PEM certificate in the file"));
    }
    Ok(certs)
}

fn file_error(key: &'static str, path: &Path, reason: impl ToString) -> TlsError {
    TlsError::File {
        key,
        path: path.to_path_buf(),
        reason: reason.to_string(),
    }
}
