//! Counting a request against every policy, atomically, on the host's kv.

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
        let previous = read(&key(slot.index.wrapping_sub(1)));
        let current_key = key(slot.index);
        let current = if rejected_by.is_none() {
            let ttl = Duration::from_millis(window_ms.saturating_mul(2));
            let count = kv::increment(&current_key, 1, Some(ttl))?;
            counted.push((current_key, ttl));
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

/// A counter's value; absent, expired or unreadable counts as 0.
fn read(key: &str) -> u64 {
    kv::get(key)
        .and_then(|bytes| std::str::from_utf8(&bytes).ok()?.parse::<i64>().ok())
        .map_or(0, non_negative)
}

fn non_negative(count: i64) -> u64 {
    u64::try_from(count).unwrap_or(0)
}
