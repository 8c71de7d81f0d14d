//! Validation of `[upstreams.<name>]` tables beyond what their types say.

use super::upstream::{Balance, DnsRecordKind, HashOn, UpstreamConfig};

/// Problems found: a key relative to `upstreams.<name>` and a message.
pub(crate) type Problems = Vec<(String, String)>;

/// Checks one upstream, collecting every problem.
pub fn check(upstream: &UpstreamConfig) -> Problems {
    let mut found = Problems::new();
    let mut add = |key: &str, message: String| found.push((key.to_owned(), message));
    let sources = [
        !upstream.targets.is_empty(),
        upstream.file.is_some(),
        upstream.dns.is_some(),
        upstream.etcd.is_some(),
    ];
    match sources.iter().filter(|s| **s).count() {
        0 => add(
            "targets",
            "at least one target is required (or `file`, `dns` or `etcd`)".into(),
        ),
        1 => {}
        _ => add(
            "",
            "give exactly one of `targets`, `file`, `dns` and `etcd`".into(),
        ),
    }
    let breaker = upstream.circuit_breaker;
    if breaker.max_requests == 0 {
        add("circuit_breaker.max_requests", "must be at least 1".into());
    }
    if breaker.max_pending == 0 {
        add("circuit_breaker.max_pending", "must be at least 1".into());
    }
    for (i, target) in upstream.targets.iter().enumerate() {
        if let Some(problem) = target.problem() {
            add(&format!("targets[{i}]"), problem.to_owned());
        }
    }
    if let Some(file) = &upstream.file
        && file.interval_ms == 0
    {
        add("file.interval_ms", "must be at least 1".into());
    }
    if let Some(dns) = &upstream.dns {
        if dns.name.trim().is_empty() {
            add("dns.name", "must not be empty".into());
        }
        match (dns.kind, dns.port) {
            (DnsRecordKind::A, None) => add("dns.port", "required for `type = \"a\"`".into()),
            (DnsRecordKind::Srv, Some(_)) => {
                add("dns.port", "SRV records carry their own ports".into())
            }
            _ => {}
        }
        if dns.interval_ms == Some(0) {
            add("dns.interval_ms", "must be at least 1".into());
        }
    }
    match (&upstream.balance, &upstream.hash_on) {
        (Balance::ConsistentHash, None) => add(
            "hash_on",
            "required by `balance = \"consistent_hash\"`".into(),
        ),
        (Balance::ConsistentHash, Some(HashOn::Header(name))) => {
            if let Some(problem) = name.problem() {
                add("hash_on.header", problem.to_owned());
            }
        }
        (Balance::ConsistentHash, Some(HashOn::Cookie(name))) if name.is_empty() => {
            add("hash_on.cookie", "must not be empty".into())
        }
        (Balance::ConsistentHash, Some(_)) => {}
        (_, Some(_)) => add(
            "hash_on",
            "only used with `balance = \"consistent_hash\"`".into(),
        ),
        (_, None) => {}
    }
    for (key, value) in [
        ("connect_timeout_ms", upstream.connect_timeout_ms),
        ("response_timeout_ms", upstream.response_timeout_ms),
        ("idle_timeout_ms", upstream.idle_timeout_ms),
        ("retry_budget.window_ms", upstream.retry_budget.window_ms),
    ] {
        if value == 0 {
            add(key, "must be at least 1".into());
        }
    }
    let ratio = upstream.retry_budget.ratio;
    if !(0.0..=1.0).contains(&ratio) {
        add("retry_budget.ratio", "must be between 0 and 1".into());
    }
    if let Some(health) = &upstream.health {
        if !health.path.starts_with('/') {
            add(
                "health.path",
                format!("`{}` must start with `/`", health.path),
            );
        }
        for (key, value) in [
            ("health.interval_ms", health.interval_ms),
            ("health.timeout_ms", health.timeout_ms),
            ("health.healthy_threshold", health.healthy_threshold.into()),
            (
                "health.unhealthy_threshold",
                health.unhealthy_threshold.into(),
            ),
        ] {
            if value == 0 {
                add(key, "must be at least 1".into());
            }
        }
        for (i, status) in health.expected_status.iter().enumerate() {
            if !(100..=599).contains(status) {
                add(
                    &format!("health.expected_status[{i}]"),
                    format!("{status} is not an HTTP status"),
                );
            }
        }
    }
    let outlier = &upstream.outlier;
    if outlier.consecutive_failures > 0 {
        if outlier.ejection_ms == 0 {
            add("outlier.ejection_ms", "must be at least 1".into());
        }
        if outlier.max_ejection_ms < outlier.ejection_ms {
            add(
                "outlier.max_ejection_ms",
                "must be at least `ejection_ms`".into(),
            );
        }
    }
    if let Some(tls) = &upstream.tls {
        if tls.client_cert.is_some() != tls.client_key.is_some() {
            add("tls", "`client_cert` and `client_key` go together".into());
        }
        if let Some(name) = &tls.server_name
            && rustls::pki_types::ServerName::try_from(name.as_str()).is_err()
        {
            add("tls.server_name", format!("`{name}` is not a server name"));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::parse;

    const PRELUDE: &str = "version = 1\n[[listeners]]\nname = \"l\"\naddr = \"127.0.0.1:0\"\n";

    fn errors(upstream: &str) -> Vec<String> {
        let text = format!("{PRELUDE}\n[upstreams.u]\n{upstream}\n");
        match parse(Path::new("p.toml"), &text) {
            Ok(_) => Vec::new(),
            Err(errors) => errors
                .0
                .into_iter()
                .map(|e| format!("{}: {}", e.key, e.message))
                .collect(),
        }
    }

    #[test]
    fn every_documented_key_parses() {
        let full = r#"
targets = ["10.0.0.5:8080", "10.0.0.6:8080 2"]
balance = "consistent_hash"
hash_on = { cookie = "sid" }
connect_timeout_ms = 2000
response_timeout_ms = 30000
idle_timeout_ms = 90000
max_idle_per_target = 64
retries = 1
retry_budget = { ratio = 0.2, min_per_sec = 10, window_ms = 10000 }
protocol = "h2"
outlier = { consecutive_failures = 5, ejection_ms = 10000, max_ejection_ms = 300000 }
health = { path = "/", interval_ms = 5000, timeout_ms = 1000, expected_status = [200], healthy_threshold = 2, unhealthy_threshold = 3 }
tls = { ca_file = "ca.pem", server_name = "users.internal", client_cert = "c.pem", client_key = "c.key" }
"#;
        assert_eq!(errors(full), Vec::<String>::new());
        let dns = r#"dns = { name = "_x._tcp.svc.", type = "srv", server = "127.0.0.1:5353", interval_ms = 100 }"#;
        assert_eq!(errors(dns), Vec::<String>::new());
        assert_eq!(
            errors("file = { path = \"t.txt\", interval_ms = 10 }"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn etcd_discovery_needs_a_cluster_and_is_one_source_of_targets() {
        assert_eq!(
            errors("etcd = { prefix = \"/services/u/\" }"),
            [
                "upstreams.u.etcd: needs an `[etcd]` table (or a config read from etcd://) to say which cluster"
            ]
        );
        let text = format!(
            "{PRELUDE}\n[etcd]\nendpoints = [\"127.0.0.1:2379\", \"https://e:2379\", \"nope\"]\ntimeout_ms = 0\nusername = \"u\"\n\n[upstreams.u]\ntargets = [\"10.0.0.1:80\"]\netcd = {{ prefix = \"services\" }}\n"
        );
        let found: Vec<String> = parse(Path::new("p.toml"), &text)
            .expect_err("refused")
            .0
            .into_iter()
            .map(|e| format!("{}: {}", e.key, e.message))
            .collect();
        assert_eq!(
            found,
            [
                "upstreams.u: give exactly one of `targets`, `file`, `dns` and `etcd`",
                "etcd.endpoints[1]: `https://e:2379`: https:// endpoints are not supported yet (etcd over TLS)",
                "etcd.endpoints[2]: `nope`: must be host:port or http://host:port",
                "etcd.timeout_ms: must be at least 1",
                "etcd.password: required with `username`",
                "upstreams.u.etcd.prefix: `services` must be a key prefix starting with `/`",
            ]
        );
    }

    #[test]
    fn problems_are_reported_with_their_keys() {
        let found = errors(
            r#"
targets = ["a:80 0", "nohost"]
dns = { name = "x.", type = "a" }
hash_on = "client_address"
retry_budget = { ratio = 2.0 }
health = { path = "x", unhealthy_threshold = 0 }
tls = { client_cert = "c.pem", server_name = "bad name" }
"#,
        );
        let keys: Vec<&str> = found.iter().map(|e| e.split(':').next().unwrap()).collect();
        assert_eq!(
            keys,
            [
                "upstreams.u",
                "upstreams.u.targets[0]",
                "upstreams.u.targets[1]",
                "upstreams.u.dns.port",
                "upstreams.u.hash_on",
                "upstreams.u.retry_budget.ratio",
                "upstreams.u.health.path",
                "upstreams.u.health.unhealthy_threshold",
                "upstreams.u.tls",
                "upstreams.u.tls.server_name",
            ],
            "{found:#?}"
        );
        assert!(
            errors("targets = [\"a:80\"]\nbogus = 1")
                .iter()
                .any(|e| e.contains("bogus"))
        );
    }
}
