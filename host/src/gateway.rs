//! A gateway snapshot: routes, upstreams and plugin chains built from one
//! config and checked as a whole before any traffic reaches it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{Config, ConfigError, ConfigErrors, PluginRef, RouteConfig};
use crate::observe::{self, Observer};
use crate::router::Router;
use crate::runtime::{Chain, HostServices, LoadError, PluginEngine, PluginLoader, PluginSlot};
use crate::upstream::Upstream;

/// Size of the byte cache behind the `cache` capability.
const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// A route ready to serve.
pub struct Route {
    /// The route's name.
    pub name: Arc<str>,
    /// Where requests go.
    pub upstream: Arc<Upstream>,
    /// The plugins run on requests and responses.
    pub chain: Chain,
    /// Largest body a plugin may read.
    pub max_body_bytes: u64,
    /// Bound on the whole upstream exchange (`timeout_ms`).
    pub timeout: Option<Duration>,
}

/// Everything the request path needs, built from one config.
pub struct Gateway {
    /// The routing table; its indexes point into `routes`.
    pub router: Router,
    /// Routes in config order.
    pub routes: Vec<Route>,
    /// Access log, metrics and traces of every request.
    pub observer: Arc<Observer>,
    engine: PluginEngine,
}

impl Gateway {
    /// Builds every route, loading each plugin and running its `init` with
    /// the route's config. All problems are reported together, each with
    /// the config file and key path.
    pub async fn build(config: &Config) -> Result<Self, ConfigErrors> {
        let error = |key: String, message: String| ConfigError::new(&config.source, key, message);
        // First: the metrics recorder must be installed before upstreams and
        // plugin slots register their metric handles.
        let observer = Observer::new(&config.observability).map_err(|e| {
            ConfigErrors::one(error("observability.access_log.file".into(), e.to_string()))
        })?;
        let engine = PluginEngine::new(&config.runtime)
            .map_err(|e| ConfigErrors::one(error("runtime".into(), e.to_string())))?;
        let cache_dir = config.runtime.cache_dir.clone().unwrap_or_default();
        let mut loader = PluginLoader::new(engine.clone(), &config.plugin_dir, &cache_dir);
        let services = Arc::new(HostServices::new(CACHE_BYTES));
        let router = Router::new(&config.routes)
            .map_err(|e| ConfigErrors::one(error("routes".into(), e.to_string())))?;
        let mut errors = Vec::new();
        let mut upstreams: HashMap<&str, Arc<Upstream>> = HashMap::new();
        for (name, upstream) in &config.upstreams {
            match Upstream::build(name, upstream).await {
                Ok(built) => {
                    let built = Arc::new(built);
                    observe::metrics::watch_upstream(&built);
                    upstreams.insert(name, built);
                }
                Err(e) => errors.push(error(
                    format!("upstreams.{name}.{}", e.key()),
                    e.to_string(),
                )),
            }
        }

        let mut routes = Vec::with_capacity(config.routes.len());
        for (r, route) in config.routes.iter().enumerate() {
            let chain = match load_chain(route, r, &mut loader, &engine, &services).await {
                Ok(chain) => chain,
                Err(found) => {
                    errors.extend(found.into_iter().map(|(key, message)| error(key, message)));
                    continue;
                }
            };
            let Some(upstream) = upstreams.get(route.upstream.as_str()) else {
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
            routes.push(Route {
                name: route.name.as_str().into(),
                upstream: upstream.clone(),
                chain,
                max_body_bytes: route.max_body_bytes,
                timeout: route.timeout_ms.map(Duration::from_millis),
            });
        }
        if !errors.is_empty() {
            return Err(ConfigErrors(errors));
        }
        Ok(Gateway {
            router,
            routes,
            observer: Arc::new(observer),
            engine,
        })
    }

    /// The plugin engine shared by every route.
    pub fn engine(&self) -> &PluginEngine {
        &self.engine
    }
}

async fn load_chain(
    route: &RouteConfig,
    r: usize,
    loader: &mut PluginLoader,
    engine: &PluginEngine,
    services: &Arc<HostServices>,
) -> Result<Chain, Vec<(String, String)>> {
    let mut slots = Vec::with_capacity(route.plugins.len());
    let mut errors = Vec::new();
    for (p, plugin) in route.plugins.iter().enumerate() {
        let key = format!("routes[{r}].plugins[{p}]");
        let plugin = match with_config_files(plugin) {
            Ok(plugin) => plugin,
            Err((file, message)) => {
                errors.push((format!("{key}.config_files.{file}"), message));
                continue;
            }
        };
        let plugin = plugin.as_ref();
        let loaded = loader.load(&plugin.name);
        let slot = match loaded {
            Ok(component) => {
                PluginSlot::load(&component, plugin, &route.name, engine, services.clone()).await
            }
            Err(e) => Err(e),
        };
        match slot {
            Ok(slot) => slots.push(Arc::new(slot)),
            Err(error) => {
                let key = match &error {
                    LoadError::Config { key: inner, .. } if !inner.is_empty() => {
                        format!("{key}.config.{inner}")
                    }
                    LoadError::Config { .. } => format!("{key}.config"),
                    LoadError::Ungranted { .. } => format!("{key}.capabilities"),
                    _ => format!("{key}.name"),
                };
                errors.push((key, error.to_string()));
            }
        }
    }
    if errors.is_empty() {
        Ok(Chain::new(slots))
    } else {
        Err(errors)
    }
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
