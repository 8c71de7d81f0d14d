//! `hmac-auth`: HTTP Message Signatures (RFC 9421) with `hmac-sha256`, each
//! client holding a shared secret.
//!
//! ```toml
//! [[routes.plugins]]
//! name = "hmac-auth"
//! capabilities = ["kv", "clock", "context", "log"]
//! config.keys = [{ id = "billing", secret_base64 = "...", groups = ["internal"] }]
//! config.components = ["@method", "@authority", "@path", "@query"]   # default: what must be covered
//! config.max_skew = "5m"              # default: `created` at most this far from now
//! ```
//!
//! A request carries `Signature-Input: sig1=("@method" "@authority"
//! "@path" "@query" "content-digest");created=...;keyid="billing"` and
//! `Signature: sig1=:<base64 HMAC>:`. The signature whose `keyid` names a
//! configured key is checked ([`verify`]): `alg` (if sent) is
//! `hmac-sha256`; `created` is within `max_skew` and `expires` (if sent)
//! ahead; the configured components, and `content-digest` for a request
//! with a body, are covered; the MAC over the signature base ([`base`])
//! matches, compared in constant time; a covered `Content-Digest` matches
//! the body (RFC 9530, `sha-256`/`sha-512`); and the signature was not used
//! before (counted in `kv` until it could no longer pass the skew check, so
//! with Redis across gateways). The client's `consumer` (its `id` unless
//! set) and `groups` go into the context.
//!
//! Anything else is `401` with a problem+json body and an
//! `Accept-Signature` field naming what a signature must cover; the reason
//! is logged, never sent. When the replay check cannot be made (the kv
//! store down and the entry's `on_state_error = "fail"`) the answer is
//! `503`.

#![warn(missing_docs)]

pub mod base;
pub mod config;
pub mod fields;
pub mod verify;

use portico_sdk::http::StatusCode;
use portico_sdk::{
    Action, Capability, Error, Plugin, Reply, Request, ResponsePhase, clock, context,
    export_plugin, log,
};

use crate::config::Config;
use crate::verify::Refusal;

/// The plugin. It keeps no per-request state.
pub struct HmacAuth {
    config: &'static Config,
}

impl Plugin for HmacAuth {
    type Config = Config;
    /// The host capabilities it calls: its route grants `capabilities = ["log", "clock", "kv", "context"]`.
    const CAPABILITIES: &'static [Capability] = &[
        Capability::Log,
        Capability::Clock,
        Capability::Kv,
        Capability::Context,
    ];
    /// No response phase: the instance is free as soon as `on_request` returns.
    const RESPONSE_PHASE: ResponsePhase = ResponsePhase::Skip;

    fn new(config: &'static Config) -> Self {
        HmacAuth { config }
    }

    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        match verify::verify(req, self.config, clock::now_ms()) {
            Ok(client) => {
                context::set(context::CONSUMER, &client.consumer);
                context::set("consumer.groups", &client.groups.join(","));
                Ok(Action::Continue)
            }
            Err(Refusal::Missing) => Ok(self.refuse(
                "missing-signature",
                "Signature required",
                "This resource requires an HTTP message signature (RFC 9421, hmac-sha256).",
            )),
            Err(Refusal::Invalid(why)) => {
                log::info(format!(
                    "refused a signature for {} {}: {why}",
                    req.method(),
                    req.path()
                ));
                Ok(self.refuse(
                    "invalid-signature",
                    "Invalid signature",
                    "The request's HTTP message signature did not verify.",
                ))
            }
            Err(Refusal::Unavailable) => {
                log::warn("the replay check is unavailable: refusing signed requests");
                Ok(Action::Respond(
                    Reply::problem(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "signature-check-unavailable",
                        "Signature check unavailable",
                        "The replay check could not be made; try again shortly.",
                        "hmac-auth",
                    )
                    .header("retry-after", "1"),
                ))
            }
        }
    }
}

impl HmacAuth {
    /// `401` with `Accept-Signature` asking for what a signature must cover.
    fn refuse(&self, kind: &str, title: &str, detail: &str) -> Action {
        let listed: Vec<String> = (self.config.components.iter())
            .map(|c| format!("\"{c}\""))
            .collect();
        let accept = format!("sig1=({});created;alg=\"hmac-sha256\"", listed.join(" "));
        Action::Respond(
            Reply::problem(StatusCode::UNAUTHORIZED, kind, title, detail, "hmac-auth")
                .header("accept-signature", accept)
                .header("cache-control", "no-store"),
        )
    }
}

export_plugin!(HmacAuth);

#[cfg(test)]
mod tests;
