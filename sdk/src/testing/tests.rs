//! Tests of the mock host, through the SDK's public functions.

use std::time::Duration;

use http::{Method, StatusCode};
use serde::Deserialize;

use super::*;
use crate::log::Level;
use crate::{
    Action, ConfigError, Error, Plugin, Reply, Request, Response, cache, clock, context, kv, log,
};

#[test]
fn request_reads_and_changes_go_to_the_mock() -> Result<(), Error> {
    let mut mock = MockRequest::post("/a/b?x=1")
        .header("Host", "example.com")
        .header("x-multi", "1")
        .header("x-multi", "2")
        .param("id", "7")
        .client_addr("10.0.0.9")
        .route_name("users");
    let mut req = Request::new(&mut mock.inner);
    assert_eq!(req.method(), Method::POST);
    assert_eq!(req.scheme(), "http");
    assert_eq!(req.authority().as_deref(), Some("example.com"));
    assert_eq!(
        (req.path(), req.query()),
        ("/a/b".to_owned(), Some("x=1".to_owned()))
    );
    assert_eq!(req.header("X-MULTI").as_deref(), Some("1"));
    assert_eq!(req.header_all("x-multi"), ["1", "2"]);
    assert_eq!(req.header_names(), ["host", "x-multi"]);
    assert_eq!(req.param("id").as_deref(), Some("7"));
    assert_eq!(req.param("nope"), None);
    assert_eq!(
        (req.client_addr(), req.route_name()),
        (std::net::IpAddr::from([10, 0, 0, 9]), "users".to_owned())
    );

    req.set_path("/c")?;
    req.set_query(Some("y=2"))?;
    req.set_header("x-multi", "3")?;
    req.append_header("x-new", "a")?;
    req.remove_header("host");
    req.remove_header("Not A Header");
    req.set_body("hello");
    assert_eq!(req.body()?, b"hello");

    assert_eq!((mock.path(), mock.query()), ("/c", Some("y=2")));
    assert_eq!(mock.header_values("x-multi"), ["3"]);
    let mut names = mock.header_names();
    names.sort_unstable();
    assert_eq!(names, ["content-length", "x-multi", "x-new"]);
    assert_eq!(mock.header_value("content-length"), Some("5"));
    assert_eq!(mock.body_bytes(), b"hello");
    Ok(())
}

#[test]
fn invalid_changes_are_errors_as_in_the_gateway() {
    let mut mock = MockRequest::get("/a?q=1");
    let mut req = Request::new(&mut mock.inner);
    let err = |r: Result<(), Error>| r.err().map(|e| e.to_string());
    assert_eq!(
        err(req.set_header("bad name", "v")),
        Some("invalid header name `bad name`".to_owned())
    );
    assert_eq!(
        err(req.append_header("x-a", "a\r\nb")),
        Some("invalid value for header `x-a`".to_owned())
    );
    assert_eq!(
        err(req.set_path("relative")),
        Some("path `relative`: the request target must be an absolute path".to_owned())
    );
    assert_eq!(
        err(req.set_path("/b?x=1")),
        Some("path `/b?x=1` must not contain `?` or `#` (use set-query)".to_owned())
    );
    assert!(req.set_path("/sp ace").is_err());
    assert!(req.set_query(Some("a b")).is_err());
    assert!(req.set_query(None).is_ok());
    assert_eq!((mock.path(), mock.query()), ("/a", None));
}

#[test]
fn response_status_headers_and_body() -> Result<(), Error> {
    let mut mock = MockResponse::new(200).header("x-a", "1").body("upstream");
    let mut res = Response::new(&mut mock.inner);
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.body()?, b"upstream");
    res.set_status(StatusCode::IM_A_TEAPOT)?;
    res.append_header("x-a", "2")?;
    res.set_body("short");
    assert_eq!(mock.status(), StatusCode::IM_A_TEAPOT);
    assert_eq!(mock.header_values("x-a"), ["1", "2"]);
    assert_eq!(mock.body_bytes(), b"short");
    Ok(())
}

#[test]
fn header_values_that_are_not_utf8_come_as_text_with_replacements_or_as_bytes() {
    let mut mock = MockRequest::get("/")
        .header_bytes("x-name", b"caf\xe9")
        .header("x-name", "plain");
    let req = Request::new(&mut mock.inner);
    assert_eq!(req.header("x-name").as_deref(), Some("caf\u{fffd}"));
    assert_eq!(req.header_bytes("x-name").as_deref(), Some(&b"caf\xe9"[..]));
    assert_eq!(
        req.header_all_bytes("x-name"),
        [b"caf\xe9".to_vec(), b"plain".to_vec()]
    );
    assert_eq!(req.header_all("x-name"), ["caf\u{fffd}", "plain"]);
    assert_eq!(req.header_bytes("x-absent"), None);

    let mut mock = MockResponse::new(200).header_bytes("x-raw", &[0x80, b'a']);
    let res = Response::new(&mut mock.inner);
    assert_eq!(res.header_bytes("x-raw"), Some(vec![0x80, b'a']));
}

#[test]
#[should_panic(expected = "invalid header")]
fn a_raw_header_value_with_a_line_break_is_refused() {
    let _ = MockRequest::get("/").header_bytes("x-a", b"a\r\nb");
}

#[test]
fn bodies_over_the_limit_fail_to_read() {
    let mut mock = MockRequest::post("/").body(vec![0; 11]).max_body_bytes(10);
    let req = Request::new(&mut mock.inner);
    let err = req.body().err().map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("body exceeds the route's limit of 10 bytes")
    );
}

#[test]
fn kv_honours_ttls_on_the_mock_clock() -> Result<(), Error> {
    let host = MockHost::with_grants(&["kv"]);
    host.set_time_ms(1_000);
    kv::set("k", "v", Some(Duration::from_secs(1)))?;
    kv::set("forever", "v", None)?;
    assert_eq!(kv::get("k").as_deref(), Some(&b"v"[..]));
    host.set_time_ms(1_999);
    assert!(kv::get("k").is_some());
    host.advance(Duration::from_millis(1));
    assert_eq!(kv::get("k"), None);
    assert!(kv::get("forever").is_some());
    assert!(kv::delete("forever"));
    assert!(!kv::delete("forever"));
    Ok(())
}

#[test]
fn kv_increment_keeps_the_first_expiry() -> Result<(), Error> {
    let host = MockHost::with_grants(&["kv"]);
    assert_eq!(kv::increment("n", 5, Some(Duration::from_secs(10)))?, 5);
    host.advance(Duration::from_secs(6));
    assert_eq!(kv::increment("n", -2, Some(Duration::from_secs(10)))?, 3);
    host.advance(Duration::from_secs(4));
    assert_eq!(
        kv::increment("n", 1, None)?,
        1,
        "expired after the first ttl"
    );

    kv::set("text", "abc", None)?;
    assert_eq!(kv::increment("text", 1, None), Err(kv::KvError::NotANumber));
    assert_eq!(
        kv::set(&"k".repeat(1025), "v", None),
        Err(kv::KvError::TooLarge)
    );
    kv::set("max", i64::MAX.to_string(), None)?;
    assert_eq!(kv::increment("max", 1, None)?, i64::MAX);
    Ok(())
}

#[test]
fn cache_context_clock_and_logs() {
    let host = MockHost::with_grants(&["cache", "context", "clock", "log"]);
    cache::set("c", "v", Duration::from_millis(500));
    assert_eq!(cache::get("c").as_deref(), Some(&b"v"[..]));
    host.advance(Duration::from_millis(500));
    assert_eq!(cache::get("c"), None);
    cache::set("d", "w", Duration::from_secs(1));
    cache::delete("d");
    assert_eq!(cache::get("d"), None);

    host.set_context("consumer", "alice");
    assert_eq!(context::get("consumer").as_deref(), Some("alice"));
    context::set("consumer", "bob");
    assert_eq!(host.context("consumer").as_deref(), Some("bob"));
    host.clear_context();
    assert_eq!(context::get("consumer"), None);

    host.set_time_ms(42);
    assert_eq!(clock::now_ms(), 42);
    assert_eq!(
        clock::now(),
        std::time::UNIX_EPOCH + Duration::from_millis(42)
    );
    let start = clock::monotonic_ns();
    host.advance(Duration::from_micros(3));
    assert_eq!(clock::monotonic_ns() - start, 3_000);

    log::info("one");
    log::log(Level::Error, String::from("two"));
    let logs = host.logs();
    assert_eq!(logs.len(), 2);
    assert_eq!(
        (logs[0].level, logs[0].message.as_str()),
        (Level::Info, "one")
    );
    assert_eq!(
        (logs[1].level, logs[1].message.as_str()),
        (Level::Error, "two")
    );
    host.clear_logs();
    assert!(host.logs().is_empty());
}

#[test]
#[should_panic(expected = "capability `kv` is not granted")]
fn ungranted_capabilities_panic() {
    let _host = MockHost::with_grants(&["log"]);
    log::info("fine");
    kv::get("k");
}

#[test]
#[should_panic(expected = "no MockHost is installed")]
fn capabilities_need_a_host() {
    drop(MockHost::new());
    context::get("k");
}

#[test]
#[should_panic(expected = "unknown capability `kvv`")]
fn unknown_grants_panic() {
    MockHost::with_grants(&["kvv"]);
}

/// Remembers the path between phases and can answer with a bad reply.
struct Remember {
    config: &'static RememberConfig,
    path: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RememberConfig {
    header: crate::config::HeaderName,
    #[serde(default)]
    bad_reply: bool,
}

impl Plugin for Remember {
    type Config = RememberConfig;

    fn new(config: &'static RememberConfig) -> Self {
        Remember { config, path: None }
    }

    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        self.path = Some(req.path());
        if self.config.bad_reply {
            return Ok(Reply::new(StatusCode::OK).header("bad name", "v").into());
        }
        Ok(Action::Continue)
    }

    fn on_response(&mut self, res: &mut Response<'_>) -> Result<Action, Error> {
        let path = self.path.as_deref().unwrap_or("none");
        res.set_header(self.config.header.as_str(), path)?;
        Ok(Action::Continue)
    }
}

#[test]
fn harness_keeps_one_value_per_request() -> Result<(), Error> {
    let host = MockHost::with_grants(&[]);
    let mut plugin = host.load::<Remember>(serde_json::json!({ "header": "X-Path" }))?;
    assert_eq!(plugin.config().header.as_str(), "x-path");

    plugin.on_request(&mut MockRequest::get("/first"))?;
    assert_eq!(
        plugin.current().and_then(|p| p.path.as_deref()),
        Some("/first")
    );
    let mut res = MockResponse::new(200);
    plugin.on_response(&mut res)?;
    assert_eq!(res.header_value("x-path"), Some("/first"));
    assert!(plugin.current().is_none(), "dropped after on_response");

    // Without on_request, on_response gets a fresh value.
    let mut res = MockResponse::new(200);
    plugin.on_response(&mut res)?;
    assert_eq!(res.header_value("x-path"), Some("none"));
    Ok(())
}

#[test]
fn harness_reports_config_errors_and_bad_replies() {
    let host = MockHost::new();
    let err = host
        .load::<Remember>(serde_json::json!({ "header": "a b" }))
        .err();
    assert_eq!(err.as_ref().map(ConfigError::key), Some("header"));
    let err = host.load::<Remember>(serde_json::json!({})).err();
    assert_eq!(
        err.map(|e| e.to_string()).as_deref(),
        Some("`header`: missing field `header`")
    );

    let plugin = host.load::<Remember>(serde_json::json!({ "header": "x-p", "bad_reply": true }));
    let result = plugin.map(|mut p| {
        p.on_request(&mut MockRequest::get("/"))
            .map_err(|e| e.to_string())
    });
    assert_eq!(
        result,
        Ok(Err(
            "invalid reply: invalid header name `bad name`".to_owned()
        ))
    );
}

#[test]
fn replies_become_responses() {
    let reply = Reply::new(StatusCode::FORBIDDEN)
        .header("x-why", "no")
        .body("denied");
    let res = MockResponse::from_reply(&reply);
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(res.header_value("x-why"), Some("no"));
    assert_eq!(res.body_bytes(), b"denied");
}
