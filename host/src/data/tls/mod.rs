//! TLS termination on listeners, with rustls (*ring* provider).
//!
//! - [`provider`]: protocol versions (1.3 and 1.2), the Mozilla
//!   "intermediate" cipher suites, ALPN (`h2`, `http/1.1`).
//! - [`resolver`]: several certificates chosen by SNI, with a default.
//! - [`client_auth`]: optional client-certificate verification (mTLS) and
//!   the client identity plugins read from the request context.
//! - `reload`: certificates, keys and CAs re-read when their files change,
//!   swapped in without a restart and without failing a handshake.
//!
//! A [`TlsTerminator`] holds a listener's current `rustls::ServerConfig`
//! behind an [`ArcSwap`]; each handshake takes the config current when it
//! starts.

pub mod client_auth;
pub mod provider;
mod reload;
pub mod resolver;

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

pub use client_auth::ClientIdentity;

use crate::config::TlsConfig;
use reload::Fingerprint;
use resolver::SniResolver;

/// A listener's TLS files could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("`{key}`: cannot read {}: {error}", path.display())]
    Read {
        /// Config key naming the file.
        key: String,
        /// The file.
        path: PathBuf,
        /// Why.
        error: io::Error,
    },
    /// A file's content is unusable.
    #[error("`{key}`: {}: {reason}", path.display())]
    Invalid {
        /// Config key naming the file.
        key: String,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The files load but cannot be combined into a TLS configuration.
    #[error("`{key}`: {reason}")]
    Setup {
        /// Config key of the part at fault.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// A completed handshake.
pub struct Accepted<IO> {
    /// The decrypted stream.
    pub stream: TlsStream<IO>,
    /// The verified client certificate's identity, if the client sent one.
    pub identity: Option<ClientIdentity>,
}

/// TLS termination for one listener.
pub struct TlsTerminator {
    config: TlsConfig,
    key: String,
    alpn: &'static [&'static [u8]],
    current: ArcSwap<ServerConfig>,
    loaded_from: Fingerprint,
}

impl TlsTerminator {
    /// Loads the listener's certificates and CA; `key` is the config path
    /// of its `tls` table (`listeners[0].tls`), used in errors.
    pub fn load(config: &TlsConfig, key: &str) -> Result<Arc<Self>, TlsError> {
        Self::load_offering(config, key, &provider::ALPN)
    }

    /// As [`TlsTerminator::load`], offering only HTTP/1.1 in ALPN (the
    /// admin listener speaks nothing else).
    pub fn load_http1(config: &TlsConfig, key: &str) -> Result<Arc<Self>, TlsError> {
        Self::load_offering(config, key, &[b"http/1.1"])
    }

    fn load_offering(
        config: &TlsConfig,
        key: &str,
        alpn: &'static [&'static [u8]],
    ) -> Result<Arc<Self>, TlsError> {
        // Stamped before reading: a change made while loading is seen by
        // the first reload check.
        let loaded_from = Fingerprint::of(config);
        let server = build(config, key, alpn)?;
        Ok(Arc::new(TlsTerminator {
            config: config.clone(),
            key: key.to_owned(),
            alpn,
            current: ArcSwap::from_pointee(server),
            loaded_from,
        }))
    }

    /// Time allowed for one handshake.
    pub fn handshake_timeout(&self) -> Duration {
        Duration::from_millis(self.config.handshake_timeout_ms)
    }

    /// Runs the server side of a handshake on `io`, bounded by the
    /// handshake timeout.
    pub async fn accept<IO>(&self, io: IO) -> io::Result<Accepted<IO>>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
    {
        let acceptor = TlsAcceptor::from(self.current.load_full());
        let stream = tokio::time::timeout(self.handshake_timeout(), acceptor.accept(io))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
        let session = stream.get_ref().1;
        let identity = ClientIdentity::from_verified(session.peer_certificates());
        Ok(Accepted { stream, identity })
    }

    /// Starts watching the files for changes, until `shutdown` turns true.
    pub fn spawn_reload(self: &Arc<Self>, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
        let interval = Duration::from_millis(self.config.reload_interval_ms);
        tokio::spawn(reload::watch(self.clone(), interval, shutdown))
    }
}

/// Builds a listener's server config from its files as they are now.
fn build(config: &TlsConfig, key: &str, alpn: &[&[u8]]) -> Result<ServerConfig, TlsError> {
    let provider = provider::provider();
    let resolver = SniResolver::load(
        &config.certificates,
        &format!("{key}.certificates"),
        &provider,
    )?;
    let verifier = client_auth::verifier(
        config.client_ca.as_deref(),
        config.client_auth.unwrap_or_default(),
        key,
        &provider,
    )?;
    let mut server = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(provider::PROTOCOL_VERSIONS)
        .map_err(|e| TlsError::Setup {
            key: key.to_owned(),
            reason: e.to_string(),
        })?
        .with_client_cert_verifier(verifier)
        .with_cert_resolver(Arc::new(resolver));
    server.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(server)
}
