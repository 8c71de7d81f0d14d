//! The `Cache-Status` field value (RFC 9211) this cache adds.

use std::fmt::Write;

/// One cache's entry in `Cache-Status`, e.g. `portico; hit; ttl=42` or
/// `portico; fwd=miss; stored`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheStatus {
    /// Answered from the cache without contacting the upstream.
    pub hit: bool,
    /// Why the request went upstream: `miss`, `vary-miss`, `stale`,
    /// `request` (its directives required it), `method`, `bypass`.
    pub fwd: Option<&'static str>,
    /// The upstream's status, when the client got another (a 304 that
    /// refreshed the entry).
    pub fwd_status: Option<u16>,
    /// The response was stored (or the stored one refreshed).
    pub stored: bool,
    /// Remaining freshness, seconds (negative when served stale).
    pub ttl: Option<i64>,
    /// Why the response was not stored, e.g. `no-store`.
    pub detail: Option<&'static str>,
}

impl CacheStatus {
    /// A forwarded request's status.
    pub fn forwarded(fwd: &'static str) -> Self {
        CacheStatus {
            fwd: Some(fwd),
            ..CacheStatus::default()
        }
    }

    /// The field value for a cache named `name`.
    pub fn render(&self, name: &str) -> String {
        let mut out = name.to_owned();
        // Writing to a String cannot fail.
        if self.hit {
            out.push_str("; hit");
        }
        if let Some(fwd) = self.fwd {
            let _ = write!(out, "; fwd={fwd}");
        }
        if let Some(status) = self.fwd_status {
            let _ = write!(out, "; fwd-status={status}");
        }
        if self.stored {
            out.push_str("; stored");
        }
        if let Some(ttl) = self.ttl {
            let _ = write!(out, "; ttl={ttl}");
        }
        if let Some(detail) = self.detail {
            let _ = write!(out, "; detail={detail}");
        }
        out
    }
}

/// Milliseconds of freshness as whole seconds, rounded toward zero.
pub fn ttl_secs(ttl_ms: i128) -> i64 {
    i64::try_from(ttl_ms / 1000).unwrap_or(if ttl_ms < 0 { i64::MIN } else { i64::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_parameters_in_order() {
        let hit = CacheStatus {
            hit: true,
            ttl: Some(42),
            ..CacheStatus::default()
        };
        assert_eq!(hit.render("portico"), "portico; hit; ttl=42");
        let refreshed = CacheStatus {
            fwd_status: Some(304),
            stored: true,
            ttl: Some(60),
            ..CacheStatus::forwarded("stale")
        };
        assert_eq!(
            refreshed.render("edge"),
            "edge; fwd=stale; fwd-status=304; stored; ttl=60"
        );
        let refused = CacheStatus {
            detail: Some("no-store"),
            ..CacheStatus::forwarded("miss")
        };
        assert_eq!(refused.render("p"), "p; fwd=miss; detail=no-store");
        assert_eq!((ttl_secs(1_999), ttl_secs(-1_500)), (1, -1));
    }
}
