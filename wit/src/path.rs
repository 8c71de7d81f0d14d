//! The request path rules: the one normal form the gateway matches routes
//! against and sends upstream, and what a plugin may set with `set-path`.

/// Puts a request path in the one form routes are matched against and
/// upstreams receive, so that `/public/../admin`, `/%61dmin` and `//admin` all
/// become `/admin` and cannot slip past a route meant for `/admin`:
///
/// - percent-encoded unreserved characters (`A-Z a-z 0-9 - . _ ~`) are
///   decoded (RFC 3986 §6.2.2.2);
/// - repeated `/` are merged;
/// - `.` and `..` segments are removed (RFC 3986 §5.2.4).
///
/// Refuses (with the reason) a path that does not start with `/`, has a
/// malformed escape, or encodes `/`, `\` or NUL, which upstreams disagree on.
pub fn normalize_path(path: &str) -> Result<String, String> {
    if !path.starts_with('/') {
        return Err("the request target must be an absolute path".into());
    }
    if is_normal(path) {
        return Ok(path.to_owned());
    }
    normalize_slow(path)
}

/// Whether `path` (starting with `/`) is already in normal form: no
/// escapes, no empty segment but a trailing one, no `.` or `..` segment.
/// Most paths are, and skip the rebuilding.
fn is_normal(path: &str) -> bool {
    if path.contains('%') {
        return false;
    }
    let mut segments = path[1..].split('/').peekable();
    while let Some(segment) = segments.next() {
        match segment {
            "." | ".." => return false,
            "" if segments.peek().is_some() => return false,
            _ => {}
        }
    }
    true
}

/// [`normalize_path`] without its fast path: every path rebuilt. For the
/// fuzz target that checks the two agree.
#[doc(hidden)]
pub fn normalize_path_rebuilt(path: &str) -> Result<String, String> {
    if !path.starts_with('/') {
        return Err("the request target must be an absolute path".into());
    }
    normalize_slow(path)
}

fn normalize_slow(path: &str) -> Result<String, String> {
    let decoded = decode_unreserved(path)?;
    let ends_with_slash = decoded.ends_with('/');
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = decoded.split('/').filter(|s| !s.is_empty()).collect();
    let last = segments.len().saturating_sub(1);
    let mut trailing = ends_with_slash;
    for (i, segment) in segments.iter().enumerate() {
        match *segment {
            "." => trailing |= i == last,
            ".." => {
                out.pop();
                trailing |= i == last;
            }
            _ => out.push(segment),
        }
    }
    let mut normalized = format!("/{}", out.join("/"));
    if trailing && !normalized.ends_with('/') {
        normalized.push('/');
    }
    Ok(normalized)
}

fn decode_unreserved(path: &str) -> Result<String, String> {
    if !path.contains('%') {
        return Ok(path.to_owned());
    }
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            // Everything up to the next escape as it is (UTF-8 included).
            let run = bytes[i..]
                .iter()
                .position(|&b| b == b'%')
                .map_or(bytes.len(), |n| i + n);
            out.push_str(&path[i..run]);
            i = run;
            continue;
        }
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok())
            .ok_or_else(|| "malformed percent-encoding in the path".to_string())?;
        match hex {
            b'/' | b'\\' | 0 => return Err("the path encodes `/`, `\\` or NUL".into()),
            b if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') => {
                out.push(char::from(b))
            }
            _ => out.push_str(&path[i..i + 3]),
        }
        i += 3;
    }
    Ok(out)
}

/// Checks a path a plugin sets with `set-path` and returns it normalized as
/// [`normalize_path`] normalizes a client's, so a plugin cannot forward `..`
/// segments either. A `?` or `#` is refused: the query has `set-query`.
pub fn plugin_path(path: &str) -> Result<String, String> {
    if path.contains(['?', '#']) {
        return Err(format!(
            "path `{path}` must not contain `?` or `#` (use set-query)"
        ));
    }
    normalize_path(path).map_err(|reason| format!("path `{path}`: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalized_before_matching() {
        let n = |p: &str| normalize_path(p);
        assert_eq!(n("/a/b/../c").as_deref(), Ok("/a/c"));
        assert_eq!(n("/public/%2e%2E/admin").as_deref(), Ok("/admin"));
        assert_eq!(n("/../../etc").as_deref(), Ok("/etc"));
        assert_eq!(n("/a/./b/.").as_deref(), Ok("/a/b/"));
        assert_eq!(n("//admin").as_deref(), Ok("/admin"));
        assert_eq!(n("/%61dmin/x%7E").as_deref(), Ok("/admin/x~"));
        assert_eq!(
            n("/x/%20y").as_deref(),
            Ok("/x/%20y"),
            "reserved escapes are kept"
        );
        assert_eq!(n("/plain/path/").as_deref(), Ok("/plain/path/"));
        assert_eq!(n("/").as_deref(), Ok("/"));
        assert!(n("/x/..%2fadmin").is_err());
        assert!(n("/x%5cadmin").is_err());
        assert!(n("/x%00").is_err());
        assert!(n("/x%zz").is_err());
        assert!(n("/x%+1").is_err(), "a sign is not a hex digit");
        // Found by the request_path fuzz target: UTF-8 beside an escape was
        // re-encoded byte by byte, so normalising twice changed the path.
        let utf8 = n("/caf\u{e9}/%41").expect("normal");
        assert_eq!(utf8, "/caf\u{e9}/A");
        assert_eq!(n(&utf8).as_deref(), Ok(utf8.as_str()));
        assert!(n("*").is_err());
    }

    #[test]
    fn the_fast_path_agrees_with_the_full_normalisation() {
        let paths = [
            "/", "/a", "/a/", "/a/b", "/a//b", "//", "/.", "/..", "/a/.", "/a/..", "/a/./b",
            "/a/../b/", "/.a", "/a.", "/..a/b..", "/a/b/", "/a b", "/%41", "/a//", "/a/b//",
        ];
        for path in paths {
            if is_normal(path) {
                assert_eq!(normalize_slow(path).as_deref(), Ok(path), "{path}");
            }
            assert_eq!(normalize_path(path), normalize_slow(path), "{path}");
        }
    }

    #[test]
    fn a_plugin_path_is_normalized_and_has_no_query() {
        assert_eq!(plugin_path("/a/../b").as_deref(), Ok("/b"));
        assert!(plugin_path("/a?b=1").unwrap_err().contains("set-query"));
        assert!(plugin_path("/a#frag").is_err());
        assert!(
            plugin_path("relative")
                .unwrap_err()
                .contains("absolute path")
        );
    }
}
