//! The one place host bindings are generated, plus the per-store state every plugin call sees.
//!
//! A plugin's store holds: its name (so host calls can be attributed), a WASI context with no
//! grants at all (no preopens, no env, no args, no stdio, no sockets), and a memory limiter that
//! remembers whether it refused a growth, so a trap that follows can be reported as "out of
//! memory" instead of an opaque `unreachable`.

use std::sync::Arc;

use wasmtime::component::{HasSelf, Linker, ResourceTable};
use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

wasmtime::component::bindgen!({
    world: "node-executor",
    path: "../../wit",
    debug: true,
});

pub(crate) use abstract_::gateway::host::LogLevel;
pub(crate) use abstract_::gateway::types::{PluginInfo, WorkspaceAccess};
pub(crate) use exports::abstract_::gateway::nodes::{NodeContext, NodeError, NodeSpec};

/// Export names a component must have to implement `node-executor`.
pub(crate) const NODE_EXECUTOR_EXPORTS: [&str; 2] = ["abstract:gateway/plugin@0.1.0", "abstract:gateway/nodes@0.1.0"];

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
        let limits = StoreLimitsBuilder::new().memory_size(memory_limit_bytes).trap_on_grow_failure(false).build();
        Self { plugin, wasi, table: ResourceTable::new(), stderr, limiter: Limiter { limits, memory_denied: false } }
    }

    /// The guest's last meaningful stderr line (a Rust panic's message), at most `max` bytes.
    pub(crate) fn stderr_tail(&self, max: usize) -> Option<String> {
        let bytes = self.stderr.contents();
        let text = String::from_utf8_lossy(&bytes);
        let line = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("note: run with")).last()?;
        Some(truncate(line, max).to_owned())
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
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
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
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

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
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

impl abstract_::gateway::types::Host for PluginState {}

impl abstract_::gateway::host::Host for PluginState {
    fn log(&mut self, level: LogLevel, message: String) {
        let message = truncate(&message, MAX_LOG_MESSAGE);
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
    NodeExecutor::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut linker, |state| state)?;
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
