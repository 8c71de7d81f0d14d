//! `pii-redact` against the mock host: nested JSON, arrays, headers, and
//! look-alikes that must stay.

use portico_sdk::testing::{MockHost, MockPlugin, MockResponse};
use serde_json::{Value, json};

use crate::PiiRedact;

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn plugin(config: Value) -> Result<(MockHost, MockPlugin<PiiRedact>), Box<dyn std::error::Error>> {
    let host = MockHost::with_grants(&["log"]);
    let plugin = host.load::<PiiRedact>(config)?;
    Ok((host, plugin))
}

fn respond(
    plugin: &mut MockPlugin<PiiRedact>,
    body: &Value,
) -> Result<Value, Box<dyn std::error::Error>> {
    let mut res = MockResponse::new(200)
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_string());
    plugin.on_response(&mut res)?;
    Ok(serde_json::from_slice(res.body_bytes())?)
}

#[test]
fn nested_objects_arrays_and_strings_are_masked_and_look_alikes_stay() -> TestResult {
    let (_host, mut plugin) = plugin(json!({
        "pointers": ["/customer/ssn", "/orders/*/card/number"],
        "patterns": [{ "name": "phone", "regex": r"\+44 \d{4} \d{6}" }],
    }))?;
    let body = json!({
        "customer": {
            "name": "Ann Lee",
            "ssn": "078-05-1120",
            "email": "ann.lee@mail.example.org",
            "note": "call +44 7700 900123 or write to ann@example.com",
        },
        "orders": [
            { "id": 1234567890123456u64, "ref": "1234567890123456", "card": { "number": "4111 1111 1111 1111", "exp": "12/29" } },
            { "id": 2, "ref": "4111 1111 1111 1112", "card": { "number": "5500000000000004" }, "iban": "DE89 3704 0044 0532 0130 00" },
        ],
        "tags": ["vip", "paid by GB82WEST12345698765432"],
    });
    let out = respond(&mut plugin, &body)?;
    assert_eq!(out["customer"]["name"], "Ann Lee");
    assert_eq!(out["customer"]["ssn"], "[redacted]");
    assert_eq!(out["customer"]["email"], "[redacted]");
    assert_eq!(
        out["customer"]["note"],
        "call [redacted] or write to [redacted]"
    );
    assert_eq!(out["orders"][0]["card"]["number"], "[redacted]");
    assert_eq!(out["orders"][0]["card"]["exp"], "12/29");
    assert_eq!(out["orders"][1]["card"]["number"], "[redacted]");
    assert_eq!(out["orders"][1]["iban"], "[redacted]");
    assert_eq!(out["tags"], json!(["vip", "paid by [redacted]"]));
    // 16 digits that fail Luhn, and numbers (not strings), stay.
    assert_eq!(out["orders"][0]["ref"], "1234567890123456");
    assert_eq!(out["orders"][1]["ref"], "4111 1111 1111 1112");
    assert_eq!(out["orders"][0]["id"], 1234567890123456u64);
    Ok(())
}

#[test]
fn headers_are_masked_and_non_json_bodies_pass() -> TestResult {
    let (host, mut plugin) = plugin(json!({ "headers": ["x-customer-email"], "mask": "***" }))?;
    let mut res = MockResponse::new(200)
        .header("content-type", "text/plain")
        .header("x-customer-email", "ann@example.com")
        .body("ann@example.com");
    plugin.on_response(&mut res)?;
    assert_eq!(res.header_value("x-customer-email"), Some("***"));
    assert_eq!(res.body_bytes(), b"ann@example.com", "not JSON: untouched");

    let mut broken = MockResponse::new(200)
        .header("content-type", "application/json")
        .body("{ not json ann@example.com");
    plugin.on_response(&mut broken)?;
    assert_eq!(broken.body_bytes(), b"{ not json ann@example.com");
    assert!(host.logs().iter().any(|l| l.message.contains("not JSON")));
    Ok(())
}

#[test]
fn config_errors_name_the_key() {
    let host = MockHost::with_grants(&["log"]);
    let error = |config: Value| match host.load::<PiiRedact>(config) {
        Ok(_) => panic!("accepted"),
        Err(err) => err.message().to_owned(),
    };
    assert!(error(json!({ "pointers": ["no-slash"] })).contains("pointers[0]"));
    assert!(error(json!({ "detect": ["ssn"] })).contains("detect[0]"));
    assert!(
        error(json!({ "patterns": [{ "name": "x", "regex": "(" }] })).contains("patterns[0].regex")
    );
    assert!(error(json!({ "detect": [] })).contains("nothing to redact"));
}
