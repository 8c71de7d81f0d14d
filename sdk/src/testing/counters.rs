//! The mock host's `metrics` counters, with the gateway's bounds.

use std::collections::BTreeMap;

use super::errors::MetricsError;

use portico_contract::metrics::{self, MAX_SERIES, MetricError};

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
        // The gateway's rules, from the contract.
        let sorted = metrics::check(name, labels.to_vec()).map_err(|refused| match refused {
            MetricError::InvalidName(why) => MetricsError::InvalidName(why),
            MetricError::InvalidLabel(why) => MetricsError::InvalidLabel(why),
            MetricError::TooManySeries => MetricsError::TooManySeries,
        })?;
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
