//! Client certificates (mTLS): the verifier a listener's `client_ca` and
//! `client_auth` ask for, and the verified client's identity, which plugins
//! read from the request context.
//!
//! Context keys, set before the chain runs when the client presented a
//! verified certificate (absent otherwise):
//!
//! | key | value |
//! |---|---|
//! | `tls.client.subject` | the subject distinguished name, e.g. `CN=alice, O=Example` |
//! | `tls.client.cn` | the subject's common name (the first, if several) |
//! | `tls.client.san` | the subject alternative names, `, `-separated, each typed: `DNS:a.example`, `URI:spiffe://…`, `email:a@example`, `IP:10.0.0.1` |

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use x509_parser::extensions::GeneralName;

use super::TlsError;
use super::resolver::read_certificates;
use crate::config::ClientAuth;

/// Context key of the client certificate's subject.
pub const CONTEXT_SUBJECT: &str = "tls.client.subject";
/// Context key of the client certificate's common name.
pub const CONTEXT_COMMON_NAME: &str = "tls.client.cn";
/// Context key of the client certificate's subject alternative names.
pub const CONTEXT_SAN: &str = "tls.client.san";

/// The verifier for a listener: none without `client_ca`.
pub fn verifier(
    client_ca: Option<&Path>,
    mode: ClientAuth,
    key: &str,
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let Some(path) = client_ca else {
        return Ok(WebPkiClientVerifier::no_client_auth());
    };
    let key = format!("{key}.client_ca");
    let mut roots = RootCertStore::empty();
    for certificate in read_certificates(path, &key)? {
        roots.add(certificate).map_err(|e| TlsError::Invalid {
            key: key.clone(),
            path: path.to_path_buf(),
            reason: format!("not a usable CA certificate: {e}"),
        })?;
    }
    let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
    let builder = match mode {
        ClientAuth::Required => builder,
        ClientAuth::Optional => builder.allow_unauthenticated(),
    };
    builder.build().map_err(|e| TlsError::Setup {
        key,
        reason: e.to_string(),
    })
}

/// Who a verified client certificate says the client is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientIdentity {
    /// Subject distinguished name.
    pub subject: String,
    /// Subject common name.
    pub common_name: Option<String>,
    /// Subject alternative names, typed (`DNS:…`, `URI:…`, `email:…`, `IP:…`).
    pub alt_names: Vec<String>,
}

impl ClientIdentity {
    /// The identity in the leaf of a chain rustls verified; `None` when there
    /// is none or it cannot be parsed (it was verified, so that is not
    /// expected).
    pub fn from_verified(chain: Option<&[CertificateDer<'_>]>) -> Option<Self> {
        let leaf = chain?.first()?;
        let (_, cert) = x509_parser::parse_x509_certificate(leaf).ok()?;
        let subject = cert.subject();
        let common_name = subject
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned);
        let alt_names = cert
            .subject_alternative_name()
            .ok()
            .flatten()
            .map(|san| san.value.general_names.iter().filter_map(typed).collect())
            .unwrap_or_default();
        Some(ClientIdentity {
            subject: subject.to_string(),
            common_name,
            alt_names,
        })
    }

    /// The identity as request-context entries (key, value), which the
    /// proxy seeds every plugin chain's context with.
    pub fn context_entries(&self) -> Vec<(String, String)> {
        let mut entries = vec![(CONTEXT_SUBJECT.to_owned(), self.subject.clone())];
        if let Some(cn) = &self.common_name {
            entries.push((CONTEXT_COMMON_NAME.to_owned(), cn.clone()));
        }
        if !self.alt_names.is_empty() {
            entries.push((CONTEXT_SAN.to_owned(), self.alt_names.join(", ")));
        }
        entries
    }
}

fn typed(name: &GeneralName<'_>) -> Option<String> {
    match name {
        GeneralName::DNSName(dns) => Some(format!("DNS:{dns}")),
        GeneralName::URI(uri) => Some(format!("URI:{uri}")),
        GeneralName::RFC822Name(email) => Some(format!("email:{email}")),
        GeneralName::IPAddress(bytes) => {
            let ip = match bytes.len() {
                4 => IpAddr::from(<[u8; 4]>::try_from(*bytes).ok()?),
                16 => IpAddr::from(<[u8; 16]>::try_from(*bytes).ok()?),
                _ => return None,
            };
            Some(format!("IP:{ip}"))
        }
        _ => None,
    }
}
