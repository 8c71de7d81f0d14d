//! Finding the token in the request: a header (`Authorization: Bearer ...`
//! by default) or a query parameter.

use portico_sdk::Request;

use crate::config::TokenSource;
use crate::reject::Reason;

/// The token, `Ok(None)` when the request carries none (which RFC 6750
/// answers without an error code), or an error when it carries several.
pub fn token(req: &Request<'_>, source: &TokenSource) -> Result<Option<String>, Reason> {
    let values: Vec<String> = match source {
        TokenSource::Header { name, scheme } => req
            .header_all(name.as_str())
            .into_iter()
            .filter_map(|value| match scheme {
                None => Some(value.trim().to_owned()),
                Some(scheme) => strip_scheme(&value, scheme).map(str::to_owned),
            })
            .collect(),
        TokenSource::Query(name) => req
            .query()
            .unwrap_or_default()
            .split('&')
            .filter_map(|pair| pair.split_once('=').filter(|(n, _)| n == name))
            .map(|(_, value)| value.to_owned())
            .collect(),
    };
    match values.as_slice() {
        [] => Ok(None),
        [one] if one.is_empty() => Ok(None),
        [one] => Ok(Some(one.clone())),
        _ => Err(Reason::Ambiguous),
    }
}

/// `value` without its leading `scheme` and spaces, if it starts with the
/// scheme (case-insensitive) followed by a space.
fn strip_scheme<'v>(value: &'v str, scheme: &str) -> Option<&'v str> {
    let (first, rest) = value.trim().split_once(' ')?;
    first
        .eq_ignore_ascii_case(scheme)
        .then_some(rest.trim_start_matches(' '))
}
