//! Routing and the proxy path through the real gateway: precedence, route
//! params, forwarding headers, errors as problem+json, HTTP/2.

use crate::support;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use support::builder::{Gateway, RouteBuilder};
use support::upstream;

/// One upstream per route, so the upstream that answers names the route.
async fn routed_gateway() -> support::TestGateway {
    type Matcher = fn(RouteBuilder) -> RouteBuilder;
    let routes: [(&str, Matcher); 9] = [
        ("catch-all", |r| r.prefix("/")),
        ("api", |r| r.prefix("/api")),
        ("api-v1", |r| r.prefix("/api/v1")),
        ("user", |r| r.regex(r"/api/v1/users/(?P<id>\d+)")),
        ("user-zero", |r| r.exact("/api/v1/users/0")),
        ("post-api", |r| r.prefix("/api").methods(&["POST"])),
        ("beta", |r| r.prefix("/api").headers(&[("x-beta", "1")])),
        ("wild", |r| r.hosts(&["*.example.com"])),
        ("exact-host", |r| r.hosts(&["api.example.com"])),
    ];
    let mut builder = Gateway::builder();
    for (name, matcher) in routes {
        let addr = upstream(name).await;
        builder = builder
            .upstream(name, &[addr])
            .route(name, |r| matcher(r.upstream(name)));
    }
    builder.start().await
}

/// Method, path, headers, and the route expected to answer.
type Case<'a> = (Method, &'a str, &'a [(&'a str, &'a str)], &'a str);

#[tokio::test]
async fn the_most_specific_route_wins() {
    let gw = routed_gateway().await;
    let cases: &[Case] = &[
        (Method::GET, "/", &[], "catch-all"),
        (Method::GET, "/apix", &[], "catch-all"),
        (Method::GET, "/api", &[], "api"),
        (Method::GET, "/api/things", &[], "api"),
        (Method::POST, "/api/things", &[], "post-api"),
        (Method::GET, "/api/things", &[("x-beta", "1")], "beta"),
        (Method::GET, "/api/v1/things", &[], "api-v1"),
        (Method::GET, "/api/v1/users/42", &[], "user"),
        (Method::GET, "/api/v1/users/0", &[], "user-zero"),
        (Method::GET, "/api/v1/users/abc", &[], "api-v1"),
        (Method::GET, "/api", &[("host", "shop.example.com")], "wild"),
        (
            Method::GET,
            "/api",
            &[("host", "api.example.com:8080")],
            "exact-host",
        ),
        (Method::GET, "/api", &[("host", "example.com")], "api"),
        (Method::GET, "/public/../api/v1/users/7", &[], "user"),
    ];
    for (method, path, headers, expected) in cases {
        let response = gw.send(method.clone(), path, headers, "").await;
        assert_eq!(
            response.status,
            StatusCode::OK,
            "{method} {path} {headers:?}"
        );
        assert_eq!(
            response.header("x-upstream"),
            Some(*expected),
            "{method} {path} {headers:?} should go to route {expected}"
        );
    }
}

#[tokio::test]
async fn no_route_is_a_404_problem() {
    let gw = Gateway::builder()
        .echo("origin")
        .route("only", |r| r.exact("/only"))
        .start()
        .await;
    let problem = gw
        .get("/elsewhere")
        .await
        .problem(StatusCode::NOT_FOUND, "no-route");
    assert_eq!(problem["source"], "client");
}

#[tokio::test]
async fn unreachable_upstream_is_a_502_problem() {
    // Bind then drop a listener: nothing listens on that port any more.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let gw = Gateway::builder()
        .upstream("dead", &[dead])
        .route("r", |r| r)
        .start()
        .await;
    let response = gw.get("/").await;
    assert_eq!(response.status, StatusCode::BAD_GATEWAY);
    let problem = response.json();
    assert_eq!(problem["type"], "urn:portico:problem:upstream-unreachable");
    assert_eq!(problem["retryable"], true);
}

#[tokio::test]
async fn slow_upstream_is_a_504_problem() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = silent.local_addr().unwrap();
    // Accepts connections and never answers.
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = silent.accept().await {
            held.push(stream);
        }
    });
    let gw = Gateway::builder()
        .upstream_with("slow", &[addr], "response_timeout_ms = 200")
        .route("r", |r| r)
        .start()
        .await;
    let response = gw.get("/").await;
    assert_eq!(response.status, StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(
        response.json()["type"],
        "urn:portico:problem:upstream-timeout"
    );
    hold.abort();
}

#[tokio::test]
async fn forwarding_headers_are_set_by_the_gateway_and_hop_by_hop_dropped() {
    let gw = Gateway::builder()
        .echo("origin")
        .route("r", |r| r)
        .start()
        .await;
    let response = gw
        .send(
            Method::GET,
            "/",
            &[
                ("host", "shop.example.com"),
                ("x-forwarded-for", "6.6.6.6"),
                ("forwarded", "for=6.6.6.6"),
                ("connection", "x-hop"),
                ("x-hop", "secret"),
                ("proxy-authorization", "Basic Zm9vOmJhcg=="),
                ("x-end-to-end", "kept"),
                ("te", "trailers, deflate"),
            ],
            "",
        )
        .await;
    // `TE` keeps only `trailers`, and an HTTP/1.1 hop names it in
    // `Connection` (RFC 9110 §10.1.4); the client's `Connection` is gone.
    assert_eq!(response.upstream_saw("te"), ["trailers"]);
    assert_eq!(response.upstream_saw("connection"), ["te"]);
    assert_eq!(response.upstream_saw("x-forwarded-for"), ["127.0.0.1"]);
    assert_eq!(response.upstream_saw("x-forwarded-proto"), ["http"]);
    assert_eq!(
        response.upstream_saw("x-forwarded-host"),
        ["shop.example.com"]
    );
    assert_eq!(
        response.upstream_saw("forwarded"),
        ["for=127.0.0.1;proto=http;host=\"shop.example.com\""]
    );
    assert_eq!(response.upstream_saw("host"), ["shop.example.com"]);
    assert!(response.upstream_saw("x-hop").is_empty());
    assert!(response.upstream_saw("proxy-authorization").is_empty());
    assert_eq!(response.upstream_saw("x-end-to-end"), ["kept"]);
}

#[tokio::test]
async fn http2_prior_knowledge_clients_are_served() {
    let gw = Gateway::builder()
        .echo("origin")
        .route("r", |r| r)
        .start()
        .await;
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http();
    let request = Request::post(format!("http://{}/h2?x=1", gw.addr))
        .body(Full::new(Bytes::from_static(b"over h2")))
        .unwrap();
    let response = client.request(request).await.expect("h2 response");
    assert_eq!(response.version(), http::Version::HTTP_2);
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let echo: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(echo["path"], "/h2");
    assert_eq!(echo["query"], "x=1");
    assert_eq!(echo["body"], "over h2");
}

#[tokio::test]
async fn paths_are_normalized_and_the_authority_decides_the_host() {
    let gw = Gateway::builder()
        .echo("origin")
        .echo("admin")
        .route("public", |r| r.upstream("origin"))
        .route("admin", |r| r.prefix("/admin").upstream("admin"))
        .route("shop", |r| {
            r.hosts(&["shop.example.com"]).upstream("origin")
        })
        .start()
        .await;
    for sneaky in ["/public/../admin/x", "//admin/x", "/%61dmin/x"] {
        let response = gw.get(sneaky).await;
        assert_eq!(response.header("x-upstream"), Some("admin"), "{sneaky}");
        assert_eq!(
            response.json()["path"],
            "/admin/x",
            "{sneaky} is forwarded normalized"
        );
    }
    for refused in ["/x/..%2fadmin", "/x%5cadmin", "/x%zz"] {
        let response = gw.get(refused).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{refused}");
        assert_eq!(response.json()["type"], "urn:portico:problem:bad-request");
    }

    // HTTP/1.1 absolute-form: a `Host` naming another host is refused
    // (RFC 9112 §3.2; see tests/smuggling.rs), so the router and the
    // upstream cannot each pick a different one.
    let raw = support::raw_request(
        gw.addr,
        "GET http://shop.example.com/item HTTP/1.1\r\nHost: evil.example.com\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 400"), "{raw}");
    // One that agrees (another spelling, the default port): the target's
    // authority decides, for routing and for what the upstream sees.
    let raw = support::raw_request(
        gw.addr,
        "GET http://shop.example.com/item HTTP/1.1\r\nHost: SHOP.example.com:80\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    let body = &raw[raw.find("\r\n\r\n").map_or(0, |i| i + 4)..];
    let echo: serde_json::Value = serde_json::from_str(body).expect("echo JSON");
    assert_eq!(echo["path"], "/item");
    let host: Vec<_> = echo["headers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|pair| pair[0] == "host")
        .map(|pair| pair[1].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(host, ["shop.example.com"]);
}

#[tokio::test]
async fn an_http_1_0_upstream_is_answered_to_the_client_as_http_1_1_and_kept_alive() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let old = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = old.local_addr().unwrap();
    // An HTTP/1.0 server (python's http.server is one): answers, then closes.
    let serve = tokio::spawn(async move {
        while let Ok((mut stream, _)) = old.accept().await {
            let mut head = [0u8; 4096];
            let _ = stream.read(&mut head).await;
            let _ = stream
                .write_all(b"HTTP/1.0 200 OK\r\ncontent-length: 2\r\n\r\nok")
                .await;
        }
    });
    let gw = Gateway::builder()
        .upstream("old", &[addr])
        .route("r", |r| r)
        .start()
        .await;
    let two = format!(
        "GET /a HTTP/1.1\r\nhost: {0}\r\n\r\nGET /b HTTP/1.1\r\nhost: {0}\r\nconnection: close\r\n\r\n",
        gw.addr
    );
    let answers = support::raw_request(gw.addr, &two).await;
    assert_eq!(
        answers.matches("HTTP/1.1 200 OK\r\n").count(),
        2,
        "both answered as HTTP/1.1 on one connection: {answers}"
    );
    assert!(!answers.contains("HTTP/1.0"), "{answers}");
    serve.abort();
}
