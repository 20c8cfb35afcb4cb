//! The plugin host: loads WebAssembly components that implement the gateway's WIT worlds and
//! runs their node types in sandboxed, bounded stores.
//!
//! - One wasmtime [`wasmtime::Engine`] per host (pooling allocator when the machine allows),
//!   with an epoch thread that lets every call carry a CPU deadline.
//! - [`PluginHost::load_with`] checks signatures, validates and compiles sources (compiled
//!   code cached on disk by sha256 + engine hash), grants each what the operator's
//!   [`policy::Policy`] allows of what it requests, and swaps the loaded set in atomically;
//!   what failed is reported as [`LoadProblem`]s (keeping the previous version of that file)
//!   while everything else keeps loading. [`PluginHost::load_dir`] and [`PluginHost::watch`]
//!   do this for the plugins directory.
//! - [`PluginHost::session_in`] gives a [`TickSession`], the
//!   [`agw_domain::flow::exec::NodeExecutor`] for one run tick: fresh stores with the run's
//!   workspace, never shared between ticks.

mod bindings;
mod cache;
mod call;
mod dir;
mod engine;
mod llm;
mod load;
mod net;
pub mod policy;
mod registry;
mod session;
pub mod signing;
mod summary;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use serde::Serialize;
use wasmtime::Engine;
use wasmtime::component::Linker;

use crate::bindings::PluginState;
use crate::cache::{DiskCache, Obtained};
use crate::engine::EpochTicker;
use crate::policy::{Limits, Policy};
use crate::registry::Registry;

pub use crate::dir::{DirReport, DirWatcher};
pub use crate::engine::Allocator;
pub use crate::llm::{LlmDefaults, ModelSummary};
pub use crate::policy::{Access, Denied, GrantSummary, GrantedHost, PolicyError};
pub use crate::session::TickSession;
pub use crate::summary::{
    CapabilitiesSummary, HostRequestSummary, LlmProviderSummary, LoadProblem, NodeSummary, PinSummary, PluginOrigin,
    PluginSummary,
};

/// Operator-set defaults and trust settings, and where compiled code is cached. The policy
/// file can override the limits per plugin.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Directory for compiled components; `None` compiles on every load.
    pub cache_dir: Option<PathBuf>,
    /// Linear-memory cap of one plugin instance (default 64 MiB).
    pub memory_limit_bytes: usize,
    /// Guest CPU time one call may take before it is interrupted (default 2 s). Time the host
    /// spends waiting on a granted HTTP request does not count.
    pub call_deadline: Duration,
    /// Fuel metering: `Some(budget)` meters every call (the ledger reports each step's cost)
    /// and stops one that burns more than `budget`; `u64::MAX` meters without a limit.
    pub fuel: Option<u64>,
    /// Bound on one outbound HTTP request (connect, first byte, each later read).
    pub http_timeout: Duration,
    /// Largest HTTP response body a plugin may read.
    pub http_max_response_bytes: u64,
    /// Keys whose signatures are trusted.
    pub trusted_keys: signing::TrustedKeys,
    /// Refuse components without a valid signature by a trusted key.
    pub require_signature: bool,
    /// Where `llm_call` nodes that name no provider or model go.
    pub llm_defaults: LlmDefaults,
}

impl Default for HostConfig {
    fn default() -> Self {
        Self {
            cache_dir: None,
            memory_limit_bytes: 64 * 1024 * 1024,
            call_deadline: Duration::from_secs(2),
            fuel: None,
            http_timeout: Duration::from_secs(30),
            http_max_response_bytes: 16 * 1024 * 1024,
            trusted_keys: signing::TrustedKeys::default(),
            require_signature: false,
            llm_defaults: LlmDefaults::default(),
        }
    }
}

impl HostConfig {
    /// The operator's defaults, as the last level of the policy's fallbacks.
    pub(crate) fn limits(&self) -> Limits {
        Limits {
            memory_mib: Some(u32::try_from(self.memory_limit_bytes >> 20).unwrap_or(u32::MAX).max(1)),
            deadline_ms: Some(u64::try_from(self.call_deadline.as_millis()).unwrap_or(u64::MAX).max(1)),
            fuel: self.fuel,
            http_timeout_ms: Some(u64::try_from(self.http_timeout.as_millis()).unwrap_or(u64::MAX).max(1)),
            http_max_response_bytes: Some(self.http_max_response_bytes),
        }
    }
}

/// A component to load.
#[derive(Debug, Clone)]
pub struct PluginSource {
    /// The file name, or the first-party plugin's name; problems are reported under it.
    pub label: String,
    pub bytes: Arc<[u8]>,
    pub origin: PluginOrigin,
    /// The detached signature (`<file>.wasm.sig` text), if there is one.
    pub signature: Option<String>,
    /// What it is granted when the operator's policy does not mention it (first-party
    /// providers read their settings from the usual environment variables).
    pub default_policy: Option<Arc<policy::PluginPolicy>>,
}

impl PluginSource {
    /// A plugin shipped inside the gateway.
    pub fn first_party(name: &str, bytes: &[u8]) -> Self {
        Self {
            label: name.to_owned(),
            bytes: Arc::from(bytes),
            origin: PluginOrigin::FirstParty,
            signature: None,
            default_policy: None,
        }
    }

    /// A plugin read from the operator's plugin directory.
    pub fn file(label: impl Into<String>, bytes: Vec<u8>) -> Self {
        Self {
            label: label.into(),
            bytes: Arc::from(bytes),
            origin: PluginOrigin::Directory,
            signature: None,
            default_policy: None,
        }
    }

    /// With the policy it gets when the operator's says nothing about it.
    pub fn with_default_policy(mut self, policy: policy::PluginPolicy) -> Self {
        self.default_policy = Some(Arc::new(policy));
        self
    }

    /// With a detached signature.
    pub fn with_signature(mut self, signature: Option<String>) -> Self {
        self.signature = signature;
        self
    }
}

/// What one [`PluginHost::load`] did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadReport {
    /// Plugins now loaded.
    pub loaded: usize,
    /// Components compiled (a warm start compiles none).
    pub compiled: usize,
    /// Components read from the disk cache.
    pub cache_hits: usize,
    /// Sources rejected, and node-type conflicts between loaded plugins.
    pub problems: Vec<LoadProblem>,
}

/// How the engine is set up (for `/discovery` and the CLI).
#[derive(Debug, Clone, Serialize)]
pub struct EngineInfo {
    pub allocator: Allocator,
    /// Why the pooling allocator was not used, when it was not.
    pub pooling_error: Option<String>,
    /// Fingerprint of the engine's code-generation settings (part of cache file names).
    pub engine_hash: String,
    pub memory_limit_bytes: usize,
    pub call_deadline: Duration,
    /// Fuel per call when the engine meters fuel.
    pub fuel: Option<u64>,
}

/// Errors of the host itself (plugins' own failures are [`LoadProblem`]s or node failures).
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    /// The wasmtime engine or linker could not be set up.
    #[error("cannot set up the WebAssembly engine: {0}")]
    Engine(String),
    /// The epoch thread could not be started.
    #[error("cannot start the epoch thread: {0}")]
    Ticker(#[from] std::io::Error),
}

/// State shared by the host handle and its sessions.
pub(crate) struct Shared {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<PluginState>,
    pub(crate) cache: DiskCache,
    pub(crate) config: HostConfig,
    allocator: Allocator,
    pooling_error: Option<String>,
    registry: RwLock<Arc<Registry>>,
    /// Serialises loads so two reloads do not compile the same file twice.
    load_lock: Mutex<()>,
    /// Declared last: dropped (and joined) after everything that might still run guest code.
    _ticker: EpochTicker,
}

/// Handle to the plugin host; cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct PluginHost {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost").field("allocator", &self.shared.allocator).finish_non_exhaustive()
    }
}

impl PluginHost {
    /// Creates the engine (pooling allocator, falling back to on-demand), the linker and the
    /// epoch thread. Nothing is loaded yet.
    pub fn new(config: HostConfig) -> Result<Self, HostError> {
        let (engine, allocator, pooling_error) =
            engine::build(config.fuel.is_some()).map_err(|e| HostError::Engine(format!("{e:#}")))?;
        let linker = bindings::linker(&engine).map_err(|e| HostError::Engine(format!("{e:#}")))?;
        let cache = DiskCache::new(config.cache_dir.clone(), &engine);
        let ticker = EpochTicker::start(&engine)?;
        let shared = Shared {
            engine,
            linker,
            cache,
            config,
            allocator,
            pooling_error,
            registry: RwLock::new(Arc::new(Registry::default())),
            load_lock: Mutex::new(()),
            _ticker: ticker,
        };
        Ok(Self { shared: Arc::new(shared) })
    }

    /// Loads `sources` under a deny-all policy (see [`PluginHost::load_with`]).
    pub fn load(&self, sources: Vec<PluginSource>) -> LoadReport {
        self.load_with(sources, &Policy::default())
    }

    /// Loads `sources`, grants each what `policy` allows of what it requests, and replaces the
    /// loaded set with them in one step.
    ///
    /// - A source whose bytes and grant are unchanged is kept as it is (no compile, no call).
    /// - A source that fails validation is reported; if an earlier version of it (same label)
    ///   is loaded, that version keeps serving and the report says so.
    /// - A source no longer listed disappears.
    ///
    /// Sessions already running keep the set they started with.
    pub fn load_with(&self, sources: Vec<PluginSource>, policy: &Policy) -> LoadReport {
        let _serialised = self.shared.load_lock.lock().unwrap_or_else(PoisonError::into_inner);
        let previous = self.registry();
        let mut report = LoadReport::default();
        let mut plugins = Vec::new();
        let mut problems = Vec::new();
        for source in &sources {
            let span = tracing::info_span!("plugin_load", plugin = %source.label);
            let _entered = span.enter();
            let before = previous.plugins().find(|p| p.summary.label == source.label);
            let mut obtained = None;
            let result = load::load_one(&self.shared, source, policy, before, &mut obtained);
            match obtained {
                Some(Obtained::Compiled) => report.compiled += 1,
                Some(Obtained::CacheHit) => report.cache_hits += 1,
                None => {}
            }
            match result {
                Ok(plugin) => plugins.push(plugin),
                Err(mut reason) => {
                    if let Some(kept) = before {
                        reason = format!(
                            "{reason}; still serving the previous version ({} {}, sha256 {})",
                            kept.name, kept.summary.version, kept.summary.sha256
                        );
                        plugins.push(kept.clone());
                    }
                    tracing::warn!(%reason, "plugin rejected");
                    problems.push(LoadProblem { label: source.label.clone(), reason });
                }
            }
        }
        let registry = Registry::build(plugins, problems);
        report.loaded = registry.plugins().count();
        report.problems = registry.problems().to_vec();
        *self.shared.registry.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(registry);
        report
    }

    fn registry(&self) -> Arc<Registry> {
        self.shared.registry.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The loaded plugins, in load order.
    pub fn plugins(&self) -> Vec<PluginSummary> {
        self.registry().plugins().map(|p| p.summary.clone()).collect()
    }

    /// What went wrong in the last load: rejected sources and node-type conflicts.
    pub fn problems(&self) -> Vec<LoadProblem> {
        self.registry().problems().to_vec()
    }

    /// `Some(pure)` when exactly one loaded plugin provides `node_type`; `None` when none does
    /// or several do (a conflict withholds the type).
    pub fn provides(&self, node_type: &str) -> Option<bool> {
        self.registry().provides(node_type)
    }

    /// A node executor for one run tick, over the currently loaded set, with no workspace.
    pub fn session(&self) -> TickSession {
        TickSession::new(self.shared.clone(), self.registry(), None)
    }

    /// A node executor for one tick of the run whose workspace is `workspace`: plugins granted
    /// workspace access see it as `/workspace`.
    pub fn session_in(&self, workspace: &Path) -> TickSession {
        TickSession::new(self.shared.clone(), self.registry(), Some(workspace.to_path_buf()))
    }

    /// Changes whenever a load swaps in a new plugin set: what was derived from the old set
    /// (which node types exist, and which are pure) must be derived again.
    pub fn generation(&self) -> u64 {
        self.registry().generation
    }

    /// Every LLM provider id a loaded plugin serves, with the plugin's name, in load order
    /// (an id several plugins claim is withheld, and listed as a problem).
    pub fn llm_providers(&self) -> Vec<(String, LlmProviderSummary)> {
        let registry = self.registry();
        registry
            .plugins()
            .flat_map(|p| p.summary.llm_providers.iter().map(|l| (p.summary.name.clone(), l.clone())))
            .filter(|(_, l)| registry.llm_provider(&l.id).is_ok())
            .collect()
    }

    /// The models `provider` lists, asked of the plugin that serves it (a network call).
    pub fn list_models(&self, provider: &str) -> Result<Vec<ModelSummary>, String> {
        llm::list_models(&self.shared, &self.registry(), provider)
    }

    /// The `output.text` default route.
    pub fn llm_defaults(&self) -> &LlmDefaults {
        &self.shared.config.llm_defaults
    }

    /// One loaded plugin's summary, by name.
    pub fn plugin(&self, name: &str) -> Option<PluginSummary> {
        self.registry().plugins().find(|p| &*p.name == name).map(|p| p.summary.clone())
    }

    /// How the engine is set up.
    pub fn engine_info(&self) -> EngineInfo {
        let shared = &self.shared;
        EngineInfo {
            allocator: shared.allocator,
            pooling_error: shared.pooling_error.clone(),
            engine_hash: shared.cache.engine_hash().to_owned(),
            memory_limit_bytes: shared.config.memory_limit_bytes,
            call_deadline: shared.config.call_deadline,
            fuel: shared.config.fuel,
        }
    }
}
