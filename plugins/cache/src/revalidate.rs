//! Revalidation: the stored validators on the forwarded request, and the
//! fields of the upstream's 304 merged into the stored response
//! (RFC 9111 §3.2, §4.3).

use portico_sdk::{Error, Request};

use crate::entry::Entry;

/// Fields of a 304 that do not replace stored ones (RFC 9111 §3.2): the
/// stored body's framing and coding, and other caches' status.
const NOT_UPDATED: [&str; 5] = [
    "content-length",
    "content-encoding",
    "content-range",
    "transfer-encoding",
    "cache-status",
];

/// The stored fields updated with a 304's: each field the 304 carries
/// replaces the stored values of that name.
pub fn merge(stored: &[(String, String)], fresh: Vec<(String, String)>) -> Vec<(String, String)> {
    let fresh: Vec<_> = fresh
        .into_iter()
        .filter(|(name, _)| !NOT_UPDATED.contains(&name.as_str()))
        .collect();
    let mut merged: Vec<_> = stored
        .iter()
        .filter(|(name, _)| !fresh.iter().any(|(n, _)| n == name))
        .cloned()
        .collect();
    merged.extend(fresh);
    merged
}

/// Sets the entry's validators on the forwarded request, replacing the
/// client's (whose own conditions are answered from the refreshed entry).
pub fn add_validators(req: &mut Request<'_>, entry: &Entry) -> Result<(), Error> {
    req.remove_header("if-none-match");
    req.remove_header("if-modified-since");
    if let Some(etag) = entry.header("etag") {
        req.set_header("if-none-match", etag)?;
    }
    if let Some(modified) = entry.header("last-modified") {
        req.set_header("if-modified-since", modified)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_304_replaces_fields_by_name_but_not_the_framing() {
        let stored = fields(&[
            ("etag", "\"a\""),
            ("x-multi", "1"),
            ("x-multi", "2"),
            ("content-encoding", "gzip"),
        ]);
        let fresh = fields(&[
            ("x-multi", "3"),
            ("date", "now"),
            ("content-length", "0"),
            ("content-encoding", "br"),
        ]);
        assert_eq!(
            merge(&stored, fresh),
            fields(&[
                ("etag", "\"a\""),
                ("content-encoding", "gzip"),
                ("x-multi", "3"),
                ("date", "now")
            ])
        );
    }
}
