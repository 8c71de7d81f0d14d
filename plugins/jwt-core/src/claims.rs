//! The claims of a verified token: time window, issuer, audience and
//! required claims (RFC 7519, section 4.1), and claim values as header text.

use serde_json::Value;

use crate::config::Config;
use crate::reject::Reason;
use crate::token::Object;

/// Checks `claims` against the config at `now_ms` (Unix milliseconds).
pub fn check(claims: &Object, config: &Config, now_ms: u64) -> Result<(), Reason> {
    let claims = &claims.0;
    let now = now_ms as f64 / 1000.0;
    let leeway = config.leeway_ms as f64 / 1000.0;
    match claims.get("exp") {
        Some(exp) => match exp.as_f64() {
            Some(exp) if now < exp + leeway => {}
            _ => return Err(Reason::Expired),
        },
        None if config.require_exp => return Err(Reason::MissingClaim("exp".into())),
        None => {}
    }
    if let Some(nbf) = claims.get("nbf") {
        match nbf.as_f64() {
            Some(nbf) if now + leeway >= nbf => {}
            _ => return Err(Reason::NotYetValid),
        }
    }
    match claims.get("iss") {
        Some(Value::String(iss)) if config.issuers.contains(iss) => {}
        _ => return Err(Reason::Issuer),
    }
    let accepted = |aud: &Value| {
        aud.as_str()
            .is_some_and(|a| config.audiences.iter().any(|c| c == a))
    };
    let audience_ok = match claims.get("aud") {
        Some(Value::String(_)) => claims.get("aud").is_some_and(accepted),
        Some(Value::Array(auds)) => auds.iter().all(Value::is_string) && auds.iter().any(accepted),
        _ => false,
    };
    if !audience_ok {
        return Err(Reason::Audience);
    }
    match config
        .required_claims
        .iter()
        .find(|name| claims.get(*name).is_none_or(Value::is_null))
    {
        Some(name) => Err(Reason::MissingClaim(name.clone())),
        None => Ok(()),
    }
}

/// A claim's values as group names: the strings of an array, or the words
/// of a space-separated string (`scope`); names with a `,` (the context's
/// separator) or control characters are left out.
pub fn groups(value: &Value) -> Vec<String> {
    let names: Vec<&str> = match value {
        Value::String(s) => s.split_whitespace().collect(),
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    names
        .into_iter()
        .filter(|n| !n.is_empty() && !n.contains(',') && n.bytes().all(|b| b >= 0x20 && b != 0x7f))
        .map(str::to_owned)
        .collect()
}

/// A claim's value as header text: strings as they are, arrays of scalars
/// joined with `,`, other values as JSON. `None` when the text cannot be a
/// header value (control characters) or the claim is null.
pub fn header_text(value: &Value) -> Option<String> {
    let text = match value {
        Value::Null => return None,
        Value::String(s) => s.clone(),
        Value::Array(items) if items.iter().all(|v| !v.is_array() && !v.is_object()) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    };
    let valid = text.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f));
    valid.then_some(text)
}
