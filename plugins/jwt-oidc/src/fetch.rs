//! Fetching the issuer's key set over the `http` capability: its OpenID
//! Provider metadata (discovery) for the `jwks_uri`, then the JWKS.

use jwt_core::config::{Remote, checked_url};
use portico_sdk::http::StatusCode;
use portico_sdk::outbound;
use serde_json::Value;

/// The JWKS document's text, from `remote.jwks_uri` or by discovery.
/// `Err` says what failed (for the log).
pub fn jwks(remote: &Remote) -> Result<String, String> {
    let uri = match &remote.jwks_uri {
        Some(uri) => uri.clone(),
        None => discover(&remote.issuer)?,
    };
    let body = get(&uri)?;
    String::from_utf8(body).map_err(|_| format!("{uri}: the key set is not UTF-8"))
}

/// The URL of an issuer's metadata (OIDC Discovery 4): the issuer with
/// `/.well-known/openid-configuration` appended.
pub fn discovery_url(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// The `jwks_uri` of `issuer`'s metadata, whose own `issuer` must be the
/// one asked about (OIDC Discovery 4.3: a metadata document for another
/// issuer is refused).
fn discover(issuer: &str) -> Result<String, String> {
    let url = discovery_url(issuer);
    let doc: Value = serde_json::from_slice(&get(&url)?)
        .map_err(|e| format!("{url}: the metadata is not JSON: {e}"))?;
    match doc.get("issuer").and_then(Value::as_str) {
        Some(named) if named == issuer => {}
        Some(named) => return Err(format!("{url}: the metadata is for issuer `{named}`")),
        None => return Err(format!("{url}: the metadata has no `issuer`")),
    }
    let uri = doc
        .get("jwks_uri")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{url}: the metadata has no `jwks_uri`"))?;
    checked_url(uri.to_owned()).map_err(|e| format!("{url}: `jwks_uri` {e}"))
}

/// `GET url`: its body when the answer is 200.
fn get(url: &str) -> Result<Vec<u8>, String> {
    let response = outbound::get(url).map_err(|e| format!("{url}: {e}"))?;
    if response.status() != StatusCode::OK {
        return Err(format!("{url}: answered {}", response.status()));
    }
    Ok(response.into_body())
}
