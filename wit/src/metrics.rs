//! The rules for counters a plugin reports through the `metrics`
//! capability: names, labels, and the number of series.

/// Longest metric or label name, bytes.
pub const MAX_NAME: usize = 48;
/// Most labels a plugin puts on one series (`route` is added by the host).
pub const MAX_LABELS: usize = 4;
/// Longest label value, bytes.
pub const MAX_VALUE: usize = 64;
/// Most series (name and label values) per plugin.
pub const MAX_SERIES: usize = 256;

/// Why a report was refused; the counter is unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricError {
    /// The metric name breaks the rules.
    InvalidName(String),
    /// A label name or value breaks the rules.
    InvalidLabel(String),
    /// The plugin already reports [`MAX_SERIES`] series.
    TooManySeries,
}

impl std::fmt::Display for MetricError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetricError::InvalidName(why) => write!(f, "invalid metric name: {why}"),
            MetricError::InvalidLabel(why) => write!(f, "invalid label: {why}"),
            MetricError::TooManySeries => {
                write!(f, "the plugin already reports {MAX_SERIES} series")
            }
        }
    }
}

impl std::error::Error for MetricError {}

/// Checks a metric or label name: `[a-z][a-z0-9_]*`, at most [`MAX_NAME`]
/// bytes.
pub fn check_name(name: &str) -> Result<(), String> {
    let mut bytes = name.bytes();
    let valid = name.len() <= MAX_NAME
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "`{}` is not [a-z][a-z0-9_]* of at most {MAX_NAME} bytes",
            name.escape_debug()
        ))
    }
}

/// Checks a report's name and labels and returns the labels sorted by name
/// (one series whatever order the plugin gives them in): at most
/// [`MAX_LABELS`], names valid, not `route` and not repeated, values at
/// most [`MAX_VALUE`] bytes without control characters.
pub fn check(
    name: &str,
    mut labels: Vec<(String, String)>,
) -> Result<Vec<(String, String)>, MetricError> {
    check_name(name).map_err(MetricError::InvalidName)?;
    if labels.len() > MAX_LABELS {
        return Err(MetricError::InvalidLabel(format!(
            "{} labels; at most {MAX_LABELS}",
            labels.len()
        )));
    }
    labels.sort();
    for (i, (label, value)) in labels.iter().enumerate() {
        check_name(label).map_err(MetricError::InvalidLabel)?;
        if label == "route" || (i > 0 && labels[i - 1].0 == *label) {
            return Err(MetricError::InvalidLabel(format!(
                "label `{label}` is reserved or repeated"
            )));
        }
        if value.len() > MAX_VALUE || value.chars().any(char::is_control) {
            return Err(MetricError::InvalidLabel(format!(
                "the value of `{label}` is longer than {MAX_VALUE} bytes or has control characters"
            )));
        }
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn names_and_labels_follow_the_rules() {
        assert!(check_name("cache_hits").is_ok());
        for bad in ["", "Hits", "1st", "a-b", &"a".repeat(MAX_NAME + 1)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        let sorted = check("hits", labels(&[("b", "2"), ("a", "1")])).unwrap();
        assert_eq!(sorted, labels(&[("a", "1"), ("b", "2")]));
        for bad in [
            labels(&[("route", "x")]),
            labels(&[("a", "1"), ("a", "2")]),
            labels(&[("a", "line\nbreak")]),
            labels(&[("a", &"v".repeat(MAX_VALUE + 1))]),
            labels(&[("a", ""), ("b", ""), ("c", ""), ("d", ""), ("e", "")]),
        ] {
            assert!(
                matches!(
                    check("hits", bad.clone()),
                    Err(MetricError::InvalidLabel(_))
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            check("Bad", vec![]),
            Err(MetricError::InvalidName(_))
        ));
    }
}
