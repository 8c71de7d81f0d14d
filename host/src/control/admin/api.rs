//! The admin API's endpoints and their JSON.

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde::Serialize;

use std::net::SocketAddr;

use sha2::Digest as _;

use super::auth::Access;
use crate::audit::{Actor, Entry};
use crate::body::{self, Body};
use crate::control::cluster::Cluster;
use crate::control::reload::{ReloadOutcome, ReloadReport, ReloadTrigger, Reloader, RollbackError};
use crate::telemetry::monitor::Monitor;

/// Largest request body the admin API reads (it takes none today).
const MAX_BODY: usize = 64 * 1024;

/// What one admin request is served with.
pub(super) struct Context<'a> {
    pub access: &'a Access,
    pub reloader: &'a Reloader,
    pub monitor: Option<&'a Monitor>,
    pub cluster: Option<&'a Cluster>,
    /// The client's address.
    pub addr: SocketAddr,
    /// The verified client certificate's identity (admin TLS with mTLS).
    pub identity: Option<&'a crate::data::tls::ClientIdentity>,
}

/// Most audit records one `GET /audit` returns.
const MAX_AUDIT_PAGE: usize = 1000;

/// Serves one admin request: checks who sent it, then answers it.
pub(super) async fn handle(context: &Context<'_>, request: Request<Incoming>) -> Response<Body> {
    let (head, incoming) = request.into_parts();
    let audit = context.reloader.audit();
    let caller = match context.access.check(&head, context.addr, context.identity) {
        Ok(caller) => caller,
        Err(refused) => {
            if let Some(audit) = audit {
                audit.record(refused.entry);
            }
            return refused.response;
        }
    };
    let (reloader, monitor, cluster) = (context.reloader, context.monitor, context.cluster);
    // Drain what the client sent, so keep-alive works; the API takes no body.
    if http_body_util::Limited::new(incoming, MAX_BODY)
        .collect()
        .await
        .is_err()
    {
        return problem(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
    }
    // The dashboard, live stats, alerts and analytics.
    if let Some(monitor) = monitor
        && let Some(response) = crate::telemetry::monitor::http::respond(monitor, &head).await
    {
        return response;
    }
    let path = head.uri.path();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (&head.method, segments.as_slice()) {
        (&Method::GET, ["healthz"]) => text(StatusCode::OK, "ok\n"),
        (&Method::GET, ["metrics"]) => respond(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            Bytes::from(crate::data::observe::metrics::render()),
        ),
        (&Method::GET, ["plugins"]) => json(StatusCode::OK, &reloader.plugins().await),
        (&Method::GET, ["routes"]) => json(StatusCode::OK, &routes(reloader)),
        (&Method::GET, ["reloads"]) => json(StatusCode::OK, &reloads(reloader)),
        (&Method::GET, ["cluster"]) => match cluster {
            Some(cluster) => match cluster.report().await {
                Ok(report) => json(StatusCode::OK, &report),
                Err(error) => problem(StatusCode::SERVICE_UNAVAILABLE, &error.to_string()),
            },
            None => problem(
                StatusCode::NOT_FOUND,
                "this gateway is not configured from etcd (portico run --config etcd://HOST:PORT/PREFIX), so it has no cluster",
            ),
        },
        (&Method::GET, ["audit"]) => match audit {
            Some(audit) => {
                let query = head.uri.query().unwrap_or_default();
                let number = |name: &str| {
                    query
                        .split('&')
                        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
                        .and_then(|v| v.parse::<u64>().ok())
                };
                let after = number("after").unwrap_or(0);
                let limit =
                    number("limit").map_or(100, |n| n.clamp(1, MAX_AUDIT_PAGE as u64)) as usize;
                match audit.page(after, limit) {
                    Ok(records) => {
                        let next_after = records
                            .last()
                            .and_then(|r| r["seq"].as_u64())
                            .unwrap_or(after);
                        json(
                            StatusCode::OK,
                            &serde_json::json!({ "records": records, "next_after": next_after }),
                        )
                    }
                    Err(error) => problem(StatusCode::INTERNAL_SERVER_ERROR, &error.to_string()),
                }
            }
            None => problem(
                StatusCode::NOT_FOUND,
                "this gateway keeps no audit log (configure [admin.audit])",
            ),
        },
        (&Method::DELETE, ["analytics", "consumers", name]) => {
            let Some(analytics) = monitor.and_then(|m| m.analytics.as_ref()) else {
                return problem(StatusCode::NOT_FOUND, "analytics are off on this gateway");
            };
            let Some(consumer) = percent_decoded(name) else {
                return problem(
                    StatusCode::BAD_REQUEST,
                    "the consumer name is not valid UTF-8 percent-encoding",
                );
            };
            let digest = crate::audit::hex(&sha2::Sha256::digest(consumer.as_bytes()));
            let (status, outcome, body) = match analytics.erase_consumer(consumer).await {
                Ok(rows) => (
                    StatusCode::OK,
                    "applied",
                    serde_json::json!({ "erased_rows": rows }),
                ),
                Err(error) => (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "error",
                    serde_json::json!({ "error": error.to_string() }),
                ),
            };
            if let Some(audit) = audit {
                // The name itself is personal data: the record keeps its hash.
                let mut detail = body.clone();
                detail["consumer_sha256"] = digest.into();
                audit.record(Entry {
                    actor: caller.actor,
                    action: "erase_consumer".into(),
                    outcome: outcome.into(),
                    detail,
                });
            }
            if status == StatusCode::OK {
                json(status, &body)
            } else {
                problem(status, body["error"].as_str().unwrap_or_default())
            }
        }
        (&Method::POST, ["reload"]) => {
            let done = reloader.reload_config(ReloadTrigger::Admin).await;
            if let Some(audit) = audit {
                audit.record(done.audit_entry(caller.actor, "reload"));
            }
            report(done)
        }
        (&Method::POST, ["plugins", name, "rollback"]) => {
            let (status, outcome) = match reloader.rollback(name).await {
                Ok(done) => {
                    if let Some(audit) = audit {
                        audit.record(done.audit_entry(caller.actor, "rollback"));
                    }
                    return report(done);
                }
                Err(error @ RollbackError::Unknown(_)) => (StatusCode::NOT_FOUND, error),
                Err(error @ RollbackError::NoPrevious(_)) => (StatusCode::CONFLICT, error),
            };
            if let Some(audit) = audit {
                audit.record(failed(caller.actor, "rollback", name, &outcome.to_string()));
            }
            problem(status, &outcome.to_string())
        }
        (
            _,
            [
                "healthz" | "metrics" | "plugins" | "routes" | "reloads" | "reload" | "cluster"
                | "audit",
            ],
        )
        | (_, ["plugins", _, "rollback"]) => {
            problem(StatusCode::METHOD_NOT_ALLOWED, "method not allowed")
        }
        _ => problem(StatusCode::NOT_FOUND, &format!("no admin endpoint {path}")),
    }
}

/// `%XX`-decoded `segment`, if that is UTF-8.
fn percent_decoded(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = segment.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The audit record of an admin action that could not be done.
fn failed(actor: Actor, action: &str, target: &str, why: &str) -> Entry {
    Entry {
        actor,
        action: action.to_owned(),
        outcome: "error".to_owned(),
        detail: serde_json::json!({ "target": target, "error": why }),
    }
}

#[derive(Serialize)]
struct RouteView {
    name: String,
    upstream: String,
    chain: Vec<ChainEntry>,
}

#[derive(Serialize)]
struct ChainEntry {
    plugin: String,
    version: String,
    sha256: String,
}

fn routes(reloader: &Reloader) -> Vec<RouteView> {
    let gateway = reloader.live().load();
    gateway
        .routes
        .iter()
        .map(|route| RouteView {
            name: route.name.to_string(),
            upstream: route.upstream.name().to_owned(),
            chain: route
                .chain
                .slots()
                .iter()
                .map(|slot| ChainEntry {
                    plugin: slot.name().to_owned(),
                    version: slot.metadata().version.clone(),
                    sha256: slot.sha256().to_owned(),
                })
                .collect(),
        })
        .collect()
}

#[derive(Serialize)]
struct Reloads {
    last: Option<ReloadReport>,
    history: Vec<ReloadReport>,
    /// Replaced snapshots that in-flight requests still hold.
    retired_snapshots_alive: usize,
}

fn reloads(reloader: &Reloader) -> Reloads {
    Reloads {
        last: reloader.last(),
        history: reloader.history(),
        retired_snapshots_alive: reloader.live().retired_alive(),
    }
}

fn report(report: ReloadReport) -> Response<Body> {
    let status = match report.outcome {
        ReloadOutcome::Refused => StatusCode::UNPROCESSABLE_ENTITY,
        ReloadOutcome::Applied | ReloadOutcome::Unchanged => StatusCode::OK,
    };
    json(status, &report)
}

fn json(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    match serde_json::to_vec_pretty(value) {
        Ok(bytes) => respond(status, "application/json", Bytes::from(bytes)),
        Err(error) => problem(StatusCode::INTERNAL_SERVER_ERROR, &error.to_string()),
    }
}

fn text(status: StatusCode, text: &'static str) -> Response<Body> {
    respond(
        status,
        "text/plain; charset=utf-8",
        Bytes::from_static(text.as_bytes()),
    )
}

/// An admin error as problem+json, in the traffic path's shape.
fn problem(status: StatusCode, detail: &str) -> Response<Body> {
    crate::data::error::control_problem(status, detail)
}

fn respond(status: StatusCode, content_type: &str, bytes: Bytes) -> Response<Body> {
    let mut response = Response::new(body::full(bytes));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}
