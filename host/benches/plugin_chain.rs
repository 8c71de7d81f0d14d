//! Cost of the plugin path, in process: a request and its response through a
//! route's chain, without sockets. Compare each chain with `empty` (the same
//! work with no plugins) measured in the same run.
//!
//! `in_flight` runs the peer benchmark's 3-plugin chain with 1 and with 32
//! requests between their two phases at once, as a loaded gateway holds
//! them while the upstream answers, per request.
//!
//! Needs the plugins built: run with `cargo xtask bench`
//! (`PORTICO_BENCH_PLUGINS` names another plugin directory, e.g. plugins
//! built from an earlier commit, to compare in the same run).

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http::{HeaderMap, StatusCode};
use portico::body;
use portico::data::gateway::Gateway;
use portico::data::runtime::{
    MessageBody, ProxyRequest, ProxyResponse, RequestInfo, RequestOutcome,
};

macro_rules! concat_three {
    ($mode:literal) => {
        concat!(
            "\n[[routes.plugins]]\nname = \"hello-header\"\ninstance = \"", $mode, "\"\ncapabilities = [\"log\"]\nconfig = { value = \"world\" }\n",
            "\n[[routes.plugins]]\nname = \"transform\"\ninstance = \"", $mode, "\"\ncapabilities = [\"context\"]\n",
            "config.request.headers.set = { \"x-a\" = \"1\" }\nconfig.response.headers.remove = [\"x-b\"]\n",
            "\n[[routes.plugins]]\nname = \"probe\"\ninstance = \"", $mode, "\"\n",
            "capabilities = [\"log\", \"clock\", \"kv\", \"cache\", \"context\"]\nconfig = { tag = \"p\" }\n",
        )
    };
}

const CHAINS: &[(&str, &str)] = &[
    ("empty", ""),
    ("1-pooled", HELLO),
    ("3-pooled", concat_three!("pooled")),
    ("1-fresh", HELLO_FRESH),
    ("3-fresh", concat_three!("fresh")),
    ("header-reads-pooled", HEADER_READS),
    ("rate-limit-pooled", RATE_LIMIT),
    ("transform-json-pooled", TRANSFORM_JSON),
    ("api-key-pooled", API_KEY),
    ("jwt-hs256-pooled", JWT),
    ("cors-pooled", CORS),
    ("ip-rules-pooled", IP_RULES),
    ("cache-hit-pooled", CACHE),
];

const HELLO: &str = "\n[[routes.plugins]]\nname = \"hello-header\"\ncapabilities = [\"log\"]\nconfig = { value = \"world\" }\n";
const HELLO_FRESH: &str = "\n[[routes.plugins]]\nname = \"hello-header\"\ninstance = \"fresh\"\ncapabilities = [\"log\"]\nconfig = { value = \"world\" }\n";
/// Reads four request headers (into the context and back out to headers).
const HEADER_READS: &str = "\n[[routes.plugins]]\nname = \"probe\"\ncapabilities = [\"log\", \"clock\", \"kv\", \"cache\", \"context\"]\nconfig = { context_set = { a = \"from-header:x-a\", b = \"from-header:x-b\", c = \"from-header:x-c\", d = \"from-header:x-d\" } }\n";

/// Two policies counted per request (kv increment + get each, clock,
/// context), limits high enough never to reject during the run.
const RATE_LIMIT: &str = "\n[[routes.plugins]]\nname = \"rate-limit\"\ncapabilities = [\"kv\", \"clock\", \"context\", \"metrics\"]\nconfig = { key = \"consumer\", policies = [{ limit = 1000000000000, window = \"1s\" }, { limit = 1000000000000, window = \"1h\" }] }\n";
/// Reads the JSON response body, renames and sets a member, writes it back.
const TRANSFORM_JSON: &str = "\n[[routes.plugins]]\nname = \"transform\"\ncapabilities = [\"context\"]\nconfig.response.body = { rename = { \"/ok\" = \"/success\" }, set = { \"/via\" = \"portico\" } }\n";

/// Hashes `x-api-key: bench-key` and compares it with two configured keys.
const API_KEY: &str = "\n[[routes.plugins]]\nname = \"api-key\"\ncapabilities = [\"context\"]\nconfig = { keys = [{ sha256 = \"b0962662e937d44c699c8305d90cbf190b3150c59b13863d1380b5cc3c711bb7\", consumer = \"bench\" }, { sha256 = \"0000000000000000000000000000000000000000000000000000000000000000\", consumer = \"other\" }] }\n";
/// Verifies the request's HS256 token (`JWT_TOKEN`) and sets the consumer.
const JWT: &str = "\n[[routes.plugins]]\nname = \"jwt\"\ncapabilities = [\"log\", \"clock\", \"context\"]\nconfig = { issuer = \"bench\", audience = \"bench\", require_exp = false, keys = [{ alg = \"HS256\", secret = \"0123456789abcdef0123456789abcdef\" }] }\n";
/// An HS256 token for `JWT`: iss and aud `bench`, sub `alice`, no exp.
const JWT_TOKEN: &str = "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJiZW5jaCIsImF1ZCI6ImJlbmNoIiwic3ViIjoiYWxpY2UifQ.JfMAjd66NcFuqwim6WHqxPY7_iWhjAvupa3DqUr6dpY";
/// An actual (not preflight) cross-origin request from an allowed origin.
const CORS: &str = "\n[[routes.plugins]]\nname = \"cors\"\nconfig = { allow_origins = [\"https://app.example.com\"] }\n";
/// The client address checked against an allow list and a deny list.
const IP_RULES: &str = "\n[[routes.plugins]]\nname = \"ip-rules\"\nconfig = { allow = [\"127.0.0.0/8\", \"10.0.0.0/8\"], deny = [\"127.0.0.13\"] }\n";
/// After the first iteration stores the response, every request is a hit
/// answered in the request phase from the `cache` capability.
const CACHE: &str =
    "\n[[routes.plugins]]\nname = \"cache\"\ncapabilities = [\"cache\", \"clock\", \"metrics\"]\n";

/// `oauth2-introspection` asking the bench's IdP at `idp` (plain HTTP on
/// loopback), caching active answers for `cache_s` seconds (0: every
/// request asks).
fn introspection(idp: std::net::SocketAddr, cache_s: u64) -> String {
    format!(
        "\n[[routes.plugins]]\nname = \"oauth2-introspection\"\ncapabilities = [\"http\", \"cache\", \"clock\", \"context\", \"log\"]\nhttp = {{ allow = [\"http://{idp}\"] }}\nconfig = {{ endpoint = \"http://{idp}/introspect\", client_id = \"bench\", client_secret = \"bench\", required_scopes = [\"orders:read\"], max_cache = \"{cache_s}s\" }}\n"
    )
}

/// An RFC 7662 endpoint on loopback answering every token as active.
async fn idp() -> std::net::SocketAddr {
    use http_body_util::Full;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind idp");
    let addr = listener.local_addr().expect("idp addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_request| async {
                    let body = r#"{"active":true,"sub":"alice","scope":"orders:read"}"#;
                    Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(
                        Bytes::from_static(body.as_bytes()),
                    )))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn config_text(chain: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let plugins = std::env::var_os("PORTICO_BENCH_PLUGINS")
        .map_or_else(|| root.join("target/plugins"), PathBuf::from);
    format!(
        "version = 1\nplugin_dir = \"{}\"\n[runtime]\ncache_dir = \"{}\"\n[[listeners]]\nname = \"l\"\naddr = \"127.0.0.1:0\"\n[upstreams.u]\ntargets = [\"127.0.0.1:1\"]\n[[routes]]\nname = \"bench\"\nupstream = \"u\"\n{chain}",
        plugins.display(),
        root.join("target/test-cache").display()
    )
}

/// The routing facts of every bench request.
fn bench_info() -> Arc<RequestInfo> {
    Arc::new(RequestInfo {
        route: "bench".into(),
        params: vec![],
        client_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        scheme: "http",
        max_body_bytes: 1024,
    })
}

/// The peer benchmark's chain (`tests/load/peers.sh`): key check, a
/// counter that never refuses, a request header from the context and a
/// response header.
const PEER_CHAIN: &str = concat!(
    "\n[[routes.plugins]]\nname = \"api-key\"\ncapabilities = [\"context\"]\n",
    "config = { keys = [{ sha256 = \"b0962662e937d44c699c8305d90cbf190b3150c59b13863d1380b5cc3c711bb7\", consumer = \"bench\" }] }\n",
    "\n[[routes.plugins]]\nname = \"rate-limit\"\ncapabilities = [\"kv\", \"clock\", \"context\", \"metrics\"]\n",
    "config = { headers = false, policies = [{ limit = 1000000000000, window = \"1s\" }] }\n",
    "\n[[routes.plugins]]\nname = \"transform\"\ncapabilities = [\"context\"]\n",
    "config.request.headers.set = { \"x-consumer\" = \"{ctx.consumer}\" }\n",
    "config.response.headers.set = { \"x-gateway\" = \"portico\" }\n",
);

/// The peer chain with `n` requests between their phases at once: all
/// request phases, then all response phases, per iteration.
fn bench_in_flight(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let info = bench_info();
    let config = portico::config::parse(&PathBuf::from("bench.toml"), &config_text(PEER_CHAIN))
        .expect("bench config");
    let gateway = runtime
        .block_on(Gateway::build(&config))
        .expect("bench gateway");
    let chain = &gateway.routes[0].chain;
    let mut group = c.benchmark_group("in_flight");
    for n in [1usize, 32] {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("peer-chain-{n}"), |b| {
            b.to_async(&runtime).iter(|| async {
                let mut runs = Vec::with_capacity(n);
                for _ in 0..n {
                    let mut run = chain.start();
                    match run.on_request(request(&info)).await {
                        Ok(RequestOutcome::Forward(_)) => runs.push(run),
                        Ok(RequestOutcome::Respond(other)) => {
                            panic!("in_flight: chain answered {}", other.head.status)
                        }
                        Ok(RequestOutcome::Reject(error)) | Err(error) => {
                            panic!("in_flight: {error}")
                        }
                    }
                }
                for mut run in runs {
                    let response = run.on_response(response()).await.expect("response phase");
                    std::hint::black_box(response);
                }
            })
        });
    }
    group.finish();
}

fn request(info: &Arc<RequestInfo>) -> ProxyRequest {
    let mut builder = http::Request::get("/bench/path?x=1");
    for (name, value) in [
        ("host", "api.example.com"),
        ("user-agent", "bench/1.0"),
        ("accept", "application/json"),
        ("x-a", "1"),
        ("x-b", "2"),
        ("x-c", "3"),
        ("x-d", "4"),
        ("x-request-id", "0123456789abcdef"),
        ("x-api-key", "bench-key"),
        ("authorization", JWT_TOKEN),
        ("origin", "https://app.example.com"),
    ] {
        builder = builder.header(name, value);
    }
    let (head, ()) = builder
        .body(())
        .map(|r| r.into_parts())
        .unwrap_or_else(|_| unreachable!());
    ProxyRequest {
        head,
        body: MessageBody::Stream(body::empty()),
        info: info.clone(),
    }
}

fn response() -> ProxyResponse {
    let mut headers = HeaderMap::new();
    headers.insert(
        "content-type",
        http::HeaderValue::from_static("application/json"),
    );
    headers.insert("x-b", http::HeaderValue::from_static("2"));
    // Storable, so the `cache` chain serves hits after its first iteration.
    headers.insert(
        "cache-control",
        http::HeaderValue::from_static("public, max-age=3600"),
    );
    ProxyResponse::new(
        StatusCode::OK,
        headers,
        Bytes::from_static(b"{\"ok\":true}"),
        1024,
    )
}

fn bench_chains(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let info = bench_info();
    let idp = runtime.block_on(idp());
    let mut chains: Vec<(String, String)> = CHAINS
        .iter()
        .map(|(name, chain)| (name.to_string(), chain.to_string()))
        .collect();
    chains.push((
        "oauth2-introspection-cached-pooled".into(),
        introspection(idp, 300),
    ));
    chains.push((
        "oauth2-introspection-uncached-pooled".into(),
        introspection(idp, 0),
    ));
    let mut group = c.benchmark_group("plugin_chain");
    for (name, chain) in &chains {
        let text = config_text(chain);
        let config =
            portico::config::parse(&PathBuf::from("bench.toml"), &text).expect("bench config");
        let gateway = runtime
            .block_on(Gateway::build(&config))
            .expect("bench gateway");
        let route = &gateway.routes[0];
        group.bench_function(name.as_str(), |b| {
            b.to_async(&runtime).iter(|| async {
                let mut run = route.chain.start();
                let response = match run.on_request(request(&info)).await {
                    Ok(RequestOutcome::Forward(_)) => response(),
                    // A cache hit answered in the request phase.
                    Ok(RequestOutcome::Respond(hit)) if hit.head.status == StatusCode::OK => hit,
                    Ok(RequestOutcome::Respond(other)) => {
                        panic!("{name}: chain answered {}", other.head.status)
                    }
                    Ok(RequestOutcome::Reject(error)) | Err(error) => panic!("{name}: {error}"),
                };
                let response = run.on_response(response).await.expect("response phase");
                std::hint::black_box(response);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_chains, bench_in_flight);
criterion_main!(benches);
