//! The issuer's key set: held parsed in the instance's memory, shared as
//! JWKS text in `cache`, fetched when none is fresh or a token names a
//! `kid` no held key has.
//!
//! Fetches are spaced: the moment of the last attempt is in `cache` too, so
//! every instance (and, with `[state] backend = "redis"`, every gateway)
//! waits `refresh_interval` after any of them tried, whether it worked or
//! not, and a client sending tokens with made-up `kid`s cannot make the
//! gateway hammer the IdP. While no set was ever fetched, the spacing is 1 s
//! (at most the interval), so a route comes up soon after its IdP does.
//!
//! A failed fetch changes nothing: the last good set (of this instance or
//! in `cache`) keeps verifying, however old; the failure is logged.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use jwt_core::config::Remote;
use jwt_core::keys::{self, Key};
use portico_sdk::{cache, log};
use serde::{Deserialize, Serialize};

use crate::fetch;

/// The keys of one fetch.
pub struct KeySet {
    /// The signature keys the set published (unusable ones left out).
    pub keys: Vec<Key>,
    /// When they were fetched, Unix milliseconds.
    pub fetched_at_ms: u64,
}

thread_local! {
    static HELD: RefCell<Option<Rc<KeySet>>> = const { RefCell::new(None) };
}

/// How long a fetched set is kept in `cache`: long past `max_age`, as the
/// last good set when the IdP is down.
const KEEP: Duration = Duration::from_secs(7 * 24 * 3600);

/// Spacing of fetches while no set was ever fetched.
const RETRY_WITHOUT_SET_MS: u64 = 1000;

/// A set as `cache` holds it.
#[derive(Serialize, Deserialize)]
struct Stored {
    fetched_at_ms: u64,
    jwks: String,
}

/// The set to verify with at `now_ms`: the held one while fresh; else a
/// fresher one from `cache` or a fetch; else (the fetch failed, or is not
/// due yet) the last good one, however old. `Err` only when there is none.
pub fn current(remote: &Remote, now_ms: u64) -> Result<Rc<KeySet>, String> {
    let held = held();
    if let Some(set) = &held
        && fresh(set, remote, now_ms)
    {
        return Ok(set.clone());
    }
    let known = newest(remote, held);
    if let Some(set) = &known
        && fresh(set, remote, now_ms)
    {
        return Ok(set.clone());
    }
    match fetch_if_due(remote, now_ms, known.is_some()) {
        Some(Ok(set)) => Ok(set),
        Some(Err(why)) => match known {
            Some(set) => {
                log::warn(format!(
                    "fetching the key set of {} failed, the one fetched at {} ms serves on: {why}",
                    remote.issuer, set.fetched_at_ms
                ));
                Ok(set)
            }
            None => Err(why),
        },
        None => known.ok_or_else(|| {
            "the last attempt to fetch the key set was moments ago and found none".to_owned()
        }),
    }
}

/// A newer set than `used` after a token named a `kid` none of its keys
/// has: one another instance fetched, or a fetch if one is due. `None`:
/// nothing newer (the token is then refused as `jwt` would).
pub fn after_unknown_kid(remote: &Remote, now_ms: u64, used: &KeySet) -> Option<Rc<KeySet>> {
    if let Some(set) = newest(remote, held())
        && set.fetched_at_ms > used.fetched_at_ms
    {
        return Some(set);
    }
    match fetch_if_due(remote, now_ms, true)? {
        Ok(set) => Some(set),
        Err(why) => {
            log::warn(format!(
                "a token named an unknown `kid`; fetching the key set of {} failed: {why}",
                remote.issuer
            ));
            None
        }
    }
}

fn fresh(set: &KeySet, remote: &Remote, now_ms: u64) -> bool {
    now_ms.saturating_sub(set.fetched_at_ms) < remote.max_age_ms
}

fn held() -> Option<Rc<KeySet>> {
    HELD.with_borrow(Clone::clone)
}

fn hold(set: KeySet) -> Rc<KeySet> {
    let set = Rc::new(set);
    HELD.with_borrow_mut(|held| *held = Some(set.clone()));
    set
}

/// The `cache` key of the set (`what` = `set`) or of the last attempt, per
/// source, so that routes with different issuers never share one.
fn cache_key(remote: &Remote, what: &str) -> String {
    let source = remote.jwks_uri.as_deref().unwrap_or(&remote.issuer);
    format!("jwks:{what}:{source}")
}

/// The newer of `held` and the set in `cache` (parsed and held when it is
/// the newer one).
fn newest(remote: &Remote, held: Option<Rc<KeySet>>) -> Option<Rc<KeySet>> {
    let stored: Option<Stored> =
        cache::get(&cache_key(remote, "set")).and_then(|bytes| serde_json::from_slice(&bytes).ok());
    match stored {
        Some(stored)
            if held
                .as_ref()
                .is_none_or(|h| stored.fetched_at_ms > h.fetched_at_ms) =>
        {
            match keys::from_remote_jwks(&stored.jwks) {
                Ok((keys, _)) => Some(hold(KeySet {
                    keys,
                    fetched_at_ms: stored.fetched_at_ms,
                })),
                Err(_) => held,
            }
        }
        _ => held,
    }
}

/// Fetches the set, unless an attempt (by any instance) was made less than
/// the spacing ago: `None` then.
fn fetch_if_due(
    remote: &Remote,
    now_ms: u64,
    have_set: bool,
) -> Option<Result<Rc<KeySet>, String>> {
    let spacing = if have_set {
        remote.refresh_interval_ms
    } else {
        RETRY_WITHOUT_SET_MS.min(remote.refresh_interval_ms)
    };
    let attempt_key = cache_key(remote, "attempt");
    let last = cache::get(&attempt_key)
        .and_then(|bytes| String::from_utf8(bytes).ok()?.parse::<u64>().ok());
    if last.is_some_and(|last| now_ms.saturating_sub(last) < spacing) {
        return None;
    }
    cache::set(
        &attempt_key,
        now_ms.to_string(),
        Duration::from_millis(remote.refresh_interval_ms),
    );
    Some(fetch_now(remote, now_ms))
}

fn fetch_now(remote: &Remote, now_ms: u64) -> Result<Rc<KeySet>, String> {
    let text = fetch::jwks(remote)?;
    let (keys, skipped) = keys::from_remote_jwks(&text)?;
    for why in &skipped {
        log::warn(format!("key set of {}: left out {why}", remote.issuer));
    }
    let stored = Stored {
        fetched_at_ms: now_ms,
        jwks: text,
    };
    if let Ok(bytes) = serde_json::to_vec(&stored) {
        cache::set(&cache_key(remote, "set"), bytes, KEEP);
    }
    Ok(hold(KeySet {
        keys,
        fetched_at_ms: now_ms,
    }))
}
