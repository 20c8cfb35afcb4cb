//! The runner: applies inbox commands and ticks running runs, one data dir at a time.
//!
//! Commands and ticks of one run are serialized by a per-run lock and always start from the
//! stored state, so a `pause` that arrives while a tick executes is applied right after that
//! tick, never overwritten by it (the reference loses such pauses).

mod lock;
mod locks;
mod queue;
mod runner;

use std::sync::Arc;

use agw_domain::CompiledFlow;
use agw_domain::NodeExecutor;
use agw_domain::run::FlowRef;

pub use lock::{LockError, RunnerLock};
pub use runner::{RunHomes, Runner, RunnerConfig, RunnerHandle, RunnerStatus};

/// Where the runner (and the API, to validate a start) gets executable flows and node
/// executors. The binary wires it to the bundle catalog and the plugin host.
pub trait Workflows: Send + Sync {
    /// The compiled flow, or a message saying why it cannot run.
    fn compile(&self, flow: &FlowRef) -> Result<Arc<CompiledFlow>, String>;
    /// `flow` with an empty `bundle_version` resolved to the newest loaded version; an
    /// error says which bundle is missing.
    fn resolve(&self, flow: &FlowRef) -> Result<FlowRef, String>;
    /// The flow's VisualFlow JSON, for the snapshot every run keeps as an artifact.
    fn flow_json(&self, flow: &FlowRef) -> Option<serde_json::Value>;
    /// A fresh executor for one tick of the run whose workspace folder is `workspace`.
    fn executor(&self, workspace: &std::path::Path) -> Box<dyn NodeExecutor + Send>;
}

#[cfg(test)]
mod tests;
