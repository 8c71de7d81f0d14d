//! Test PKI and TLS clients: a CA and leaf certificates made with rcgen
//! (ECDSA P-256), written to PEM files, and rustls clients that report
//! which certificate the server presented.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A certificate authority.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A leaf certificate and its key.
pub struct Leaf {
    pub cert_pem: String,
    pub key_pem: String,
    pub der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl Ca {
    /// A new self-signed CA named `name`.
    pub fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().expect("ca key");
        Ca {
            issuer: CertifiedIssuer::self_signed(params, key).expect("ca cert"),
        }
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A trust store holding this CA.
    pub fn roots(&self) -> RootCertStore {
        let mut roots = RootCertStore::empty();
        roots.add(self.issuer.der().clone()).expect("add root");
        roots
    }

    /// A server certificate for `names` (DNS SANs), common name the first.
    pub fn server(&self, names: &[&str]) -> Leaf {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .expect("server params");
        params.distinguished_name.push(
            DnType::CommonName,
            names.first().copied().unwrap_or("server"),
        );
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.sign(params)
    }

    /// A client certificate with common name `cn` and these SANs
    /// (`dns:` or `uri:` prefixed).
    pub fn client(&self, cn: &str, sans: &[&str]) -> Leaf {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("client params");
        params.distinguished_name.push(DnType::CommonName, cn);
        params
            .distinguished_name
            .push(DnType::OrganizationName, "Portico Tests");
        params.subject_alt_names = sans
            .iter()
            .map(|san| match san.split_once(':') {
                Some(("dns", name)) => SanType::DnsName(name.try_into().expect("dns name")),
                Some(("uri", uri)) => SanType::URI(uri.try_into().expect("uri")),
                _ => panic!("unsupported SAN `{san}`"),
            })
            .collect();
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.sign(params)
    }

    fn sign(&self, params: CertificateParams) -> Leaf {
        let key = KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign leaf");
        Leaf {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
            key_der: key.serialize_der(),
        }
    }
}

impl Leaf {
    /// Writes `<name>.pem` and `<name>.key` into `dir`, each replaced
    /// atomically (written aside, then renamed); returns their paths.
    pub fn write(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let cert = dir.join(format!("{name}.pem"));
        let key = dir.join(format!("{name}.key"));
        write_atomic(&cert, self.cert_pem.as_bytes());
        write_atomic(&key, self.key_pem.as_bytes());
        (cert, key)
    }

    fn client_auth(&self) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let key = PrivateKeyDer::try_from(self.key_der.clone()).expect("client key");
        (vec![self.der.clone()], key)
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) {
    let aside = path.with_extension("tmp");
    std::fs::write(&aside, bytes).expect("write file");
    std::fs::rename(&aside, path).expect("rename file");
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A client trusting `ca` (or, without one, any certificate), offering
/// `alpn`, presenting `client` when given.
pub fn client_config(ca: Option<&Ca>, client: Option<&Leaf>, alpn: &[&[u8]]) -> ClientConfig {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions");
    let builder = match ca {
        Some(ca) => builder.with_root_certificates(ca.roots()),
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny)),
    };
    let mut config = match client {
        Some(leaf) => {
            let (chain, key) = leaf.client_auth();
            builder
                .with_client_auth_cert(chain, key)
                .expect("client cert")
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    config
}

/// Connects to `addr` and completes a handshake for `server_name` (sent as
/// SNI unless it is an IP address).
pub async fn handshake(
    addr: SocketAddr,
    server_name: &str,
    config: ClientConfig,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(server_name.to_owned()).expect("server name");
    TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
}

/// The leaf certificate the server presented.
pub fn served(stream: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .expect("server certificate")
        .clone()
        .into_owned()
}

/// The protocol ALPN chose.
pub fn alpn(stream: &TlsStream<TcpStream>) -> Option<Vec<u8>> {
    stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec)
}

/// A response read whole.
pub struct Answer {
    pub status: StatusCode,
    pub version: http::Version,
    pub body: Bytes,
}

impl Answer {
    /// Every value of a header the echo upstream received.
    pub fn upstream_saw(&self, name: &str) -> Vec<String> {
        let echo: serde_json::Value = serde_json::from_slice(&self.body).expect("echo JSON");
        echo["headers"]
            .as_array()
            .expect("echo headers")
            .iter()
            .filter(|pair| pair[0] == name)
            .map(|pair| pair[1].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

/// Sends `GET path` (Host `host`) over an established TLS stream, with
/// HTTP/2 when ALPN chose it, HTTP/1.1 otherwise.
pub async fn get(stream: TlsStream<TcpStream>, host: &str, path: &str) -> hyper::Result<Answer> {
    let h2 = alpn(&stream).as_deref() == Some(b"h2");
    let io = TokioIo::new(stream);
    let request = Request::get(format!("https://{host}{path}"))
        .header("host", host)
        .body(Empty::<Bytes>::new())
        .expect("request");
    let response = if h2 {
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await?;
        tokio::spawn(connection);
        let (mut parts, body) = request.into_parts();
        parts.headers.remove("host");
        sender
            .send_request(Request::from_parts(parts, body))
            .await?
    } else {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
        tokio::spawn(connection);
        let (mut parts, body) = request.into_parts();
        parts.uri = path.parse().expect("path");
        sender
            .send_request(Request::from_parts(parts, body))
            .await?
    };
    let (head, body) = response.into_parts();
    Ok(Answer {
        status: head.status,
        version: head.version,
        body: body.collect().await?.to_bytes(),
    })
}

/// Accepts any server certificate: for tests that look at which
/// certificate is served, not whether it verifies.
#[derive(Debug, Default)]
struct AcceptAny;

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
