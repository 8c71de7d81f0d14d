//! `pii-redact` through the real gateway, after `cache` in the chain: the
//! upstream's JSON with personal data reaches the client masked, and the
//! cached copy that answers the next request is the masked one.

use crate::support;
use crate::support::origin;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::Full;
use serde_json::json;
use support::builder::{Cap, Gateway, plugin};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_is_masked_before_the_client_and_the_cache_see_it() {
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = asked.clone();
    let addr = origin::origin(move |_request| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            let body = json!({
                "customer": { "name": "Ann Lee", "email": "ann.lee@mail.example.org", "ssn": "078-05-1120" },
                "payments": [{ "card": "4111 1111 1111 1111", "order": "1234567890123456" }],
            });
            Response::builder()
                .header("content-type", "application/json")
                .header("cache-control", "public, max-age=60")
                .header("x-customer-email", "ann.lee@mail.example.org")
                .body(Full::new(Bytes::from(body.to_string())))
                .expect("response")
        }
    })
    .await;
    let gw = Gateway::builder()
        .upstream("origin", &[addr])
        .route("customers", |r| {
            r.plugin(plugin("cache").grant([Cap::Cache, Cap::Clock, Cap::Metrics]))
                .plugin(
                    plugin("pii-redact")
                        .grant([Cap::Log])
                        .config_toml("pointers", r#"["/customer/ssn"]"#)
                        .config_toml("headers", r#"["x-customer-email"]"#),
                )
        })
        .start()
        .await;
    for round in ["miss", "hit"] {
        let response = gw.get("/customers/7").await;
        assert_eq!(response.status, StatusCode::OK, "{round}");
        let text = String::from_utf8_lossy(&response.body).into_owned();
        assert!(!text.contains("ann.lee@"), "{round}: {text}");
        assert!(!text.contains("4111"), "{round}: {text}");
        assert!(!text.contains("078-05"), "{round}: {text}");
        let body = response.json();
        assert_eq!(body["customer"]["name"], "Ann Lee", "{round}");
        assert_eq!(body["customer"]["email"], "[redacted]", "{round}");
        assert_eq!(body["payments"][0]["card"], "[redacted]", "{round}");
        assert_eq!(
            body["payments"][0]["order"], "1234567890123456",
            "{round}: fails Luhn"
        );
        assert_eq!(
            response.header("x-customer-email"),
            Some("[redacted]"),
            "{round}"
        );
    }
    assert_eq!(
        asked.load(Ordering::SeqCst),
        1,
        "the second answer came from the cache"
    );
    gw.shutdown().await;
}
