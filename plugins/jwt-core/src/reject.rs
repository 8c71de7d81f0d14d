//! Why a request was refused, for the log, and the 401 the client gets,
//! which says no more than RFC 6750 requires.

use std::fmt;

use portico_sdk::http::StatusCode;
use portico_sdk::{Action, Reply};

/// Why a token was refused. Logged; never sent to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// Not a well-formed compact JWS with JSON header and claims.
    Malformed,
    /// `alg` is `none` or unsupported.
    UnsupportedAlg,
    /// The header has `crit`.
    Crit,
    /// No configured key has the token's `kid` and `alg`.
    UnknownKey,
    /// No candidate key verified the signature.
    BadSignature,
    /// `exp` has passed (leeway included), or is not a number.
    Expired,
    /// `nbf` is still ahead (leeway included), or is not a number.
    NotYetValid,
    /// `iss` is missing or not accepted.
    Issuer,
    /// `aud` is missing or names no accepted audience.
    Audience,
    /// A required claim is missing.
    MissingClaim(String),
    /// More than one token was sent.
    Ambiguous,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::Malformed => f.write_str("malformed token"),
            Reason::UnsupportedAlg => f.write_str("unsupported `alg`"),
            Reason::Crit => f.write_str("`crit` header parameter not understood"),
            Reason::UnknownKey => f.write_str("no key for the token's `kid` and `alg`"),
            Reason::BadSignature => f.write_str("bad signature"),
            Reason::Expired => f.write_str("expired"),
            Reason::NotYetValid => f.write_str("not yet valid"),
            Reason::Issuer => f.write_str("issuer not accepted"),
            Reason::Audience => f.write_str("audience not accepted"),
            Reason::MissingClaim(name) => write!(f, "missing claim `{name}`"),
            Reason::Ambiguous => f.write_str("more than one token"),
        }
    }
}

/// 401 for a request without a token: a challenge without an error code.
pub fn missing(realm: &str) -> Action {
    reply(
        format!("Bearer realm=\"{realm}\""),
        "missing-token",
        "Authentication required",
    )
}

/// 401 for a token that did not pass, whatever the reason.
pub fn invalid(realm: &str) -> Action {
    reply(
        format!("Bearer realm=\"{realm}\", error=\"invalid_token\""),
        "invalid-token",
        "Invalid token",
    )
}

fn reply(challenge: String, kind: &str, title: &str) -> Action {
    let status = StatusCode::UNAUTHORIZED;
    let body = serde_json::json!({
        "type": format!("urn:portico:problem:{kind}"),
        "title": title,
        "status": status.as_u16(),
    });
    Action::Respond(
        Reply::new(status)
            .header("www-authenticate", challenge)
            .header("content-type", "application/problem+json")
            .header("cache-control", "no-store")
            .body(body.to_string()),
    )
}
