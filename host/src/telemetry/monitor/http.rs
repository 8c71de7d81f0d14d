//! The monitor's endpoints, mounted on the admin listener:
//!
//! | endpoint | answer |
//! |---|---|
//! | `GET /`, `GET /dashboard` | the dashboard page (self-contained HTML) |
//! | `GET /api/live?seconds=60` | live series, upstream health, alerts, analytics state, reloads, shared state backend |
//! | `GET /api/alerts` | rules (firing or not) and recent transitions |
//! | `GET /analytics/top-consumers?from=&to=&limit=` | consumers by requests |
//! | `GET /analytics/top-routes?from=&to=&limit=` | routes by requests |
//! | `GET /analytics/errors?from=&to=` | requests per minute by status class |
//!
//! `from` and `to` are Unix seconds (default: the last hour); `limit`
//! defaults to 10 (at most 1000).

use bytes::Bytes;
use http::{HeaderValue, Method, Response, StatusCode, header};
use serde::Serialize;
use serde_json::json;

use super::Monitor;
use crate::body::{self, Body};
use crate::telemetry::analytics::{GroupBy, QueryError};
use crate::telemetry::live::unix_now;

/// The dashboard page.
pub(crate) const DASHBOARD_HTML: &str = include_str!("dashboard.html");

/// Seconds of series `/api/live` returns by default.
const DEFAULT_SECONDS: usize = 60;

/// Answers `request` when it is for one of the monitor's endpoints; `None`
/// otherwise (the admin listener answers it, or 404).
pub async fn respond(monitor: &Monitor, request: &http::request::Parts) -> Option<Response<Body>> {
    if request.method != Method::GET && request.method != Method::HEAD {
        return None;
    }
    let query = Query::parse(request.uri.query());
    let response = match request.uri.path() {
        "/" | "/dashboard" => html(DASHBOARD_HTML),
        "/api/live" => {
            let seconds = query.number("seconds").unwrap_or(DEFAULT_SECONDS as i64);
            json_ok(&live(monitor, seconds.clamp(1, 300) as usize))
        }
        "/api/alerts" => json_ok(&json!({
            "rules": monitor.alerts.rules(),
            "recent": monitor.alerts.recent(),
        })),
        "/analytics/top-consumers" => analytics(monitor, &query, Some(GroupBy::Consumer)).await,
        "/analytics/top-routes" => analytics(monitor, &query, Some(GroupBy::Route)).await,
        "/analytics/errors" => analytics(monitor, &query, None).await,
        _ => return None,
    };
    Some(response)
}

/// The body of `GET /api/live`.
fn live(monitor: &Monitor, seconds: usize) -> serde_json::Value {
    let snapshot = monitor.live.snapshot(unix_now(), seconds);
    json!({
        "live": snapshot,
        "alerts": { "rules": monitor.alerts.rules(), "recent": monitor.alerts.recent() },
        "analytics": monitor.analytics.as_ref().map(|a| a.status()),
        "reloads": monitor.reloads(),
        "state": monitor.state(),
    })
}

async fn analytics(monitor: &Monitor, query: &Query, group: Option<GroupBy>) -> Response<Body> {
    let Some(analytics) = &monitor.analytics else {
        return problem(
            StatusCode::NOT_FOUND,
            "analytics are disabled ([analytics] enabled = false)",
        );
    };
    let now = unix_now() as i64;
    let to = query.number("to").unwrap_or(now + 60);
    let from = query.number("from").unwrap_or(to - 3600);
    let limit = query.number("limit").unwrap_or(10);
    if let Some(bad) = query.invalid() {
        return problem(
            StatusCode::BAD_REQUEST,
            &format!("`{bad}` must be a whole number"),
        );
    }
    if from > to || !(1..=1000).contains(&limit) {
        return problem(
            StatusCode::BAD_REQUEST,
            "`from` must not be after `to`; `limit` is 1 to 1000",
        );
    }
    let answer = match group {
        Some(by) => analytics
            .top(by, from, to, limit as usize)
            .await
            .map(|top| json!({ "from": from, "to": to, "top": top })),
        None => analytics
            .errors(from, to)
            .await
            .map(|minutes| json!({ "from": from, "to": to, "minutes": minutes })),
    };
    match answer {
        Ok(body) => json_ok(&body),
        Err(error @ (QueryError::Store(_) | QueryError::Task(_))) => {
            problem(StatusCode::SERVICE_UNAVAILABLE, &error.to_string())
        }
    }
}

/// Query parameters, with the names of those that did not parse.
struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    fn parse(query: Option<&str>) -> Self {
        let pairs = query
            .unwrap_or_default()
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| match pair.split_once('=') {
                Some((k, v)) => (k.to_owned(), v.to_owned()),
                None => (pair.to_owned(), String::new()),
            })
            .collect();
        Query { pairs }
    }

    fn number(&self, name: &str) -> Option<i64> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.parse().ok())
    }

    /// The first of `from`, `to`, `limit`, `seconds` that is set but not a
    /// number.
    fn invalid(&self) -> Option<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| matches!(k.as_str(), "from" | "to" | "limit" | "seconds"))
            .find(|(_, v)| v.parse::<i64>().is_err())
            .map(|(k, _)| k.as_str())
    }
}

fn html(page: &'static str) -> Response<Body> {
    let mut response = Response::new(body::full(Bytes::from_static(page.as_bytes())));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
        ),
    );
    response
}

fn json_ok(value: &impl Serialize) -> Response<Body> {
    json_response(StatusCode::OK, value)
}

fn json_response(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec());
    let mut response = Response::new(body::full(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A monitor endpoint's error as problem+json, in the traffic path's shape.
fn problem(status: StatusCode, detail: &str) -> Response<Body> {
    crate::data::error::control_problem(status, detail)
}
