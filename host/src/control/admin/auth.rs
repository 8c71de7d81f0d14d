//! Who may ask the admin API what: client certificates verified on the
//! admin listener's TLS (mTLS) and matched to `[[admin.clients]]`, and
//! bearer tokens (kept as SHA-256 hashes), each with a role; the 401 and
//! 403 answers, and the audit record of each refusal.
//!
//! With no credential configured the API is open, as it always was, and
//! only a loopback bind is allowed (the config check says so). With any,
//! every endpoint but `/healthz` and the dashboard's page (static HTML that
//! asks for a token and sends it on each of its requests) needs one; `GET`
//! and `HEAD` need the `read` role, anything else `write`. A certificate
//! that matches a client is used first; a verified certificate that
//! matches none is refused (403) unless the request also carries a valid
//! token.

use std::net::SocketAddr;

use http::request::Parts;
use http::{HeaderValue, Method, StatusCode, header};
use sha2::{Digest, Sha256};

use crate::audit::{Actor, Entry};
use crate::body::Body;
use crate::config::{AdminClient, AdminRole, AdminToken};
use crate::data::tls::ClientIdentity;

/// The admin API's credentials.
pub(super) struct Access {
    tokens: Vec<Token>,
    clients: Vec<AdminClient>,
}

struct Token {
    name: String,
    sha256: [u8; 32],
    role: AdminRole,
}

/// A request let through: who sent it.
pub(super) struct Caller {
    /// For the audit log.
    pub actor: Actor,
}

/// A request refused, with its audit record.
pub(super) struct Refused {
    /// The answer.
    pub response: http::Response<Body>,
    /// What the audit log records.
    pub entry: Entry,
}

impl Access {
    /// The configured tokens (their hashes checked by the config's rules)
    /// and client certificates.
    pub fn new(tokens: &[AdminToken], clients: &[AdminClient]) -> Access {
        let tokens = tokens
            .iter()
            .filter_map(|t| {
                let mut sha256 = [0u8; 32];
                for (i, byte) in sha256.iter_mut().enumerate() {
                    *byte = u8::from_str_radix(t.sha256.get(2 * i..2 * i + 2)?, 16).ok()?;
                }
                Some(Token {
                    name: t.name.clone(),
                    sha256,
                    role: t.role,
                })
            })
            .collect();
        Access {
            tokens,
            clients: clients.to_vec(),
        }
    }

    /// The role of the first client `identity` matches.
    fn client_role(&self, identity: &ClientIdentity) -> Option<AdminRole> {
        self.clients
            .iter()
            .find(|client| {
                client.cn.is_some() && client.cn == identity.common_name
                    || client
                        .san
                        .as_ref()
                        .is_some_and(|san| identity.alt_names.contains(san))
            })
            .map(|client| client.role)
    }

    /// Who sent `head` from `addr` (with the verified client certificate
    /// `identity`, if any), or why it is refused.
    pub fn check(
        &self,
        head: &Parts,
        addr: SocketAddr,
        identity: Option<&ClientIdentity>,
    ) -> Result<Caller, Box<Refused>> {
        let anonymous = Caller {
            actor: Actor::Anonymous { addr },
        };
        let Some(needed) = needed_role(&head.method, head.uri.path()) else {
            return Ok(anonymous);
        };
        if self.tokens.is_empty() && self.clients.is_empty() {
            return Ok(anonymous);
        }
        let presented = head
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            });
        let refuse = |status: StatusCode, outcome: &str, detail: &str, actor: Actor| {
            let mut response = crate::data::error::control_problem(status, detail);
            if status == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"portico-admin\""),
                );
            }
            Box::new(Refused {
                response,
                entry: Entry {
                    actor,
                    action: "denied".into(),
                    outcome: outcome.into(),
                    detail: serde_json::json!({
                        "method": head.method.as_str(),
                        "path": head.uri.path(),
                        "needed_role": needed,
                    }),
                },
            })
        };
        if let Some(identity) = identity {
            let actor = Actor::Certificate {
                subject: identity.subject.clone(),
                addr,
            };
            match self.client_role(identity) {
                Some(role) if role >= needed => return Ok(Caller { actor }),
                Some(_) => {
                    return Err(refuse(
                        StatusCode::FORBIDDEN,
                        "forbidden",
                        "this client certificate has the read role; this needs write",
                        actor,
                    ));
                }
                None if presented.is_none() => {
                    return Err(refuse(
                        StatusCode::FORBIDDEN,
                        "forbidden",
                        "this client certificate is not one of `admin.clients`",
                        actor,
                    ));
                }
                None => {}
            }
        }
        let Some(presented) = presented else {
            return Err(refuse(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "this admin API needs a bearer token (Authorization: Bearer <token>) or a client certificate",
                Actor::Anonymous { addr },
            ));
        };
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        // Every token is compared, each in constant time.
        let found = self.tokens.iter().fold(None, |found, token| {
            let same = token
                .sha256
                .iter()
                .zip(digest)
                .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                == 0;
            found.or(same.then_some(token))
        });
        let Some(token) = found else {
            return Err(refuse(
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "the bearer token is not one of this admin API's",
                Actor::Anonymous { addr },
            ));
        };
        let actor = Actor::Token {
            name: token.name.clone(),
            addr,
        };
        if token.role < needed {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                "forbidden",
                &format!(
                    "the token `{}` has the read role; this needs write",
                    token.name
                ),
                actor,
            ));
        }
        Ok(Caller { actor })
    }
}

/// The role `method path` needs; `None`: open to anyone (health checks,
/// and the dashboard's page, which holds no data).
fn needed_role(method: &Method, path: &str) -> Option<AdminRole> {
    match path.trim_end_matches('/') {
        "/healthz" | "" | "/dashboard" if method == Method::GET || method == Method::HEAD => None,
        _ if method == Method::GET || method == Method::HEAD => Some(AdminRole::Read),
        _ => Some(AdminRole::Write),
    }
}
