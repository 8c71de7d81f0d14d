//! A target: one address of an upstream, with its weight and priority.

use std::fmt;

/// Largest weight a target may have.
pub(crate) const MAX_WEIGHT: u32 = 10_000;

/// One address requests can be sent to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// `host:port` (an IPv6 host in brackets).
    pub addr: String,
    /// Relative share of the requests, 1 to `MAX_WEIGHT`.
    pub weight: u32,
    /// Lower is preferred: a target is used only while no target of a lower
    /// priority is available (SRV semantics; 0 for other sources).
    pub priority: u16,
}

/// A target that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not `host:port`.
    #[error("`{0}` is not `host:port` or `host:port weight`")]
    Syntax(String),
    /// The port is not a number from 1 to 65535.
    #[error("`{0}` has no valid port")]
    Port(String),
    /// The weight is not a number from 1 to 10000.
    #[error("`{0}`: the weight must be a number from 1 to {MAX_WEIGHT}")]
    Weight(String),
}

impl Target {
    /// A target with weight 1 and priority 0.
    pub fn new(addr: impl Into<String>) -> Self {
        Target {
            addr: addr.into(),
            weight: 1,
            priority: 0,
        }
    }

    /// Parses `host:port` or `host:port weight`.
    pub fn parse(line: &str) -> Result<Self, TargetError> {
        let mut words = line.split_whitespace();
        let addr = words
            .next()
            .ok_or_else(|| TargetError::Syntax(line.to_owned()))?;
        let (host, port) = addr
            .rsplit_once(':')
            .filter(|(host, _)| !host.is_empty())
            .ok_or_else(|| TargetError::Syntax(line.to_owned()))?;
        let bracketed = host.starts_with('[') && host.ends_with(']');
        if host.contains(':') && !bracketed {
            return Err(TargetError::Syntax(line.to_owned()));
        }
        match port.parse::<u16>() {
            Ok(p) if p > 0 => {}
            _ => return Err(TargetError::Port(line.to_owned())),
        }
        let weight = match words.next() {
            None => 1,
            Some(word) => word
                .parse::<u32>()
                .ok()
                .filter(|w| (1..=MAX_WEIGHT).contains(w))
                .ok_or_else(|| TargetError::Weight(line.to_owned()))?,
        };
        if words.next().is_some() {
            return Err(TargetError::Syntax(line.to_owned()));
        }
        Ok(Target {
            addr: addr.to_owned(),
            weight,
            priority: 0,
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (weight {})", self.addr, self.weight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_addresses_and_weights() {
        assert_eq!(Target::parse("10.0.0.1:80"), Ok(Target::new("10.0.0.1:80")));
        let weighted = Target::parse("  api.internal:8080   3 ").unwrap();
        assert_eq!(
            (weighted.addr.as_str(), weighted.weight),
            ("api.internal:8080", 3)
        );
        assert_eq!(Target::parse("[::1]:80").unwrap().addr, "[::1]:80");
        for bad in [
            "", "host", ":80", "host:0", "host:x", "::1:80", "h:80 0", "h:80 2 3",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
