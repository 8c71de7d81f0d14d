//! The fuzz targets' properties, one function per target. Each takes the
//! fuzzer's bytes and panics when a property a user relies on fails:
//!
//! - `http1_head`: the HTTP/1 framing guard's head parser judges a head the
//!   same from any buffer that holds it (a longer read, the head alone),
//!   calls every shorter prefix incomplete, and refuses only with 400 or
//!   431 and a reason;
//! - `chunked_body`: the guard's chunked-body scanner finds the same end
//!   (or the same error) however the body is split into reads;
//! - `request_path`: path normalisation's fast path agrees with the full
//!   rebuild, its result is normal (no `//`, `.` or `..` segments) and
//!   normalising again changes nothing; the router then picks a route for
//!   it without panicking, the same route every time;
//! - `config_toml`: the config parser never panics, reports every refusal
//!   with a message, and every config it accepts builds its router;
//! - `jwt_token`: no token the fuzzer makes verifies against a secret it
//!   does not know, and a token correctly signed with the configured
//!   HS256 key never fails its signature check, whatever its header and
//!   claims hold; the claim checks never panic;
//! - `cache_control`: `Cache-Control` parsing never panics and keeps each
//!   directive's first occurrence (the lines repeated parse the same).
//!
//! The libFuzzer binaries in `targets/` call these; `cargo xtask fuzz` runs
//! each for a bounded time. The committed corpora (`corpus/<target>/`,
//! crashes found included) replay through the same functions as ordinary
//! tests (`cargo test -p portico-fuzz`).

use std::path::Path;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use http::{HeaderMap, Method};
use jwt::alg::Alg;
use jwt::keys::Key;
use jwt::reject::Reason;
use portico::data::router::{Router, normalize_path, normalize_path_rebuilt};
use portico::data::server::framing_probe::{HeadOutcome, parse_head, scan_chunked};

/// The guard's limits in the fuzz targets (the defaults of `[limits]`).
const MAX_HEADERS: usize = 100;
const MAX_HEADER_BYTES: usize = 16 * 1024;

/// See the crate docs.
pub fn http1_head(data: &[u8]) {
    let outcome = parse_head(data, MAX_HEADERS, MAX_HEADER_BYTES);
    match &outcome {
        HeadOutcome::Complete { len, .. } => {
            let len = *len;
            assert!(len <= data.len(), "a head longer than the bytes read");
            assert_eq!(
                parse_head(&data[..len], MAX_HEADERS, MAX_HEADER_BYTES),
                outcome,
                "the head alone is judged differently"
            );
            for cut in [len / 2, len.saturating_sub(1)] {
                if cut < len {
                    let prefix = parse_head(&data[..cut], MAX_HEADERS, MAX_HEADER_BYTES);
                    assert_eq!(
                        prefix,
                        HeadOutcome::Partial,
                        "{cut} of the {len} bytes of an accepted head"
                    );
                }
            }
        }
        HeadOutcome::Refused { status, detail } => {
            assert!(matches!(status, 400 | 431), "refused with {status}");
            assert!(!detail.is_empty(), "refused without a reason");
        }
        HeadOutcome::Partial => {
            assert!(
                data.len() <= MAX_HEADER_BYTES,
                "{} bytes without a head are not refused",
                data.len()
            );
        }
    }
}

/// See the crate docs. The first byte chooses where the body is split.
pub fn chunked_body(data: &[u8]) {
    let Some((&split, body)) = data.split_first() else {
        return;
    };
    let split = usize::from(split).min(body.len());
    let whole = scan_chunked(&[body]);
    let (a, b) = body.split_at(split);
    assert_eq!(scan_chunked(&[a, b]), whole, "split at {split}");
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    assert_eq!(scan_chunked(&bytes), whole, "one byte per read");
    match whole {
        Some((used, true)) => {
            assert!(used <= body.len());
            assert_eq!(scan_chunked(&[&body[..used]]), whole, "the body alone");
        }
        Some((used, false)) => assert_eq!(used, body.len(), "an unfinished body uses every byte"),
        None => {}
    }
}

/// A route table with every kind of condition, for `request_path`.
fn router() -> &'static Router {
    static ROUTER: OnceLock<Router> = OnceLock::new();
    ROUTER.get_or_init(|| {
        let text = r#"
            version = 1
            [[listeners]]
            name = "public"
            addr = "127.0.0.1:0"
            [upstreams.app]
            targets = ["127.0.0.1:9"]
            [[routes]]
            name = "exact"
            path = { exact = "/admin" }
            upstream = "app"
            [[routes]]
            name = "regex"
            path = { regex = "^/users/(?P<id>[0-9]+)/?$" }
            methods = ["GET", "DELETE"]
            upstream = "app"
            [[routes]]
            name = "host"
            hosts = ["api.example.com", "*.example.org"]
            path = { prefix = "/" }
            upstream = "app"
            [[routes]]
            name = "header"
            path = { prefix = "/v2" }
            headers = { "x-version" = "2" }
            upstream = "app"
            [[routes]]
            name = "prefix"
            path = { prefix = "/api" }
            upstream = "app"
        "#;
        let config = portico::config::parse(Path::new("fuzz.toml"), text)
            .unwrap_or_else(|e| panic!("the fuzz route table: {e}"));
        Router::new(&config.routes).unwrap_or_else(|e| panic!("the fuzz router: {e}"))
    })
}

/// See the crate docs. Input: `method host path` separated by spaces.
pub fn request_path(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut words = text.splitn(3, ' ');
    let (method, host, path) = match (words.next(), words.next(), words.next()) {
        (Some(method), Some(host), Some(path)) => (method, Some(host), path),
        _ => ("GET", None, text),
    };
    let normal = normalize_path(path);
    assert_eq!(
        normal,
        normalize_path_rebuilt(path),
        "fast path and rebuild disagree"
    );
    let Ok(normal) = normal else { return };
    assert!(normal.starts_with('/'));
    assert!(!normal.contains("//"), "{normal}");
    assert!(normal.split('/').all(|s| s != "." && s != ".."), "{normal}");
    assert_eq!(
        normalize_path(&normal).as_deref(),
        Ok(normal.as_str()),
        "not idempotent"
    );
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert("x-version", http::HeaderValue::from_static("2"));
    let first = router().find(&method, host, &normal, &headers);
    assert_eq!(router().find(&method, host, &normal, &headers), first);
}

/// See the crate docs.
pub fn config_toml(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match portico::config::parse(Path::new("/nonexistent/fuzz.toml"), text) {
        Ok(config) => {
            if let Err(error) = Router::new(&config.routes) {
                panic!("an accepted config whose routes do not build: {error}");
            }
        }
        Err(errors) => assert!(
            !errors.to_string().trim().is_empty(),
            "a refusal without a message"
        ),
    }
}

/// The HS256 secret the `jwt_token` target signs with.
const SECRET: &[u8] = b"portico-fuzz-secret-0123456789abcdef";

fn keys() -> &'static [Key] {
    static KEYS: OnceLock<Vec<Key>> = OnceLock::new();
    KEYS.get_or_init(|| vec![Key::from_secret(None, Alg::HS256, SECRET).expect("an HS256 key")])
}

fn jwt_config() -> &'static jwt::config::Config {
    static CONFIG: OnceLock<jwt::config::Config> = OnceLock::new();
    CONFIG.get_or_init(|| {
        serde_json::from_value(serde_json::json!({
            "keys": [{ "alg": "HS256", "secret": std::str::from_utf8(SECRET).expect("ASCII") }],
            "issuer": ["https://issuer.example"],
            "audience": ["api"],
            "required_claims": ["sub"],
        }))
        .expect("the fuzz JWT config")
    })
}

/// See the crate docs. The input is tried as a token as it is, then split
/// at its first `0xff` byte into a header and a payload that are signed
/// with the configured secret.
pub fn jwt_token(data: &[u8]) {
    if let Ok(token) = std::str::from_utf8(data)
        && let Ok((claims, _)) = jwt::token::verify(token, keys())
    {
        panic!("a token verified without the secret: {claims:?}");
    }
    let (header, payload) = match data.iter().position(|&b| b == 0xff) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b"{}"[..]),
    };
    let signed_part = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET).expect("any key length");
    mac.update(signed_part.as_bytes());
    let token = format!(
        "{signed_part}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    );
    match jwt::token::verify(&token, keys()) {
        Ok((claims, _)) => {
            let _ = jwt::claims::check(&claims, jwt_config(), 1_700_000_000_000);
        }
        Err(Reason::BadSignature) => panic!("a correctly signed token failed its signature check"),
        Err(_) => {}
    }
}

/// See the crate docs. Lines are split at `\n`.
pub fn cache_control(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let lines: Vec<&str> = text.split('\n').collect();
    let once = cache::directives::CacheControl::parse(&lines);
    let twice: Vec<&str> = lines.iter().chain(&lines).copied().collect();
    assert_eq!(
        cache::directives::CacheControl::parse(&twice),
        once,
        "repeated lines parse differently"
    );
    let _ = cache::directives::split_list(text);
}

#[cfg(test)]
mod replay {
    //! Every committed corpus file, through its target's properties.

    use std::path::PathBuf;

    fn replay(target: &str, check: fn(&[u8])) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("corpus")
            .join(target);
        let mut count = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("a corpus entry").path();
            let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            check(&data);
            count += 1;
        }
        assert!(count > 0, "{} holds no inputs", dir.display());
    }

    #[test]
    fn http1_head_corpus() {
        replay("http1_head", super::http1_head);
    }

    #[test]
    fn chunked_body_corpus() {
        replay("chunked_body", super::chunked_body);
    }

    #[test]
    fn request_path_corpus() {
        replay("request_path", super::request_path);
    }

    #[test]
    fn config_toml_corpus() {
        replay("config_toml", super::config_toml);
    }

    #[test]
    fn jwt_token_corpus() {
        replay("jwt_token", super::jwt_token);
    }

    #[test]
    fn cache_control_corpus() {
        replay("cache_control", super::cache_control);
    }
}
