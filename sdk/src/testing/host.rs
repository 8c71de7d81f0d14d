//! [`MockHost`]: the in-memory gateway natively compiled plugins talk to.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use super::clock::MockClock;
use super::counters::Counters;
use super::harness::LoadError;
use super::harness::MockPlugin;
use super::http_stubs::{HttpStubs, SentRequest};
use super::store::Store;
use crate::capabilities::ttl_ms;
use crate::log::Level;
use crate::{Capability, ConfigError, Plugin};

/// One message a plugin logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// The level.
    pub level: Level,
    /// The message.
    pub message: String,
}

/// The mock host's state, shared by the [`MockHost`] and the capability
/// calls of the plugins on its thread.
#[derive(Debug, Default)]
pub(crate) struct HostState {
    grants: Vec<Capability>,
    pub(crate) clock: MockClock,
    pub(crate) kv: Store,
    pub(crate) cache: Store,
    pub(crate) context: BTreeMap<String, String>,
    pub(crate) logs: Vec<LogRecord>,
    pub(crate) counters: Counters,
    /// The shared state backend is down (`on_state_error = "fail"`).
    pub(crate) state_unavailable: bool,
    /// The `http` capability's stubs and the requests sent.
    pub(crate) http: HttpStubs,
}

thread_local! {
    static CURRENT: RefCell<Option<Rc<RefCell<HostState>>>> = const { RefCell::new(None) };
    /// What the plugin being driven now declares (`Plugin::CAPABILITIES`),
    /// while a [`MockPlugin`] runs one of its calls.
    static DECLARED: RefCell<Option<(&'static str, &'static [Capability])>> =
        const { RefCell::new(None) };
}

/// Marks the plugin `name` declaring `capabilities` as the one running on
/// this thread until dropped.
pub(crate) struct Running {
    outer: Option<(&'static str, &'static [Capability])>,
}

impl Running {
    pub(crate) fn enter(name: &'static str, capabilities: &'static [Capability]) -> Running {
        let outer = DECLARED.with(|d| d.borrow_mut().replace((name, capabilities)));
        Running { outer }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let outer = self.outer.take();
        let _ = DECLARED.try_with(|d| *d.borrow_mut() = outer);
    }
}

/// Runs a plugin's capability call (`call`, e.g. `kv::get`) against the
/// thread's mock host.
///
/// # Panics
///
/// If no [`MockHost`] is installed on this thread, or `capability` is not
/// granted.
pub(crate) fn with_capability<R>(
    capability: &str,
    call: &str,
    f: impl FnOnce(&mut HostState) -> R,
) -> R {
    let Some(state) = CURRENT.with(|current| current.borrow().clone()) else {
        panic!(
            "the plugin called `{call}` but no MockHost is installed on this thread: \
             create one with `portico_sdk::testing::MockHost::new()` first"
        );
    };
    let declared = DECLARED.with(|d| *d.borrow());
    if let Some((plugin, declared)) = declared
        && !declared.iter().any(|c| c.name() == capability)
    {
        panic!(
            "plugin `{plugin}` called `{call}` but does not list `Capability::{}` in \
             `Plugin::CAPABILITIES` ({declared:?}); its built component imports `{capability}`, \
             so its route must grant it: add it to `CAPABILITIES` and to the route's \
             `capabilities`",
            shown_capability(capability),
        );
    }
    let mut state = state.borrow_mut();
    if !state.grants.iter().any(|c| c.name() == capability) {
        panic!(
            "the plugin called `{call}` but capability `{capability}` is not granted \
             (granted: {:?}); the gateway refuses to load a plugin that imports a \
             capability its route does not grant",
            state.grants
        );
    }
    f(&mut state)
}

/// `key` in the namespace of the plugin running on this thread (its type
/// name; none outside a [`MockPlugin`](super::MockPlugin) call), as the
/// gateway keeps one `kv` and one `cache` namespace per plugin.
pub(crate) fn namespaced(key: &str) -> String {
    let plugin = DECLARED.with(|d| d.borrow().map_or("", |(name, _)| name));
    namespace_of(plugin, key)
}

fn namespace_of(plugin: &str, key: &str) -> String {
    format!("{plugin}\u{0}{key}")
}

/// `key` in `P`'s namespace.
fn plugin_key<P: Plugin>(key: &str) -> String {
    namespace_of(std::any::type_name::<P>(), key)
}

/// `Kv` for `kv`: the variant a plugin lists.
fn shown_capability(name: &str) -> String {
    Capability::from_name(name).map_or_else(|| name.to_owned(), |c| format!("{c:?}"))
}

/// An in-memory gateway for native unit tests of a plugin.
///
/// Creating one installs it for the current thread (replacing any earlier
/// one): the plugin's calls to [`log`](crate::log), [`clock`](crate::clock),
/// [`kv`](crate::kv), [`cache`](crate::cache), [`context`](crate::context),
/// [`metrics`](crate::metrics) and [`outbound`](crate::outbound) (`http`) go
/// to it. Load plugins with [`load`](MockHost::load) and drive them with
/// [`MockRequest`](super::MockRequest) and [`MockResponse`](super::MockResponse).
///
/// Where it behaves as the gateway does, and where it cannot:
///
/// * nothing is granted unless asked for with
///   [`with_grants`](MockHost::with_grants); [`load`](MockHost::load) refuses
///   (panics) when a capability in [`Plugin::CAPABILITIES`] is not granted,
///   as the gateway refuses the component, and a call to a capability the
///   plugin does not list there panics, naming it;
/// * `kv` and `cache` have one namespace per plugin type, as the gateway
///   has one per plugin, so [`kv_get`](MockHost::kv_get) and the other
///   accessors name the plugin (`host.kv_get::<MyPlugin>("key")`); the
///   cache never evicts early;
/// * the context is never cleared by itself (the gateway drops it when a
///   request ends): call [`clear_context`](MockHost::clear_context) between
///   requests that must not share it;
/// * time stands still unless moved with [`set_time_ms`](MockHost::set_time_ms)
///   or [`advance`](MockHost::advance); TTLs follow this clock.
#[derive(Debug)]
pub struct MockHost {
    state: Rc<RefCell<HostState>>,
}

impl Default for MockHost {
    fn default() -> Self {
        MockHost::new()
    }
}

impl MockHost {
    /// A host granting no capability, installed for this thread: like a
    /// route without `capabilities`. Grant what the plugin needs with
    /// [`with_grants`](MockHost::with_grants).
    pub fn new() -> Self {
        MockHost::with_grants(&[])
    }

    /// A host granting only `capabilities` (names as in the gateway's config:
    /// `log`, `clock`, `kv`, `cache`, `context`, `metrics`, `http`), installed for
    /// this thread.
    ///
    /// # Panics
    ///
    /// On an unknown capability name.
    pub fn with_grants(capabilities: &[&str]) -> Self {
        let grants = capabilities
            .iter()
            .map(|name| match Capability::from_name(name) {
                Some(capability) => capability,
                None => panic!(
                    "unknown capability `{name}`; expected one of {:?}",
                    Capability::ALL.map(Capability::name)
                ),
            })
            .collect();
        let state = Rc::new(RefCell::new(HostState {
            grants,
            ..HostState::default()
        }));
        CURRENT.with(|current| *current.borrow_mut() = Some(Rc::clone(&state)));
        MockHost { state }
    }

    /// The host's state, for a [`MockChain`](super::MockChain) on it.
    pub(crate) fn state(&self) -> Rc<RefCell<HostState>> {
        Rc::clone(&self.state)
    }

    /// Loads plugin `P` with `config` (the route's `config` table as JSON),
    /// checking its capabilities as the gateway checks the component's
    /// imports, then parsing the config exactly as the component's `init`
    /// does.
    ///
    /// # Panics
    ///
    /// When the host does not grant every capability in
    /// [`Plugin::CAPABILITIES`] (the gateway refuses such a component): use
    /// [`try_load`](MockHost::try_load) to test that refusal.
    pub fn load<P: Plugin>(&self, config: serde_json::Value) -> Result<MockPlugin<P>, ConfigError> {
        match self.try_load(config) {
            Ok(plugin) => Ok(plugin),
            Err(LoadError::Config(error)) => Err(error),
            Err(refused @ LoadError::Ungranted { .. }) => panic!("{refused}"),
        }
    }

    /// [`load`](MockHost::load), with an ungranted capability as an error
    /// instead of a panic.
    pub fn try_load<P: Plugin>(
        &self,
        config: serde_json::Value,
    ) -> Result<MockPlugin<P>, LoadError> {
        let grants = self.state.borrow().grants.clone();
        if let Some(missing) = P::CAPABILITIES.iter().find(|c| !grants.contains(c)) {
            return Err(LoadError::Ungranted {
                plugin: std::any::type_name::<P>(),
                capability: *missing,
                granted: grants,
            });
        }
        MockPlugin::load(&config.to_string()).map_err(LoadError::Config)
    }

    /// Sets the wall clock (milliseconds since the Unix epoch; initially
    /// 1 700 000 000 000). Moving it forward also advances the monotonic
    /// clock, so TTLs run out; moving it back only jumps the wall clock.
    pub fn set_time_ms(&self, ms: u64) {
        self.state.borrow_mut().clock.set_now_ms(ms);
    }

    /// Lets `by` pass on both clocks.
    pub fn advance(&self, by: Duration) {
        self.state.borrow_mut().clock.advance(by);
    }

    /// What `clock::now_ms` returns now.
    pub fn now_ms(&self) -> u64 {
        self.state.borrow().clock.now_ms()
    }

    /// What `clock::monotonic_ns` returns now (initially 0).
    pub fn monotonic_ns(&self) -> u64 {
        self.state.borrow().clock.monotonic_ns()
    }

    /// Everything logged so far, oldest first.
    pub fn logs(&self) -> Vec<LogRecord> {
        self.state.borrow().logs.clone()
    }

    /// Forgets the logs.
    pub fn clear_logs(&self) {
        self.state.borrow_mut().logs.clear();
    }

    /// Makes the shared state backend unreachable (`true`) or reachable
    /// again, as the gateway does for a plugin whose entry says
    /// `on_state_error = "fail"` while Redis is down: `kv` writes fail with
    /// [`KvError::Unavailable`](crate::kv::KvError::Unavailable), reads are
    /// absent, `cache` is a miss.
    pub fn set_state_unavailable(&self, unavailable: bool) {
        self.state.borrow_mut().state_unavailable = unavailable;
    }

    /// The live kv value `P` sees under `key`.
    pub fn kv_get<P: Plugin>(&self, key: &str) -> Option<Vec<u8>> {
        let state = self.state.borrow();
        state
            .kv
            .get(&plugin_key::<P>(key), state.clock.monotonic_ns())
    }

    /// Stores a kv value for `P` (no size limits), e.g. to seed a test.
    pub fn kv_set<P: Plugin>(&self, key: &str, value: impl AsRef<[u8]>, ttl: Option<Duration>) {
        let mut state = self.state.borrow_mut();
        let now = state.clock.monotonic_ns();
        let ttl_ms = ttl.map_or(0, |ttl| ttl_ms(ttl).max(1));
        state
            .kv
            .put(&plugin_key::<P>(key), value.as_ref(), ttl_ms, now);
    }

    /// The live cache entry `P` sees under `key`.
    pub fn cache_get<P: Plugin>(&self, key: &str) -> Option<Vec<u8>> {
        let state = self.state.borrow();
        state
            .cache
            .get(&plugin_key::<P>(key), state.clock.monotonic_ns())
    }

    /// Caches a value for `P`, e.g. to seed a test.
    pub fn cache_set<P: Plugin>(&self, key: &str, value: impl AsRef<[u8]>, ttl: Duration) {
        let mut state = self.state.borrow_mut();
        let now = state.clock.monotonic_ns();
        state.cache.put(
            &plugin_key::<P>(key),
            value.as_ref(),
            ttl_ms(ttl).max(1),
            now,
        );
    }

    /// The context value under `key`.
    pub fn context(&self, key: &str) -> Option<String> {
        self.state.borrow().context.get(key).cloned()
    }

    /// Sets a context value, as an earlier plugin in the chain would.
    pub fn set_context(&self, key: &str, value: &str) {
        self.state
            .borrow_mut()
            .context
            .insert(key.to_owned(), value.to_owned());
    }

    /// The value of the counter `name` with `labels` (in any order) that the
    /// plugin reported through [`metrics`](crate::metrics); 0 if never.
    pub fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.state.borrow().counters.get(name, labels)
    }

    /// Answers the plugin's `http` requests for `method url` (the exact
    /// absolute URL, query included) with `response` from now on. A request
    /// with no stub is denied, as the gateway denies a destination its grant
    /// does not allow.
    pub fn stub_http(&self, method: &str, url: &str, response: http::Response<Vec<u8>>) {
        self.state.borrow_mut().http.stub(method, url, response);
    }

    /// Fails the plugin's `http` requests for `method url` with `error` (an
    /// unreachable IdP: [`HttpError::Connect`](crate::outbound::HttpError::Connect)
    /// or [`Timeout`](crate::outbound::HttpError::Timeout)).
    pub fn stub_http_error(&self, method: &str, url: &str, error: crate::outbound::HttpError) {
        self.state.borrow_mut().http.fail(method, url, error);
    }

    /// Every `http` request the plugin sent (that had a stub), oldest first.
    pub fn http_requests(&self) -> Vec<SentRequest> {
        self.state.borrow().http.sent.clone()
    }

    /// Drops the context, as the gateway does when a request ends.
    pub fn clear_context(&self) {
        self.state.borrow_mut().context.clear();
    }
}

impl Drop for MockHost {
    /// Uninstalls the host if it is still the thread's current one.
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|current| {
            let mut current = current.borrow_mut();
            if current.as_ref().is_some_and(|c| Rc::ptr_eq(c, &self.state)) {
                *current = None;
            }
        });
    }
}
