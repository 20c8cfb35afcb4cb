//! Builds the gateway's parts from its configuration and connects them.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use agw_api::{PluginDirectory, PluginProblem};
use agw_domain::run::FlowRef;
use agw_domain::{CompiledFlow, NodeExecutor};
use agw_plugins::{DirWatcher, PluginHost, PluginSource};
use agw_runner::Workflows;
use agw_store::{BundleSources, FileStore, RunStore, SharedCatalog, SqliteStore};
use anyhow::Context;

use crate::config::{Config, StoreBackend};
use crate::samples::SAMPLES;

/// The plugins shipped inside the binary.
pub fn first_party_plugins() -> Vec<PluginSource> {
    agw_firstparty::EMBEDDED.iter().map(|p| PluginSource::first_party(p.name, p.wasm)).collect()
}

/// The plugin host as configured, without anything loaded.
pub fn empty_plugin_host(config: &Config) -> anyhow::Result<PluginHost> {
    PluginHost::new(config.plugins.host.clone()).context("cannot start the plugin host")
}

/// Starts the plugin host and loads the first-party plugins plus the plugins directory under
/// its policy. A bad plugin is logged and listed, never fatal; an invalid policy file is.
pub fn plugin_host(config: &Config) -> anyhow::Result<PluginHost> {
    let host = empty_plugin_host(config)?;
    host.load_dir(&config.plugins.dir, &first_party_plugins()).context("refusing to start")?.log("plugins loaded");
    Ok(host)
}

/// Reloads the plugins directory whenever it changes (when enabled and the directory exists).
pub fn watch_plugins(config: &Config, host: &PluginHost) -> Option<DirWatcher> {
    if !config.plugins.watch || !config.plugins.dir.is_dir() {
        return None;
    }
    match host.watch(&config.plugins.dir, first_party_plugins()) {
        Ok(watcher) => Some(watcher),
        Err(error) => {
            tracing::warn!(dir = %config.plugins.dir.display(), %error, "cannot watch the plugins directory; no hot reload");
            None
        }
    }
}

/// Where bundles come from: uploads (`<data>/bundles`), then the flows directory, or the
/// built-in samples when none is set.
pub fn bundle_sources(config: &Config) -> BundleSources {
    BundleSources {
        uploads_dir: config.data_dir.join("bundles"),
        roots: config.server.flows_dir.iter().cloned().collect(),
        embedded: if config.server.flows_dir.is_some() { &[] } else { SAMPLES },
        limits: config.server.bundle_limits,
        sync: config.store.fsync,
    }
}

/// Opens the run store the configuration names. The SQLite database must lie inside the
/// data dir: a path that points elsewhere would wire another environment's state in.
pub fn run_store(config: &Config) -> anyhow::Result<Arc<dyn RunStore>> {
    Ok(match config.store.backend {
        StoreBackend::File => Arc::new(FileStore::open_with_sync(&config.data_dir, config.store.fsync)?),
        StoreBackend::Sqlite => {
            let db = agw_store::db_path_inside(&config.data_dir, &config.db_path()).context("refusing to start")?;
            tracing::info!(db = %db.display(), "store backend: sqlite");
            Arc::new(SqliteStore::open_with_sync(db, config.store.fsync)?)
        }
    })
}

/// Loads the bundle catalog from `sources`.
pub fn catalog(sources: &BundleSources) -> anyhow::Result<SharedCatalog> {
    let catalog = sources.load()?;
    for skipped in &catalog.skipped {
        tracing::warn!(path = %skipped.path, reason = %skipped.reason, "bundle skipped");
    }
    Ok(SharedCatalog::new(catalog))
}

/// Compiles flows from the catalog against the loaded plugins, caching the result per
/// bundle content. A plugin reload empties the cache: a flow's node types are resolved
/// against the plugins loaded when it is compiled. Flows of bundle contents the catalog no
/// longer serves (replaced by an upload with `overwrite`, or gone from disk) are dropped at
/// the next compile, so the cache never holds more than the catalog does.
pub struct GatewayWorkflows {
    catalog: SharedCatalog,
    plugins: PluginHost,
    compiled: Mutex<CompiledCache>,
}

/// Compiled flows by (workflow id, bundle sha256), for one plugin set (`generation`).
#[derive(Default)]
struct CompiledCache {
    generation: u64,
    flows: HashMap<(String, String), Arc<CompiledFlow>>,
}

impl GatewayWorkflows {
    pub fn new(catalog: SharedCatalog, plugins: PluginHost) -> Self {
        Self { catalog, plugins, compiled: Mutex::default() }
    }

    /// How many compiled flows the cache holds.
    pub fn cached_flows(&self) -> usize {
        self.compiled.lock().unwrap_or_else(PoisonError::into_inner).flows.len()
    }
}

impl Workflows for GatewayWorkflows {
    fn compile(&self, flow: &FlowRef) -> Result<Arc<CompiledFlow>, String> {
        let catalog = self.catalog.get();
        let loaded = catalog
            .get(&flow.bundle_id, Some(&flow.bundle_version))
            .ok_or_else(|| format!("bundle '{}@{}' is not loaded", flow.bundle_id, flow.bundle_version))?;
        let key = (flow.workflow_id(), loaded.bundle.sha256.clone());
        let generation = self.plugins.generation();
        {
            let mut cache = self.compiled.lock().unwrap_or_else(PoisonError::into_inner);
            if cache.generation != generation {
                *cache = CompiledCache { generation, flows: HashMap::new() };
            }
            if let Some(hit) = cache.flows.get(&key) {
                return Ok(hit.clone());
            }
        }
        let json = loaded
            .bundle
            .flows
            .get(&flow.flow_id)
            .ok_or_else(|| format!("flow '{}' is not in bundle '{}'", flow.flow_id, loaded.bundle.bundle_ref()))?;
        let compiled = Arc::new(CompiledFlow::compile(json, &|t| self.plugins.provides(t)).map_err(|e| e.to_string())?);
        let mut cache = self.compiled.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.generation == generation {
            let live: HashSet<&str> = catalog.all().map(|b| b.bundle.sha256.as_str()).collect();
            cache.flows.retain(|(_, sha256), _| live.contains(sha256.as_str()));
            cache.flows.insert(key, compiled.clone());
        }
        Ok(compiled)
    }

    fn resolve(&self, flow: &FlowRef) -> Result<FlowRef, String> {
        let version = Some(flow.bundle_version.as_str()).filter(|v| !v.is_empty());
        let catalog = self.catalog.get();
        let loaded = catalog.get(&flow.bundle_id, version).ok_or_else(|| match version {
            Some(v) => format!("bundle '{}@{v}' is not loaded", flow.bundle_id),
            None => format!("bundle '{}' is not loaded", flow.bundle_id),
        })?;
        Ok(FlowRef { bundle_version: loaded.bundle.manifest.bundle_version.clone(), ..flow.clone() })
    }

    fn flow_json(&self, flow: &FlowRef) -> Option<serde_json::Value> {
        let catalog = self.catalog.get();
        catalog.get(&flow.bundle_id, Some(&flow.bundle_version))?.bundle.flows.get(&flow.flow_id).cloned()
    }

    fn executor(&self, workspace: &Path) -> Box<dyn NodeExecutor + Send> {
        // Runs get their workspace at start; one made before workspaces existed gets it now.
        if !workspace.is_dir()
            && let Err(error) = std::fs::create_dir_all(workspace)
        {
            tracing::warn!(workspace = %workspace.display(), %error, "cannot create the run workspace");
        }
        Box::new(self.plugins.session_in(workspace))
    }
}

/// The plugin host as the API sees it.
pub struct Plugins(pub PluginHost);

impl PluginDirectory for Plugins {
    fn plugins(&self) -> Vec<serde_json::Value> {
        self.0.plugins().iter().filter_map(|p| serde_json::to_value(p).ok()).collect()
    }

    fn plugin(&self, name: &str) -> Option<serde_json::Value> {
        self.0.plugin(name).and_then(|p| serde_json::to_value(p).ok())
    }

    fn problems(&self) -> Vec<PluginProblem> {
        self.0.problems().into_iter().map(|p| PluginProblem { label: p.label, reason: p.reason }).collect()
    }

    fn engine(&self) -> serde_json::Value {
        let info = self.0.engine_info();
        serde_json::json!({
            "allocator": info.allocator,
            "pooling_error": info.pooling_error,
            "engine_hash": info.engine_hash,
            "memory_limit_bytes": info.memory_limit_bytes,
            "call_deadline_ms": u64::try_from(info.call_deadline.as_millis()).unwrap_or(u64::MAX),
            "fuel": info.fuel,
        })
    }
}
