//! Checking a request's signature: which one, its parameters, what it
//! covers, the MAC, the body's digest, and that it was not seen before.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use portico_sdk::{Request, kv};
use sha2::{Digest, Sha256, Sha512};

use crate::base::signature_base;
use crate::config::{Client, Config};
use crate::fields::{self, Bare, Input};

/// Most signatures one request may carry; more are refused unread.
const MAX_SIGNATURES: usize = 4;

/// Why a request was not let through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No `Signature-Input` or no `Signature`.
    Missing,
    /// A signature that does not pass; the reason is logged, never sent.
    Invalid(String),
    /// The replay check could not be made (the kv store is unavailable).
    Unavailable,
}

fn invalid(why: impl Into<String>) -> Refusal {
    Refusal::Invalid(why.into())
}

/// The client whose signature `req` carries, once every check passed.
pub fn verify<'c>(
    req: &Request<'_>,
    config: &'c Config,
    now_ms: u64,
) -> Result<&'c Client, Refusal> {
    let (Some(input_text), Some(signature_text)) =
        (joined(req, "signature-input"), joined(req, "signature"))
    else {
        return Err(Refusal::Missing);
    };
    let inputs =
        fields::inputs(&input_text).map_err(|e| invalid(format!("Signature-Input: {e}")))?;
    let signatures =
        fields::signatures(&signature_text).map_err(|e| invalid(format!("Signature: {e}")))?;
    if inputs.len() > MAX_SIGNATURES {
        return Err(invalid(format!("more than {MAX_SIGNATURES} signatures")));
    }
    let (input, client) = inputs
        .iter()
        .filter(|i| config.label.as_ref().is_none_or(|l| *l == i.label))
        .find_map(|input| match input.param("keyid") {
            Some(Bare::String(id)) => config.clients.get(id).map(|c| (input, c)),
            _ => None,
        })
        .ok_or_else(|| invalid("no signature with a known `keyid` (and the configured label)"))?;
    let signature = signatures
        .iter()
        .find(|(label, _)| *label == input.label)
        .map(|(_, bytes)| bytes)
        .ok_or_else(|| invalid(format!("no `Signature` for the label `{}`", input.label)))?;
    check_params(input, config, now_ms)?;
    check_coverage(req, input, config)?;
    let base = signature_base(req, input).map_err(invalid)?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(&client.secret).map_err(|_| invalid("unusable key"))?;
    mac.update(base.as_bytes());
    mac.verify_slice(signature)
        .map_err(|_| invalid(format!("the signature `{}` does not match", input.label)))?;
    if input.components.iter().any(|c| c.name == "content-digest") {
        check_digest(req)?;
    }
    if config.replay_protection {
        check_replay(signature, input, config, now_ms)?;
    }
    Ok(client)
}

/// Every field line of `name`, joined with `, ` (one dictionary).
fn joined(req: &Request<'_>, name: &str) -> Option<String> {
    let lines = req.header_all(name);
    (!lines.is_empty()).then(|| lines.join(", "))
}

/// `alg` (if given) is `hmac-sha256`; `created` is within the skew;
/// `expires` (if given) has not passed.
fn check_params(input: &Input, config: &Config, now_ms: u64) -> Result<(), Refusal> {
    match input.param("alg") {
        None => {}
        Some(Bare::String(alg)) if alg == "hmac-sha256" => {}
        Some(other) => return Err(invalid(format!("`alg` {other:?} is not hmac-sha256"))),
    }
    let now = i64::try_from(now_ms / 1000).unwrap_or(i64::MAX);
    let created = match input.param("created") {
        Some(Bare::Integer(created)) => *created,
        Some(_) => return Err(invalid("`created` is not an integer")),
        None => return Err(invalid("no `created`")),
    };
    let skew = i64::try_from(config.max_skew_s).unwrap_or(i64::MAX);
    if created.abs_diff(now) > skew.unsigned_abs() {
        return Err(invalid(format!(
            "`created` is {} s away from now (at most {skew})",
            now.saturating_sub(created)
        )));
    }
    match input.param("expires") {
        None => Ok(()),
        Some(Bare::Integer(expires)) if *expires > now => Ok(()),
        Some(_) => Err(invalid("`expires` has passed or is not an integer")),
    }
}

/// The configured components are covered, and `content-digest` too when
/// the request has a body and `digest_bodies` is on.
fn check_coverage(req: &Request<'_>, input: &Input, config: &Config) -> Result<(), Refusal> {
    let covers = |name: &str| input.components.iter().any(|c| c.name == name);
    if let Some(missing) = config.components.iter().find(|name| !covers(name)) {
        return Err(invalid(format!("the signature does not cover `{missing}`")));
    }
    let has_body = req.header("transfer-encoding").is_some()
        || req
            .header("content-length")
            .is_some_and(|n| n.trim() != "0");
    if config.digest_bodies && has_body && !covers("content-digest") {
        return Err(invalid("a request with a body must cover `content-digest`"));
    }
    Ok(())
}

/// `Content-Digest` (RFC 9530) matches the body: every `sha-256` or
/// `sha-512` member it has (at least one) is the body's digest.
fn check_digest(req: &Request<'_>) -> Result<(), Refusal> {
    let text = joined(req, "content-digest").ok_or_else(|| invalid("no Content-Digest"))?;
    let digests = fields::digests(&text).map_err(|e| invalid(format!("Content-Digest: {e}")))?;
    let body = req
        .body()
        .map_err(|e| invalid(format!("the body could not be read: {e}")))?;
    let mut checked = 0;
    for (alg, digest) in &digests {
        let actual = match alg.as_str() {
            "sha-256" => Sha256::digest(&body).to_vec(),
            "sha-512" => Sha512::digest(&body).to_vec(),
            _ => continue,
        };
        if actual != *digest {
            return Err(invalid(format!(
                "the body does not match its `{alg}` digest"
            )));
        }
        checked += 1;
    }
    if checked == 0 {
        return Err(invalid("Content-Digest has no sha-256 or sha-512 member"));
    }
    Ok(())
}

/// Counts the signature in `kv` for as long as it could pass the skew
/// check (until `created + max_skew`); a second use is a replay.
fn check_replay(
    signature: &[u8],
    input: &Input,
    config: &Config,
    now_ms: u64,
) -> Result<(), Refusal> {
    let created_ms = match input.param("created") {
        Some(Bare::Integer(created)) => u64::try_from(*created).unwrap_or(0) * 1000,
        _ => 0,
    };
    let until_ms = created_ms.saturating_add(config.max_skew_s * 1000);
    let ttl = std::time::Duration::from_millis(until_ms.saturating_sub(now_ms).max(1000));
    let key = format!("seen:{}", URL_SAFE_NO_PAD.encode(signature));
    match kv::increment(&key, 1, Some(ttl)) {
        Ok(1) => Ok(()),
        Ok(_) => Err(invalid(format!(
            "the signature `{}` was used before",
            input.label
        ))),
        Err(_) => Err(Refusal::Unavailable),
    }
}
