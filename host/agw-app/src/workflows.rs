//! Executable flows: the bundle catalog, flows compiled against the loaded node types (cached
//! per bundle content and plugin set), and executors for ticks.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use agw_domain::run::FlowRef;
use agw_domain::{CompiledFlow, NodeExecutor};
use agw_store::{BundleSources, SharedCatalog};

/// Where the runner and the use cases get executable flows and node executors.
pub trait Workflows: Send + Sync {
    /// The compiled flow, or a message saying why it cannot run.
    fn compile(&self, flow: &FlowRef) -> Result<Arc<CompiledFlow>, String>;
    /// `flow` with an empty `bundle_version` resolved to the newest loaded version; an
    /// error says which bundle is missing.
    fn resolve(&self, flow: &FlowRef) -> Result<FlowRef, String>;
    /// The flow's VisualFlow JSON, for the snapshot every run keeps as an artifact.
    fn flow_json(&self, flow: &FlowRef) -> Option<serde_json::Value>;
    /// A fresh executor for one tick of the run whose workspace folder is `workspace`.
    fn executor(&self, workspace: &Path) -> Box<dyn NodeExecutor + Send>;
}

/// The node types a flow may use and what executes them: the plugin host, seen from here.
pub trait NodeTypes: Send + Sync {
    /// Changes whenever the set of loaded node types changes (a plugin reload).
    fn generation(&self) -> u64;
    /// `Some(pure)` when exactly one loaded plugin executes `node_type` (`pure`: it has no
    /// effects); `None` when none does, or several do.
    fn provides(&self, node_type: &str) -> Option<bool>;
    /// An executor whose plugins see `workspace` (when granted).
    fn executor(&self, workspace: &Path) -> Box<dyn NodeExecutor + Send>;
}

/// The one catalog: the bundles the gateway serves, where they come from, and their flows
/// compiled against the loaded node types.
///
/// Compiled flows are cached per (workflow id, bundle sha256). A plugin reload empties the
/// cache: node types are resolved against the plugins loaded at compile time. Flows of bundle
/// contents the catalog no longer serves are dropped at the next compile, so the cache never
/// holds more than the catalog does.
pub struct Catalog {
    bundles: SharedCatalog,
    sources: BundleSources,
    nodes: Arc<dyn NodeTypes>,
    compiled: Mutex<CompiledCache>,
}

/// Compiled flows by (workflow id, bundle sha256), for one plugin set (`generation`).
#[derive(Default)]
struct CompiledCache {
    generation: u64,
    flows: HashMap<(String, String), Arc<CompiledFlow>>,
}

impl Catalog {
    /// Loads the bundles from `sources`; a bundle that cannot be read is logged and skipped.
    pub fn load(sources: BundleSources, nodes: Arc<dyn NodeTypes>) -> Result<Self, agw_store::CatalogError> {
        let catalog = sources.load()?;
        for skipped in &catalog.skipped {
            tracing::warn!(path = %skipped.path, reason = %skipped.reason, "bundle skipped");
        }
        Ok(Self { bundles: SharedCatalog::new(catalog), sources, nodes, compiled: Mutex::default() })
    }

    /// The bundles, swapped as a whole on upload and reload.
    pub fn bundles(&self) -> &SharedCatalog {
        &self.bundles
    }

    /// Where the bundles are read from.
    pub fn sources(&self) -> &BundleSources {
        &self.sources
    }

    /// How many compiled flows the cache holds.
    pub fn cached_flows(&self) -> usize {
        self.compiled.lock().unwrap_or_else(PoisonError::into_inner).flows.len()
    }
}

impl Workflows for Catalog {
    fn compile(&self, flow: &FlowRef) -> Result<Arc<CompiledFlow>, String> {
        let catalog = self.bundles.get();
        let loaded = catalog
            .get(&flow.bundle_id, Some(&flow.bundle_version))
            .ok_or_else(|| format!("bundle '{}@{}' is not loaded", flow.bundle_id, flow.bundle_version))?;
        let key = (flow.workflow_id(), loaded.bundle.sha256.clone());
        let generation = self.nodes.generation();
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
        let compiled = Arc::new(CompiledFlow::compile(json, &|t| self.nodes.provides(t)).map_err(|e| e.to_string())?);
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
        let catalog = self.bundles.get();
        let loaded = catalog.get(&flow.bundle_id, version).ok_or_else(|| match version {
            Some(v) => format!("bundle '{}@{v}' is not loaded", flow.bundle_id),
            None => format!("bundle '{}' is not loaded", flow.bundle_id),
        })?;
        Ok(FlowRef { bundle_version: loaded.bundle.manifest.bundle_version.clone(), ..flow.clone() })
    }

    fn flow_json(&self, flow: &FlowRef) -> Option<serde_json::Value> {
        let catalog = self.bundles.get();
        catalog.get(&flow.bundle_id, Some(&flow.bundle_version))?.bundle.flows.get(&flow.flow_id).cloned()
    }

    fn executor(&self, workspace: &Path) -> Box<dyn NodeExecutor + Send> {
        // Runs get their workspace when they are created; one made before workspaces existed
        // gets it now.
        if !workspace.is_dir()
            && let Err(error) = std::fs::create_dir_all(workspace)
        {
            tracing::warn!(workspace = %workspace.display(), %error, "cannot create the run workspace");
        }
        self.nodes.executor(workspace)
    }
}
