//! An identity provider on 127.0.0.1 for the identity tests: HTTPS with a
//! certificate from the tests' CA (name `localhost`), serving OAuth 2.0
//! token introspection (RFC 7662) at `/introspect` for the tokens a test
//! registers, checking the client's credentials, counting calls and
//! connections, and able to go down (every connection closed at once) or
//! slow. For OIDC it also serves its metadata at
//! `/.well-known/openid-configuration` and the JWKS a test publishes at
//! `/jwks`, counting those fetches.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use rustls::pki_types::pem::PemObject;

use super::pki::Ca;

/// The client the gateway authenticates as.
pub const CLIENT_ID: &str = "gateway";
/// Its secret.
pub const CLIENT_SECRET: &str = "s3cret";

#[derive(Default)]
struct State {
    tokens: Mutex<HashMap<String, Value>>,
    calls: AtomicUsize,
    connections: AtomicUsize,
    down: AtomicBool,
    delay: Mutex<Duration>,
    jwks: Mutex<Value>,
    key_fetches: AtomicUsize,
    issuer: Mutex<String>,
}

/// A running identity provider.
pub struct Idp {
    /// Where it listens.
    pub addr: SocketAddr,
    /// The CA its certificate chains to, PEM.
    pub ca_pem: String,
    state: Arc<State>,
}

impl Idp {
    /// Starts one with a new CA.
    pub async fn start() -> Idp {
        let ca = Ca::new("Portico Test IdP CA");
        let leaf = ca.server(&["localhost"]);
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes())
            .expect("idp key");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![leaf.der.clone()], key)
        .expect("idp tls");
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind idp");
        let addr = listener.local_addr().expect("idp addr");
        let state = Arc::new(State::default());
        *state.issuer.lock() = format!("https://localhost:{}", addr.port());
        *state.jwks.lock() = json!({ "keys": [] });
        let shared = state.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                shared.connections.fetch_add(1, Ordering::SeqCst);
                if shared.down.load(Ordering::SeqCst) {
                    drop(stream);
                    continue;
                }
                let (acceptor, state) = (acceptor.clone(), shared.clone());
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(answer(&state, request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Idp {
            addr,
            ca_pem: ca.pem(),
            state,
        }
    }

    /// The introspection endpoint, `https://localhost:PORT/introspect`.
    pub fn endpoint(&self) -> String {
        format!("https://localhost:{}/introspect", self.addr.port())
    }

    /// What `http.allow` needs for it.
    pub fn origin(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// Registers `token`'s introspection answer.
    pub fn token(&self, token: &str, answer: Value) {
        self.state.tokens.lock().insert(token.to_owned(), answer);
    }

    /// Introspection requests answered so far.
    pub fn calls(&self) -> usize {
        self.state.calls.load(Ordering::SeqCst)
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.state.connections.load(Ordering::SeqCst)
    }

    /// Takes it down (`true`: new connections are closed at once, requests
    /// on open ones get 503) or up again.
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// Its CA written to a file in a new temporary directory (kept while
    /// the directory lives), for a grant's `ca_file`.
    pub fn ca_file(&self) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let ca = dir.path().join("idp-ca.pem");
        std::fs::write(&ca, &self.ca_pem).expect("write ca");
        (dir, ca)
    }

    /// The issuer it names in its metadata (its origin).
    pub fn issuer(&self) -> String {
        self.state.issuer.lock().clone()
    }

    /// Publishes `jwks` at `/jwks` from now on.
    pub fn publish_jwks(&self, jwks: Value) {
        *self.state.jwks.lock() = jwks;
    }

    /// Metadata and JWKS requests answered so far.
    pub fn key_fetches(&self) -> usize {
        self.state.key_fetches.load(Ordering::SeqCst)
    }

    /// Delays every answer by `delay`.
    pub fn set_delay(&self, delay: Duration) {
        *self.state.delay.lock() = delay;
    }
}

async fn answer(state: &State, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let delay = *state.delay.lock();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    if state.down.load(Ordering::SeqCst) {
        return reply(StatusCode::SERVICE_UNAVAILABLE, json!({ "error": "down" }));
    }
    if request.method() == http::Method::GET {
        return match request.uri().path() {
            "/.well-known/openid-configuration" => {
                state.key_fetches.fetch_add(1, Ordering::SeqCst);
                let issuer = state.issuer.lock().clone();
                let jwks_uri = format!("{issuer}/jwks");
                reply(
                    StatusCode::OK,
                    json!({ "issuer": issuer, "jwks_uri": jwks_uri }),
                )
            }
            "/jwks" => {
                state.key_fetches.fetch_add(1, Ordering::SeqCst);
                reply(StatusCode::OK, state.jwks.lock().clone())
            }
            _ => reply(StatusCode::NOT_FOUND, json!({ "error": "not found" })),
        };
    }
    let (head, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if head.method != http::Method::POST || head.uri.path() != "/introspect" {
        return reply(StatusCode::NOT_FOUND, json!({ "error": "not found" }));
    }
    use base64::Engine;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    if head
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        != Some(expected.as_str())
    {
        return reply(
            StatusCode::UNAUTHORIZED,
            json!({ "error": "invalid_client" }),
        );
    }
    state.calls.fetch_add(1, Ordering::SeqCst);
    let form = String::from_utf8_lossy(&body);
    let token = form
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .unwrap_or_default();
    let answer = state
        .tokens
        .lock()
        .get(token)
        .cloned()
        .unwrap_or_else(|| json!({ "active": false }));
    reply(StatusCode::OK, answer)
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("response")
}
