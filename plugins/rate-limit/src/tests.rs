use std::time::Duration;

use portico_sdk::http::StatusCode;
use portico_sdk::testing::{MockHost, MockPlugin, MockRequest, MockResponse};
use serde_json::{Value, json};

use super::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

const GRANTS: [&str; 4] = ["kv", "clock", "context", "metrics"];

fn host_at(ms: u64) -> MockHost {
    let host = MockHost::with_grants(&GRANTS);
    host.set_time_ms(ms);
    host
}

fn config_error(config: Value) -> (String, String) {
    let host = MockHost::with_grants(&GRANTS);
    match host.load::<RateLimit>(config) {
        Ok(_) => panic!("config accepted"),
        Err(err) => (err.key().to_owned(), err.message().to_owned()),
    }
}

/// Sends one request (and its response phase) and returns the response the
/// client would get: the upstream's 200 or the plugin's reply.
fn send(plugin: &mut MockPlugin<RateLimit>, req: MockRequest) -> Result<MockResponse, Error> {
    let mut req = req;
    let mut res = match plugin.on_request(&mut req)? {
        Action::Continue => MockResponse::new(200),
        Action::Respond(reply) => MockResponse::from_reply(&reply),
    };
    plugin.on_response(&mut res)?;
    Ok(res)
}

fn statuses(plugin: &mut MockPlugin<RateLimit>, n: usize, req: &MockRequest) -> Vec<u16> {
    (0..n)
        .map(|_| match send(plugin, req.clone()) {
            Ok(res) => res.status().as_u16(),
            Err(err) => panic!("{err}"),
        })
        .collect()
}

#[test]
fn admits_the_limit_then_answers_429_with_retry_after_and_problem_json() -> TestResult {
    let host = host_at(1_000_000);
    let mut plugin = host.load::<RateLimit>(
        json!({ "key": "route", "policies": [{ "limit": 3, "window": "1s" }] }),
    )?;
    let req = MockRequest::get("/");
    assert_eq!(statuses(&mut plugin, 4, &req), [200, 200, 200, 429]);

    let res = send(&mut plugin, req.clone())?;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    // The 3 requests of this window slide out of it from the next one on:
    // 3 · (1 − 0.334) + 1 ≤ 3 after 1.334 s.
    assert_eq!(res.header_value("retry-after"), Some("2"));
    assert_eq!(
        res.header_value("content-type"),
        Some("application/problem+json")
    );
    let body: Value = serde_json::from_slice(res.body_bytes())?;
    assert_eq!(body["type"], "urn:portico:problem:rate-limited");
    assert_eq!(body["status"], 429);
    assert_eq!(body["policy"], "3-per-1s");
    assert_eq!(
        res.header_values("ratelimit-policy"),
        [r#""3-per-1s";q=3;w=1"#]
    );
    assert_eq!(res.header_values("ratelimit"), [r#""3-per-1s";r=0;t=2"#]);

    // A fixed window later, the previous one fully slid out.
    host.advance(Duration::from_secs(2));
    assert_eq!(statuses(&mut plugin, 4, &req), [200, 200, 200, 429]);
    assert_eq!(
        host.counter("rejections", &[("policy", "3-per-1s")]),
        3,
        "each 429 is counted by its policy"
    );
    Ok(())
}

#[test]
fn allowed_responses_carry_remaining_and_reset() -> TestResult {
    let host = host_at(3_600_000_000 + 15_000);
    let mut plugin = host.load::<RateLimit>(json!({
        "key": "client_addr",
        "policies": [{ "limit": 10, "window": "1m" }, { "limit": 100, "window": "1h", "name": "hourly" }],
    }))?;
    let res = send(&mut plugin, MockRequest::get("/"))?;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.header_value("ratelimit-policy"),
        Some(r#""10-per-1m";q=10;w=60, "hourly";q=100;w=3600"#)
    );
    // 15 s into the minute and into the hour.
    assert_eq!(
        res.header_value("ratelimit"),
        Some(r#""10-per-1m";r=9;t=45, "hourly";r=99;t=3585"#)
    );
    Ok(())
}

#[test]
fn the_previous_window_still_counts_while_it_slides_out() -> TestResult {
    let host = host_at(10_000);
    let mut plugin = host.load::<RateLimit>(
        json!({ "key": "route", "policies": [{ "limit": 10, "window": "10s" }] }),
    )?;
    let req = MockRequest::get("/");
    assert_eq!(
        statuses(&mut plugin, 10, &req)
            .iter()
            .filter(|s| **s == 200)
            .count(),
        10
    );
    // 2.5 s into the next window: 7.5 of the previous 10 still count.
    host.advance(Duration::from_millis(12_500));
    let got = statuses(&mut plugin, 4, &req);
    assert_eq!(got, [200, 200, 429, 429]);
    let res = send(&mut plugin, req)?;
    // 10 · (10 − 2.5 − d)/10 + 2 + 1 ≤ 10 → d ≥ 0.5 s.
    assert_eq!(res.header_value("retry-after"), Some("1"));
    Ok(())
}

/// `r=` of the `ratelimit` header: the requests still allowed.
fn remaining(res: &MockResponse) -> Option<u64> {
    let header = res.header_value("ratelimit")?;
    header
        .split(';')
        .find_map(|part| part.strip_prefix("r=")?.parse().ok())
}

/// 10 requests in the window at 10 s, then two `advance_ms` later with the
/// previous window's counter set to 0 between them: what each has left.
fn remaining_before_and_after_a_change_to_the_previous_count(
    advance_ms: u64,
) -> Result<(Option<u64>, Option<u64>), Error> {
    let config = json!({ "key": "route", "policies": [{ "limit": 100, "window": "10s" }] });
    let host = host_at(10_000);
    let mut plugin = host.load::<RateLimit>(config)?;
    statuses(&mut plugin, 10, &MockRequest::get("/"));
    host.advance(Duration::from_millis(advance_ms));
    let before = remaining(&send(&mut plugin, MockRequest::get("/"))?);
    host.kv_set::<RateLimit>("rl:4:test:100-per-10s:1:route", "0", None);
    let after = remaining(&send(&mut plugin, MockRequest::get("/"))?);
    Ok((before, after))
}

#[test]
fn a_settled_previous_window_is_read_once_and_a_settling_one_every_time() -> TestResult {
    // 0.5 s into the next window (under its first tenth): still settling,
    // so the change is seen: 100 − 10 · 0.95 − 1 = 89.5, then 100 − 2.
    assert_eq!(
        remaining_before_and_after_a_change_to_the_previous_count(10_500)?,
        (Some(89), Some(98))
    );
    // 2.5 s in: settled, the count read once is kept by the instance:
    // 100 − 10 · 0.75 − 1 = 91.5, then 90.5.
    assert_eq!(
        remaining_before_and_after_a_change_to_the_previous_count(12_500)?,
        (Some(91), Some(90))
    );
    Ok(())
}

#[test]
fn counters_are_per_consumer_with_the_client_address_as_fallback() -> TestResult {
    let host = host_at(5_000);
    let mut plugin =
        host.load::<RateLimit>(json!({ "policies": [{ "limit": 2, "window": "1m" }] }))?;
    let from = |addr: &str| MockRequest::get("/").client_addr(addr);
    for user in ["alice", "bob"] {
        host.set_context("consumer", user);
        assert_eq!(
            statuses(&mut plugin, 3, &from("10.0.0.1")),
            [200, 200, 429],
            "{user}"
        );
    }
    host.clear_context();
    assert_eq!(statuses(&mut plugin, 3, &from("10.0.0.1")), [200, 200, 429]);
    assert_eq!(statuses(&mut plugin, 1, &from("10.0.0.2")), [200]);
    assert!(
        host.kv_get::<RateLimit>("rl:4:test:2-per-1m:0:c:alice")
            .is_some()
    );
    assert!(
        host.kv_get::<RateLimit>("rl:4:test:2-per-1m:0:ip:10.0.0.1")
            .is_some()
    );
    Ok(())
}

#[test]
fn header_keys_are_hashed_when_long_and_buckets_are_shared() -> TestResult {
    let host = host_at(0);
    let config = json!({ "key": "header:x-api-key", "bucket": "shared", "policies": [{ "limit": 1, "window": "1s" }] });
    let mut a = host.load::<RateLimit>(config.clone())?;
    let mut b = host.load::<RateLimit>(config)?;
    let long = "k".repeat(100);
    let req = |route: &str| {
        MockRequest::get("/")
            .route_name(route)
            .header("x-api-key", &long)
    };
    assert_eq!(statuses(&mut a, 1, &req("one")), [200]);
    assert_eq!(
        statuses(&mut b, 1, &req("two")),
        [429],
        "same bucket, same key"
    );
    let hashed = "rl:6:shared:1-per-1s:0:h:sha256:";
    assert!(
        host.kv_get::<RateLimit>(&format!("{hashed}{}", sha256_hex(&long)))
            .is_some()
    );
    Ok(())
}

fn sha256_hex(value: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(value.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_rejection_by_one_policy_gives_back_the_others_counts() -> TestResult {
    let host = host_at(0);
    let mut plugin = host.load::<RateLimit>(json!({
        "key": "route",
        "policies": [{ "limit": 100, "window": "1h", "name": "hourly" }, { "limit": 2, "window": "1s", "name": "burst" }],
    }))?;
    let req = MockRequest::get("/");
    assert_eq!(statuses(&mut plugin, 5, &req), [200, 200, 429, 429, 429]);
    assert_eq!(
        host.kv_get::<RateLimit>("rl:4:test:hourly:0:route")
            .as_deref(),
        Some(&b"2"[..])
    );
    assert_eq!(
        host.kv_get::<RateLimit>("rl:4:test:burst:0:route")
            .as_deref(),
        Some(&b"2"[..])
    );
    let res = send(&mut plugin, req)?;
    assert_eq!(
        res.header_value("ratelimit"),
        Some(r#""hourly";r=98;t=3600, "burst";r=0;t=2"#)
    );
    let body: Value = serde_json::from_slice(res.body_bytes())?;
    assert_eq!(body["policy"], "burst");
    Ok(())
}

#[test]
fn fields_can_be_turned_off() -> TestResult {
    let host = host_at(0);
    let mut plugin = host.load::<RateLimit>(
        json!({ "key": "route", "headers": false, "policies": [{ "limit": 1, "window": "1s" }] }),
    )?;
    let ok = send(&mut plugin, MockRequest::get("/"))?;
    let limited = send(&mut plugin, MockRequest::get("/"))?;
    for res in [ok, limited] {
        assert_eq!(res.header_value("ratelimit"), None);
        assert_eq!(res.header_value("ratelimit-policy"), None);
    }
    Ok(())
}

#[test]
fn config_errors_name_the_key() {
    let cases = [
        (json!({}), "policies", "missing field `policies`"),
        (
            json!({ "policies": [] }),
            "policies",
            "at least one policy is required",
        ),
        (
            json!({ "policies": [{ "limit": 0, "window": "1s" }] }),
            "policies[0].limit",
            "limit must be 1 to 10^12, not 0",
        ),
        (
            json!({ "policies": [{ "limit": 1, "window": "1w" }] }),
            "policies[0].window",
            "",
        ),
        (
            json!({ "policies": [{ "limit": 1, "window": "0s" }] }),
            "policies[0].window",
            "window \"0s\" must be whole seconds, 1s to 365d",
        ),
        (
            json!({ "policies": [{ "limit": 1, "window": "1500ms" }] }),
            "policies[0].window",
            "window \"1500ms\" must be whole seconds, 1s to 365d",
        ),
        (
            json!({ "policies": [{ "limit": 1, "window": 60 }] }),
            "policies[0].window",
            "",
        ),
        (
            json!({ "policies": [{ "limit": 1, "window": "1s", "burst": 2 }] }),
            "policies[0].burst",
            "",
        ),
        (
            json!({ "policies": [{ "limit": 1, "window": "1s", "name": "a b" }] }),
            "policies[0].name",
            "",
        ),
        (
            json!({ "policies": [{ "limit": 1, "window": "1s" }, { "limit": 1, "window": "1s" }] }),
            "policies",
            "two policies are named \"1-per-1s\": give them distinct `name`s",
        ),
        (
            json!({ "key": "cookie", "policies": [{ "limit": 1, "window": "1s" }] }),
            "key",
            "",
        ),
        (
            json!({ "key": "header:bad name", "policies": [{ "limit": 1, "window": "1s" }] }),
            "key",
            "invalid header name `bad name`",
        ),
        (
            json!({ "bucket": "a:b", "policies": [{ "limit": 1, "window": "1s" }] }),
            "bucket",
            "",
        ),
        (json!({ "polices": [] }), "polices", ""),
    ];
    for (config, key, message) in cases {
        let (got_key, got_message) = config_error(config.clone());
        assert_eq!(got_key, key, "{config}: {got_message}");
        if !message.is_empty() {
            assert_eq!(got_message, message, "{config}");
        }
    }
}

#[test]
fn unreachable_shared_counters_fail_closed_with_503_and_count_again_after() -> TestResult {
    let host = host_at(1_000_000);
    let mut plugin = host.load::<RateLimit>(
        json!({ "key": "route", "policies": [{ "limit": 2, "window": "1m" }] }),
    )?;
    let req = MockRequest::get("/");
    assert_eq!(statuses(&mut plugin, 1, &req), [200]);

    host.set_state_unavailable(true);
    let res = send(&mut plugin, req.clone())?;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(res.header_value("retry-after"), Some("1"));
    let body: Value = serde_json::from_slice(res.body_bytes())?;
    assert_eq!(body["type"], "urn:portico:problem:rate-limit-unavailable");
    assert_eq!(host.counter("store_unavailable", &[]), 1);

    // Back: the count kept in the store goes on from where it was.
    host.set_state_unavailable(false);
    assert_eq!(statuses(&mut plugin, 2, &req), [200, 429]);
    Ok(())
}

#[test]
fn without_headers_the_response_phase_is_skipped() -> TestResult {
    let host = host_at(1_000);
    let policies = json!([{ "limit": 5, "window": "1s" }]);
    let mut quiet = host.load::<RateLimit>(json!({ "headers": false, "policies": policies }))?;
    quiet.on_request(&mut MockRequest::get("/"))?;
    assert_eq!(quiet.response_phase(), ResponsePhase::Skip);
    let mut loud = host.load::<RateLimit>(json!({ "policies": policies }))?;
    loud.on_request(&mut MockRequest::get("/"))?;
    assert_eq!(
        loud.response_phase(),
        ResponsePhase::SameInstance,
        "its headers come from the request's decision"
    );
    Ok(())
}
