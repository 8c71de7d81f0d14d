//! Freshness lifetime and age of a response (RFC 9111 §4.2).

use std::time::{Duration, UNIX_EPOCH};

use crate::directives::CacheControl;

/// An HTTP-date (any of the three formats) as ms since the epoch.
pub fn parse_date_ms(value: &str) -> Option<u64> {
    let time = httpdate::parse_http_date(value.trim()).ok()?;
    let since = time.duration_since(UNIX_EPOCH).ok()?;
    u64::try_from(since.as_millis()).ok()
}

/// `ms` since the epoch as an IMF-fixdate.
pub fn format_date(ms: u64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(ms))
}

/// The response's explicit freshness lifetime in ms, for a shared cache:
/// `s-maxage`, else `max-age`, else `Expires` minus `Date` (or minus the
/// response time without `Date`); an invalid `Expires` is already expired.
/// `None` when the response gives none.
pub fn explicit_lifetime_ms(
    cc: &CacheControl,
    expires: Option<&str>,
    date_ms: Option<u64>,
    response_time_ms: u64,
) -> Option<u64> {
    if let Some(secs) = cc.s_maxage.or(cc.max_age) {
        return Some(secs.saturating_mul(1000));
    }
    let expires = expires?;
    let Some(expires_ms) = parse_date_ms(expires) else {
        return Some(0);
    };
    Some(expires_ms.saturating_sub(date_ms.unwrap_or(response_time_ms)))
}

/// The request and response times and the headers the initial age is
/// computed from.
pub struct AgeInputs {
    /// When the request was sent upstream (ms).
    pub request_time_ms: u64,
    /// When the response arrived (ms).
    pub response_time_ms: u64,
    /// The response's `Date`, ms.
    pub date_ms: Option<u64>,
    /// The response's `Age`, seconds.
    pub age_secs: Option<u64>,
}

/// `corrected_initial_age` (RFC 9111 §4.2.3), ms.
pub fn initial_age_ms(inputs: &AgeInputs) -> u64 {
    let apparent = inputs
        .date_ms
        .map_or(0, |date| inputs.response_time_ms.saturating_sub(date));
    let delay = inputs
        .response_time_ms
        .saturating_sub(inputs.request_time_ms);
    let corrected = inputs
        .age_secs
        .unwrap_or(0)
        .saturating_mul(1000)
        .saturating_add(delay);
    apparent.max(corrected)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000_000;

    #[test]
    fn s_maxage_beats_max_age_beats_expires() {
        let expires = format_date(NOW + 90_000);
        let cc = CacheControl::parse(&["max-age=60, s-maxage=30"]);
        assert_eq!(
            explicit_lifetime_ms(&cc, Some(&expires), None, NOW),
            Some(30_000)
        );
        let cc = CacheControl::parse(&["max-age=60"]);
        assert_eq!(
            explicit_lifetime_ms(&cc, Some(&expires), None, NOW),
            Some(60_000)
        );
        let cc = CacheControl::default();
        assert_eq!(
            explicit_lifetime_ms(&cc, Some(&expires), None, NOW),
            Some(90_000)
        );
        assert_eq!(
            explicit_lifetime_ms(&cc, Some(&expires), Some(NOW - 10_000), NOW),
            Some(100_000),
            "Expires is relative to Date"
        );
        assert_eq!(explicit_lifetime_ms(&cc, Some("0"), None, NOW), Some(0));
        assert_eq!(explicit_lifetime_ms(&cc, None, None, NOW), None);
    }

    #[test]
    fn dates_in_all_three_formats() {
        let imf = parse_date_ms("Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(imf, Some(784_111_777_000));
        assert_eq!(parse_date_ms("Sunday, 06-Nov-94 08:49:37 GMT"), imf);
        assert_eq!(parse_date_ms("Sun Nov  6 08:49:37 1994"), imf);
        assert_eq!(parse_date_ms("yesterday"), None);
        assert_eq!(
            format_date(784_111_777_000),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
    }

    #[test]
    fn initial_age_takes_the_larger_estimate() {
        let inputs = AgeInputs {
            request_time_ms: NOW - 500,
            response_time_ms: NOW,
            date_ms: Some(NOW - 3_000),
            age_secs: Some(1),
        };
        assert_eq!(initial_age_ms(&inputs), 3_000, "apparent age from Date");
        let inputs = AgeInputs {
            age_secs: Some(10),
            ..inputs
        };
        assert_eq!(initial_age_ms(&inputs), 10_500, "Age plus response delay");
    }
}
