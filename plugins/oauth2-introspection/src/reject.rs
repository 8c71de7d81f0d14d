//! The refusals: 401 and 403 with RFC 6750 challenges, 503 when the IdP
//! cannot answer; each with a problem+json body shaped like the gateway's.

use portico_sdk::http::StatusCode;
use portico_sdk::{Action, Reply};

/// 401: no bearer token.
pub fn missing(realm: &str) -> Action {
    reply(
        StatusCode::UNAUTHORIZED,
        Some(format!("Bearer realm=\"{realm}\"")),
        "missing-token",
        "Authentication required",
        "A bearer token is required in the Authorization header.",
    )
}

/// 401: the IdP says the token is not active (or it expired).
pub fn inactive(realm: &str) -> Action {
    reply(
        StatusCode::UNAUTHORIZED,
        Some(format!(
            "Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"The access token is not active\""
        )),
        "invalid-token",
        "Invalid token",
        "The access token is not active.",
    )
}

/// 403: active, but without a required scope or audience.
pub fn insufficient(realm: &str, scopes: &[String], what: &str) -> Action {
    let mut challenge = format!("Bearer realm=\"{realm}\", error=\"insufficient_scope\"");
    if !scopes.is_empty() {
        challenge.push_str(&format!(", scope=\"{}\"", scopes.join(" ")));
    }
    reply(
        StatusCode::FORBIDDEN,
        Some(challenge),
        "insufficient-scope",
        "Forbidden",
        what,
    )
}

/// 503: the IdP could not be asked (unreachable, slow, an error, a reply
/// that is not RFC 7662). The request fails closed.
pub fn unavailable() -> Action {
    let mut action = reply(
        StatusCode::SERVICE_UNAVAILABLE,
        None,
        "introspection-unavailable",
        "Token introspection unavailable",
        "The identity provider could not be asked about the token; try again shortly.",
    );
    if let Action::Respond(reply) = &mut action {
        *reply = reply.clone().header("retry-after", "1");
    }
    action
}

fn reply(
    status: StatusCode,
    challenge: Option<String>,
    kind: &str,
    title: &str,
    detail: &str,
) -> Action {
    let mut reply = Reply::problem(status, kind, title, detail, env!("CARGO_PKG_NAME"));
    if let Some(challenge) = challenge {
        reply = reply.header("www-authenticate", challenge);
    }
    Action::Respond(reply)
}
