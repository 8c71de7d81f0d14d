//! Counters plugins report through the `metrics` capability, exported as
//! `plugin_<plugin>_<name>_total{route, ...}`, with bounded names, labels
//! and series per plugin (plugins choose their label values, so the host
//! caps what they can add to a scrape).

use std::collections::HashMap;

use metrics::{Counter, Label};
use parking_lot::Mutex;

use super::metrics::PLUGIN_SERIES_DROPPED;

use portico_contract::metrics::MAX_SERIES;
/// Why a report was refused: the contract's rules (shared with the SDK's
/// mock host).
pub use portico_contract::metrics::MetricError as CounterError;

/// One series: metric name, route and the plugin's sorted labels.
type SeriesKey = (String, String, Vec<(String, String)>);

/// Every plugin's reported counters.
#[derive(Default)]
pub struct PluginCounters {
    by_plugin: Mutex<HashMap<String, HashMap<SeriesKey, Counter>>>,
}

impl PluginCounters {
    /// Adds `value` to `plugin`'s counter `name` on `route` with `labels`.
    pub fn add(
        &self,
        plugin: &str,
        route: &str,
        name: &str,
        labels: Vec<(String, String)>,
        value: u64,
    ) -> Result<(), CounterError> {
        let labels = portico_contract::metrics::check(name, labels)?;
        let key = (name.to_owned(), route.to_owned(), labels);
        let mut by_plugin = self.by_plugin.lock();
        let series = by_plugin.entry(plugin.to_owned()).or_default();
        if let Some(counter) = series.get(&key) {
            counter.increment(value);
            return Ok(());
        }
        if series.len() >= MAX_SERIES {
            metrics::counter!(PLUGIN_SERIES_DROPPED, "plugin" => plugin.to_owned()).increment(1);
            return Err(CounterError::TooManySeries);
        }
        let metric = format!("plugin_{}_{name}_total", sanitize(plugin));
        let mut all = vec![Label::new("route", route.to_owned())];
        all.extend(key.2.iter().map(|(k, v)| Label::new(k.clone(), v.clone())));
        metrics::describe_counter!(metric.clone(), format!("Reported by plugin `{plugin}`."));
        let counter = metrics::counter!(metric, all);
        counter.increment(value);
        series.insert(key, counter);
        Ok(())
    }
}

/// A plugin name as part of a metric name: `rate-limit` → `rate_limit`.
fn sanitize(plugin: &str) -> String {
    plugin
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_labels_and_series_are_bounded() {
        let counters = PluginCounters::default();
        let add = |name: &str, l: &[(&str, &str)]| counters.add("p", "r", name, labels(l), 1);
        assert_eq!(add("hits", &[("result", "hit")]), Ok(()));
        assert!(matches!(
            add("Hits", &[]),
            Err(CounterError::InvalidName(_))
        ));
        assert!(matches!(add("a-b", &[]), Err(CounterError::InvalidName(_))));
        assert!(matches!(
            add(&"a".repeat(49), &[]),
            Err(CounterError::InvalidName(_))
        ));
        assert!(matches!(
            add("x", &[("route", "a")]),
            Err(CounterError::InvalidLabel(_))
        ));
        assert!(matches!(
            add("x", &[("a", "1"), ("a", "2")]),
            Err(CounterError::InvalidLabel(_))
        ));
        assert!(matches!(
            add("x", &[("a", "\n")]),
            Err(CounterError::InvalidLabel(_))
        ));
        let long = "v".repeat(65);
        assert!(matches!(
            add("x", &[("a", &long)]),
            Err(CounterError::InvalidLabel(_))
        ));
        let five = [("a", "1"), ("b", "1"), ("c", "1"), ("d", "1"), ("e", "1")];
        assert!(matches!(
            add("x", &five),
            Err(CounterError::InvalidLabel(_))
        ));
        for i in 1..MAX_SERIES {
            assert_eq!(add("many", &[("i", &i.to_string())]), Ok(()));
        }
        assert_eq!(
            add("many", &[("i", "new")]),
            Err(CounterError::TooManySeries)
        );
        assert_eq!(
            add("hits", &[("result", "hit")]),
            Ok(()),
            "existing series still count"
        );
        assert_eq!(
            counters.add("other", "r", "many", labels(&[("i", "new")]), 1),
            Ok(()),
            "the bound is per plugin"
        );
    }

    #[test]
    fn plugin_names_become_metric_name_parts() {
        assert_eq!(sanitize("rate-limit"), "rate_limit");
        assert_eq!(sanitize("Cache.v2"), "cache_v2");
    }
}
