//! Taking the key out of a query string.

/// What [`take`] found in a query string.
#[derive(Debug, PartialEq, Eq)]
pub struct Taken {
    /// The first value of the parameter, percent-decoded (`+` is a space),
    /// if present.
    pub value: Option<Vec<u8>>,
    /// The query without any occurrence of the parameter, other pairs
    /// untouched; `None` when nothing is left.
    pub rest: Option<String>,
    /// Whether the parameter occurred at all.
    pub found: bool,
}

/// Finds parameter `name` in `query` (without `?`) and removes every
/// occurrence of it.
pub fn take(query: &str, name: &str) -> Taken {
    let mut value = None;
    let mut found = false;
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (key, raw) = pair.split_once('=').unwrap_or((pair, ""));
        if decode(key) == name.as_bytes() {
            found = true;
            value.get_or_insert_with(|| decode(raw));
        } else if !pair.is_empty() {
            kept.push(pair);
        }
    }
    let rest = (!kept.is_empty()).then(|| kept.join("&"));
    Taken { value, rest, found }
}

/// Percent-decodes `text` as `application/x-www-form-urlencoded` does:
/// `+` is a space, a malformed escape stays as it is.
fn decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let escaped = match (b, bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&hi), Some(&lo)) => hex(hi).zip(hex(lo)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match (escaped, b) {
            (Some(decoded), _) => {
                out.push(decoded);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_first_value_and_removes_every_occurrence() {
        let taken = take("a=1&api_key=k%2By+z&b=2&api_key=other", "api_key");
        assert_eq!(taken.value.as_deref(), Some(&b"k+y z"[..]));
        assert_eq!(taken.rest.as_deref(), Some("a=1&b=2"));
        assert!(taken.found);
    }

    #[test]
    fn absent_parameter_leaves_the_query_alone() {
        let taken = take("a=1&&b=%zz", "api_key");
        assert_eq!(taken.value, None);
        assert_eq!(taken.rest.as_deref(), Some("a=1&b=%zz"));
        assert!(!taken.found);
    }

    #[test]
    fn only_the_key_leaves_no_query_and_a_bare_name_is_an_empty_key() {
        let taken = take("api_key", "api_key");
        assert_eq!(taken.value.as_deref(), Some(&b""[..]));
        assert_eq!(taken.rest, None);
    }
}
