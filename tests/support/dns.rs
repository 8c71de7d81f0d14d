//! A real authoritative DNS server (hickory-server) on a loopback UDP port,
//! whose records a test changes while the gateway resolves them.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use hickory_server::Server;
use hickory_server::net::runtime::TokioRuntimeProvider;
use hickory_server::proto::rr::rdata::{A, AAAA, SOA, SRV};
use hickory_server::proto::rr::{LowerName, Name, RData, Record, RecordType, RrKey};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

/// Records are served with this TTL (seconds).
const TTL: u32 = 1;

/// An authoritative server for one zone.
pub struct DnsServer {
    /// The UDP address it answers on.
    pub addr: SocketAddr,
    zone: Arc<InMemoryZoneHandler<TokioRuntimeProvider>>,
    task: JoinHandle<()>,
}

impl DnsServer {
    /// Serves an empty zone `origin` (e.g. `svc.test.`) on 127.0.0.1.
    pub async fn start(origin: &str) -> Self {
        let origin = Name::from_str(origin).unwrap();
        let mut zone = InMemoryZoneHandler::<TokioRuntimeProvider>::empty(
            origin.clone(),
            ZoneType::Primary,
            AxfrPolicy::Deny,
        );
        let soa = SOA::new(
            Name::from_str("ns.test.").unwrap(),
            Name::from_str("admin.test.").unwrap(),
            1,
            60,
            60,
            600,
            TTL,
        );
        zone.upsert_mut(Record::from_rdata(origin.clone(), TTL, RData::SOA(soa)), 1);
        let zone = Arc::new(zone);
        let mut catalog = Catalog::new();
        catalog.upsert(
            LowerName::new(&origin),
            vec![zone.clone() as Arc<dyn ZoneHandler>],
        );
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let mut server = Server::new(catalog);
        server.register_socket(socket);
        let task = tokio::spawn(async move {
            let _ = server.block_until_done().await;
        });
        DnsServer { addr, zone, task }
    }

    /// Replaces the A records of `name`.
    pub async fn set_a(&self, name: &str, ips: &[Ipv4Addr]) {
        self.set_a_with_ttl(name, ips, TTL).await;
    }

    /// Replaces the A records of `name`, served with `ttl` seconds.
    pub async fn set_a_with_ttl(&self, name: &str, ips: &[Ipv4Addr], ttl: u32) {
        let name = Name::from_str(name).unwrap();
        self.clear(&name, RecordType::A).await;
        for ip in ips {
            let record = Record::from_rdata(name.clone(), ttl, RData::A(A(*ip)));
            assert!(self.zone.upsert(record, 1).await);
        }
    }

    /// Replaces the AAAA records of `name`.
    pub async fn set_aaaa(&self, name: &str, ips: &[Ipv6Addr]) {
        let name = Name::from_str(name).unwrap();
        self.clear(&name, RecordType::AAAA).await;
        for ip in ips {
            let record = Record::from_rdata(name.clone(), TTL, RData::AAAA(AAAA(*ip)));
            assert!(self.zone.upsert(record, 1).await);
        }
    }

    /// Replaces the SRV records of `name`: (priority, weight, port, target).
    pub async fn set_srv(&self, name: &str, records: &[(u16, u16, u16, &str)]) {
        let name = Name::from_str(name).unwrap();
        self.clear(&name, RecordType::SRV).await;
        for (priority, weight, port, target) in records {
            let srv = SRV::new(*priority, *weight, *port, Name::from_str(target).unwrap());
            let record = Record::from_rdata(name.clone(), TTL, RData::SRV(srv));
            assert!(self.zone.upsert(record, 1).await);
        }
    }

    async fn clear(&self, name: &Name, kind: RecordType) {
        let key = RrKey::new(LowerName::new(name), kind);
        self.zone.records_mut().await.remove(&key);
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
