//! The directive matrix on the SDK's mock host, whose clock the tests move.

use std::time::Duration;

use portico_sdk::testing::{MockHost, MockPlugin, MockRequest, MockResponse};
use serde_json::{Value, json};

use super::*;
use crate::freshness::format_date;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Wall clock at a new mock host.
const T0: u64 = 1_700_000_000_000;

fn load(config: Value) -> Result<(MockHost, MockPlugin<Cache>), portico_sdk::ConfigError> {
    let host = MockHost::with_grants(&["cache", "clock", "metrics"]);
    let plugin = host.load::<Cache>(config)?;
    Ok((host, plugin))
}

fn get(target: &str) -> MockRequest {
    MockRequest::get(target).authority("api.test")
}

/// A 200 with `body`, its length, and `headers`.
fn ok(body: &str, headers: &[(&str, &str)]) -> MockResponse {
    let res = MockResponse::new(200)
        .header("content-length", &body.len().to_string())
        .body(body);
    headers.iter().fold(res, |res, (n, v)| res.header(n, v))
}

/// What one request did.
struct Exchange {
    /// What the client got.
    res: MockResponse,
    /// The request as forwarded upstream; `None` when answered from cache.
    upstream: Option<MockRequest>,
}

impl Exchange {
    fn status_header(&self) -> &str {
        self.res.header_value("cache-status").unwrap_or_default()
    }
}

/// Runs `req` through the plugin; `upstream` answers if it is forwarded.
fn send(
    plugin: &mut MockPlugin<Cache>,
    mut req: MockRequest,
    upstream: impl FnOnce(&MockRequest) -> MockResponse,
) -> Result<Exchange, Error> {
    match plugin.on_request(&mut req)? {
        Action::Respond(reply) => {
            let mut res = MockResponse::from_reply(&reply);
            plugin.on_response(&mut res)?;
            Ok(Exchange {
                res,
                upstream: None,
            })
        }
        Action::Continue => {
            let mut res = upstream(&req);
            plugin.on_response(&mut res)?;
            Ok(Exchange {
                res,
                upstream: Some(req),
            })
        }
    }
}

fn never(_: &MockRequest) -> MockResponse {
    panic!("forwarded a request the cache should have answered")
}

#[test]
fn fresh_responses_are_hits_with_age_until_they_expire() -> TestResult {
    let (host, mut plugin) = load(json!({}))?;
    let first = send(&mut plugin, get("/a?x=1"), |_| {
        ok("hello", &[("cache-control", "max-age=60")])
    })?;
    assert_eq!(first.status_header(), "portico; fwd=miss; stored");

    host.advance(Duration::from_secs(10));
    let hit = send(&mut plugin, get("/a?x=1"), never)?;
    assert_eq!(hit.res.status().as_u16(), 200);
    assert_eq!(hit.res.body_bytes(), b"hello");
    assert_eq!(hit.res.header_value("age"), Some("10"));
    assert_eq!(hit.res.header_value("cache-control"), Some("max-age=60"));
    assert_eq!(hit.status_header(), "portico; hit; ttl=50");

    let other_query = send(&mut plugin, get("/a?x=2"), |_| ok("other", &[]))?;
    assert_eq!(
        other_query.status_header(),
        "portico; fwd=miss; detail=no-freshness"
    );
    let other_host = send(&mut plugin, get("/a?x=1").authority("b.test"), |_| {
        ok("b", &[])
    })?;
    assert!(other_host.upstream.is_some(), "the host is part of the key");

    host.advance(Duration::from_secs(51));
    let expired = send(&mut plugin, get("/a?x=1"), |_| ok("new", &[]))?;
    assert_eq!(expired.res.body_bytes(), b"new");
    assert_eq!(
        expired.status_header(),
        "portico; fwd=miss; detail=no-freshness",
        "no validator: the host dropped the entry with its freshness"
    );
    Ok(())
}

#[test]
fn s_maxage_wins_and_expires_counts_from_date() -> TestResult {
    let (host, mut plugin) = load(json!({}))?;
    send(&mut plugin, get("/s"), |_| {
        ok("s", &[("cache-control", "max-age=600, s-maxage=5")])
    })?;
    let date = format_date(T0 - 10_000);
    let expires = format_date(T0 + 20_000);
    send(&mut plugin, get("/e"), |_| {
        ok("e", &[("date", &date), ("expires", &expires)])
    })?;
    let hit = send(&mut plugin, get("/e"), never)?;
    assert_eq!(hit.status_header(), "portico; hit; ttl=20");
    assert_eq!(
        hit.res.header_value("age"),
        Some("10"),
        "apparent age from Date"
    );

    host.advance(Duration::from_secs(6));
    let stale = send(&mut plugin, get("/s"), |_| ok("s2", &[]))?;
    assert!(stale.upstream.is_some(), "s-maxage=5 beats max-age=600");
    assert!(send(&mut plugin, get("/e"), never)?.upstream.is_none());
    host.advance(Duration::from_secs(15));
    assert!(
        send(&mut plugin, get("/e"), |_| ok("e2", &[]))?
            .upstream
            .is_some()
    );
    Ok(())
}

#[test]
fn upstream_age_counts_against_freshness() -> TestResult {
    let (_host, mut plugin) = load(json!({}))?;
    send(&mut plugin, get("/"), |_| {
        ok("x", &[("cache-control", "max-age=100"), ("age", "30")])
    })?;
    let hit = send(&mut plugin, get("/"), never)?;
    assert_eq!(hit.res.header_value("age"), Some("30"));
    assert_eq!(hit.status_header(), "portico; hit; ttl=70");
    Ok(())
}

#[test]
fn responses_that_must_not_be_stored() -> TestResult {
    let cases: [(&str, MockRequest, MockResponse); 11] = [
        (
            "no-store",
            get("/"),
            ok("x", &[("cache-control", "max-age=60, no-store")]),
        ),
        (
            "private",
            get("/"),
            ok("x", &[("cache-control", "private, max-age=60")]),
        ),
        (
            "private",
            get("/"),
            ok("x", &[("cache-control", "max-age=60, private=\"x-user\"")]),
        ),
        (
            "vary-star",
            get("/"),
            ok(
                "x",
                &[("cache-control", "max-age=60"), ("vary", "accept, *")],
            ),
        ),
        (
            "set-cookie",
            get("/"),
            ok(
                "x",
                &[("cache-control", "max-age=60"), ("set-cookie", "a=b")],
            ),
        ),
        (
            "authorization",
            get("/").header("authorization", "Bearer t"),
            ok("x", &[("cache-control", "max-age=60")]),
        ),
        (
            "request-no-store",
            get("/").header("cache-control", "no-store"),
            ok("x", &[("cache-control", "max-age=60")]),
        ),
        ("no-freshness", get("/"), ok("x", &[])),
        (
            "too-large",
            get("/"),
            ok("12345", &[("cache-control", "max-age=60")]),
        ),
        (
            "no-length",
            get("/"),
            MockResponse::new(200)
                .header("cache-control", "max-age=60")
                .body("x"),
        ),
        (
            "status",
            get("/"),
            MockResponse::new(500).header("content-length", "0"),
        ),
    ];
    for (detail, req, res) in cases {
        let (_host, mut plugin) = load(json!({ "max_body_bytes": 4 }))?;
        let first = send(&mut plugin, req, |_| res.clone())?;
        assert_eq!(
            first.status_header(),
            format!("portico; fwd=miss; detail={detail}"),
            "{res:?}"
        );
        let again = send(&mut plugin, get("/"), |_| ok("y", &[]))?;
        assert!(again.upstream.is_some(), "{detail}: not stored");
    }
    Ok(())
}

#[test]
fn authorization_is_stored_when_the_response_allows_sharing() -> TestResult {
    for cc in [
        "public, max-age=60",
        "s-maxage=60",
        "max-age=60, must-revalidate",
    ] {
        let (_host, mut plugin) = load(json!({}))?;
        let req = get("/me").header("authorization", "Bearer t");
        let first = send(&mut plugin, req, |_| ok("shared", &[("cache-control", cc)]))?;
        assert_eq!(first.status_header(), "portico; fwd=miss; stored", "{cc}");
        let hit = send(&mut plugin, get("/me"), never)?;
        assert_eq!(hit.res.body_bytes(), b"shared");
    }
    Ok(())
}

#[test]
fn stale_entries_revalidate_and_a_304_refreshes_them() -> TestResult {
    let (host, mut plugin) = load(json!({}))?;
    send(&mut plugin, get("/r"), |_| {
        ok(
            "body-v1",
            &[
                ("cache-control", "max-age=1"),
                ("etag", "\"v1\""),
                ("last-modified", "Sun, 06 Nov 1994 08:49:37 GMT"),
                ("x-kept", "stored"),
                ("x-replaced", "old"),
            ],
        )
    })?;
    host.advance(Duration::from_secs(2));
    let client = get("/r").header("if-none-match", "\"client-tag\"");
    let revalidated = send(&mut plugin, client, |forwarded| {
        assert_eq!(forwarded.header_value("if-none-match"), Some("\"v1\""));
        assert_eq!(
            forwarded.header_value("if-modified-since"),
            Some("Sun, 06 Nov 1994 08:49:37 GMT")
        );
        MockResponse::new(304)
            .header("cache-control", "max-age=30")
            .header("etag", "\"v1\"")
            .header("x-replaced", "new")
    })?;
    let res = &revalidated.res;
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.body_bytes(), b"body-v1");
    assert_eq!(res.header_value("content-length"), Some("7"));
    assert_eq!(res.header_value("x-kept"), Some("stored"));
    assert_eq!(res.header_values("x-replaced"), ["new"]);
    assert_eq!(
        revalidated.status_header(),
        "portico; fwd=stale; fwd-status=304; stored; ttl=30"
    );

    host.advance(Duration::from_secs(5));
    let hit = send(&mut plugin, get("/r"), never)?;
    assert_eq!(hit.status_header(), "portico; hit; ttl=25");
    assert_eq!(hit.res.header_value("cache-control"), Some("max-age=30"));

    // Each lookup counted once, by its result.
    let lookups = |result| host.counter("lookups", &[("result", result)]);
    assert_eq!(
        (lookups("miss"), lookups("revalidated"), lookups("hit")),
        (1, 1, 1)
    );
    Ok(())
}

#[test]
fn a_200_on_revalidation_replaces_the_entry() -> TestResult {
    let (host, mut plugin) = load(json!({}))?;
    let v1 = [("cache-control", "max-age=1"), ("etag", "\"v1\"")];
    send(&mut plugin, get("/r"), |_| ok("one", &v1))?;
    host.advance(Duration::from_secs(2));
    let v2 = [("cache-control", "max-age=60"), ("etag", "\"v2\"")];
    let replaced = send(&mut plugin, get("/r"), |_| ok("two", &v2))?;
    assert_eq!(replaced.status_header(), "portico; fwd=stale; stored");
    let hit = send(&mut plugin, get("/r"), never)?;
    assert_eq!(
        (hit.res.body_bytes(), hit.res.header_value("etag")),
        (&b"two"[..], Some("\"v2\""))
    );

    host.advance(Duration::from_secs(61));
    let gone = send(&mut plugin, get("/r"), |_| {
        ok("three", &[("cache-control", "no-store")])
    })?;
    assert_eq!(gone.status_header(), "portico; fwd=stale; detail=no-store");
    let after = send(&mut plugin, get("/r"), |_| ok("four", &[]))?;
    assert_eq!(
        after.status_header(),
        "portico; fwd=miss; detail=no-freshness"
    );
    Ok(())
}

#[test]
fn no_cache_responses_are_stored_but_always_revalidated() -> TestResult {
    let (_host, mut plugin) = load(json!({}))?;
    let first = send(&mut plugin, get("/n"), |_| {
        ok(
            "n",
            &[
                ("cache-control", "no-cache, max-age=60"),
                ("etag", "W/\"n\""),
            ],
        )
    })?;
    assert_eq!(first.status_header(), "portico; fwd=miss; stored");
    let second = send(&mut plugin, get("/n"), |forwarded| {
        assert_eq!(forwarded.header_value("if-none-match"), Some("W/\"n\""));
        MockResponse::new(304)
    })?;
    assert_eq!(second.res.body_bytes(), b"n");
    assert_eq!(
        second.status_header(),
        "portico; fwd=stale; fwd-status=304; stored; ttl=0"
    );
    Ok(())
}

#[test]
fn stale_entries_without_validators_stay_for_no_one() -> TestResult {
    let (host, mut plugin) = load(json!({ "stale_margin": "0s" }))?;
    send(&mut plugin, get("/v"), |_| {
        ok("v", &[("cache-control", "max-age=1"), ("etag", "\"v\"")])
    })?;
    host.advance(Duration::from_secs(2));
    let res = send(&mut plugin, get("/v"), |forwarded| {
        assert_eq!(forwarded.header_value("if-none-match"), None);
        ok("v", &[])
    })?;
    assert_eq!(
        res.status_header(),
        "portico; fwd=miss; detail=no-freshness"
    );
    Ok(())
}

#[test]
fn vary_keeps_one_entry_per_header_value() -> TestResult {
    let (_host, mut plugin) = load(json!({}))?;
    let upstream = |forwarded: &MockRequest| {
        let lang = forwarded.header_value("accept-language").unwrap_or("none");
        ok(
            lang,
            &[("cache-control", "max-age=60"), ("vary", "Accept-Language")],
        )
    };
    for lang in ["en", "fr"] {
        let req = get("/v").header("accept-language", lang);
        let miss = send(&mut plugin, req, upstream)?;
        let expected = if lang == "en" { "miss" } else { "vary-miss" };
        assert_eq!(
            miss.status_header(),
            format!("portico; fwd={expected}; stored")
        );
    }
    for lang in ["fr", "en"] {
        let hit = send(
            &mut plugin,
            get("/v").header("accept-language", lang),
            never,
        )?;
        assert_eq!(hit.res.body_bytes(), lang.as_bytes());
    }
    let without = send(&mut plugin, get("/v"), upstream)?;
    assert_eq!(without.status_header(), "portico; fwd=vary-miss; stored");
    assert_eq!(
        send(&mut plugin, get("/v"), never)?.res.body_bytes(),
        b"none"
    );
    Ok(())
}

#[test]
fn request_directives() -> TestResult {
    let (host, mut plugin) = load(json!({}))?;
    send(&mut plugin, get("/d"), |_| {
        ok("d", &[("cache-control", "max-age=10"), ("etag", "\"d\"")])
    })?;
    for cc in ["no-cache", "max-age=2", "min-fresh=6"] {
        // Each 304 refreshes the entry: it is 5 s old, 5 s of freshness left.
        host.advance(Duration::from_secs(5));
        let req = get("/d").header("cache-control", cc);
        let forced = send(&mut plugin, req, |forwarded| {
            assert_eq!(
                forwarded.header_value("if-none-match"),
                Some("\"d\""),
                "{cc}"
            );
            MockResponse::new(304)
        })?;
        let status = forced.status_header();
        assert!(
            status.starts_with("portico; fwd=request; fwd-status=304"),
            "{cc}: {status}"
        );
    }
    let pragma = send(&mut plugin, get("/d").header("pragma", "no-cache"), |_| {
        MockResponse::new(304)
    })?;
    assert!(pragma.upstream.is_some());
    let fine = get("/d").header("cache-control", "max-age=60, min-fresh=1");
    assert!(send(&mut plugin, fine, never)?.upstream.is_none());

    host.advance(Duration::from_secs(15));
    let relaxed = get("/d").header("cache-control", "max-stale=30");
    let stale_hit = send(&mut plugin, relaxed, never)?;
    assert_eq!(stale_hit.status_header(), "portico; hit; ttl=-5");

    let only = get("/other").header("cache-control", "only-if-cached");
    let refused = send(&mut plugin, only, never)?;
    assert_eq!(refused.res.status().as_u16(), 504);
    assert_eq!(refused.status_header(), "portico; detail=only-if-cached");
    Ok(())
}

#[test]
fn must_revalidate_forbids_serving_stale() -> TestResult {
    let (host, mut plugin) = load(json!({}))?;
    send(&mut plugin, get("/m"), |_| {
        ok(
            "m",
            &[
                ("cache-control", "max-age=1, must-revalidate"),
                ("etag", "\"m\""),
            ],
        )
    })?;
    host.advance(Duration::from_secs(3));
    let req = get("/m").header("cache-control", "max-stale");
    let res = send(&mut plugin, req, |_| MockResponse::new(304))?;
    assert!(res.upstream.is_some());
    Ok(())
}

#[test]
fn client_conditionals_are_answered_from_the_cache() -> TestResult {
    let (_host, mut plugin) = load(json!({}))?;
    send(&mut plugin, get("/c"), |_| {
        ok(
            "c",
            &[
                ("cache-control", "max-age=60"),
                ("etag", "\"c\""),
                ("content-type", "text/plain"),
            ],
        )
    })?;
    let inm = send(
        &mut plugin,
        get("/c").header("if-none-match", "\"x\", \"c\""),
        never,
    )?;
    assert_eq!(inm.res.status().as_u16(), 304);
    assert!(inm.res.body_bytes().is_empty());
    assert_eq!(inm.res.header_value("etag"), Some("\"c\""));
    assert_eq!(inm.res.header_value("content-type"), None);
    assert_eq!(inm.res.header_value("content-length"), None);
    assert_eq!(inm.status_header(), "portico; hit; ttl=60");
    let other = send(
        &mut plugin,
        get("/c").header("if-none-match", "\"x\""),
        never,
    )?;
    assert_eq!(other.res.status().as_u16(), 200);
    Ok(())
}

#[test]
fn head_uses_get_entries_and_unsafe_methods_invalidate() -> TestResult {
    let (_host, mut plugin) = load(json!({}))?;
    let head = MockRequest::new(Method::HEAD, "/h").authority("api.test");
    let miss = send(&mut plugin, head.clone(), |_| {
        MockResponse::new(200)
            .header("cache-control", "max-age=60")
            .header("content-length", "4")
    })?;
    assert_eq!(miss.status_header(), "portico; fwd=miss; detail=head");
    send(&mut plugin, get("/h"), |_| {
        ok("body", &[("cache-control", "max-age=60")])
    })?;
    assert_eq!(
        send(&mut plugin, head, never)?.status_header(),
        "portico; hit; ttl=60"
    );

    let post = MockRequest::post("/h").authority("api.test");
    let posted = send(&mut plugin, post, |_| MockResponse::new(201))?;
    assert_eq!(posted.status_header(), "portico; fwd=method");
    assert!(
        send(&mut plugin, get("/h"), |_| ok("new", &[]))?
            .upstream
            .is_some()
    );
    Ok(())
}

#[test]
fn configured_methods_and_ranges_bypass() -> TestResult {
    let (_host, mut plugin) = load(json!({ "methods": ["GET"], "cache_name": "edge-1" }))?;
    let head = MockRequest::new(Method::HEAD, "/");
    assert_eq!(
        send(&mut plugin, head, |_| MockResponse::new(200))?.status_header(),
        "edge-1; fwd=method"
    );
    let range = get("/").header("range", "bytes=0-1");
    let res = send(&mut plugin, range, |_| {
        ok("x", &[("cache-control", "max-age=9")])
    })?;
    assert_eq!(res.status_header(), "edge-1; fwd=bypass; detail=range");
    Ok(())
}

#[test]
fn a_validator_mismatch_drops_the_entry() -> TestResult {
    let (host, mut plugin) = load(json!({}))?;
    send(&mut plugin, get("/x"), |_| {
        ok("x", &[("cache-control", "max-age=1"), ("etag", "\"a\"")])
    })?;
    host.advance(Duration::from_secs(2));
    let res = send(&mut plugin, get("/x"), |_| {
        MockResponse::new(304).header("etag", "\"b\"")
    })?;
    assert_eq!(
        res.status_header(),
        "portico; fwd=stale; detail=validator-mismatch"
    );
    let next = send(&mut plugin, get("/x"), |f| {
        assert_eq!(f.header_value("if-none-match"), None);
        ok("y", &[])
    })?;
    assert!(next.upstream.is_some());
    Ok(())
}

#[test]
fn config_errors_name_the_key() {
    let error = |config: Value| match load(config) {
        Ok(_) => panic!("config accepted"),
        Err(err) => (err.key().to_owned(), err.message().to_owned()),
    };
    let (key, message) = error(json!({ "methods": ["GET", "POST"] }));
    assert_eq!(key, "methods");
    assert!(message.contains("\"POST\" is not cacheable"), "{message}");
    assert_eq!(error(json!({ "methods": [] })).0, "methods");
    assert_eq!(error(json!({ "max_body_bytes": 0 })).0, "max_body_bytes");
    assert_eq!(
        error(json!({ "max_body_bytes": 9_000_000 })).0,
        "max_body_bytes"
    );
    assert_eq!(error(json!({ "cache_name": "two words" })).0, "cache_name");
    assert_eq!(error(json!({ "stale_margin": -1 })).0, "stale_margin");
    assert_eq!(error(json!({ "stale_margin": "10" })).0, "stale_margin");
    assert_eq!(
        error(json!({ "stale_margin_secs": 600 })).0,
        "stale_margin_secs",
        "the old spelling is an unknown key"
    );
    assert_eq!(error(json!({ "ttl": 5 })).0, "ttl");
}
