//! The `cache` plugin through the real gateway, in front of an upstream the
//! test controls: it answers by path with the caching headers each case
//! needs, counts the requests it serves and records their validators.

use crate::support;
use crate::support::origin;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use support::builder::{Cap, Gateway, plugin};
use support::{TestGateway, TestResponse};

/// What the upstream saw.
#[derive(Default)]
struct Seen {
    /// Requests served, by path.
    hits: HashMap<String, usize>,
    /// `If-None-Match` of each request, in order, by path.
    if_none_match: HashMap<String, Vec<Option<String>>>,
}

#[derive(Clone, Default)]
struct Upstream(Arc<Mutex<Seen>>);

impl Upstream {
    fn hits(&self, path: &str) -> usize {
        self.0.lock().unwrap().hits.get(path).copied().unwrap_or(0)
    }

    fn if_none_match(&self, path: &str) -> Vec<Option<String>> {
        let seen = self.0.lock().unwrap();
        seen.if_none_match.get(path).cloned().unwrap_or_default()
    }

    /// The upstream's answer: the path picks the caching headers.
    fn answer(&self, request: &Request<Incoming>) -> Response<Full<Bytes>> {
        let path = request.uri().path().to_owned();
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let inm = header("if-none-match");
        let count = {
            let mut seen = self.0.lock().unwrap();
            seen.if_none_match
                .entry(path.clone())
                .or_default()
                .push(inm.clone());
            let count = seen.hits.entry(path.clone()).or_default();
            *count += 1;
            *count
        };
        let response = Response::builder().header("x-count", count);
        let (response, body) = match path.as_str() {
            "/fresh" | "/auth" => (
                response.header("cache-control", "max-age=60"),
                format!("fresh {count}"),
            ),
            "/expiring" => (
                response.header("cache-control", "max-age=1"),
                format!("expiring {count}"),
            ),
            "/etag" if inm.as_deref() == Some("\"v1\"") => {
                let not_modified = response
                    .status(StatusCode::NOT_MODIFIED)
                    .header("cache-control", "max-age=60")
                    .header("etag", "\"v1\"");
                (not_modified, String::new())
            }
            "/etag" => (
                response
                    .header("cache-control", "max-age=1")
                    .header("etag", "\"v1\""),
                format!("etag body {count}"),
            ),
            "/vary" => {
                let lang = header("x-lang").unwrap_or_default();
                let varied = response
                    .header("cache-control", "max-age=60")
                    .header("vary", "X-Lang");
                (varied, format!("lang {lang} {count}"))
            }
            "/tagged" => (
                response
                    .header("cache-control", "max-age=60")
                    .header("etag", "\"t1\""),
                format!("tagged {count}"),
            ),
            "/no-store" => (
                response.header("cache-control", "no-store, max-age=60"),
                format!("{count}"),
            ),
            "/private" => (
                response.header("cache-control", "private, max-age=60"),
                format!("{count}"),
            ),
            "/auth-public" => (
                response.header("cache-control", "public, max-age=60"),
                format!("{count}"),
            ),
            _ => (response.status(StatusCode::NOT_FOUND), String::new()),
        };
        response.body(Full::new(Bytes::from(body))).unwrap()
    }
}

/// The upstream and a gateway whose only route caches.
async fn cached() -> (Upstream, TestGateway) {
    let upstream = Upstream::default();
    let answering = upstream.clone();
    let addr: SocketAddr = origin::origin(move |request| {
        let response = answering.answer(&request);
        async move { response }
    })
    .await;
    let gw = Gateway::builder()
        .upstream("origin", &[addr])
        .route("cached", |r| {
            r.plugin(plugin("cache").grant([Cap::Cache, Cap::Clock, Cap::Metrics]))
        })
        .start()
        .await;
    (upstream, gw)
}

fn cache_status(response: &TestResponse) -> &str {
    response.header("cache-status").unwrap_or_default()
}

async fn get(gw: &TestGateway, path: &str, headers: &[(&str, &str)]) -> TestResponse {
    gw.send(Method::GET, path, headers, "").await
}

#[tokio::test]
async fn a_fresh_response_is_served_from_the_cache() {
    let (upstream, gw) = cached().await;
    let first = gw.get("/fresh").await;
    assert_eq!(
        (first.status, first.body.as_ref()),
        (StatusCode::OK, &b"fresh 1"[..])
    );
    assert_eq!(cache_status(&first), "portico; fwd=miss; stored");
    assert_eq!(first.header("age"), None);

    let second = gw.get("/fresh").await;
    assert_eq!(second.status, StatusCode::OK);
    assert_eq!(second.body, "fresh 1", "the stored body");
    assert_eq!(second.header("x-count"), Some("1"));
    assert_eq!(
        upstream.hits("/fresh"),
        1,
        "the upstream was not asked again"
    );
    assert!(
        second
            .header("age")
            .is_some_and(|age| age.parse::<u64>().is_ok())
    );
    assert!(
        cache_status(&second).starts_with("portico; hit; ttl="),
        "{}",
        cache_status(&second)
    );

    let head = gw.send(Method::HEAD, "/fresh", &[], "").await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(
        head.body.is_empty(),
        "HEAD is answered from the GET entry, without a body"
    );
    assert_eq!(head.header("content-length"), Some("7"));
    assert!(cache_status(&head).starts_with("portico; hit"));
    assert_eq!(upstream.hits("/fresh"), 1);
}

#[tokio::test]
async fn an_expired_response_is_fetched_again() {
    let (upstream, gw) = cached().await;
    assert_eq!(gw.get("/expiring").await.body, "expiring 1");
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let again = gw.get("/expiring").await;
    assert_eq!(again.body, "expiring 2");
    assert_eq!(upstream.hits("/expiring"), 2);
    assert_eq!(cache_status(&again), "portico; fwd=miss; stored");
}

#[tokio::test]
async fn a_stale_entry_is_revalidated_and_a_304_refreshes_it() {
    let (upstream, gw) = cached().await;
    assert_eq!(gw.get("/etag").await.body, "etag body 1");
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let revalidated = gw.get("/etag").await;
    assert_eq!(
        revalidated.status,
        StatusCode::OK,
        "the client gets the full response"
    );
    assert_eq!(revalidated.body, "etag body 1");
    assert_eq!(revalidated.header("content-length"), Some("11"));
    assert_eq!(revalidated.header("etag"), Some("\"v1\""));
    assert_eq!(
        revalidated.header("cache-control"),
        Some("max-age=60"),
        "merged from the 304"
    );
    assert!(
        cache_status(&revalidated).starts_with("portico; fwd=stale; fwd-status=304; stored"),
        "{}",
        cache_status(&revalidated)
    );
    assert_eq!(
        upstream.if_none_match("/etag"),
        [None, Some("\"v1\"".to_owned())],
        "the upstream saw the stored validator"
    );

    let fresh_again = gw.get("/etag").await;
    assert_eq!(fresh_again.body, "etag body 1");
    assert!(cache_status(&fresh_again).starts_with("portico; hit"));
    assert_eq!(upstream.hits("/etag"), 2);
}

#[tokio::test]
async fn vary_keeps_an_entry_per_header_value() {
    let (upstream, gw) = cached().await;
    let en = get(&gw, "/vary", &[("x-lang", "en")]).await;
    let fr = get(&gw, "/vary", &[("x-lang", "fr")]).await;
    assert_eq!(
        (en.body.as_ref(), fr.body.as_ref()),
        (&b"lang en 1"[..], &b"lang fr 2"[..])
    );
    assert_eq!(cache_status(&fr), "portico; fwd=vary-miss; stored");
    for _ in 0..2 {
        assert_eq!(
            get(&gw, "/vary", &[("x-lang", "fr")]).await.body,
            "lang fr 2"
        );
        assert_eq!(
            get(&gw, "/vary", &[("x-lang", "en")]).await.body,
            "lang en 1"
        );
    }
    assert_eq!(upstream.hits("/vary"), 2, "two entries, both hit");
}

#[tokio::test]
async fn no_store_and_private_responses_are_not_stored() {
    let (upstream, gw) = cached().await;
    for (path, detail) in [("/no-store", "no-store"), ("/private", "private")] {
        for n in 1..=2 {
            let response = gw.get(path).await;
            assert_eq!(response.body, n.to_string());
            assert_eq!(
                cache_status(&response),
                format!("portico; fwd=miss; detail={detail}")
            );
        }
        assert_eq!(upstream.hits(path), 2, "{path}");
    }
}

#[tokio::test]
async fn authorized_requests_are_stored_only_when_the_response_is_public() {
    let (upstream, gw) = cached().await;
    let auth = [("authorization", "Bearer alice")];
    for n in 1..=2 {
        let response = get(&gw, "/auth", &auth).await;
        assert_eq!(response.body, format!("fresh {n}"));
        assert_eq!(
            cache_status(&response),
            "portico; fwd=miss; detail=authorization"
        );
    }
    assert_eq!(upstream.hits("/auth"), 2);

    let first = get(&gw, "/auth-public", &auth).await;
    assert_eq!(cache_status(&first), "portico; fwd=miss; stored");
    let second = get(&gw, "/auth-public", &[("authorization", "Bearer bob")]).await;
    assert_eq!(second.body, "1");
    assert!(cache_status(&second).starts_with("portico; hit"));
    assert_eq!(upstream.hits("/auth-public"), 1);
}

#[tokio::test]
async fn a_client_conditional_is_answered_with_304_from_the_cache() {
    let (upstream, gw) = cached().await;
    gw.get("/tagged").await;
    let not_modified = get(&gw, "/tagged", &[("if-none-match", "\"t1\"")]).await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    assert!(not_modified.body.is_empty());
    assert_eq!(not_modified.header("etag"), Some("\"t1\""));
    let other = get(&gw, "/tagged", &[("if-none-match", "\"t0\"")]).await;
    assert_eq!(
        (other.status, other.body.as_ref()),
        (StatusCode::OK, &b"tagged 1"[..])
    );
    assert_eq!(upstream.hits("/tagged"), 1);
}
