//! Counting a request against every policy, atomically, on the host's kv.
//!
//! Each policy costs one `kv.increment` per request (the current window)
//! and, until the previous window has settled, one `kv.get` (its count).
//! A closed window's count no longer changes once the requests that raced
//! its end have landed, so after the first tenth of the current window (at
//! most one second) a pooled instance keeps the previous count it read in
//! its own memory (`Settled`) instead of asking the host again: with the
//! counters in Redis that halves the round trips per request. A `fresh`
//! instance starts with an empty memory and reads every time.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

use portico_sdk::kv::{self, KvError};

use crate::config::Policy;
use crate::window::{Counts, Slot};

/// One policy's counts after the decision.
#[derive(Debug, Clone, Copy)]
pub struct PolicyState {
    /// The policy.
    pub policy: &'static Policy,
    /// Its counts: including this request if it was admitted, excluding it
    /// if it was rejected.
    pub counts: Counts,
}

/// The outcome for one request.
#[derive(Debug, Clone)]
pub struct Decision {
    /// Every policy's state, in config order.
    pub states: Vec<PolicyState>,
    /// The first policy the request exceeded, if any.
    pub rejected_by: Option<&'static Policy>,
}

impl Decision {
    /// Milliseconds until every policy would admit one more request.
    pub fn wait_ms(&self) -> u64 {
        self.states
            .iter()
            .map(|s| s.counts.wait_ms())
            .max()
            .unwrap_or(0)
    }
}

/// Counts the request at `now_ms` against `policies` for `subject`
/// (`<bucket>` and identity). Policies are tried in order; each increments
/// its current window's counter. The first one over its limit rejects the
/// request: the increments made are then taken back, and later policies
/// are only read.
pub fn check(
    policies: &'static [Policy],
    bucket: &str,
    identity: &str,
    now_ms: u64,
) -> Result<Decision, KvError> {
    let mut states = Vec::with_capacity(policies.len());
    let mut counted = Vec::new();
    let mut rejected_by = None;
    for policy in policies {
        let window_ms = policy.window.ms();
        let slot = Slot::at(now_ms, window_ms);
        // The bucket (a route name, perhaps with `:`) is length-prefixed; the
        // policy name and index have no `:`; the identity comes last.
        let key = |index: u64| {
            format!(
                "rl:{}:{bucket}:{}:{index}:{identity}",
                bucket.len(),
                policy.name()
            )
        };
        let previous_key = key(slot.index.wrapping_sub(1));
        let remembered = SETTLED.with_borrow(|settled| settled.get(&previous_key));
        let previous = remembered.unwrap_or_else(|| read(&previous_key));
        let current_key = key(slot.index);
        let current = if rejected_by.is_none() {
            let ttl = Duration::from_millis(window_ms.saturating_mul(2));
            let count = kv::increment(&current_key, 1, Some(ttl))?;
            counted.push((current_key, ttl));
            if remembered.is_none() {
                SETTLED.with_borrow_mut(|settled| {
                    settled.remember(previous_key, previous, &slot, window_ms);
                });
            }
            non_negative(count)
        } else {
            read(&current_key)
        };
        let counts = Counts {
            limit: policy.limit.0,
            window_ms,
            previous,
            current,
            elapsed_ms: slot.elapsed_ms,
        };
        if rejected_by.is_none() && !counts.within_limit() {
            rejected_by = Some(policy);
        }
        states.push(PolicyState { policy, counts });
    }
    if rejected_by.is_some() {
        for (key, ttl) in &counted {
            kv::increment(key, -1, Some(*ttl))?;
        }
        for state in states.iter_mut().take(counted.len()) {
            state.counts.current = state.counts.current.saturating_sub(1);
        }
    }
    Ok(Decision {
        states,
        rejected_by,
    })
}

thread_local! {
    static SETTLED: RefCell<Settled> = RefCell::new(Settled::default());
}

/// Most previous-window counts an instance remembers; past it, it forgets
/// them all (they belong to windows that are over within one more window).
const MAX_SETTLED: usize = 512;

/// Previous-window counts read after they settled, by counter key (the key
/// names the window, so an entry is never looked up once its window is two
/// windows back).
#[derive(Default)]
struct Settled {
    counts: HashMap<String, u64>,
}

impl Settled {
    /// The remembered count at `key`, if any.
    fn get(&self, key: &str) -> Option<u64> {
        self.counts.get(key).copied()
    }

    /// Remembers `count`, just read from `key`, the previous window of
    /// `slot`, once `slot` is past its first tenth (capped at one second):
    /// before that, requests that started in the previous window may still
    /// be landing. Called only after this request's increment succeeded,
    /// and never for 0: a read that failed (the store unreachable) is
    /// absent, and an absent count is not worth trusting.
    fn remember(&mut self, key: String, count: u64, slot: &Slot, window_ms: u64) {
        if count == 0 || slot.elapsed_ms < (window_ms / 10).min(1000) {
            return;
        }
        if self.counts.len() >= MAX_SETTLED {
            self.counts.clear();
        }
        self.counts.insert(key, count);
    }
}

/// A counter's value; absent, expired or unreadable counts as 0.
fn read(key: &str) -> u64 {
    kv::get(key)
        .and_then(|bytes| std::str::from_utf8(&bytes).ok()?.parse::<i64>().ok())
        .map_or(0, non_negative)
}

fn non_negative(count: i64) -> u64 {
    u64::try_from(count).unwrap_or(0)
}
