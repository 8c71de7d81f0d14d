//! The mock host's `metrics` counters, with the gateway's bounds.

use std::collections::BTreeMap;

use super::errors::MetricsError;

/// Longest metric or label name, bytes (as the gateway).
const MAX_NAME: usize = 48;
/// Most labels on one series (as the gateway).
const MAX_LABELS: usize = 4;
/// Longest label value, bytes (as the gateway).
const MAX_VALUE: usize = 64;
/// Most series per plugin (as the gateway).
const MAX_SERIES: usize = 256;

/// Counters by name and sorted labels.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    series: BTreeMap<(String, Vec<(String, String)>), u64>,
}

impl Counters {
    /// `metrics.counter-add`, checked as the gateway checks it.
    pub(crate) fn add(
        &mut self,
        name: &str,
        labels: &[(String, String)],
        value: u64,
    ) -> Result<(), MetricsError> {
        check_name(name).map_err(MetricsError::InvalidName)?;
        if labels.len() > MAX_LABELS {
            return Err(MetricsError::InvalidLabel(format!(
                "{} labels; at most {MAX_LABELS}",
                labels.len()
            )));
        }
        let mut sorted = labels.to_vec();
        sorted.sort();
        for (i, (label, value)) in sorted.iter().enumerate() {
            check_name(label).map_err(MetricsError::InvalidLabel)?;
            if label == "route" || (i > 0 && sorted[i - 1].0 == *label) {
                return Err(MetricsError::InvalidLabel(format!(
                    "label `{label}` is reserved or repeated"
                )));
            }
            if value.len() > MAX_VALUE || value.chars().any(char::is_control) {
                return Err(MetricsError::InvalidLabel(format!(
                    "the value of `{label}` is longer than {MAX_VALUE} bytes or has control characters"
                )));
            }
        }
        let key = (name.to_owned(), sorted);
        if !self.series.contains_key(&key) && self.series.len() >= MAX_SERIES {
            return Err(MetricsError::TooManySeries);
        }
        let counter = self.series.entry(key).or_default();
        *counter = counter.saturating_add(value);
        Ok(())
    }

    /// The counter's value (0 when never reported).
    pub(crate) fn get(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        let mut sorted: Vec<(String, String)> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        sorted.sort();
        self.series
            .get(&(name.to_owned(), sorted))
            .copied()
            .unwrap_or(0)
    }
}

/// `[a-z][a-z0-9_]*`, at most [`MAX_NAME`] bytes.
fn check_name(name: &str) -> Result<(), String> {
    let mut bytes = name.bytes();
    let valid = name.len() <= MAX_NAME
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not [a-z][a-z0-9_]* of at most {MAX_NAME} bytes"
        ))
    }
}
