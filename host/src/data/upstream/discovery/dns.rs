//! DNS discovery with hickory's resolver: A/AAAA records (every address
//! with the configured port) or SRV records (priority, weight, port; the
//! target names resolved in turn). Re-resolved every `interval_ms`, or when
//! the records' TTL runs out.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ProtocolConfig, ResolverConfig,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;

use super::{DiscoverFuture, Discovered, DiscoveryError, ServiceDiscovery};
use crate::config::{DnsDiscoveryConfig, DnsRecordKind};
use crate::data::upstream::target::{MAX_WEIGHT, Target};

/// Bounds on a TTL-driven refresh.
const MIN_REFRESH: Duration = Duration::from_secs(1);
const MAX_REFRESH: Duration = Duration::from_secs(300);

/// Targets from DNS records.
pub struct DnsDiscovery {
    resolver: TokioResolver,
    name: String,
    kind: DnsRecordKind,
    port: u16,
    interval: Option<Duration>,
}

impl DnsDiscovery {
    /// A resolver for `config`: its `server`, or the system configuration.
    pub fn new(config: &DnsDiscoveryConfig) -> Result<Self, DiscoveryError> {
        let error = |reason: String| DiscoveryError::Dns {
            name: config.name.clone(),
            reason,
        };
        let builder = match config.server {
            Some(server) => {
                let connection = |protocol| {
                    let mut connection = ConnectionConfig::new(protocol);
                    connection.port = server.port();
                    connection
                };
                let nameserver = NameServerConfig::new(
                    server.ip(),
                    true,
                    vec![
                        connection(ProtocolConfig::Udp),
                        connection(ProtocolConfig::Tcp),
                    ],
                );
                TokioResolver::builder_with_config(
                    ResolverConfig::from_name_servers(vec![nameserver]),
                    TokioRuntimeProvider::default(),
                )
            }
            None => TokioResolver::builder_tokio().map_err(|e| error(e.to_string()))?,
        };
        let resolver = builder.build().map_err(|e| error(e.to_string()))?;
        Ok(DnsDiscovery {
            resolver,
            name: config.name.clone(),
            kind: config.kind,
            port: config.port.unwrap_or_default(),
            interval: config.interval_ms.map(Duration::from_millis),
        })
    }

    fn error(&self, reason: impl ToString) -> DiscoveryError {
        DiscoveryError::Dns {
            name: self.name.clone(),
            reason: reason.to_string(),
        }
    }

    async fn resolve(&self) -> Result<Discovered, DiscoveryError> {
        // Ask the nameserver every round: the refresh follows the TTL itself.
        self.resolver.clear_cache();
        let (targets, valid_until) = match self.kind {
            DnsRecordKind::A => self.addresses().await?,
            DnsRecordKind::Srv => self.services().await?,
        };
        let ttl = valid_until
            .saturating_duration_since(Instant::now())
            .clamp(MIN_REFRESH, MAX_REFRESH);
        Ok(Discovered {
            targets: Some(targets),
            next: Some(self.interval.unwrap_or(ttl)),
        })
    }

    async fn addresses(&self) -> Result<(Vec<Target>, Instant), DiscoveryError> {
        let lookup = self
            .resolver
            .lookup_ip(self.name.as_str())
            .await
            .map_err(|e| self.error(e))?;
        let targets = lookup
            .iter()
            .map(|ip| Target::new(socket(ip, self.port)))
            .collect();
        Ok((targets, lookup.valid_until()))
    }

    async fn services(&self) -> Result<(Vec<Target>, Instant), DiscoveryError> {
        let lookup = self
            .resolver
            .srv_lookup(self.name.as_str())
            .await
            .map_err(|e| self.error(e))?;
        let mut valid_until = lookup.valid_until();
        let mut targets = Vec::new();
        for record in lookup.answers() {
            let RData::SRV(srv) = &record.data else {
                continue;
            };
            let ips = self
                .resolver
                .lookup_ip(srv.target.clone())
                .await
                .map_err(|e| self.error(format!("SRV target {}: {e}", srv.target)))?;
            valid_until = valid_until.min(ips.valid_until());
            for ip in ips.iter() {
                targets.push(Target {
                    addr: socket(ip, srv.port),
                    // RFC 2782 weight 0: rarely chosen; the lowest weight here.
                    weight: u32::from(srv.weight).clamp(1, MAX_WEIGHT),
                    priority: srv.priority,
                });
            }
        }
        Ok((targets, valid_until))
    }
}

fn socket(ip: IpAddr, port: u16) -> String {
    std::net::SocketAddr::new(ip, port).to_string()
}

impl ServiceDiscovery for DnsDiscovery {
    fn discover(&self) -> DiscoverFuture<'_> {
        Box::pin(self.resolve())
    }
}
