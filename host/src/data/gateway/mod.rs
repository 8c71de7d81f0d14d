//! A gateway snapshot: routes, upstreams and plugin chains built from one
//! config and checked as a whole before any traffic reaches it.
//!
//! A reload builds a new snapshot next to the serving one. Whatever did not
//! change is carried over from the previous snapshot rather than rebuilt:
//! an upstream whose table is equal keeps its connection pool, health state
//! and discovery; a plugin whose component, route and config are equal
//! keeps its warm instances. Everything else is built and checked anew
//! (each plugin's `init` runs with its route's config) before the swap.

mod live;

pub use live::LiveGateway;

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{
    Config, ConfigError, ConfigErrors, PluginRef, RouteConfig, StateBackend, UpstreamConfig,
};
use crate::data::observe::{self, Observer, RouteMetrics};
use crate::data::router::Router;
use crate::data::runtime::redis::RedisStore;
use crate::data::runtime::{
    Candidate, Chain, HostServices, LoadError, LoadedComponent, PluginCatalog, PluginEngine,
    PluginSlot,
};
use crate::data::upstream::Upstream;

/// Size of the byte cache behind the `cache` capability.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// A route ready to serve.
pub struct Route {
    /// The route's name.
    pub name: Arc<str>,
    /// The route's request metric handles.
    pub metrics: Arc<RouteMetrics>,
    /// Where requests go.
    pub upstream: Arc<Upstream>,
    /// The plugins run on requests and responses.
    pub chain: Chain,
    /// Largest body a plugin may read.
    pub max_body_bytes: u64,
    /// Bound on the whole upstream exchange (`timeout_ms`).
    pub timeout: Option<Duration>,
    /// Each slot's plugin entry as loaded (config files inserted), to tell
    /// whether the next snapshot can keep the slot.
    plugins: Vec<PluginRef>,
}

/// What every snapshot shares: the wasmtime engine (its instance pool and
/// epoch ticker) and the host services behind `kv` and `cache`, so counters
/// and cached bytes survive a reload. Changing `[runtime]` needs a restart.
#[derive(Clone)]
pub(crate) struct GatewayRuntime {
    /// The plugin engine.
    pub engine: PluginEngine,
    /// Host state shared by plugins across snapshots.
    pub services: Arc<HostServices>,
    /// Access log, metrics and traces; `[observability]` changes need a
    /// restart.
    pub observer: Arc<Observer>,
}

impl GatewayRuntime {
    /// The engine and services for `config`'s `[runtime]`.
    pub fn new(config: &Config) -> Result<Self, ConfigErrors> {
        // First: the metrics recorder must be installed before upstreams and
        // plugin slots register their metric handles.
        let observer = Observer::new(&config.observability).map_err(|e| {
            ConfigErrors::one(ConfigError::new(
                &config.source,
                "observability.access_log.file",
                e.to_string(),
            ))
        })?;
        let engine = PluginEngine::new(&config.runtime).map_err(|e| {
            ConfigErrors::one(ConfigError::new(&config.source, "runtime", e.to_string()))
        })?;
        // The shared state backend: nothing is connected yet, so a gateway
        // starts while Redis is down.
        let shared = match (config.state.backend, &config.state.redis) {
            (StateBackend::Redis, Some(redis)) => {
                let keyring = Arc::new(crate::config::keyring(config)?);
                Some(RedisStore::new(redis, keyring).map_err(|e| {
                    ConfigErrors::one(ConfigError::new(
                        &config.source,
                        "state.redis",
                        e.to_string(),
                    ))
                })?)
            }
            _ => None,
        };
        Ok(GatewayRuntime {
            engine,
            services: Arc::new(HostServices::with_shared(CACHE_BYTES, shared)),
            observer: Arc::new(observer),
        })
    }

    /// An empty plugin catalog for `config`'s plugin directory.
    pub fn catalog(&self, config: &Config) -> PluginCatalog {
        let cache_dir = config.runtime.cache_dir.clone().unwrap_or_default();
        PluginCatalog::new(self.engine.clone(), &config.plugin_dir, &cache_dir)
    }
}

/// Everything the request path needs, built from one config.
pub struct Gateway {
    /// The routing table; its indexes point into `routes`.
    pub router: Router,
    /// Routes in config order.
    pub routes: Vec<Route>,
    upstreams: HashMap<String, (UpstreamConfig, Arc<Upstream>)>,
    /// Access log, metrics and traces of every request.
    pub observer: Arc<Observer>,
    engine: PluginEngine,
}

impl Gateway {
    /// Builds every route, loading each plugin from the config's plugin
    /// directory and running its `init` with the route's config. All
    /// problems are reported together, each with the config file and key
    /// path.
    pub async fn build(config: &Config) -> Result<Self, ConfigErrors> {
        let runtime = GatewayRuntime::new(config)?;
        let catalog = runtime.catalog(config);
        Gateway::build_with(config, &runtime, &mut catalog.candidate(), None).await
    }

    /// Builds a snapshot on a shared runtime, taking components from
    /// `components` and carrying over from `previous` what did not change.
    pub(crate) async fn build_with(
        config: &Config,
        runtime: &GatewayRuntime,
        components: &mut Candidate<'_>,
        previous: Option<&Gateway>,
    ) -> Result<Self, ConfigErrors> {
        let error = |key: String, message: String| ConfigError::new(&config.source, key, message);
        let router = Router::new(&config.routes)
            .map_err(|e| ConfigErrors::one(error("routes".into(), e.to_string())))?;
        let mut errors = Vec::new();
        let etcd = etcd_for_discovery(config)
            .await
            .map_err(|e| ConfigErrors::one(error("etcd".into(), e.to_string())))?;
        let mut upstreams = HashMap::new();
        for (name, upstream) in &config.upstreams {
            let kept = previous
                .and_then(|p| p.upstreams.get(name))
                .filter(|(old, _)| old == upstream);
            if let Some((_, kept)) = kept {
                upstreams.insert(name.clone(), (upstream.clone(), kept.clone()));
                continue;
            }
            match Upstream::build(name, upstream, etcd.as_ref()).await {
                Ok(built) => {
                    let built = Arc::new(built);
                    let weak: std::sync::Weak<Upstream> = Arc::downgrade(&built);
                    observe::metrics::watch_gauges(weak);
                    upstreams.insert(name.clone(), (upstream.clone(), built));
                }
                Err(e) => errors.push(error(
                    format!("upstreams.{name}.{}", e.key()),
                    e.to_string(),
                )),
            }
        }

        let mut routes = Vec::with_capacity(config.routes.len());
        for (r, route) in config.routes.iter().enumerate() {
            let old = previous.and_then(|p| p.routes.iter().find(|o| *o.name == *route.name));
            let (chain, plugins) = match load_chain(route, r, components, runtime, old).await {
                Ok(loaded) => loaded,
                Err(found) => {
                    errors.extend(found.into_iter().map(|(key, message)| error(key, message)));
                    continue;
                }
            };
            let Some((_, upstream)) = upstreams.get(&route.upstream) else {
                // An upstream that failed to build was reported above.
                if config.upstreams.contains_key(&route.upstream) {
                    continue;
                }
                errors.push(error(
                    format!("routes[{r}].upstream"),
                    format!("no upstream named `{}`", route.upstream),
                ));
                continue;
            };
            let name: Arc<str> = route.name.as_str().into();
            routes.push(Route {
                metrics: RouteMetrics::new(name.clone()),
                name,
                upstream: upstream.clone(),
                chain,
                max_body_bytes: route.max_body_bytes,
                timeout: route.timeout_ms.map(Duration::from_millis),
                plugins,
            });
        }
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        Ok(Gateway {
            router,
            routes,
            upstreams,
            observer: runtime.observer.clone(),
            engine: runtime.engine.clone(),
        })
    }

    /// The plugin engine shared by every route.
    pub fn engine(&self) -> &PluginEngine {
        &self.engine
    }

    /// The upstreams, by name.
    pub fn upstreams(&self) -> impl Iterator<Item = &Arc<Upstream>> {
        self.upstreams.values().map(|(_, upstream)| upstream)
    }

    /// Whether `other` has the same routes on the same upstreams and plugin
    /// slots (objects, not just equal configs): a reload that changed
    /// nothing.
    pub(crate) fn same_as(&self, other: &Gateway) -> bool {
        let same_route = |(a, b): (&Route, &Route)| {
            a.name == b.name
                && Arc::ptr_eq(&a.upstream, &b.upstream)
                && a.chain.slots().len() == b.chain.slots().len()
                && (a.chain.slots().iter())
                    .zip(b.chain.slots())
                    .all(|(x, y)| Arc::ptr_eq(x, y))
        };
        self.routes.len() == other.routes.len()
            && self.upstreams.len() == other.upstreams.len()
            && self.routes.iter().zip(&other.routes).all(same_route)
    }

    /// Names of the routes whose chain uses plugin `name`.
    pub(crate) fn routes_using(&self, plugin: &str) -> Vec<Arc<str>> {
        self.routes
            .iter()
            .filter(|route| route.chain.slots().iter().any(|s| s.name() == plugin))
            .map(|route| route.name.clone())
            .collect()
    }
}

async fn load_chain(
    route: &RouteConfig,
    r: usize,
    components: &mut Candidate<'_>,
    runtime: &GatewayRuntime,
    old: Option<&Route>,
) -> Result<(Chain, Vec<PluginRef>), Vec<(String, String)>> {
    let mut slots = Vec::with_capacity(route.plugins.len());
    let mut loaded_refs = Vec::with_capacity(route.plugins.len());
    let mut errors = Vec::new();
    for (p, plugin) in route.plugins.iter().enumerate() {
        let key = format!("routes[{r}].plugins[{p}]");
        let mut plugin = match with_config_files(plugin) {
            Ok(plugin) => plugin.into_owned(),
            Err((file, message)) => {
                errors.push((format!("{key}.config_files.{file}"), message));
                continue;
            }
        };
        if let Err((inner, message)) = crate::config::secrets::read_all(&mut plugin.config) {
            errors.push((format!("{key}.config.{inner}"), message));
            continue;
        }
        let slot = match components.component(&plugin.name).await {
            Ok(component) => match reusable(old, p, &plugin, &component) {
                Some(slot) => Ok(slot),
                None => PluginSlot::load(
                    &component,
                    &plugin,
                    &route.name,
                    &runtime.engine,
                    runtime.services.clone(),
                )
                .await
                .map(Arc::new),
            },
            Err(e) => Err(e),
        };
        match slot {
            Ok(slot) => {
                slots.push(slot);
                loaded_refs.push(plugin);
            }
            Err(error) => {
                let key = match &error {
                    LoadError::Config { key: inner, .. } if !inner.is_empty() => {
                        format!("{key}.config.{inner}")
                    }
                    LoadError::Config { .. } => format!("{key}.config"),
                    LoadError::Ungranted { .. } => format!("{key}.capabilities"),
                    LoadError::Http { .. } => format!("{key}.http"),
                    _ => format!("{key}.name"),
                };
                errors.push((key, error.to_string()));
            }
        }
    }
    if errors.is_empty() {
        Ok((Chain::new(slots), loaded_refs))
    } else {
        Err(errors)
    }
}

/// The previous snapshot's slot at position `p` of the same route, when it
/// runs the same component with the same entry.
fn reusable(
    old: Option<&Route>,
    p: usize,
    plugin: &PluginRef,
    component: &LoadedComponent,
) -> Option<Arc<PluginSlot>> {
    let old = old?;
    let slot = old.chain.slots().get(p)?;
    (old.plugins.get(p)? == plugin && slot.sha256() == component.sha256).then(|| slot.clone())
}

/// `plugin` with each of its `config_files` read and inserted into its
/// `config` as a string under its key; errors name the key.
fn with_config_files(plugin: &PluginRef) -> Result<Cow<'_, PluginRef>, (String, String)> {
    if plugin.config_files.is_empty() {
        return Ok(Cow::Borrowed(plugin));
    }
    let mut plugin = plugin.clone();
    for (name, path) in &plugin.config_files {
        if plugin.config.contains_key(name) {
            return Err((name.clone(), format!("`config.{name}` is set too")));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| (name.clone(), format!("cannot read {}: {e}", path.display())))?;
        plugin
            .config
            .insert(name.clone(), toml::Value::String(text));
    }
    Ok(Cow::Owned(plugin))
}

/// A client for the config's `[etcd]` cluster when some upstream discovers
/// its targets there (connected lazily: an unreachable cluster fails the
/// first watch, which keeps retrying, not the build).
async fn etcd_for_discovery(
    config: &Config,
) -> Result<Option<crate::etcd::Etcd>, crate::etcd::EtcdError> {
    let wanted = config.upstreams.values().any(|u| u.etcd.is_some());
    match (&config.etcd, wanted) {
        (Some(cluster), true) => Ok(Some(crate::etcd::Etcd::connect(cluster).await?)),
        _ => Ok(None),
    }
}
