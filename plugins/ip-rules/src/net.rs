//! Addresses and CIDR ranges from the config.

use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::Deserialize;

/// An address (`192.0.2.7`, `2001:db8::1`) or a CIDR range (`10.0.0.0/8`,
/// `2001:db8::/32`). A range with host bits set (`10.0.0.1/8`) is refused as
/// a likely typo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct Net(IpNet);

impl TryFrom<String> for Net {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let trimmed = text.trim();
        if let Ok(addr) = IpAddr::from_str(trimmed) {
            return Ok(Net(IpNet::from(addr)));
        }
        let net = IpNet::from_str(trimmed).map_err(|_| {
            format!("{text:?} is neither an IP address nor a CIDR range like `10.0.0.0/8`")
        })?;
        if net.trunc() != net {
            return Err(format!(
                "{text:?} has bits set past its prefix length; did you mean `{}`?",
                net.trunc()
            ));
        }
        Ok(Net(net))
    }
}

impl Net {
    /// Whether `addr` is in this range. An IPv4-mapped IPv6 address
    /// (`::ffff:192.0.2.7`) counts as its IPv4 address.
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.0.contains(&addr.to_canonical())
    }
}

/// Whether any of `nets` contains `addr`.
pub fn any_contains(nets: &[Net], addr: IpAddr) -> bool {
    nets.iter().any(|net| net.contains(addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> Net {
        match Net::try_from(text.to_owned()) {
            Ok(net) => net,
            Err(err) => panic!("{err}"),
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn addresses_and_ranges_of_both_families() {
        assert!(net("192.0.2.7").contains(ip("192.0.2.7")));
        assert!(!net("192.0.2.7").contains(ip("192.0.2.8")));
        assert!(net("10.0.0.0/8").contains(ip("10.255.0.1")));
        assert!(!net("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(net("2001:db8::/32").contains(ip("2001:db8:ffff::1")));
        assert!(!net("2001:db8::/32").contains(ip("2001:db9::1")));
        assert!(net("0.0.0.0/0").contains(ip("203.0.113.1")));
        assert!(!net("0.0.0.0/0").contains(ip("::1")), "families do not mix");
        assert!(
            net("127.0.0.1").contains(ip("::ffff:127.0.0.1")),
            "mapped v4"
        );
    }

    #[test]
    fn malformed_entries_are_refused() {
        for bad in ["10.0.0.0/33", "10.0.0", "host.example", "::1/129", ""] {
            assert!(Net::try_from(bad.to_owned()).is_err(), "{bad}");
        }
        let err = Net::try_from("10.0.0.1/8".to_owned()).err();
        assert!(err.is_some_and(|e| e.contains("`10.0.0.0/8`")));
    }
}
