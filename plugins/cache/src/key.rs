//! Cache keys: the target URI (scheme, host, path, query), plus the values
//! of the request headers a response varies on.

use std::collections::BTreeMap;

use portico_sdk::Request;

use crate::directives::split_list;

/// The request header values a stored response may vary on, copied when
/// the request is forwarded (the response phase cannot see the request).
pub type RequestHeaders = BTreeMap<String, Vec<String>>;

/// Every header of `req`, by lower-case name.
pub fn snapshot(req: &Request<'_>) -> RequestHeaders {
    req.header_names()
        .into_iter()
        .map(|name| {
            let values = req.header_all(&name);
            (name, values)
        })
        .collect()
}

/// The key of the URI's record: `scheme://host/path?query`, host
/// lower-cased. `HEAD` uses the key of `GET`.
pub fn base(req: &Request<'_>) -> String {
    let authority = req.authority().unwrap_or_default().to_ascii_lowercase();
    let mut key = format!("{}://{authority}{}", req.scheme(), req.path());
    if let Some(query) = req.query() {
        key.push('?');
        key.push_str(&query);
    }
    key
}

/// The varied header names of `Vary` field lines, lower-case, without
/// repeats; `None` for `Vary: *` (never stored).
pub fn vary_names<S: AsRef<str>>(lines: &[S]) -> Option<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    for line in lines {
        for name in split_list(line.as_ref()) {
            if name == "*" {
                return None;
            }
            let name = name.to_ascii_lowercase();
            if !names.contains(&name) {
                names.push(name);
            }
        }
    }
    Some(names)
}

/// The key of the variant of `base` selected by `names` with the request's
/// `value_of(name)`: each name with its values (normalized: trimmed, joined
/// with `, `), or the bare name when the request lacks it. Header values
/// cannot contain a line feed, so the parts cannot run into each other.
pub fn variant(base: &str, names: &[String], value_of: impl Fn(&str) -> Vec<String>) -> String {
    let mut key = base.to_owned();
    for name in names {
        key.push('\n');
        key.push_str(name);
        let values = value_of(name);
        if !values.is_empty() {
            let joined: Vec<&str> = values.iter().flat_map(|v| split_list(v)).collect();
            key.push(':');
            key.push_str(&joined.join(", "));
        }
    }
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vary_names_normalize_and_star_is_none() {
        assert_eq!(
            vary_names(&["Accept, X-Tenant", "accept"]),
            Some(vec!["accept".to_owned(), "x-tenant".to_owned()])
        );
        assert_eq!(vary_names(&["accept, *"]), None);
        assert_eq!(vary_names::<&str>(&[]), Some(Vec::new()));
    }

    #[test]
    fn variants_differ_by_value_and_by_absence() {
        let names = vec!["accept".to_owned(), "x-tenant".to_owned()];
        let lookup = |accept: &'static [&'static str]| {
            move |name: &str| match name {
                "accept" => accept.iter().map(|v| (*v).to_owned()).collect(),
                _ => Vec::new(),
            }
        };
        let json = variant("k", &names, lookup(&["application/json"]));
        assert_eq!(json, "k\naccept:application/json\nx-tenant");
        assert_eq!(
            variant("k", &names, lookup(&["text/html , a", "b"])),
            "k\naccept:text/html, a, b\nx-tenant"
        );
        assert_ne!(variant("k", &names, lookup(&[])), json);
    }
}
