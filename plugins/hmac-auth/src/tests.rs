//! `hmac-auth` against the mock host: RFC 9421's own hmac-sha256 example
//! (Appendix B.2.5), then signatures made here over each kind of component.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use portico_sdk::Action;
use portico_sdk::http::StatusCode;
use portico_sdk::testing::{MockHost, MockPlugin, MockRequest};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::HmacAuth;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const GRANTS: [&str; 4] = ["kv", "clock", "context", "log"];
/// RFC 9421 Appendix B.1.5.
const RFC_SECRET: &str =
    "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==";
const RFC_CREATED: u64 = 1_618_884_473;
const SECRET: &str = "a shared secret of at least thirty-two bytes";

fn host_at(unix_s: u64) -> MockHost {
    let host = MockHost::with_grants(&GRANTS);
    host.set_time_ms(unix_s * 1000);
    host
}

/// RFC 9421 Appendix B.2's request with B.2.5's signature.
fn rfc_request() -> MockRequest {
    MockRequest::post("/foo?param=Value&Pet=dog")
        .authority("example.com")
        .header("date", "Tue, 20 Apr 2021 02:07:55 GMT")
        .header("content-type", "application/json")
        .header(
            "content-digest",
            "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
        )
        .header("content-length", "18")
        .header(
            "signature-input",
            r#"sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret""#,
        )
        .header("signature", "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:")
        .body(r#"{"hello": "world"}"#)
}

fn outcome(plugin: &mut MockPlugin<HmacAuth>, mut req: MockRequest) -> (u16, Option<Value>) {
    match plugin.on_request(&mut req) {
        Ok(Action::Continue) => (200, None),
        Ok(Action::Respond(reply)) => (
            reply.status().as_u16(),
            serde_json::from_slice(reply.body_bytes()).ok(),
        ),
        Err(err) => panic!("{err}"),
    }
}

fn kind(body: &Option<Value>) -> Option<&str> {
    body.as_ref()?["type"].as_str()
}

#[test]
fn rfc_9421_b25_verifies_once_and_is_a_replay_the_second_time() -> TestResult {
    let host = host_at(RFC_CREATED + 10);
    let mut plugin = host.load::<HmacAuth>(json!({
        "keys": [{ "id": "test-shared-secret", "secret_base64": RFC_SECRET, "groups": ["partners"] }],
        "components": ["@authority"],
        "digest_bodies": false,
    }))?;
    assert_eq!(outcome(&mut plugin, rfc_request()).0, 200);
    assert_eq!(
        host.context("consumer").as_deref(),
        Some("test-shared-secret")
    );
    assert_eq!(host.context("consumer.groups").as_deref(), Some("partners"));
    let (status, body) = outcome(&mut plugin, rfc_request());
    assert_eq!(
        (status, kind(&body)),
        (401, Some("urn:portico:problem:invalid-signature"))
    );
    assert!(
        host.logs()
            .iter()
            .any(|l| l.message.contains("used before"))
    );

    // The same signature over a changed date, or far from `created`.
    let host = host_at(RFC_CREATED + 10);
    let mut plugin = host.load::<HmacAuth>(json!({
        "keys": [{ "id": "test-shared-secret", "secret_base64": RFC_SECRET }],
        "components": [], "digest_bodies": false,
    }))?;
    let tampered = rfc_request().header("date", "Wed, 21 Apr 2021 02:07:55 GMT");
    assert_eq!(
        outcome(&mut plugin, tampered).0,
        401,
        "two date lines joined"
    );
    host.set_time_ms((RFC_CREATED + 301) * 1000);
    assert_eq!(outcome(&mut plugin, rfc_request()).0, 401, "past the skew");
    assert!(host.logs().iter().any(|l| l.message.contains("301 s away")));
    Ok(())
}

/// Signs `req` (whose components' values are given, in order) as a client
/// would: the base written out by hand, HMAC-SHA256 with `SECRET`.
fn signed(req: MockRequest, covered: &[(&str, &str)], params: &str) -> MockRequest {
    let names: Vec<String> = covered.iter().map(|(n, _)| format!("\"{n}\"")).collect();
    let input = format!("({}){params}", names.join(" "));
    let mut base = String::new();
    for (name, value) in covered {
        base.push_str(&format!("\"{name}\": {value}\n"));
    }
    base.push_str(&format!("\"@signature-params\": {input}"));
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("key");
    mac.update(base.as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    req.header("signature-input", &format!("sig1={input}"))
        .header("signature", &format!("sig1=:{signature}:"))
}

fn plugin_at(host: &MockHost) -> Result<MockPlugin<HmacAuth>, Box<dyn std::error::Error>> {
    Ok(host.load::<HmacAuth>(json!({
        "keys": [{ "id": "billing", "secret": SECRET, "consumer": "billing-service" }],
    }))?)
}

const NOW_S: u64 = 1_800_000_000;

fn created(offset: i64) -> String {
    format!(";created={};keyid=\"billing\"", NOW_S as i64 + offset)
}

#[test]
fn the_default_components_and_a_body_digest_are_required_and_checked() -> TestResult {
    let host = host_at(NOW_S);
    let mut plugin = plugin_at(&host)?;
    let get = || {
        MockRequest::get("/orders/7?full=1")
            .authority("api.example:443")
            .scheme("https")
    };
    let defaults = [
        ("@method", "GET"),
        ("@authority", "api.example"),
        ("@path", "/orders/7"),
        ("@query", "?full=1"),
    ];
    assert_eq!(
        outcome(&mut plugin, signed(get(), &defaults, &created(0))).0,
        200
    );
    assert_eq!(host.context("consumer").as_deref(), Some("billing-service"));
    // Without `@query`: the query could be changed unseen.
    let (status, _) = outcome(&mut plugin, signed(get(), &defaults[..3], &created(1)));
    assert_eq!(status, 401);
    assert!(
        host.logs()
            .iter()
            .any(|l| l.message.contains("does not cover `@query`"))
    );

    // A body must be covered by `content-digest`, and match it.
    let body = br#"{"amount": 10}"#;
    let digest = format!("sha-256=:{}:", STANDARD.encode(Sha256::digest(body)));
    let post = |body: &[u8]| {
        MockRequest::post("/pay")
            .authority("api.example")
            .header("content-length", &body.len().to_string())
            .header("content-digest", &digest)
            .body(body.to_vec())
    };
    let mut covered = vec![
        ("@method", "POST"),
        ("@authority", "api.example"),
        ("@path", "/pay"),
        ("@query", "?"),
    ];
    let (status, _) = outcome(&mut plugin, signed(post(body), &covered, &created(2)));
    assert_eq!(status, 401, "a body without content-digest covered");
    covered.push(("content-digest", digest.as_str()));
    assert_eq!(
        outcome(&mut plugin, signed(post(body), &covered, &created(3))).0,
        200
    );
    let (status, _) = outcome(
        &mut plugin,
        signed(post(br#"{"amount": 99}"#), &covered, &created(4)),
    );
    assert_eq!(status, 401, "the body changed under its digest");
    assert!(
        host.logs()
            .iter()
            .any(|l| l.message.contains("does not match its `sha-256` digest"))
    );
    Ok(())
}

#[test]
fn wrong_parameters_keys_and_missing_fields_are_refused() -> TestResult {
    let host = host_at(NOW_S);
    let mut plugin = plugin_at(&host)?;
    let get = || MockRequest::get("/a").authority("api.example");
    let covered = [
        ("@method", "GET"),
        ("@authority", "api.example"),
        ("@path", "/a"),
        ("@query", "?"),
    ];
    for (params, why) in [
        (
            format!("{};alg=\"hmac-sha512\"", created(0)),
            "is not hmac-sha256",
        ),
        (";keyid=\"billing\"".to_owned(), "no `created`"),
        (
            format!(";created={};keyid=\"nobody\"", NOW_S),
            "known `keyid`",
        ),
        (
            format!("{};expires={}", created(-10), NOW_S - 1),
            "`expires` has passed",
        ),
    ] {
        assert_eq!(
            outcome(&mut plugin, signed(get(), &covered, &params)).0,
            401,
            "{why}"
        );
        assert!(
            host.logs().iter().any(|l| l.message.contains(why)),
            "{why}: {:?}",
            host.logs()
        );
    }
    // A signature by another secret.
    let forged = get()
        .header(
            "signature-input",
            &format!(
                "sig1=(\"@method\" \"@authority\" \"@path\" \"@query\"){}",
                created(0)
            ),
        )
        .header(
            "signature",
            "sig1=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:",
        );
    assert_eq!(outcome(&mut plugin, forged).0, 401);

    // No signature at all: what to send.
    let mut req = get();
    let Action::Respond(reply) = plugin.on_request(&mut req)? else {
        panic!("let through unsigned");
    };
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        reply.header_value("accept-signature"),
        Some(r#"sig1=("@method" "@authority" "@path" "@query");created;alg="hmac-sha256""#)
    );
    let body: Value = serde_json::from_slice(reply.body_bytes())?;
    assert_eq!(body["type"], "urn:portico:problem:missing-signature");
    Ok(())
}

#[test]
fn an_unavailable_replay_store_fails_closed() -> TestResult {
    let host = host_at(NOW_S);
    let mut plugin = plugin_at(&host)?;
    host.set_state_unavailable(true);
    let covered = [
        ("@method", "GET"),
        ("@authority", "api.example"),
        ("@path", "/a"),
        ("@query", "?"),
    ];
    let req = signed(
        MockRequest::get("/a").authority("api.example"),
        &covered,
        &created(0),
    );
    let (status, body) = outcome(&mut plugin, req);
    assert_eq!(
        (status, kind(&body)),
        (503, Some("urn:portico:problem:signature-check-unavailable"))
    );
    Ok(())
}

#[test]
fn config_errors_name_the_key() {
    let host = MockHost::with_grants(&GRANTS);
    let error = |config: Value| match host.load::<HmacAuth>(config) {
        Ok(_) => panic!("accepted"),
        Err(err) => format!("{}: {}", err.key(), err.message()),
    };
    assert!(error(json!({ "keys": [{ "id": "a", "secret": "short" }] })).contains("at least 32"));
    assert!(error(json!({ "keys": [{ "id": "a" }] })).contains("exactly one"));
    assert!(error(json!({ "keys": [] })).contains("at least one key"));
    assert!(
        error(json!({ "keys": [{ "id": "a", "secret": SECRET }], "components": ["@status"] }))
            .contains("`@status`")
    );
    assert!(
        error(
            json!({ "keys": [{ "id": "a", "secret": SECRET }, { "id": "a", "secret": SECRET }] })
        )
        .contains("used twice")
    );
    let skew = |value: Value| {
        error(json!({ "keys": [{ "id": "a", "secret": SECRET }], "max_skew": value }))
    };
    assert!(skew(json!("1500ms")).contains("whole seconds"));
    assert!(skew(json!(300)).contains("a duration such as"));
    assert!(
        host.load::<HmacAuth>(
            json!({ "keys": [{ "id": "a", "secret": SECRET }], "max_skew": "2m" })
        )
        .is_ok()
    );
}
