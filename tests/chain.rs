//! Plugin chains through the real gateway: order, short-circuit, the
//! response phase, the shared context, kv and body access.

use crate::support;

use http::{Method, StatusCode};
use support::builder::{Cap, Gateway, PluginBuilder, RouteBuilder, plugin};

/// The probe's capabilities in these tests.
const PROBE_CAPS: [Cap; 5] = [Cap::Log, Cap::Clock, Cap::Kv, Cap::Cache, Cap::Context];

/// The test plugin `probe`, tagging requests and responses with `tag`.
fn probe(tag: &str) -> PluginBuilder {
    plugin("probe").grant(PROBE_CAPS).config("tag", tag)
}

/// One route, `chained`, to an echo upstream, with these plugins.
async fn chain_gateway(plugins: impl IntoIterator<Item = PluginBuilder>) -> support::TestGateway {
    Gateway::builder()
        .echo("origin")
        .route("chained", |route| {
            plugins.into_iter().fold(route, RouteBuilder::plugin)
        })
        .start()
        .await
}

#[tokio::test]
async fn plugins_run_in_config_order_and_back_in_reverse() {
    let gw = chain_gateway([probe("a"), probe("b"), probe("c")]).await;
    let response = gw.get("/anything").await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.upstream_saw("x-chain"), ["a", "b", "c"]);
    let back: Vec<_> = response
        .headers
        .get_all("x-chain-response")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        back,
        ["c", "b", "a"],
        "response phase runs last plugin first"
    );
}

#[tokio::test]
async fn respond_short_circuits_later_plugins_and_the_upstream() {
    let gw = chain_gateway([
        probe("a"),
        probe("guard").config("respond_if_header", "x-stop"),
        probe("c"),
    ])
    .await;

    let stopped = gw.send(Method::GET, "/x", &[("x-stop", "1")], "").await;
    assert_eq!(stopped.status, StatusCode::FORBIDDEN);
    assert_eq!(stopped.body, "stopped by guard");
    assert_eq!(stopped.header("x-stopped-by"), Some("guard"));
    assert_eq!(
        stopped.header("x-upstream"),
        None,
        "the upstream was not called"
    );
    let back: Vec<_> = stopped
        .headers
        .get_all("x-chain-response")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        back,
        ["guard", "a"],
        "only plugins that saw the request see the reply"
    );

    let passed = gw.get("/x").await;
    assert_eq!(passed.status, StatusCode::OK);
    assert_eq!(passed.upstream_saw("x-chain"), ["a", "guard", "c"]);
}

#[tokio::test]
async fn context_set_by_one_plugin_is_read_by_the_next() {
    let gw = chain_gateway([
        probe("auth").config_toml("context_set", r#"{ consumer = "from-header:x-user" }"#),
        probe("limit").config_toml("context_to_header", r#"{ consumer = "x-consumer" }"#),
    ])
    .await;
    let alice = gw.send(Method::GET, "/", &[("x-user", "alice")], "").await;
    assert_eq!(alice.upstream_saw("x-consumer"), ["alice"]);
    let bob = gw.send(Method::GET, "/", &[("x-user", "bob")], "").await;
    assert_eq!(
        bob.upstream_saw("x-consumer"),
        ["bob"],
        "context does not leak between requests"
    );
    let nobody = gw.get("/").await;
    assert!(nobody.upstream_saw("x-consumer").is_empty());
}

#[tokio::test]
async fn kv_counts_across_requests_and_instances() {
    let gw = chain_gateway([probe("count").config("count_key", "hits")]).await;
    let mut seen = Vec::new();
    for _ in 0..5 {
        let response = gw.get("/").await;
        seen.push(response.header("x-count").unwrap().parse::<u64>().unwrap());
    }
    assert_eq!(seen, [1, 2, 3, 4, 5]);
    let concurrent = futures_join(&gw, 20).await;
    let mut counts: Vec<u64> = concurrent
        .iter()
        .map(|r| r.header("x-count").unwrap().parse().unwrap())
        .collect();
    counts.sort();
    assert_eq!(
        counts,
        (6..=25).collect::<Vec<_>>(),
        "increments are atomic under concurrency"
    );
}

async fn futures_join(gw: &support::TestGateway, n: usize) -> Vec<support::TestResponse> {
    futures::future::join_all((0..n).map(|_| gw.get("/"))).await
}

#[tokio::test]
async fn a_plugin_reads_the_body_and_it_still_reaches_the_upstream() {
    let gw = chain_gateway([probe("body").config_toml("body_to_header", "true")]).await;
    let response = gw.send(Method::POST, "/upload", &[], "hello body").await;
    assert_eq!(response.status, StatusCode::OK);
    assert_eq!(response.upstream_saw("x-body-len"), ["10"]);
    assert_eq!(response.json()["body"], "hello body");
}

#[tokio::test]
async fn a_body_over_the_route_limit_is_refused_with_413() {
    let gw = Gateway::builder()
        .echo("origin")
        .route("small", |r| {
            r.key("max_body_bytes = 16")
                .plugin(probe("body").config_toml("body_to_header", "true"))
        })
        .start()
        .await;
    // Declared too large: refused from Content-Length.
    let declared = gw.send(Method::POST, "/", &[], &"x".repeat(100)).await;
    assert_eq!(declared.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        declared.header("content-type"),
        Some("application/problem+json")
    );
    assert_eq!(
        declared.header("x-chain-response"),
        Some("body"),
        "the refusal passes back through the response phase"
    );

    // Chunked, no length: refused while streaming, once past the limit.
    let raw = support::raw_request(
        gw.addr,
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n",
    )
    .await;
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(
        raw.contains("urn:portico:problem:payload-too-large"),
        "{raw}"
    );
}

#[tokio::test]
async fn fresh_and_pooled_instances_behave_the_same() {
    let route = |name: &'static str, mode: &'static str| {
        move |r: RouteBuilder| {
            r.prefix(&format!("/{name}")).plugin(
                probe(name)
                    .instance(mode)
                    .config("count_key", &format!("{name}-hits"))
                    .config_toml("context_set", r#"{ user = "from-header:x-user" }"#)
                    .config_toml("context_to_header", r#"{ user = "x-user-seen" }"#),
            )
        }
    };
    let gw = Gateway::builder()
        .echo("origin")
        .route("pooled", route("pooled", "pooled"))
        .route("fresh", route("fresh", "fresh"))
        .start()
        .await;
    for expected in 1..=3 {
        for name in ["pooled", "fresh"] {
            let user = format!("user-{expected}");
            let response = gw
                .send(Method::GET, &format!("/{name}"), &[("x-user", &user)], "")
                .await;
            assert_eq!(response.status, StatusCode::OK);
            assert_eq!(response.upstream_saw("x-chain"), [name]);
            assert_eq!(response.upstream_saw("x-user-seen"), [user.as_str()]);
            assert_eq!(
                response.header("x-count"),
                Some(expected.to_string().as_str()),
                "{name}: kv state outlives instances, per-request state does not"
            );
        }
    }
}

#[tokio::test]
async fn the_example_plugin_and_transform_work_together() {
    let gw = Gateway::builder()
        .echo("origin")
        .route("profiles", |r| {
            r.regex(r"/users/(?P<id>\d+)/profile")
                .plugin(
                    plugin("hello-header")
                        .grant([Cap::Log])
                        .config("name", "x-hello")
                        .config("value", "world"),
                )
                .plugin(
                    plugin("transform")
                        .grant([Cap::Context])
                        .config("request.path", "/v2/profiles/{id}")
                        .config_toml("request.headers.set", r#"{ "x-user-id" = "{id}" }"#)
                        .config_toml("request.headers.remove", r#"["x-remove-me"]"#)
                        .config_toml(
                            "response.headers.set",
                            r#"{ "cache-control" = "no-store" }"#,
                        )
                        .config_toml("response.headers.add", r#"{ "x-served-by" = "portico" }"#)
                        .config_toml("response.headers.remove", r#"["x-upstream"]"#),
                )
        })
        .start()
        .await;
    let response = gw
        .send(
            Method::GET,
            "/users/42/profile?tab=1",
            &[("x-remove-me", "1")],
            "",
        )
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let echo = response.json();
    assert_eq!(
        echo["path"], "/v2/profiles/42",
        "path rewritten with the route capture"
    );
    assert_eq!(echo["query"], "tab=1", "query kept");
    assert_eq!(response.upstream_saw("x-user-id"), ["42"]);
    assert_eq!(response.upstream_saw("x-hello"), ["world"]);
    assert!(response.upstream_saw("x-remove-me").is_empty());
    assert_eq!(response.header("cache-control"), Some("no-store"));
    assert_eq!(response.header("x-served-by"), Some("portico"));
    assert_eq!(response.header("x-hello"), Some("world"));
    assert_eq!(
        response.header("x-upstream"),
        None,
        "removed in the response phase"
    );
}

#[tokio::test]
async fn a_header_value_that_is_not_utf8_reaches_plugins_as_bytes_and_as_text() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let gw = chain_gateway([probe("bytes").config("bytes_of", "x-raw")]).await;
    // obs-text (RFC 9110 5.5): a byte over 0x7F, which `header` cannot
    // return as it came.
    let mut stream = tokio::net::TcpStream::connect(gw.addr)
        .await
        .expect("connect");
    let head = format!(
        "GET /raw HTTP/1.1\r\nhost: {}\r\nconnection: close\r\nx-raw: café\r\n\r\n",
        gw.addr
    );
    let mut bytes = head.into_bytes();
    // `format!` wrote U+00E9 as two UTF-8 bytes; the client sends one.
    let at = bytes.windows(2).position(|w| w == [0xc3, 0xa9]).expect("é");
    bytes.splice(at..at + 2, [0xe9]);
    stream.write_all(&bytes).await.expect("send");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("read");
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b)
        .unwrap_or_default();
    let echo: serde_json::Value = serde_json::from_str(body).expect("echo JSON");
    let saw = |name: &str| {
        echo["headers"]
            .as_array()
            .and_then(|h| h.iter().find(|pair| pair[0] == name))
            .and_then(|pair| pair[1].as_str())
            .map(str::to_owned)
    };
    assert_eq!(saw("x-bytes-hex").as_deref(), Some("636166e9"), "{echo}");
    assert_eq!(saw("x-text-hex").as_deref(), Some("636166efbfbd"), "{echo}");
}

/// The response headers `name` carries, in order.
fn all(response: &support::TestResponse, name: &str) -> Vec<String> {
    response
        .headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_plugin_says_what_its_response_phase_needs_and_the_gateway_follows() {
    let counted = |tag: &str, phase: &str| {
        probe(tag)
            .config("count_key", &format!("n-{tag}"))
            .config("response_phase", phase)
    };
    let gw = Gateway::builder()
        .echo("origin")
        .route("same", |r| {
            r.prefix("/same").plugin(counted("same", "same-instance"))
        })
        .route("any", |r| {
            r.prefix("/any").plugin(counted("any", "any-instance"))
        })
        .route("skip", |r| {
            r.prefix("/skip").plugin(counted("skip", "skip"))
        })
        .route("mixed", |r| {
            r.prefix("/mixed")
                .plugin(counted("a", "same-instance"))
                .plugin(counted("b", "skip"))
                .plugin(counted("c", "any-instance"))
        })
        .start()
        .await;

    // `same-instance`: the response phase runs on the value the request
    // phase filled (its kv count).
    let same = gw.get("/same").await;
    assert_eq!(same.status, StatusCode::OK);
    assert_eq!(all(&same, "x-chain-response"), ["same"]);
    assert_eq!(same.header("x-count"), Some("1"));

    // `any-instance`: the response phase runs, on a new value: the count
    // the request phase took is not there.
    let any = gw.get("/any").await;
    assert_eq!(any.upstream_saw("x-chain"), ["any"]);
    assert_eq!(all(&any, "x-chain-response"), ["any"]);
    assert_eq!(
        any.header("x-count"),
        None,
        "a new value, not the request's"
    );

    // `skip`: the request phase ran, the response phase did not.
    let skip = gw.get("/skip").await;
    assert_eq!(skip.upstream_saw("x-chain"), ["skip"]);
    assert!(all(&skip, "x-chain-response").is_empty());
    assert_eq!(skip.header("x-count"), None);

    // In one chain, each plugin's setting is its own: `b` skips, `c` runs
    // on a new value, `a` on its own.
    let mixed = gw.get("/mixed").await;
    assert_eq!(mixed.upstream_saw("x-chain"), ["a", "b", "c"]);
    assert_eq!(all(&mixed, "x-chain-response"), ["c", "a"]);
    assert_eq!(mixed.header("x-count"), Some("1"), "a's count");

    // Every request is served the same way again (instances were returned
    // to their pools and reused).
    for _ in 0..3 {
        assert_eq!(all(&gw.get("/mixed").await, "x-chain-response"), ["c", "a"]);
        assert_eq!(
            all(&gw.get("/skip").await, "x-chain-response"),
            Vec::<String>::new()
        );
    }
}
