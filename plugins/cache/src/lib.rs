//! `cache`: a shared HTTP cache (RFC 9111) on the host's `cache`
//! capability, with the `clock` capability for time.
//!
//! ```toml
//! [[routes.plugins]]
//! name = "cache"
//! capabilities = ["cache", "clock", "metrics"]
//! config = { max_body_bytes = 1048576, stale_margin = "10m" }
//! ```
//!
//! * **Lookup** (request phase): `GET` and `HEAD` (configurable) look up
//!   the URI's key (scheme, host, path, query; plus the values of the
//!   headers the stored response varies on). A fresh entry is answered
//!   at once, with `Age` and `Cache-Status: portico; hit; ttl=N` (a 304
//!   when the client's `If-None-Match`/`If-Modified-Since` already match);
//!   later plugins and the upstream do not run.
//! * **Revalidation**: a stale entry with `ETag`/`Last-Modified` is
//!   forwarded with `If-None-Match`/`If-Modified-Since`; an upstream 304
//!   refreshes the entry (headers merged, new freshness) and the client gets
//!   the stored response; anything else replaces it.
//! * **Storing** (response phase): a response is stored unless a directive
//!   (`no-store`, `private`), `Vary: *`, `Set-Cookie`, an `Authorization`
//!   request without `public`/`s-maxage`/`must-revalidate`, its status, its
//!   size or missing freshness forbid it. Freshness: `s-maxage`, `max-age`,
//!   `Expires` minus `Date`. The host keeps an entry for its freshness plus
//!   `stale_margin` when it has a validator.
//! * Unsafe methods (`POST`, `PUT`, `DELETE`, ...) that succeed drop the
//!   URI's entries (RFC 9111 §4.4).
//!
//! Lookups are counted through the `metrics` capability as
//! `plugin_cache_lookups_total{route, result}`, `result` being `hit`
//! (answered from the cache), `revalidated` (a stale entry the upstream
//! confirmed with 304) or `miss` (forwarded otherwise); requests the cache
//! does not look up (other methods, `Range`) are not counted.
//!
//! Every response gets `Cache-Status` (RFC 9211), e.g.
//! `portico; fwd=miss; stored` or `portico; fwd=miss; detail=no-store`.
//!
//! # Example
//!
//! On the SDK's mock host, whose clock only moves when told:
//!
//! ```
//! use std::time::Duration;
//! use portico_sdk::testing::{MockHost, MockRequest, MockResponse};
//!
//! let host = MockHost::with_grants(&["cache", "clock", "metrics"]);
//! let mut plugin = host.load::<cache::Cache>(serde_json::json!({}))?;
//! let request = || MockRequest::get("/catalog?page=2").authority("shop.example");
//!
//! assert!(plugin.on_request(&mut request())?.is_continue(), "a miss goes upstream");
//! let mut res = MockResponse::new(200)
//!     .header("cache-control", "max-age=60")
//!     .header("content-length", "5")
//!     .body("items");
//! plugin.on_response(&mut res)?;
//! assert_eq!(res.header_value("cache-status"), Some("portico; fwd=miss; stored"));
//!
//! host.advance(Duration::from_secs(5));
//! let action = plugin.on_request(&mut request())?;
//! let hit = action.reply().ok_or("expected a hit")?;
//! assert_eq!(hit.body_bytes(), b"items");
//! assert_eq!(hit.header_value("age"), Some("5"));
//! assert_eq!(hit.header_value("cache-status"), Some("portico; hit; ttl=55"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod conditional;
pub mod config;
pub mod directives;
pub mod entry;
pub mod freshness;
pub mod key;
pub mod lookup;
pub mod revalidate;
pub mod serve;
pub mod status;
pub mod store;

use portico_sdk::http::{Method, StatusCode};
use portico_sdk::{
    Action, Capability, Error, Plugin, Reply, Request, Response, cache, clock, export_plugin,
    metrics,
};

use crate::conditional::{ClientConditions, weak_eq};
use crate::config::Config;
use crate::entry::Entry;
use crate::lookup::{Found, Lookup, Use};
use crate::revalidate::{add_validators, merge};
use crate::status::{CacheStatus, ttl_secs};
use crate::store::RequestFacts;

/// The plugin; per request, what the response phase must do.
pub struct Cache {
    config: &'static Config,
    state: State,
}

/// Per-request state, set by the request phase.
enum State {
    /// Nothing to do.
    Idle,
    /// Forwarded without the cache; only `Cache-Status` is added.
    Skip(CacheStatus),
    /// An unsafe method: a success drops the URI's entries.
    Invalidate(String),
    /// Answered in the request phase (a 304 when `not_modified`).
    Served {
        /// The reply is a 304.
        not_modified: bool,
    },
    /// Forwarded; the response may be stored or refresh `stale`.
    Forward(Box<Forward>),
}

/// A request sent upstream that the cache may learn from.
struct Forward {
    facts: RequestFacts,
    /// The `Cache-Status` `fwd` reason.
    fwd: &'static str,
    /// The entry being revalidated.
    stale: Option<Found>,
    /// The client's own conditions, answered after a revalidation.
    client: ClientConditions,
}

impl Plugin for Cache {
    type Config = Config;
    /// The host capabilities it calls: its route grants `capabilities = ["clock", "cache", "metrics"]`.
    const CAPABILITIES: &'static [Capability] =
        &[Capability::Clock, Capability::Cache, Capability::Metrics];

    fn new(config: &'static Config) -> Self {
        Cache {
            config,
            state: State::Idle,
        }
    }

    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        let method = req.method();
        if !self.config.methods.contains(&method) {
            self.state = match is_safe(&method) {
                true => State::Skip(CacheStatus::forwarded("method")),
                false => State::Invalidate(key::base(req)),
            };
            return Ok(Action::Continue);
        }
        if req.header("range").is_some() {
            self.state = State::Skip(CacheStatus {
                detail: Some("range"),
                ..CacheStatus::forwarded("bypass")
            });
            return Ok(Action::Continue);
        }
        let req_cc = lookup::request_directives(req);
        let now = clock::now_ms();
        let base = key::base(req);
        let client = ClientConditions::of(req);
        let (found, mut fwd) = match lookup::find(&base, req) {
            Lookup::Found(found) => (Some(found), "miss"),
            Lookup::Miss(reason) => (None, reason),
        };
        let mut stale = None;
        if let Some(found) = found {
            match lookup::usable(&found.entry, &req_cc, now) {
                Use::Serve => return self.hit(found.entry, &client, now),
                Use::Validate(reason) => {
                    fwd = reason;
                    if found.entry.has_validator() {
                        add_validators(req, &found.entry)?;
                        stale = Some(found);
                    }
                }
            }
        }
        if req_cc.only_if_cached {
            count("miss");
            self.state = State::Served {
                not_modified: false,
            };
            let status = CacheStatus {
                detail: Some("only-if-cached"),
                ..CacheStatus::default()
            };
            let reply = Reply::new(StatusCode::GATEWAY_TIMEOUT)
                .header("cache-status", status.render(&self.config.cache_name.0));
            return Ok(Action::Respond(reply));
        }
        self.state = State::Forward(Box::new(Forward {
            facts: RequestFacts {
                base,
                request_time_ms: now,
                headers: key::snapshot(req),
                authorization: req.header("authorization").is_some(),
                no_store: req_cc.no_store,
                head: method == Method::HEAD,
            },
            fwd,
            stale,
            client,
        }));
        Ok(Action::Continue)
    }

    fn on_response(&mut self, res: &mut Response<'_>) -> Result<Action, Error> {
        match std::mem::replace(&mut self.state, State::Idle) {
            State::Idle => {}
            State::Skip(status) => self.add_status(res, &status)?,
            State::Invalidate(base) => {
                if res.status().as_u16() < 400 {
                    cache::delete(&base);
                }
                self.add_status(res, &CacheStatus::forwarded("method"))?;
            }
            State::Served { not_modified } => {
                if not_modified {
                    // The gateway frames replies by their (empty) body; a
                    // 304 must not claim a length of 0.
                    res.remove_header("content-length");
                }
            }
            State::Forward(forward) => self.forwarded(res, *forward)?,
        }
        Ok(Action::Continue)
    }
}

export_plugin!(Cache);

impl Cache {
    /// Answers from `entry`.
    fn hit(&mut self, entry: Entry, client: &ClientConditions, now: u64) -> Result<Action, Error> {
        count("hit");
        let not_modified = client.not_modified(&entry);
        let status = CacheStatus {
            hit: true,
            ttl: Some(ttl_secs(entry.ttl_ms(now))),
            ..CacheStatus::default()
        };
        let status = status.render(&self.config.cache_name.0);
        self.state = State::Served { not_modified };
        Ok(Action::Respond(serve::reply(
            entry,
            now,
            status,
            not_modified,
        )?))
    }

    /// The response to a forwarded request: refresh, store or explain.
    fn forwarded(&self, res: &mut Response<'_>, forward: Forward) -> Result<(), Error> {
        let now = clock::now_ms();
        let Forward {
            facts,
            fwd,
            stale,
            client,
        } = forward;
        if res.status() == StatusCode::NOT_MODIFIED
            && let Some(stale) = stale
        {
            return self.refresh(res, &facts, fwd, stale, &client, now);
        }
        count("miss");
        let mut status = CacheStatus::forwarded(fwd);
        let headers = store::headers_of(res);
        let planned = match facts.head {
            true => Err("head"),
            false => store::plan(self.config, &facts, res.status().as_u16(), &headers, now),
        };
        match planned.and_then(|plan| Ok((store::body_of(self.config, res)?, plan))) {
            Ok((body, plan)) => {
                let entry = Entry {
                    status: res.status().as_u16(),
                    headers: store::storable_headers(headers),
                    body,
                    response_time_ms: now,
                    initial_age_ms: plan.initial_age_ms,
                    lifetime_ms: plan.lifetime_ms,
                };
                let key = store::write(&facts, &entry, &plan, now);
                if let Some(stale) = stale.filter(|stale| stale.key != key) {
                    cache::delete(&stale.key);
                }
                status.stored = true;
            }
            Err(detail) => {
                status.detail = Some(detail);
                // A newer response that may not be stored ends the old one,
                // unless the upstream merely failed.
                if let Some(stale) = stale
                    && !facts.head
                    && !res.status().is_server_error()
                {
                    cache::delete(&stale.key);
                }
            }
        }
        self.add_status(res, &status)
    }

    /// An upstream 304 for a revalidated entry: merge its fields into the
    /// entry, store it with new freshness, send the stored response.
    fn refresh(
        &self,
        res: &mut Response<'_>,
        facts: &RequestFacts,
        fwd: &'static str,
        stale: Found,
        client: &ClientConditions,
        now: u64,
    ) -> Result<(), Error> {
        let mut status = CacheStatus {
            fwd_status: Some(304),
            ..CacheStatus::forwarded(fwd)
        };
        let fresh = store::headers_of(res);
        let new_tag = fresh.iter().find(|(n, _)| n == "etag").map(|(_, v)| v);
        if let (Some(new_tag), Some(old_tag)) = (new_tag, stale.entry.header("etag"))
            && !weak_eq(new_tag, old_tag)
        {
            // The 304 is about another representation: ours is unusable.
            count("miss");
            cache::delete(&stale.key);
            status.fwd_status = None;
            status.detail = Some("validator-mismatch");
            return self.add_status(res, &status);
        }
        count("revalidated");
        let merged = merge(&stale.entry.headers, fresh);
        let mut entry = Entry {
            headers: store::storable_headers(merged.clone()),
            response_time_ms: now,
            initial_age_ms: 0,
            lifetime_ms: 0,
            ..stale.entry
        };
        match store::plan(self.config, facts, entry.status, &merged, now) {
            Ok(plan) => {
                entry.initial_age_ms = plan.initial_age_ms;
                entry.lifetime_ms = plan.lifetime_ms;
                store::write(facts, &entry, &plan, now);
                status.stored = true;
                status.ttl = Some(ttl_secs(entry.ttl_ms(now)));
            }
            Err(detail) => {
                cache::delete(&stale.key);
                status.detail = Some(detail);
            }
        }
        serve::rewrite(res, &entry, now, client.not_modified(&entry))?;
        self.add_status(res, &status)
    }

    fn add_status(&self, res: &mut Response<'_>, status: &CacheStatus) -> Result<(), Error> {
        res.append_header("cache-status", status.render(&self.config.cache_name.0))
    }
}

/// Methods that do not change the resource (RFC 9110 §9.2.1).
/// Counts a lookup by its result; best effort, a refused report is ignored.
fn count(result: &'static str) {
    let _ = metrics::increment("lookups", &[("result", result)]);
}

fn is_safe(method: &Method) -> bool {
    [Method::GET, Method::HEAD, Method::OPTIONS, Method::TRACE].contains(method)
}

#[cfg(test)]
mod tests;
