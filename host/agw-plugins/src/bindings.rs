//! The one place host bindings are generated, plus the per-store state every plugin call sees.
//!
//! A plugin's store holds: its name (so host calls can be attributed), a WASI context with no
//! grants at all (no preopens, no env, no args, no stdio, no sockets), and a memory limiter that
//! remembers whether it refused a growth, so a trap that follows can be reported as "out of
//! memory" instead of an opaque `unreachable`.

//! The one place the WIT contract (`wit/gateway.wit`, world `node-executor`) meets Rust, plus
//! the per-store state every plugin call sees.
//!
//! Why not `wasmtime::component::bindgen!`: wasmtime 48's generator writes the package
//! namespace as a Rust path segment without escaping it, and `abstract` is a reserved keyword,
//! so the expanded code (`exports::abstract::gateway::...`) does not compile. The contract is
//! small, so it is mirrored here with wasmtime's derive macros instead; the component model
//! type-checks every record, variant and function signature against the component when an
//! instance's functions are looked up, so a drift between this file and the WIT is an error,
//! never silent misbehaviour.
//!
//! A plugin's store holds: its name (so host calls can be attributed), a WASI context with no
//! grants at all (no preopens, no env, no args, no stdio, no sockets), and a memory limiter that
//! remembers whether it refused a growth, so a trap that follows can be reported as "out of
//! memory" instead of an opaque `unreachable`.

use std::sync::Arc;

use wasmtime::component::{
    ComponentExportIndex, ComponentType, InstancePre, Lift, Linker, Lower, ResourceTable, TypedFunc,
};
use wasmtime::{AsContextMut, ResourceLimiter, StoreContextMut, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Interfaces the world exports, each with the functions the host calls.
const PLUGIN_INTERFACE: &str = "abstract:gateway/plugin@0.1.0";
const NODES_INTERFACE: &str = "abstract:gateway/nodes@0.1.0";
/// Interfaces the world imports.
const HOST_INTERFACE: &str = "abstract:gateway/host@0.1.0";
const TYPES_INTERFACE: &str = "abstract:gateway/types@0.1.0";

/// `types.workspace-access`.
// Variants are only ever built by `Lift` from guest values, which rustc cannot see.
#[allow(dead_code)]
#[derive(ComponentType, Lift, Debug, Clone, Copy, PartialEq, Eq)]
#[component(enum)]
#[repr(u8)]
pub(crate) enum WorkspaceAccess {
    #[component(name = "none")]
    None,
    #[component(name = "read")]
    Read,
    #[component(name = "read-write")]
    ReadWrite,
}

/// `types.host-request`.
#[derive(ComponentType, Lift, Debug, Clone)]
#[component(record)]
pub(crate) struct HostRequest {
    pub(crate) host: String,
    pub(crate) methods: Vec<String>,
}

/// `types.capabilities`.
#[derive(ComponentType, Lift, Debug, Clone)]
#[component(record)]
pub(crate) struct Capabilities {
    #[component(name = "outbound-hosts")]
    pub(crate) outbound_hosts: Vec<HostRequest>,
    pub(crate) workspace: WorkspaceAccess,
    #[component(name = "config-keys")]
    pub(crate) config_keys: Vec<String>,
    pub(crate) secrets: Vec<String>,
    #[component(name = "memory-mib")]
    pub(crate) memory_mib: Option<u32>,
}

/// `types.plugin-info`, the answer of `plugin.describe()`.
#[derive(ComponentType, Lift, Debug, Clone)]
#[component(record)]
pub(crate) struct PluginInfo {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) description: String,
    #[component(name = "sdk-version")]
    pub(crate) sdk_version: String,
    pub(crate) capabilities: Capabilities,
}

/// `nodes.pin`.
#[derive(ComponentType, Lift, Debug, Clone)]
#[component(record)]
pub(crate) struct Pin {
    pub(crate) id: String,
    pub(crate) label: String,
    pub(crate) kind: String,
}

/// `nodes.node-spec`.
#[derive(ComponentType, Lift, Debug, Clone)]
#[component(record)]
pub(crate) struct NodeSpec {
    #[component(name = "node-type")]
    pub(crate) node_type: String,
    pub(crate) category: String,
    pub(crate) description: String,
    pub(crate) inputs: Vec<Pin>,
    pub(crate) outputs: Vec<Pin>,
    pub(crate) pure: bool,
}

/// `nodes.node-context`.
#[derive(ComponentType, Lower, Debug, Clone)]
#[component(record)]
pub(crate) struct NodeContext {
    #[component(name = "run-id")]
    pub(crate) run_id: String,
    #[component(name = "workflow-id")]
    pub(crate) workflow_id: String,
    #[component(name = "node-id")]
    pub(crate) node_id: String,
}

/// `nodes.node-error`.
#[derive(ComponentType, Lift, Debug, Clone)]
#[component(variant)]
pub(crate) enum NodeError {
    #[component(name = "invalid-input")]
    InvalidInput(String),
    #[component(name = "unknown-node")]
    UnknownNode(String),
    #[component(name = "failed")]
    Failed(String),
}

/// `host.log-level`.
// Variants are only ever built by `Lift` from guest values, which rustc cannot see.
#[allow(dead_code)]
#[derive(ComponentType, Lift, Debug, Clone, Copy, PartialEq, Eq)]
#[component(enum)]
#[repr(u8)]
pub(crate) enum LogLevel {
    #[component(name = "trace")]
    Trace,
    #[component(name = "debug")]
    Debug,
    #[component(name = "info")]
    Info,
    #[component(name = "warn")]
    Warn,
    #[component(name = "error")]
    Error,
}

type ExecuteParams = (String, String, String, NodeContext);

/// A component known to implement `node-executor`, linked and ready to instantiate.
pub(crate) struct NodeExecutorPre {
    pre: InstancePre<PluginState>,
    describe: ComponentExportIndex,
    list_nodes: ComponentExportIndex,
    execute: ComponentExportIndex,
}

impl NodeExecutorPre {
    /// Finds the world's exports; `Err` names the first one missing.
    pub(crate) fn new(pre: InstancePre<PluginState>) -> Result<Self, String> {
        let component = pre.component();
        let find = |interface: &str, func: &str| {
            let instance = component
                .get_export_index(None, interface)
                .ok_or_else(|| format!("missing export {interface}"))?;
            component
                .get_export_index(Some(&instance), func)
                .ok_or_else(|| format!("missing export {interface}#{func}"))
        };
        let describe = find(PLUGIN_INTERFACE, "describe")?;
        let list_nodes = find(NODES_INTERFACE, "list-nodes")?;
        let execute = find(NODES_INTERFACE, "execute")?;
        Ok(Self {
            pre,
            describe,
            list_nodes,
            execute,
        })
    }

    /// Instantiates into `store` and type-checks the exports against the contract.
    pub(crate) fn instantiate(
        &self,
        mut store: impl AsContextMut<Data = PluginState>,
    ) -> Result<NodeExecutor, InstantiateError> {
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(InstantiateError::Failed)?;
        let mismatch = |func: &'static str| {
            move |e: wasmtime::Error| InstantiateError::Mismatch(format!("export {func}: {e:#}"))
        };
        Ok(NodeExecutor {
            describe: instance
                .get_typed_func(&mut store, self.describe)
                .map_err(mismatch("describe"))?,
            list_nodes: instance
                .get_typed_func(&mut store, self.list_nodes)
                .map_err(mismatch("list-nodes"))?,
            execute: instance
                .get_typed_func(&mut store, self.execute)
                .map_err(mismatch("execute"))?,
        })
    }
}

/// Why an instance could not be made.
#[derive(Debug, thiserror::Error)]
pub(crate) enum InstantiateError {
    /// Instantiation itself failed: a trap in start code, a limit, an exhausted pool.
    #[error("{}", .0.to_string().lines().next().unwrap_or_default())]
    Failed(wasmtime::Error),
    /// An export's signature differs from the WIT contract (a plugin built for another version).
    #[error("{0}")]
    Mismatch(String),
}

/// The world's exports on one live instance.
pub(crate) struct NodeExecutor {
    describe: TypedFunc<(), (PluginInfo,)>,
    list_nodes: TypedFunc<(), (Vec<NodeSpec>,)>,
    execute: TypedFunc<ExecuteParams, (Result<String, NodeError>,)>,
}

impl NodeExecutor {
    /// `plugin.describe()`.
    pub(crate) fn describe(&self, store: impl AsContextMut) -> wasmtime::Result<PluginInfo> {
        Ok(self.describe.call(store, ())?.0)
    }

    /// `nodes.list-nodes()`.
    pub(crate) fn list_nodes(&self, store: impl AsContextMut) -> wasmtime::Result<Vec<NodeSpec>> {
        Ok(self.list_nodes.call(store, ())?.0)
    }

    /// `nodes.execute(node-type, config, inputs, ctx)`; the outer error is a trap.
    pub(crate) fn execute(
        &self,
        store: impl AsContextMut,
        node_type: &str,
        config: String,
        inputs: String,
        ctx: NodeContext,
    ) -> wasmtime::Result<Result<String, NodeError>> {
        Ok(self
            .execute
            .call(store, (node_type.to_owned(), config, inputs, ctx))?
            .0)
    }
}

/// Whether a component exports the `node-executor` world's interfaces.
pub(crate) fn missing_exports(component: &wasmtime::component::Component) -> Vec<&'static str> {
    [PLUGIN_INTERFACE, NODES_INTERFACE]
        .into_iter()
        .filter(|name| component.get_export_index(None, *name).is_none())
        .collect()
}

/// Guest stderr kept per store: enough for a panic message, small enough not to matter.
const STDERR_CAPACITY: usize = 8 * 1024;

/// Longest log message kept from a plugin; a chatty or hostile guest must not flood the logs.
const MAX_LOG_MESSAGE: usize = 4096;

/// Store data of one plugin instance.
pub(crate) struct PluginState {
    plugin: Arc<str>,
    wasi: WasiCtx,
    table: ResourceTable,
    /// Captured (never inherited) so a panicking guest's message can be quoted in its error.
    stderr: MemoryOutputPipe,
    pub(crate) limiter: Limiter,
}

impl PluginState {
    pub(crate) fn new(plugin: Arc<str>, memory_limit_bytes: usize) -> Self {
        // Deny by default: the builder's defaults already give no preopens, no env, no args,
        // empty stdin and discarded stdout; sockets and name lookup are switched off explicitly.
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        let wasi = WasiCtxBuilder::new()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(memory_limit_bytes)
            .trap_on_grow_failure(false)
            .build();
        Self {
            plugin,
            wasi,
            table: ResourceTable::new(),
            stderr,
            limiter: Limiter {
                limits,
                memory_denied: false,
            },
        }
    }

    /// The guest's last meaningful stderr line (a Rust panic's message), at most `max` bytes.
    pub(crate) fn stderr_tail(&self, max: usize) -> Option<String> {
        let bytes = self.stderr.contents();
        let text = String::from_utf8_lossy(&bytes);
        let line = text
            .lines()
            .map(str::trim)
            .rfind(|l| !l.is_empty() && !l.starts_with("note: run with"))?;
        Some(truncate(line, max).to_owned())
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Wraps [`StoreLimits`] to remember a refused memory growth. Guests (Rust's allocator above
/// all) turn a failed `memory.grow` into an abort, which reaches us as a plain trap; this flag
/// is how the host knows the trap was really the memory cap.
pub(crate) struct Limiter {
    limits: StoreLimits,
    pub(crate) memory_denied: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum)?;
        if !allowed {
            self.memory_denied = true;
        }
        Ok(allowed)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        // The engine itself refused (pool slot size or the memory type's maximum).
        self.memory_denied = true;
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

impl PluginState {
    /// `host.log`: a tracing event attributed to the plugin.
    fn log(&self, level: LogLevel, message: &str) {
        let message = truncate(message, MAX_LOG_MESSAGE);
        let plugin = &*self.plugin;
        match level {
            LogLevel::Trace => tracing::trace!(plugin, message, "plugin log"),
            LogLevel::Debug => tracing::debug!(plugin, message, "plugin log"),
            LogLevel::Info => tracing::info!(plugin, message, "plugin log"),
            LogLevel::Warn => tracing::warn!(plugin, message, "plugin log"),
            LogLevel::Error => tracing::error!(plugin, message, "plugin log"),
        }
    }
}

/// The linker every plugin is instantiated through: WASI p2 (sync) and the `host` interface.
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<PluginState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    linker.instance(HOST_INTERFACE)?.func_wrap(
        "log",
        |store: StoreContextMut<'_, PluginState>, (level, message): (LogLevel, String)| {
            store.data().log(level, &message);
            Ok(())
        },
    )?;
    // `types` has no functions, only types the other interfaces use; a component may still
    // import it, so it must exist.
    linker.instance(TYPES_INTERFACE)?;
    Ok(linker)
}

fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl std::fmt::Display for WorkspaceAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::Read => "read",
            Self::ReadWrite => "read-write",
        })
    }
}
