//! One run tick's plugin instances: created on first use, reused within the tick, dropped with
//! it. A store is never shared between ticks, so nothing a plugin keeps in memory leaks from
//! one run (or tenant) to another.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use agw_domain::llm::{CallRef, ChatAnswer, ChatRequest, Delta, DeltaSink};
use agw_domain::{NodeCall, NodeExecutor, NodeFailure};
use serde_json::{Map, Value, json};
use wasmtime::{Store, Trap, UpdateDeadline};

use crate::Shared;
use crate::bindings::{
    InstantiateError, NodeContext, NodeError, NodeExecutor as Bindings, NodeExecutorPre, PluginState,
    instantiate_checked,
};
use crate::call::{BlockedPastDeadline, bounded};
use crate::engine::deadline_ticks;
use crate::policy::Grant;
use crate::registry::Registry;

/// Longest piece of guest stderr quoted in an error message.
const MAX_QUOTED_STDERR: usize = 300;

/// Executes plugin-provided nodes for one tick of one run (see [`crate::PluginHost::session`]).
///
/// The plugin set is the one loaded when the session was created: a reload during the tick
/// does not change what this tick runs.
pub struct TickSession {
    shared: Arc<Shared>,
    registry: Arc<Registry>,
    /// The run's workspace, mounted as `/workspace` for plugins granted access.
    workspace: Option<PathBuf>,
    live: HashMap<usize, Live>,
    /// Fuel the last call burned, when the engine meters fuel.
    last_fuel: Option<u64>,
    /// Where streamed LLM text goes.
    deltas: Option<Arc<dyn DeltaSink>>,
    /// Ends of streamed calls, published when the session is dropped: after the tick's
    /// checkpoint, so a reader who sees a call end finds its answer in the ledger.
    ended: Vec<(CallRef, Delta)>,
}

impl TickSession {
    pub(crate) fn new(shared: Arc<Shared>, registry: Arc<Registry>, workspace: Option<PathBuf>) -> Self {
        Self { shared, registry, workspace, live: HashMap::new(), last_fuel: None, deltas: None, ended: Vec::new() }
    }

    /// Streamed LLM text of this tick's calls goes to `sink`.
    pub fn with_deltas(mut self, sink: Arc<dyn DeltaSink>) -> Self {
        self.deltas = Some(sink);
        self
    }

    /// Runs `node_type` with JSON `config` and `inputs`; the answer is the node's output object.
    fn run(&mut self, call: &NodeCall<'_>) -> Result<Map<String, Value>, NodeFailure> {
        self.last_fuel = None;
        let (index, plugin) = self.registry.provider(call.node_type).map_err(|message| NodeFailure { message })?;
        let name = plugin.name.clone();
        let grant = plugin.grant.clone();
        let fail = |what: String| NodeFailure { message: grant.scrub(&format!("plugin '{name}' {what}")) };
        let pre = plugin.pre.as_ref().ok_or_else(|| fail("is not a node executor".to_owned()))?;
        let live = match self.live.entry(index) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let live =
                    Live::new(&self.shared, plugin.name.clone(), plugin.grant.clone(), self.workspace.as_deref(), pre)
                        .map_err(|e| fail(format!("could not be instantiated: {}", first_line(&e))))?;
                entry.insert(live)
            }
        };
        let config =
            serde_json::to_string(call.config).map_err(|e| fail(format!("config is not serializable: {e}")))?;
        let inputs =
            serde_json::to_string(&call.inputs).map_err(|e| fail(format!("inputs are not serializable: {e}")))?;
        let ctx = NodeContext {
            run_id: call.run_id.to_owned(),
            workflow_id: call.workflow_id.to_owned(),
            node_id: call.node_id.to_owned(),
        };
        live.arm();
        let clock = live.store.data().clock();
        let answer = bounded(
            &clock,
            live.bindings.abstractgateway_plugin_nodes().call_execute(
                &mut live.store,
                call.node_type,
                &config,
                &inputs,
                &ctx,
            ),
        );
        self.last_fuel = live.fuel_used();
        let denial = live.store.data().net.take_denial();
        let answer = match answer {
            Ok(answer) => answer,
            Err(error) => {
                let what = explain(&error, &live.store);
                tracing::warn!(plugin = %name, node_type = call.node_type, error = %grant.scrub(&format!("{error:?}")), "plugin call failed");
                // A trapped instance may be in any state; the next call gets a fresh one.
                self.live.remove(&index);
                return Err(fail(what));
            }
        };
        match answer {
            Ok(json) => match serde_json::from_str::<Value>(&json) {
                Ok(Value::Object(mut outputs)) => {
                    outputs.values_mut().for_each(|value| grant.scrub_json(value));
                    Ok(outputs)
                }
                Ok(_) => Err(fail("answered with JSON that is not an object".to_owned())),
                Err(e) => Err(fail(format!("answered with invalid JSON: {e}"))),
            },
            Err(NodeError::InvalidInput(message) | NodeError::Failed(message)) => {
                // The host's own reason for refusing a request says more than the guest's
                // error code, so it is added.
                let message = match denial {
                    Some(denial) => format!("plugin '{name}': {message} (gateway: {denial})"),
                    None => format!("plugin '{name}': {message}"),
                };
                Err(NodeFailure { message: grant.scrub(&message) })
            }
            Err(NodeError::UnknownNode(node_type)) => Err(fail(format!("does not provide node type '{node_type}'"))),
        }
    }
}

impl NodeExecutor for TickSession {
    fn execute(&mut self, call: NodeCall<'_>) -> Result<Map<String, Value>, NodeFailure> {
        let span = tracing::debug_span!(
            "plugin_call",
            run_id = call.run_id,
            node_id = call.node_id,
            node_type = call.node_type
        );
        let _entered = span.enter();
        self.run(&call)
    }

    fn provenance(&self, node_type: &str) -> Option<Value> {
        let (_, plugin) = self.registry.provider(node_type).ok()?;
        let summary = &plugin.summary;
        Some(json!({ "name": summary.name, "version": summary.version, "sha256": summary.sha256 }))
    }

    fn last_fuel(&self) -> Option<u64> {
        self.last_fuel
    }

    fn llm(&mut self, call: &CallRef, request: &ChatRequest) -> Result<ChatAnswer, NodeFailure> {
        let span = tracing::debug_span!("llm_call", run_id = %call.run_id, node_id = %call.node_id);
        let _entered = span.enter();
        let (answer, end) = crate::llm::chat(&self.shared, &self.registry, call, request, self.deltas.as_ref());
        self.ended.extend(end.map(|end| (call.clone(), end)));
        answer
    }
}

impl Drop for TickSession {
    fn drop(&mut self) {
        if let Some(sink) = &self.deltas {
            for (call, end) in self.ended.drain(..) {
                sink.publish(&call, end);
            }
        }
    }
}

/// A live instance of one plugin in its own store.
pub(crate) struct Live {
    pub(crate) store: Store<PluginState>,
    pub(crate) bindings: Bindings,
}

impl Live {
    /// A fresh store and an instance from the prepared component (the session's path: the
    /// component's export types were checked when it was loaded).
    pub(crate) fn new(
        shared: &Shared,
        plugin: Arc<str>,
        grant: Arc<Grant>,
        workspace: Option<&std::path::Path>,
        pre: &NodeExecutorPre<PluginState>,
    ) -> wasmtime::Result<Self> {
        let mut store = fresh_store(shared, plugin, grant, workspace)?;
        let clock = store.data().clock();
        let bindings = bounded(&clock, pre.instantiate_async(&mut store))?;
        Ok(Self { store, bindings })
    }

    /// Like [`Live::new`], but says whether instantiation failed or the exports do not match
    /// the WIT (the load path, where that decides the message).
    pub(crate) fn checked(
        shared: &Shared,
        plugin: Arc<str>,
        grant: Arc<Grant>,
        workspace: Option<&std::path::Path>,
        pre: &NodeExecutorPre<PluginState>,
    ) -> Result<Self, InstantiateError> {
        let mut store = fresh_store(shared, plugin, grant, workspace).map_err(InstantiateError::Failed)?;
        let clock = store.data().clock();
        let bindings = bounded(&clock, async { Ok(instantiate_checked(pre, &mut store).await) })
            .map_err(InstantiateError::Failed)??;
        Ok(Self { store, bindings })
    }

    /// Gives the next call its full deadline and fuel (see [`arm`]).
    pub(crate) fn arm(&mut self) {
        arm(&mut self.store);
    }

    /// Fuel burned since [`Live::arm`], when the engine meters fuel.
    fn fuel_used(&self) -> Option<u64> {
        let budget = self.store.data().grant.fuel?;
        Some(budget.saturating_sub(self.store.get_fuel().ok()?))
    }
}

/// A store with the plugin's memory cap, grant and workspace, its deadline armed:
/// instantiation runs guest start code too, so it gets the same deadline as a call.
///
/// The deadline is on guest time: when the epoch deadline passes, the callback extends it by
/// whatever the host spent waiting on HTTP for the guest, and interrupts only once the guest's
/// own time is used up.
pub(crate) fn fresh_store(
    shared: &Shared,
    plugin: Arc<str>,
    grant: Arc<Grant>,
    workspace: Option<&std::path::Path>,
) -> wasmtime::Result<Store<PluginState>> {
    let state = PluginState::new(plugin, grant, workspace)?;
    let mut store = Store::new(&shared.engine, state);
    store.limiter(|state| &mut state.limiter);
    store.epoch_deadline_callback(|ctx| {
        let state = ctx.data();
        let left = state.clock().left();
        if left.is_zero() { Ok(UpdateDeadline::Interrupt) } else { Ok(UpdateDeadline::Continue(deadline_ticks(left))) }
    });
    arm(&mut store);
    Ok(store)
}

/// Gives the next call its full deadline and fuel, counted from now, and forgets refused
/// growths of earlier calls (a guest may have survived one), so only this call's count.
pub(crate) fn arm(store: &mut Store<PluginState>) {
    let state = store.data_mut();
    state.limiter.memory_denied = false;
    state.armed_at = std::time::Instant::now();
    state.wait_at_arm = state.net.host_wait();
    let grant = state.grant.clone();
    store.set_epoch_deadline(deadline_ticks(grant.deadline));
    if let Some(fuel) = grant.fuel {
        // Only fails on an engine without fuel metering, which `grant.fuel` rules out.
        let _ = store.set_fuel(fuel);
    }
}

/// Why a call into a plugin failed, as the end of "plugin 'x' ...": the deadline, the memory
/// cap, or another trap (with the guest's last stderr line, which holds a panic message).
pub(crate) fn explain(error: &wasmtime::Error, store: &Store<PluginState>) -> String {
    let trap = error.downcast_ref::<Trap>();
    let grant = &store.data().grant;
    if trap == Some(&Trap::Interrupt) {
        return format!("exceeded its deadline ({:?})", grant.deadline);
    }
    if error.is::<BlockedPastDeadline>() {
        return format!("exceeded its deadline ({:?}) while blocked in a host call", grant.deadline);
    }
    if trap == Some(&Trap::OutOfFuel) {
        return format!("ran out of fuel (limit {})", grant.fuel.unwrap_or_default());
    }
    if store.data().limiter.memory_denied {
        return format!("ran out of memory (limit {})", human_bytes(grant.memory_bytes));
    }
    let reason = match trap {
        // Display says "wasm trap: ..."; the caller already says "trapped".
        Some(trap) => trap.to_string().trim_start_matches("wasm trap: ").to_owned(),
        None => first_line(error),
    };
    match store.data().stderr_tail(MAX_QUOTED_STDERR) {
        Some(said) => format!("trapped: {reason} ({said})"),
        None => format!("trapped: {reason}"),
    }
}

fn first_line(error: &wasmtime::Error) -> String {
    error.to_string().lines().next().unwrap_or_default().to_owned()
}

/// `64 MiB` for whole mebibytes, else bytes.
pub(crate) fn human_bytes(bytes: usize) -> String {
    const MIB: usize = 1024 * 1024;
    if bytes.is_multiple_of(MIB) { format!("{} MiB", bytes / MIB) } else { format!("{bytes} bytes") }
}
