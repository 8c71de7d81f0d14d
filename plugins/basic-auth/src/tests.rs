use base64::Engine;
use portico_sdk::testing::{MockHost, MockPlugin, MockRequest};
use serde_json::{Value, json};

use super::*;

/// argon2id (m=1024, t=1) of `alice-pass`.
pub const ALICE: &str = "$argon2id$v=19$m=1024,t=1,p=1$cG9ydGljby10ZXN0LXNhbHQ$HUxu8xHZgA+0CNbsDeU5rbzse2xgqmIM3tFSikbvYOw";
/// bcrypt (cost 4) of `bob-pass`.
pub const BOB: &str = "$2b$04$aE7wbEjhZwzxWUvyJRC0WeZLmHzueoNV7uN/gBd0frbVHAgoZec6a";

fn load(config: Value) -> (MockHost, MockPlugin<BasicAuth>) {
    let host = MockHost::with_grants(&["context"]);
    let plugin = host.load::<BasicAuth>(config).expect("config accepted");
    (host, plugin)
}

fn basic(user: &str, password: &str) -> String {
    let pair = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

fn status(plugin: &mut MockPlugin<BasicAuth>, authorization: Option<&str>) -> (u16, MockRequest) {
    let mut req = MockRequest::get("/");
    if let Some(value) = authorization {
        req = req.header("authorization", value);
    }
    let code = match plugin.on_request(&mut req).expect("runs") {
        Action::Continue => 200,
        Action::Respond(reply) => {
            assert_eq!(
                reply.header_value("www-authenticate"),
                Some("Basic realm=\"orders\", charset=\"UTF-8\"")
            );
            reply.status().as_u16()
        }
    };
    (code, req)
}

#[test]
fn good_credentials_name_the_consumer_and_are_removed() {
    let (host, mut plugin) = load(json!({
        "realm": "orders",
        "users": [{ "username": "alice", "hash": ALICE, "groups": ["admin", "beta"] }],
        "htpasswd": format!("# team\nbob:{BOB}\n"),
    }));
    let (code, req) = status(&mut plugin, Some(&basic("alice", "alice-pass")));
    assert_eq!(code, 200);
    assert_eq!(
        req.header_value("authorization"),
        None,
        "never sent upstream"
    );
    assert_eq!(host.context("consumer").as_deref(), Some("alice"));
    assert_eq!(
        host.context("consumer.groups").as_deref(),
        Some("admin,beta")
    );
    let (code, _) = status(&mut plugin, Some(&basic("bob", "bob-pass")));
    assert_eq!(code, 200, "bcrypt from the htpasswd text");
    assert_eq!(host.context("consumer").as_deref(), Some("bob"));
    // A password may contain `:`; only the first one separates.
    assert_eq!(
        status(&mut plugin, Some(&basic("bob", "bob-pass:x"))).0,
        401
    );
}

#[test]
fn bad_and_malformed_credentials_are_401() {
    let (_host, mut plugin) = load(json!({
        "realm": "orders",
        "users": [{ "username": "alice", "hash": ALICE }, { "username": "bob", "hash": BOB }],
    }));
    for authorization in [
        None,
        Some(basic("alice", "wrong").as_str()),
        Some(basic("nobody", "alice-pass").as_str()),
        Some(basic("", "alice-pass").as_str()),
        Some("Basic !!!not-base64"),
        Some("Basic YWxpY2U="), // "alice": no colon
        Some("Bearer abc"),
        Some("Basic"),
    ] {
        let (code, req) = status(&mut plugin, authorization);
        assert_eq!(code, 401, "{authorization:?}");
        assert_eq!(req.header_value("authorization"), None);
    }
}

#[test]
fn only_hashes_are_accepted() {
    let host = MockHost::with_grants(&["context"]);
    for (config, message) in [
        (
            json!({ "users": [{ "username": "a", "hash": "hunter2" }] }),
            "users[0].hash: not an argon2id",
        ),
        (
            json!({ "users": [{ "username": "a", "hash": "$2b$04$short" }] }),
            "60 characters",
        ),
        (
            json!({ "users": [{ "username": "a:b", "hash": BOB }] }),
            "not a user name",
        ),
        (
            json!({ "users": [{ "username": "a", "hash": BOB }, { "username": "a", "hash": ALICE }] }),
            "defined twice",
        ),
        (json!({ "htpasswd": "a:plain\n" }), "htpasswd: line 1"),
        (json!({}), "no users"),
    ] {
        let error = host.load::<BasicAuth>(config).err().expect("refused");
        assert!(error.message().contains(message), "{}", error.message());
    }
}
