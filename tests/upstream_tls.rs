//! TLS to upstreams through the real gateway: a test CA (rcgen) and an
//! in-process TLS echo upstream; verification, SNI, client certificates,
//! HTTP/2 by ALPN; and connection reuse counted in the upstream's stats.

use crate::support;
use crate::support::backends;

use std::sync::Arc;

use backends::EchoServer;
use http::StatusCode;
use portico::data::gateway::Gateway;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use support::{TestGateway, builder};

/// A CA and PEM files of a server certificate it signed, in `dir`.
struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        Pki { ca, dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// Issues a certificate for `names`, written as `<file>.pem` and
    /// `<file>.key`.
    fn issue(
        &self,
        names: &[&str],
        file: &str,
    ) -> (Vec<CertificateDer<'static>>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &self.ca)
            .unwrap();
        std::fs::write(self.path(&format!("{file}.pem")), cert.pem()).unwrap();
        std::fs::write(self.path(&format!("{file}.key")), key.serialize_pem()).unwrap();
        let der = PrivateKeyDer::from_pem_slice(key.serialize_pem().as_bytes()).unwrap();
        (vec![cert.der().clone()], der)
    }

    /// A rustls server config with a certificate for `upstream.test`.
    fn server(&self, alpn: &[&[u8]], client_auth: bool) -> rustls::ServerConfig {
        let (chain, key) = self.issue(&["upstream.test"], "server");
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = if client_auth {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(self.ca.der().clone()).unwrap();
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .unwrap();
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let mut config = builder.with_single_cert(chain, key).unwrap();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        config
    }
}

async fn routed(upstream: &str) -> TestGateway {
    builder::Gateway::builder()
        .upstream_toml("secure", upstream)
        .route("r", |r| r)
        .start()
        .await
}

#[tokio::test]
async fn upstream_tls_is_verified_against_the_configured_ca_with_sni() {
    let pki = Pki::new();
    let origin = EchoServer::tls("secure", pki.server(&[b"http/1.1"], false)).await;
    let gw = routed(&format!(
        "targets = [\"{}\"]\ntls = {{ ca_file = \"{}\", server_name = \"upstream.test\" }}",
        origin.addr,
        pki.path("ca.pem")
    ))
    .await;
    let response = gw.get("/over-tls").await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.header("x-upstream"), Some("secure"));
    assert_eq!(response.header("x-version"), Some("HTTP/1.1"));

    // The certificate does not name the target's address: without
    // `server_name` verification fails.
    let gw = routed(&format!(
        "targets = [\"{}\"]\ntls = {{ ca_file = \"{}\" }}",
        origin.addr,
        pki.path("ca.pem")
    ))
    .await;
    assert_eq!(gw.get("/").await.status, StatusCode::BAD_GATEWAY);

    // Another CA: refused.
    let other = Pki::new();
    let gw = routed(&format!(
        "targets = [\"{}\"]\ntls = {{ ca_file = \"{}\", server_name = \"upstream.test\" }}",
        origin.addr,
        other.path("ca.pem")
    ))
    .await;
    assert_eq!(gw.get("/").await.status, StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn http2_to_upstreams_is_negotiated_by_alpn() {
    let pki = Pki::new();
    let origin = EchoServer::tls("h2", pki.server(&[b"h2", b"http/1.1"], false)).await;
    let gw = routed(&format!(
        "targets = [\"{}\"]\nprotocol = \"h2\"\ntls = {{ ca_file = \"{}\", server_name = \"upstream.test\" }}",
        origin.addr,
        pki.path("ca.pem")
    ))
    .await;
    for _ in 0..3 {
        let response = gw.get("/").await;
        assert_eq!(response.status, StatusCode::OK);
        assert_eq!(response.header("x-version"), Some("HTTP/2.0"));
    }
}

#[tokio::test]
async fn a_client_certificate_is_presented_when_configured() {
    let pki = Pki::new();
    pki.issue(&["gateway.test"], "client");
    let origin = EchoServer::tls("mtls", pki.server(&[b"http/1.1"], true)).await;
    let with_cert = routed(&format!(
        "targets = [\"{}\"]\ntls = {{ ca_file = \"{}\", server_name = \"upstream.test\", client_cert = \"{}\", client_key = \"{}\" }}",
        origin.addr,
        pki.path("ca.pem"),
        pki.path("client.pem"),
        pki.path("client.key")
    ))
    .await;
    assert_eq!(with_cert.get("/").await.status, StatusCode::OK);
    let without = routed(&format!(
        "targets = [\"{}\"]\ntls = {{ ca_file = \"{}\", server_name = \"upstream.test\" }}",
        origin.addr,
        pki.path("ca.pem")
    ))
    .await;
    assert_eq!(without.get("/").await.status, StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn a_missing_ca_file_is_a_config_error_naming_the_key() {
    let error = builder::Gateway::builder()
        .upstream_toml(
            "secure",
            "targets = [\"127.0.0.1:1\"]\ntls = { ca_file = \"nope.pem\" }",
        )
        .route("r", |r| r)
        .try_start()
        .await
        .err()
        .expect("refused");
    assert!(error.contains("`upstreams.secure.tls.ca_file`"), "{error}");
}

#[tokio::test]
async fn connections_are_reused_and_counted() {
    let pki = Pki::new();
    let origin = EchoServer::tls("secure", pki.server(&[b"http/1.1"], false)).await;
    let toml = builder::Gateway::builder()
        .upstream_toml(
            "secure",
            &format!(
                "targets = [\"{}\"]\ntls = {{ ca_file = \"{}\", server_name = \"upstream.test\" }}",
                origin.addr,
                pki.path("ca.pem")
            ),
        )
        .route("r", |r| r)
        .toml(&[]);
    let (_dir, config) = support::parse_config(&toml);
    let config = config.unwrap();
    let built = Arc::new(Gateway::build(&config).await.unwrap());
    let running = portico::data::server::RunningGateway::start(&config, built.clone())
        .await
        .unwrap();
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    for _ in 0..20 {
        let uri = format!("http://{}/", running.addr());
        let response = client.get(uri.parse().unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap();
    }
    let stats = built.routes[0].upstream.stats();
    assert_eq!(
        stats.new_connection_requests + stats.reused_connection_requests,
        20
    );
    assert!(stats.connections <= 2, "{stats:?}");
    assert!(stats.reuse_rate() >= 0.9, "{stats:?}");
    running.shutdown().await;
}
