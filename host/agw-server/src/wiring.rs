//! Builds the gateway's parts from its configuration and connects them.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use agw_api::PluginDirectory;
use agw_domain::run::FlowRef;
use agw_domain::{CompiledFlow, NodeExecutor};
use agw_plugins::{HostConfig, PluginHost, PluginSource};
use agw_runner::Workflows;
use agw_store::{BundleSources, FileStore, RunStore, SharedCatalog, SqliteStore};
use anyhow::Context;

use crate::config::{Config, StoreBackend};
use crate::samples::SAMPLES;

/// Starts the plugin host and loads the first-party plugins plus every `.wasm` in the
/// plugins directory. Bad plugins are logged and listed, never fatal.
pub fn plugin_host(config: &Config) -> anyhow::Result<PluginHost> {
    let host = PluginHost::new(HostConfig {
        cache_dir: Some(config.plugin_cache_dir.clone()),
        memory_limit_bytes: config.plugin_memory_mib * 1024 * 1024,
        call_deadline: config.plugin_deadline,
    })
    .context("cannot start the plugin host")?;
    let started = std::time::Instant::now();
    let mut sources: Vec<PluginSource> =
        agw_firstparty::EMBEDDED.iter().map(|p| PluginSource::first_party(p.name, p.wasm)).collect();
    sources.extend(directory_plugins(&config.plugins_dir));
    let report = host.load(sources);
    tracing::info!(
        loaded = report.loaded,
        compiled = report.compiled,
        cache_hits = report.cache_hits,
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "plugins loaded"
    );
    for problem in &report.problems {
        tracing::warn!(plugin = %problem.label, reason = %problem.reason, "plugin not loaded");
    }
    Ok(host)
}

fn directory_plugins(dir: &Path) -> Vec<PluginSource> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut paths: Vec<_> =
        entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "wasm")).collect();
    paths.sort();
    paths
        .into_iter()
        .filter_map(|path| {
            let label = path.file_name()?.to_string_lossy().into_owned();
            match std::fs::read(&path) {
                Ok(bytes) => Some(PluginSource::file(label, bytes)),
                Err(e) => {
                    tracing::warn!(plugin = %label, error = %e, "cannot read plugin file");
                    None
                }
            }
        })
        .collect()
}

/// Where bundles come from: uploads (`<data>/bundles`), then the flows directory, or the
/// built-in samples when none is set.
pub fn bundle_sources(config: &Config) -> BundleSources {
    BundleSources {
        uploads_dir: config.data_dir.join("bundles"),
        roots: config.flows_dir.iter().cloned().collect(),
        embedded: if config.flows_dir.is_some() { &[] } else { SAMPLES },
        limits: config.bundle_limits,
        sync: config.fsync,
    }
}

/// Opens the run store the configuration names. The SQLite database must lie inside the
/// data dir: a path that points elsewhere would wire another environment's state in.
pub fn run_store(config: &Config) -> anyhow::Result<Arc<dyn RunStore>> {
    Ok(match config.store_backend {
        StoreBackend::File => Arc::new(FileStore::open_with_sync(&config.data_dir, config.fsync)?),
        StoreBackend::Sqlite => {
            let db = agw_store::db_path_inside(&config.data_dir, &config.db_path()).context("refusing to start")?;
            tracing::info!(db = %db.display(), "store backend: sqlite");
            Arc::new(SqliteStore::open_with_sync(db, config.fsync)?)
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
/// bundle content.
pub struct GatewayWorkflows {
    catalog: SharedCatalog,
    plugins: PluginHost,
    compiled: Mutex<HashMap<(String, String), Arc<CompiledFlow>>>,
}

impl GatewayWorkflows {
    pub fn new(catalog: SharedCatalog, plugins: PluginHost) -> Self {
        Self { catalog, plugins, compiled: Mutex::default() }
    }
}

impl Workflows for GatewayWorkflows {
    fn compile(&self, flow: &FlowRef) -> Result<Arc<CompiledFlow>, String> {
        let catalog = self.catalog.get();
        let loaded = catalog
            .get(&flow.bundle_id, Some(&flow.bundle_version))
            .ok_or_else(|| format!("bundle '{}@{}' is not loaded", flow.bundle_id, flow.bundle_version))?;
        let key = (flow.workflow_id(), loaded.bundle.sha256.clone());
        if let Some(hit) = self.compiled.lock().unwrap_or_else(PoisonError::into_inner).get(&key) {
            return Ok(hit.clone());
        }
        let json = loaded
            .bundle
            .flows
            .get(&flow.flow_id)
            .ok_or_else(|| format!("flow '{}' is not in bundle '{}'", flow.flow_id, loaded.bundle.bundle_ref()))?;
        let compiled = Arc::new(CompiledFlow::compile(json, &|t| self.plugins.provides(t)).map_err(|e| e.to_string())?);
        self.compiled.lock().unwrap_or_else(PoisonError::into_inner).insert(key, compiled.clone());
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

    fn executor(&self) -> Box<dyn NodeExecutor + Send> {
        Box::new(self.plugins.session())
    }
}

/// The plugin host as the API sees it.
pub struct Plugins(pub PluginHost);

impl PluginDirectory for Plugins {
    fn plugins(&self) -> Vec<serde_json::Value> {
        self.0.plugins().iter().filter_map(|p| serde_json::to_value(p).ok()).collect()
    }

    fn problems(&self) -> Vec<String> {
        self.0.problems().iter().map(ToString::to_string).collect()
    }
}
