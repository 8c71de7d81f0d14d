//! Tests that the mock host holds plugins to the gateway's rules: grants
//! checked at load, capabilities declared, the contract's bounds, paths
//! normalized, and chains run in the gateway's order.

use http::StatusCode;

use super::*;
use crate::{Action, Capability, Error, NoConfig, Plugin, Reply, Request, Response, context, kv};

/// Counts requests in kv and names the consumer in the context.
struct Counting;

impl Plugin for Counting {
    type Config = NoConfig;
    const CAPABILITIES: &'static [Capability] = &[Capability::Kv, Capability::Context];

    fn new(_: &'static NoConfig) -> Self {
        Counting
    }

    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        let user = req.header("x-user").unwrap_or_default();
        kv::increment(&format!("n:{user}"), 1, None)?;
        context::set(context::CONSUMER, &user);
        Ok(Action::Continue)
    }
}

/// Uses `kv` without listing it.
struct Undeclared;

impl Plugin for Undeclared {
    type Config = NoConfig;

    fn new(_: &'static NoConfig) -> Self {
        Undeclared
    }

    fn on_request(&mut self, _: &mut Request<'_>) -> Result<Action, Error> {
        kv::get("k");
        Ok(Action::Continue)
    }
}

#[test]
fn a_new_host_grants_nothing_and_load_checks_the_grants() {
    let host = MockHost::new();
    let refused = host
        .try_load::<Counting>(serde_json::json!({}))
        .err()
        .expect("refused");
    assert!(
        matches!(
            refused,
            LoadError::Ungranted {
                capability: Capability::Kv,
                ..
            }
        ),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("does not grant"), "{refused}");
    let partly = MockHost::with_grants(&["kv"]);
    let refused = partly.try_load::<Counting>(serde_json::json!({})).err();
    assert!(
        matches!(
            refused,
            Some(LoadError::Ungranted {
                capability: Capability::Context,
                ..
            })
        ),
        "{refused:?}"
    );
    let granted = MockHost::with_grants(&["kv", "context"]);
    assert!(granted.try_load::<Counting>(serde_json::json!({})).is_ok());
}

#[test]
#[should_panic(expected = "does not grant")]
fn load_panics_on_an_ungranted_capability() {
    let host = MockHost::with_grants(&["context"]);
    let _ = host.load::<Counting>(serde_json::json!({}));
}

#[test]
#[should_panic(expected = "does not list `Capability::Kv` in `Plugin::CAPABILITIES`")]
fn a_call_to_an_undeclared_capability_panics_even_when_granted() {
    let host = MockHost::with_grants(&["kv"]);
    let mut plugin = host
        .load::<Undeclared>(serde_json::json!({}))
        .expect("loads");
    let _ = plugin.on_request(&mut MockRequest::get("/"));
}

#[test]
fn paths_follow_the_gateway_rules() -> Result<(), Error> {
    let mut mock = MockRequest::get("/a/./b/../c?x=1");
    assert_eq!((mock.path(), mock.query()), ("/a/c", Some("x=1")));
    let mut req = Request::new(&mut mock.inner);
    req.set_path("/x/%61//y/..")?;
    assert_eq!(mock.path(), "/x/a/", "normalized like a client's path");
    let mut req = Request::new(&mut mock.inner);
    assert!(req.set_path("/x#frag").is_err());
    assert!(req.set_path("/x/..%2fadmin").is_err(), "encoded slash");
    assert_eq!(mock.query(), Some("x=1"), "unchanged by refusals");
    Ok(())
}

#[test]
#[should_panic(expected = "invalid request target")]
fn a_request_the_gateway_would_refuse_cannot_be_made() {
    let _ = MockRequest::get("/x%2fy");
}

#[test]
#[should_panic(expected = "the plugin trapped: context value for `big` exceeds 65536 bytes")]
fn the_context_bound_traps_like_the_gateway() {
    let _host = MockHost::with_grants(&["context"]);
    context::set("big", &"v".repeat(64 * 1024));
}

#[test]
fn long_log_lines_are_cut_as_the_gateway_cuts_them() {
    let host = MockHost::with_grants(&["log"]);
    crate::log::info("x".repeat(5000));
    assert_eq!(host.logs()[0].message.len(), 4096);
}

/// Answers 403 when `x-deny` is present; stamps responses with its name.
struct Gate {
    name: &'static str,
}

impl Plugin for Gate {
    type Config = NoConfig;

    fn new(_: &'static NoConfig) -> Self {
        Gate { name: "gate" }
    }

    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        if req.header("x-deny").is_some() {
            return Ok(Reply::new(StatusCode::FORBIDDEN).into());
        }
        Ok(Action::Continue)
    }

    fn on_response(&mut self, res: &mut Response<'_>) -> Result<Action, Error> {
        res.append_header("x-seen", self.name)?;
        Ok(Action::Continue)
    }
}

/// Stamps its response phase too, and fails on `x-fail`.
struct Tail;

impl Plugin for Tail {
    type Config = NoConfig;

    fn new(_: &'static NoConfig) -> Self {
        Tail
    }

    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        if req.header("x-fail").is_some() {
            return Err(Error::msg("tail refused"));
        }
        req.set_header("x-tail", "1")?;
        Ok(Action::Continue)
    }

    fn on_response(&mut self, res: &mut Response<'_>) -> Result<Action, Error> {
        res.append_header("x-seen", "tail")?;
        Ok(Action::Continue)
    }
}

#[test]
fn a_chain_runs_in_order_short_circuits_and_unwinds() -> Result<(), Box<dyn std::error::Error>> {
    let host = MockHost::with_grants(&["kv", "context"]);
    let mut chain = MockChain::new(&host)
        .then(host.load::<Counting>(serde_json::json!({}))?)
        .then(host.load::<Gate>(serde_json::json!({}))?)
        .then(host.load::<Tail>(serde_json::json!({}))?);

    let done = chain.run(MockRequest::get("/").header("x-user", "ann"), |req| {
        assert_eq!(req.header_value("x-tail"), Some("1"));
        MockResponse::new(200)
    })?;
    assert_eq!(done.answered_by, None);
    assert_eq!(done.response.header_values("x-seen"), ["tail", "gate"]);
    assert_eq!(
        done.upstream_request
            .as_ref()
            .and_then(|r| r.header_value("x-tail")),
        Some("1")
    );
    assert_eq!(
        done.context.get("consumer").map(String::as_str),
        Some("ann")
    );
    assert_eq!(
        host.context("consumer"),
        None,
        "dropped when the request ends"
    );

    let denied = chain.run(
        MockRequest::get("/")
            .header("x-user", "ann")
            .header("x-deny", "1"),
        |_| panic!("the upstream is not called"),
    )?;
    assert_eq!(denied.answered_by, Some(1));
    assert!(denied.upstream_request.is_none());
    assert_eq!(denied.response.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        denied.response.header_values("x-seen"),
        ["gate"],
        "the plugin that answered and those before it see the reply"
    );
    assert_eq!(host.kv_get::<Counting>("n:ann").as_deref(), Some(&b"2"[..]));

    let failed = chain
        .run(MockRequest::get("/").header("x-fail", "1"), |_| {
            MockResponse::new(200)
        })
        .expect_err("fails");
    assert_eq!((failed.index, failed.phase), (2, "on_request"));
    assert_eq!(failed.error.to_string(), "tail refused");
    Ok(())
}

/// Counts requests under the same kv key as [`Counting`].
struct Twin;

impl Plugin for Twin {
    type Config = NoConfig;
    const CAPABILITIES: &'static [Capability] = &[Capability::Kv];

    fn new(_: &'static NoConfig) -> Self {
        Twin
    }

    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        let user = req.header("x-user").unwrap_or_default();
        let seen = kv::increment(&format!("n:{user}"), 1, None)?;
        req.set_header("x-twin-count", seen.to_string())?;
        Ok(Action::Continue)
    }
}

#[test]
fn each_plugin_has_its_own_kv_namespace_as_in_the_gateway() -> Result<(), Box<dyn std::error::Error>>
{
    let host = MockHost::with_grants(&["kv", "context"]);
    host.kv_set::<Twin>("n:ann", "40", None);
    let mut chain = MockChain::new(&host)
        .then(host.load::<Counting>(serde_json::json!({}))?)
        .then(host.load::<Twin>(serde_json::json!({}))?);
    let done = chain.run(MockRequest::get("/").header("x-user", "ann"), |_| {
        MockResponse::new(200)
    })?;
    let forwarded = done.upstream_request.expect("forwarded");
    assert_eq!(forwarded.header_value("x-twin-count"), Some("41"));
    assert_eq!(host.kv_get::<Counting>("n:ann").as_deref(), Some(&b"1"[..]));
    assert_eq!(host.kv_get::<Twin>("n:ann").as_deref(), Some(&b"41"[..]));
    assert_eq!(
        kv::get("n:ann"),
        None,
        "outside a plugin: a third namespace"
    );
    Ok(())
}

/// Remembers the request's path in a field and reports it on the response;
/// its response phase is what the `x-phase` request header says (or the
/// type's `RESPONSE_PHASE`).
struct Remembers<const ANY: bool> {
    path: Option<String>,
}

impl<const ANY: bool> Plugin for Remembers<ANY> {
    type Config = NoConfig;
    const RESPONSE_PHASE: crate::ResponsePhase = match ANY {
        true => crate::ResponsePhase::AnyInstance,
        false => crate::ResponsePhase::SameInstance,
    };

    fn new(_: &'static NoConfig) -> Self {
        Remembers { path: None }
    }

    fn on_request(&mut self, req: &mut Request<'_>) -> Result<Action, Error> {
        self.path = Some(req.path());
        if req.header("x-phase").as_deref() == Some("skip") {
            req.set_response_phase(crate::ResponsePhase::Skip);
        }
        Ok(Action::Continue)
    }

    fn on_response(&mut self, res: &mut Response<'_>) -> Result<Action, Error> {
        let path = self.path.as_deref().unwrap_or("none");
        res.append_header("x-seen", format!("{}:{path}", u8::from(ANY)))?;
        Ok(Action::Continue)
    }
}

#[test]
fn a_chain_follows_what_each_plugin_says_its_response_phase_needs() -> Result<(), Error> {
    let host = MockHost::new();
    let mut chain = MockChain::new(&host)
        .then(host.load::<Remembers<false>>(serde_json::json!({}))?)
        .then(host.load::<Remembers<true>>(serde_json::json!({}))?);
    let seen = |request: MockRequest, chain: &mut MockChain| -> Result<Vec<String>, Error> {
        let done = chain
            .run(request, |_| MockResponse::new(200))
            .map_err(|e| Error::msg(e.to_string()))?;
        Ok(done
            .response
            .header_values("x-seen")
            .into_iter()
            .map(str::to_owned)
            .collect())
    };
    // The default keeps the request's value; `AnyInstance` gets a new one.
    assert_eq!(
        seen(MockRequest::get("/a"), &mut chain)?,
        ["1:none", "0:/a"]
    );
    // Per request, `set_response_phase` overrides the type's choice.
    let skip = MockRequest::get("/b").header("x-phase", "skip");
    assert_eq!(seen(skip, &mut chain)?, Vec::<String>::new());

    let mut alone = host.load::<Remembers<true>>(serde_json::json!({}))?;
    alone.on_request(&mut MockRequest::get("/c"))?;
    assert_eq!(alone.response_phase(), crate::ResponsePhase::AnyInstance);
    assert!(
        alone.current().is_none(),
        "the value is dropped after on_request"
    );
    alone.on_request(&mut MockRequest::get("/c").header("x-phase", "skip"))?;
    assert_eq!(alone.response_phase(), crate::ResponsePhase::Skip);
    Ok(())
}
