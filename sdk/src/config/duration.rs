//! [`Duration`]: the one way a plugin's config writes a span of time.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Units a duration may be written in, largest first, with their length in
/// milliseconds.
const UNITS: [(&str, u64); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

/// The longest duration a config may hold: 100 years, far beyond any TTL,
/// window or interval, and far from overflowing a `u64` of milliseconds.
const MAX_MS: u64 = 100 * 365 * 86_400_000;

/// A span of time in a plugin's config, written as numbers with units:
/// `"250ms"`, `"30s"`, `"5m"`, `"12h"`, `"7d"`, or several parts that add
/// up, largest unit first (`"1m30s"`). Every first-party plugin writes
/// durations this way; anything else (a bare number, an unknown unit) is a
/// config error naming the key.
///
/// ```
/// use portico_sdk::config::Duration;
///
/// let d: Duration = "1m30s".parse().unwrap();
/// assert_eq!(d.as_millis(), 90_000);
/// assert_eq!(d.whole_seconds(), Some(90));
/// assert_eq!(d.to_string(), "1m30s");
/// assert!("90".parse::<Duration>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration {
    ms: u64,
}

impl Duration {
    /// `secs` seconds (for defaults).
    pub const fn from_secs(secs: u64) -> Self {
        Duration {
            ms: secs.saturating_mul(1000),
        }
    }

    /// `ms` milliseconds (for defaults).
    pub const fn from_millis(ms: u64) -> Self {
        Duration { ms }
    }

    /// The duration in milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.ms
    }

    /// The duration in whole seconds, rounded down.
    pub const fn as_secs(self) -> u64 {
        self.ms / 1000
    }

    /// The duration in seconds when it is a whole number of them (for a
    /// setting kept in seconds, such as an HTTP `max-age`); `None` for
    /// `"1500ms"`.
    pub const fn whole_seconds(self) -> Option<u64> {
        if self.ms.is_multiple_of(1000) {
            Some(self.ms / 1000)
        } else {
            None
        }
    }

    /// Whether it is zero (`"0s"`).
    pub const fn is_zero(self) -> bool {
        self.ms == 0
    }
}

impl From<Duration> for std::time::Duration {
    fn from(duration: Duration) -> Self {
        std::time::Duration::from_millis(duration.ms)
    }
}

/// Why a duration did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError(String);

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a duration: write a number and a unit (ms, s, m, h, d), \
             e.g. \"500ms\", \"30s\", \"5m\", \"1h30m\"",
            self.0
        )
    }
}

impl std::error::Error for DurationError {}

impl FromStr for Duration {
    type Err = DurationError;

    fn from_str(text: &str) -> Result<Self, DurationError> {
        let bad = || DurationError(text.to_owned());
        let mut rest = text;
        let mut ms: u64 = 0;
        // Each part's unit must be smaller than the one before (a larger
        // index in `UNITS`).
        let mut previous: Option<usize> = None;
        if rest.is_empty() {
            return Err(bad());
        }
        while !rest.is_empty() {
            let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return Err(bad());
            }
            let count: u64 = rest[..digits].parse().map_err(|_| bad())?;
            rest = &rest[digits..];
            let letters = rest.bytes().take_while(u8::is_ascii_lowercase).count();
            let unit = &rest[..letters];
            rest = &rest[letters..];
            let index = UNITS
                .iter()
                .position(|(name, _)| *name == unit)
                .ok_or_else(bad)?;
            if previous.is_some_and(|before| index <= before) {
                return Err(bad());
            }
            previous = Some(index);
            ms = count
                .checked_mul(UNITS[index].1)
                .and_then(|part| ms.checked_add(part))
                .filter(|total| *total <= MAX_MS)
                .ok_or_else(bad)?;
        }
        Ok(Duration { ms })
    }
}

impl fmt::Display for Duration {
    /// The shortest spelling, largest unit first (`"1m30s"`, `"0s"`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ms == 0 {
            return f.write_str("0s");
        }
        let mut rest = self.ms;
        for (name, length) in UNITS {
            if rest >= length {
                write!(f, "{}{name}", rest / length)?;
                rest %= length;
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;

        impl Visitor<'_> for Text {
            type Value = Duration;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"30s\" or \"500ms\"")
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
                text.parse().map_err(E::custom)
            }
        }

        deserializer.deserialize_str(Text)
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_and_sums_of_them_parse() {
        for (text, ms) in [
            ("0s", 0),
            ("250ms", 250),
            ("30s", 30_000),
            ("5m", 300_000),
            ("12h", 43_200_000),
            ("7d", 604_800_000),
            ("1m30s", 90_000),
            ("1h0m5s", 3_605_000),
            ("1s500ms", 1_500),
        ] {
            assert_eq!(
                text.parse::<Duration>().map(Duration::as_millis),
                Ok(ms),
                "{text}"
            );
        }
    }

    #[test]
    fn anything_else_is_refused_with_the_way_to_write_it() {
        for text in [
            "",
            "30",
            "s",
            "30 s",
            "30S",
            "-1s",
            "1.5s",
            "1w",
            "30s1m",
            "1s1s",
            "1m s",
            "99999999999999999999s",
            "36501d",
        ] {
            let error = text.parse::<Duration>().expect_err(text);
            assert!(error.to_string().contains("e.g. \"500ms\""), "{error}");
        }
    }

    #[test]
    fn it_prints_shortest_and_converts() {
        for (ms, text) in [
            (0, "0s"),
            (90_000, "1m30s"),
            (1_500, "1s500ms"),
            (86_400_000, "1d"),
        ] {
            assert_eq!(Duration::from_millis(ms).to_string(), text);
            assert_eq!(text.parse::<Duration>(), Ok(Duration::from_millis(ms)));
        }
        assert_eq!(Duration::from_millis(1_500).whole_seconds(), None);
        assert_eq!(Duration::from_secs(2).whole_seconds(), Some(2));
        assert_eq!(
            std::time::Duration::from(Duration::from_millis(1_500)),
            std::time::Duration::from_millis(1_500)
        );
    }

    #[test]
    fn config_tables_read_strings_only() {
        #[derive(Deserialize)]
        struct Table {
            ttl: Duration,
        }
        let read = |json: &str| serde_json::from_str::<Table>(json).map(|t| t.ttl.as_millis());
        assert_eq!(read(r#"{"ttl":"2m"}"#).ok(), Some(120_000));
        let number = read(r#"{"ttl":120}"#).err().map(|e| e.to_string());
        assert!(
            number.is_some_and(|e| e.contains("a duration such as \"30s\"")),
            "a bare number is refused"
        );
    }
}
