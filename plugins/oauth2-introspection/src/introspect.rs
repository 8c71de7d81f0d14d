//! One introspection: the form request to the endpoint, the parsed answer,
//! and the cache of active answers.

use base64::Engine;
use portico_sdk::http::{Request, StatusCode};
use portico_sdk::{cache, outbound};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::{AuthMethod, Config};

/// What the IdP said about an active token, as cached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Active {
    /// `sub`.
    pub sub: Option<String>,
    /// `client_id`.
    pub client_id: Option<String>,
    /// `username`.
    pub username: Option<String>,
    /// `scope`, space-separated.
    pub scope: Option<String>,
    /// `aud`, one or several.
    pub aud: Vec<String>,
    /// `exp`, seconds since the epoch.
    pub exp: Option<u64>,
}

impl Active {
    /// The granted scopes.
    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.as_deref().unwrap_or_default().split_whitespace()
    }

    /// Who the token stands for: `sub`, else `username`, else `client_id`.
    pub fn consumer(&self) -> Option<&str> {
        self.sub
            .as_deref()
            .or(self.username.as_deref())
            .or(self.client_id.as_deref())
    }
}

/// The IdP's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// `active: true` and not expired.
    Active(Active),
    /// `active: false`, or expired by its `exp`.
    Inactive,
}

/// The IdP could not give a verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unavailable(pub String);

/// The RFC 7662 response body.
#[derive(Deserialize)]
struct Body {
    active: bool,
    sub: Option<String>,
    client_id: Option<String>,
    username: Option<String>,
    scope: Option<String>,
    #[serde(default)]
    aud: Audience,
    exp: Option<u64>,
}

#[derive(Default, Deserialize)]
#[serde(untagged)]
enum Audience {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

/// The cache key of `token`: a hash, so the cache never holds a token.
fn cache_key(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut key = String::with_capacity(7 + 64);
    key.push_str("active:");
    for byte in digest {
        key.push_str(&format!("{byte:02x}"));
    }
    key
}

/// The cached verdict for `token`, when an active one is cached.
pub fn cached(token: &str) -> Option<Active> {
    let bytes = cache::get(&cache_key(token))?;
    serde_json::from_slice(&bytes).ok()
}

/// Caches `active` for `token` until its `exp`, at most `max` seconds.
pub fn remember(token: &str, active: &Active, now_s: u64, max_s: u64) {
    let until = active
        .exp
        .map_or(max_s, |exp| exp.saturating_sub(now_s).min(max_s));
    if until == 0 {
        return;
    }
    if let Ok(bytes) = serde_json::to_vec(active) {
        cache::set(
            &cache_key(token),
            bytes,
            std::time::Duration::from_secs(until),
        );
    }
}

/// Asks the IdP about `token` (`now_s`: seconds since the epoch, for
/// `exp`).
pub fn introspect(config: &Config, token: &str, now_s: u64) -> Result<Verdict, Unavailable> {
    let mut form = format!("token={}&token_type_hint=access_token", encode(token));
    let mut request = Request::post(&config.endpoint.0)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/json");
    match config.auth_method {
        AuthMethod::Basic => {
            // RFC 6749 §2.3.1: each part form-encoded, then Base64.
            let pair = format!(
                "{}:{}",
                encode(&config.client_id),
                encode(&config.client_secret.0)
            );
            let credentials = base64::engine::general_purpose::STANDARD.encode(pair);
            request = request.header("authorization", format!("Basic {credentials}"));
        }
        AuthMethod::Post => {
            form.push_str(&format!(
                "&client_id={}&client_secret={}",
                encode(&config.client_id),
                encode(&config.client_secret.0)
            ));
        }
    }
    let request = request
        .body(form.into_bytes())
        .map_err(|e| Unavailable(e.to_string()))?;
    let response = outbound::send(request).map_err(|e| Unavailable(e.to_string()))?;
    if response.status() != StatusCode::OK {
        return Err(Unavailable(format!(
            "the introspection endpoint answered {}",
            response.status()
        )));
    }
    let body: Body = serde_json::from_slice(response.body()).map_err(|e| {
        Unavailable(format!(
            "the introspection answer is not RFC 7662 JSON: {e}"
        ))
    })?;
    if !body.active || body.exp.is_some_and(|exp| exp <= now_s) {
        return Ok(Verdict::Inactive);
    }
    let aud = match body.aud {
        Audience::None => Vec::new(),
        Audience::One(aud) => vec![aud],
        Audience::Many(aud) => aud,
    };
    Ok(Verdict::Active(Active {
        sub: body.sub,
        client_id: body.client_id,
        username: body.username,
        scope: body.scope,
        aud,
        exp: body.exp,
    }))
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_values_are_encoded() {
        assert_eq!(encode("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
        assert_eq!(encode("abc-._*"), "abc-._*");
    }

    #[test]
    fn cache_keys_hide_the_token() {
        let key = cache_key("secret-token");
        assert!(key.starts_with("active:") && !key.contains("secret"));
        assert_eq!(key.len(), 7 + 64);
    }
}
