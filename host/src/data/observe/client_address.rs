//! What of a client's address the access log and trace spans write down
//! (`[observability] client_address`): all of it, its network (IPv4 /24,
//! IPv6 /48), or a keyed hash that tells clients apart without naming
//! them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::{ClientAddressMode, ObservabilityConfig};

/// The configured treatment, with its key read.
#[derive(Clone)]
pub enum ClientAddress {
    /// As it is.
    Full,
    /// Its network only.
    Truncated,
    /// `h:` and the first 16 hex digits of HMAC-SHA256(key, address).
    Hashed(Vec<u8>),
}

impl ClientAddress {
    /// From the config; `Err` when the hash key cannot be read (the message
    /// names the reference, never a value).
    pub fn new(config: &ObservabilityConfig) -> Result<Self, String> {
        Ok(match config.client_address {
            ClientAddressMode::Full => ClientAddress::Full,
            ClientAddressMode::Truncated => ClientAddress::Truncated,
            ClientAddressMode::Hashed => {
                let key = config
                    .client_address_key
                    .as_ref()
                    .ok_or("`client_address = \"hashed\"` needs `client_address_key`")?
                    .read()?;
                ClientAddress::Hashed(key.into_bytes())
            }
        })
    }

    /// The access log's `client`: the socket address in full, else the
    /// treated IP (no port).
    pub fn socket_text(&self, addr: SocketAddr) -> String {
        match self {
            ClientAddress::Full => addr.to_string(),
            _ => self.ip_text(addr.ip()),
        }
    }

    /// A span's `client.address`.
    pub fn ip_text(&self, ip: IpAddr) -> String {
        match self {
            ClientAddress::Full => ip.to_string(),
            ClientAddress::Truncated => match ip {
                IpAddr::V4(v4) => {
                    let [a, b, c, _] = v4.octets();
                    Ipv4Addr::new(a, b, c, 0).to_string()
                }
                IpAddr::V6(v6) => {
                    let s = v6.segments();
                    Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0).to_string()
                }
            },
            ClientAddress::Hashed(key) => {
                let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
                    return "h:unavailable".to_owned();
                };
                mac.update(ip.to_string().as_bytes());
                let digest = mac.finalize().into_bytes();
                let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
                format!("h:{hex}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_the_network_and_hashing_tells_clients_apart() {
        let addr: SocketAddr = "203.0.113.77:51234".parse().expect("addr");
        assert_eq!(ClientAddress::Full.socket_text(addr), "203.0.113.77:51234");
        assert_eq!(ClientAddress::Truncated.socket_text(addr), "203.0.113.0");
        let v6: IpAddr = "2001:db8:1:2:3:4:5:6".parse().expect("v6");
        assert_eq!(ClientAddress::Truncated.ip_text(v6), "2001:db8:1::");
        let hashed = ClientAddress::Hashed(b"k".to_vec());
        let one = hashed.socket_text(addr);
        assert!(one.starts_with("h:") && one.len() == 18, "{one}");
        assert_eq!(
            one,
            hashed.ip_text(addr.ip()),
            "the port does not change it"
        );
        assert_ne!(one, hashed.ip_text("203.0.113.78".parse().expect("ip")));
        assert_ne!(
            one,
            ClientAddress::Hashed(b"other".to_vec()).ip_text(addr.ip())
        );
    }
}
