//! The interpreter: steps a run's execution chain, evaluating pure nodes on demand.
//!
//! Control flow is a cursor (the next execution node to enter) plus a stack of frames for
//! the constructs that run a body and come back (`for`, `while`, `loop`, `sequence`). When a
//! chain ends, control returns to the innermost frame; when no frame is left, the flow ends.
//! Pure nodes are never cached: each read evaluates them again, so a loop body sees fresh
//! values.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::compile::{CNode, CompiledFlow, NodeKind};
use super::effects::WaitStep;
use super::value::{number, py_str, truthy};
use crate::env::Env;
use crate::llm::{CallRef, ChatAnswer, ChatRequest};
use crate::run::{RunState, RunStatus, Wait};

/// A call of a plugin-provided node.
#[derive(Debug)]
pub struct NodeCall<'a> {
    pub run_id: &'a str,
    pub workflow_id: &'a str,
    pub node_id: &'a str,
    pub node_type: &'a str,
    pub config: &'a Map<String, Value>,
    pub inputs: Map<String, Value>,
}

/// A plugin-provided node failed; the message names the plugin and the reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct NodeFailure {
    pub message: String,
}

/// Executes plugin-provided node types. One executor serves one tick of one run.
pub trait NodeExecutor {
    fn execute(&mut self, call: NodeCall<'_>) -> std::result::Result<Map<String, Value>, NodeFailure>;

    /// Who provides `node_type` (for plugins: name, version and sha256), journaled with each
    /// effectful step it does. `None` journals nothing.
    fn provenance(&self, _node_type: &str) -> Option<Value> {
        None
    }

    /// What the last [`NodeExecutor::execute`] cost, in fuel, when that is metered.
    fn last_fuel(&self) -> Option<u64> {
        None
    }

    /// Sends `request` to the provider that serves it (an `llm_call` step). Streamed text goes
    /// to the host's live frames under `call`. The failure names the provider and the cause.
    fn llm(&mut self, call: &CallRef, request: &ChatRequest) -> std::result::Result<ChatAnswer, NodeFailure> {
        let _ = (call, request);
        Err(NodeFailure { message: "no LLM provider plugin is loaded".to_owned() })
    }
}

/// A construct waiting for its body to finish.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Frame {
    For {
        node: String,
        next: f64,
        end: f64,
        step: f64,
        index: u64,
        total: u64,
        /// The step that entered the loop: tells two entries of one loop apart.
        #[serde(default)]
        entry: u64,
    },
    While {
        node: String,
        index: u64,
        #[serde(default)]
        entry: u64,
    },
    Loop {
        node: String,
        items: Vec<Value>,
        index: u64,
        #[serde(default)]
        entry: u64,
    },
    Sequence {
        node: String,
        branches: Vec<String>,
        next: usize,
    },
    /// An event listener (`on_event`, a recurrent `on_schedule`): its node waits again when
    /// the branch it started ends.
    Listen {
        node: String,
    },
}

impl Frame {
    fn node(&self) -> &str {
        match self {
            Self::For { node, .. }
            | Self::While { node, .. }
            | Self::Loop { node, .. }
            | Self::Sequence { node, .. }
            | Self::Listen { node } => node,
        }
    }
}

/// The interpreter's durable state, checkpointed with the run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExecState {
    /// The next execution node to enter; `None` means "return to the innermost frame".
    pub cursor: Option<String>,
    #[serde(default)]
    pub vars: Map<String, Value>,
    /// Outputs of execution nodes already run (a `for` node's `i`, a `set_var`'s `value`).
    #[serde(default)]
    pub outputs: Map<String, Value>,
    /// The output of the last execution node that produces one. As in the reference, an
    /// execution node's unset input pins fall back to same-named keys of it.
    #[serde(default)]
    pub ambient: Map<String, Value>,
    #[serde(default)]
    pub frames: Vec<Frame>,
    #[serde(default)]
    pub steps: u64,
    /// The effectful node the run waits at.
    #[serde(default)]
    pub wait_step: Option<WaitStep>,
    /// What resumed the wait, for the waiting node to output on the next tick.
    #[serde(default)]
    pub resumed: Option<Value>,
    /// Events emitted so far per `emit_event` node, for their ids.
    #[serde(default)]
    pub event_seq: Map<String, Value>,
    /// An LLM call whose `started` record is journaled and whose answer is not yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_call: Option<super::llm_call::PendingCall>,
    /// The execution wire taken last (a `join_exec` says which way came in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub came_from: Option<super::control::CameFrom>,
    /// Each `loop_limit`'s count and the loop iteration it counts in.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub loop_limits: Map<String, Value>,
}

impl ExecState {
    pub fn starting_at(entry: String) -> Self {
        Self { cursor: Some(entry), ..Self::default() }
    }
}

/// Bounds on one tick.
#[derive(Debug, Clone, Copy)]
pub struct TickLimits {
    /// Execution steps before the tick yields (and the run is checkpointed).
    pub max_steps: u32,
    /// Iterations a `for` or `while` may run (the reference's guard).
    pub max_loop_iterations: u64,
    /// Time (by [`Env::now`]) after which the tick yields at its next step boundary, so a run
    /// of slow steps holds a worker for about one slice, not `max_steps` of them.
    pub time_slice: Option<std::time::Duration>,
}

impl Default for TickLimits {
    fn default() -> Self {
        Self { max_steps: 100, max_loop_iterations: 10_000, time_slice: None }
    }
}

/// How a tick ended. Records it produced are in the run's outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TickOutcome {
    /// Still running; tick again.
    Yielded,
    /// The run waits (for an event, a time, the user or a child run).
    Waiting,
    /// The run reached a terminal status.
    Finished(RunStatus),
}

/// Runs up to `limits.max_steps` execution steps of `run`.
pub fn tick(
    flow: &CompiledFlow,
    run: &mut RunState,
    executor: &mut dyn NodeExecutor,
    env: &dyn Env,
    limits: TickLimits,
) -> TickOutcome {
    if !run.is_runnable() {
        return TickOutcome::Yielded;
    }
    let mut interp = Interp { flow, run, executor, env, limits };
    let started = env.now();
    let sliced = |env: &dyn Env| {
        limits.time_slice.is_some_and(|slice| (env.now() - started).to_std().is_ok_and(|used| used >= slice))
    };
    for _ in 0..limits.max_steps {
        match interp.step() {
            Ok(Step::Continue) => {}
            Ok(Step::Checkpoint) => break,
            Ok(Step::Wait(wait)) => {
                interp.run.status = RunStatus::Waiting;
                interp.run.waiting = Some(wait);
                interp.run.updated_at = env.now_iso();
                return TickOutcome::Waiting;
            }
            Ok(Step::End { node_id, output }) => return interp.complete(env, &node_id, output),
            Err(error) => return interp.fail(env, error),
        }
        if sliced(env) {
            break;
        }
    }
    // As the reference reports it: between ticks, `current_node` is the next node to run.
    let exec = &run.exec;
    if let Some(next) = exec.cursor.clone().or_else(|| exec.frames.last().map(|f| f.node().to_owned())) {
        run.current_node = Some(next);
    }
    TickOutcome::Yielded
}

pub(super) enum Step {
    Continue,
    /// Continue, but in the next tick: what this step did is checkpointed first (an LLM
    /// call's answer is journaled before anything else runs, so a crash never repeats it).
    Checkpoint,
    Wait(Wait),
    End {
        node_id: String,
        output: Map<String, Value>,
    },
}

pub(super) struct Interp<'a> {
    pub(super) flow: &'a CompiledFlow,
    pub(super) run: &'a mut RunState,
    pub(super) executor: &'a mut dyn NodeExecutor,
    pub(super) env: &'a dyn Env,
    pub(super) limits: TickLimits,
}

/// A step failure: the node and what went wrong.
pub(super) struct Failure {
    pub(super) node_id: String,
    pub(super) message: String,
    /// The `started` record of the effect that failed, closed by a `failed` record.
    pub(super) effect: Option<Box<crate::record::StepRecord>>,
    /// That `started` record is already in the ledger (an LLM call journals it first).
    pub(super) journaled: bool,
}

pub(super) type Result<T> = std::result::Result<T, Failure>;

pub(super) fn failure(node: &CNode, message: impl Into<String>) -> Failure {
    Failure { node_id: node.id.clone(), message: message.into(), effect: None, journaled: false }
}

impl Interp<'_> {
    pub(super) fn exec(&mut self) -> &mut ExecState {
        &mut self.run.exec
    }

    fn step(&mut self) -> Result<Step> {
        self.exec().steps += 1;
        let flow = self.flow;
        let Some(node_id) = self.exec().cursor.take() else {
            return self.resume_frame();
        };
        let node = flow.node(&node_id).ok_or_else(|| Failure {
            message: format!("node '{node_id}' is not in the flow"),
            node_id,
            effect: None,
            journaled: false,
        })?;
        self.run.current_node = Some(node.id.clone());
        match node.kind {
            NodeKind::FlowStart => {
                let outputs = self.start_outputs(node);
                self.produce(node, outputs);
                self.follow(node, "exec-out")
            }
            NodeKind::FlowEnd => {
                let mut output = Map::new();
                if node.data_inputs.is_empty() {
                    output = self.exec().ambient.clone();
                }
                let mut pins = node.data_inputs.clone();
                for pin in flow.connected_inputs(&node.id) {
                    // A declared pin is read once, not again as a connected one.
                    if !pins.iter().any(|p| p == pin) {
                        pins.push(pin.to_owned());
                    }
                }
                for pin in pins {
                    let value = self.exec_input(node, &pin)?.unwrap_or(Value::Null);
                    output.insert(pin, value);
                }
                output.entry("success").or_insert(Value::Bool(true));
                Ok(Step::End { node_id: node.id.clone(), output })
            }
            NodeKind::SetVar => {
                let name = self.var_name(node, true)?;
                let value = match self.exec_input(node, "value")? {
                    Some(v) => v,
                    None => typed_default(node),
                };
                super::writes::set_by_path(&mut self.exec().vars, &name, value.clone())
                    .map_err(|e| failure(node, format!("Failed to set variable '{name}': {e}")))?;
                self.exec().outputs.insert(node.id.clone(), json!({ "value": value }));
                self.follow(node, "exec-out")
            }
            NodeKind::If => {
                let condition = match self.schedule_repeats(node) {
                    Some(repeats) => Value::Bool(repeats),
                    None => self.exec_input(node, "condition")?.unwrap_or(Value::Null),
                };
                let branch = if truthy(&condition) { "true" } else { "false" };
                self.produce(node, obj(json!({ "branch": branch, "condition": condition })));
                self.follow(node, branch)
            }
            NodeKind::Switch => {
                let value = self.exec_input(node, "value")?.unwrap_or(Value::Null);
                let output = switch_branch(node, &value);
                let branch = output.get("branch").map(py_str).unwrap_or_default();
                self.produce(node, output);
                self.follow(node, &branch)
            }
            NodeKind::For => {
                let start = self.exec_input(node, "start")?.as_ref().and_then(number);
                let end = self.exec_input(node, "end")?.as_ref().and_then(number);
                let step = match self.exec_input(node, "step")? {
                    None | Some(Value::Null) => Some(1.0),
                    Some(v) => number(&v),
                };
                let (Some(start), Some(end)) = (start, end) else {
                    return Err(failure(node, "For loop requires numeric 'start' and 'end'."));
                };
                let step = step.filter(|s| *s != 0.0 && s.is_finite());
                let Some(step) = step else {
                    return Err(failure(node, "For loop requires a non-zero 'step'."));
                };
                let total = ((end - start) / step).ceil().max(0.0) as u64;
                let entry = self.exec().steps;
                self.exec().frames.push(Frame::For {
                    node: node.id.clone(),
                    next: start,
                    end,
                    step,
                    index: 0,
                    total,
                    entry,
                });
                self.resume_frame()
            }
            NodeKind::While => {
                let entry = self.exec().steps;
                self.exec().frames.push(Frame::While { node: node.id.clone(), index: 0, entry });
                self.resume_frame()
            }
            NodeKind::Loop => {
                let items = match self.exec_input(node, "items")? {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(items)) => items,
                    Some(other) => vec![other],
                };
                let entry = self.exec().steps;
                self.exec().frames.push(Frame::Loop { node: node.id.clone(), items, index: 0, entry });
                self.resume_frame()
            }
            NodeKind::Sequence | NodeKind::Parallel => {
                let mut branches: Vec<(u64, String)> = node
                    .exec_outputs
                    .iter()
                    .filter_map(|h| Some((h.strip_prefix("then:")?.parse().ok()?, h.clone())))
                    .filter(|(_, h)| flow.next(&node.id, h).is_some())
                    .collect();
                branches.sort();
                let branches = branches.into_iter().map(|(_, h)| h).collect();
                self.exec().frames.push(Frame::Sequence { node: node.id.clone(), branches, next: 0 });
                self.resume_frame()
            }
            NodeKind::Effect(kind) => self.effect_step(node, kind),
            NodeKind::VarWrite(write) => self.var_write(node, write),
            NodeKind::LoopLimit => self.loop_limit(node),
            NodeKind::JoinExec => self.join_exec(node),
            NodeKind::Trigger(trigger) => self.trigger(node, trigger),
            NodeKind::Plugin { pure: false } => self.plugin_step(node),
            // A pure node wired into the execution chain passes control straight on.
            NodeKind::Reroute
            | NodeKind::Literal
            | NodeKind::GetVar
            | NodeKind::VarRead(_)
            | NodeKind::Plugin { pure: true } => self.follow(node, "exec-out"),
        }
    }

    /// On a scheduled parent, whether its `repeat` node launches again.
    fn schedule_repeats(&self, node: &CNode) -> Option<bool> {
        let schedule = self.run.schedule.as_ref()?;
        (node.data.get("schedule").and_then(Value::as_str) == Some("repeat")).then(|| schedule.repeats(self.env.now()))
    }

    /// Records an execution node's output and makes it the ambient.
    pub(super) fn produce(&mut self, node: &CNode, outputs: Map<String, Value>) {
        self.exec().outputs.insert(node.id.clone(), Value::Object(outputs.clone()));
        self.exec().ambient = outputs;
    }

    /// Moves to where `handle` leads. A chain that ends returns to the innermost frame, or
    /// ends the flow with the node's own output when no frame is left.
    pub(super) fn follow(&mut self, node: &CNode, handle: &str) -> Result<Step> {
        if self.flow.next(&node.id, handle).is_none() && self.exec().frames.is_empty() {
            return Ok(Step::End { node_id: node.id.clone(), output: self.implicit_output(node) });
        }
        self.take(node, handle);
        Ok(Step::Continue)
    }

    /// The run output of a flow that ends without `on_flow_end`, as the reference builds it.
    fn implicit_output(&mut self, node: &CNode) -> Map<String, Value> {
        let ambient = self.exec().ambient.clone();
        match node.kind {
            NodeKind::VarWrite(write) => super::writes::end_output(write, self.exec().outputs.get(&node.id), ambient),
            NodeKind::FlowStart
            | NodeKind::If
            | NodeKind::Switch
            | NodeKind::LoopLimit
            | NodeKind::Trigger(_)
            | NodeKind::Plugin { .. }
            | NodeKind::Effect(_) => {
                let mut output = ambient;
                output.entry("success").or_insert(Value::Bool(true));
                output
            }
            _ => obj(json!({ "success": true, "result": ambient })),
        }
    }

    /// Continues the innermost construct.
    fn resume_frame(&mut self) -> Result<Step> {
        let flow = self.flow;
        let Some(frame) = self.exec().frames.last().cloned() else {
            // Only reachable with a corrupted checkpoint: nothing to run and nothing to return to.
            let node_id = self.run.current_node.clone().unwrap_or_default();
            return Ok(Step::End { node_id, output: obj(json!({ "success": true, "result": {} })) });
        };
        let node = flow.node(frame.node()).ok_or_else(|| Failure {
            node_id: frame.node().to_owned(),
            message: format!("node '{}' is not in the flow", frame.node()),
            effect: None,
            journaled: false,
        })?;
        self.run.current_node = Some(node.id.clone());
        let max = self.limits.max_loop_iterations;
        let body = match frame {
            Frame::For { node: id, next, end, step, index, total, entry } => {
                let more = if step > 0.0 { next < end } else { next > end };
                if more && index >= max {
                    return Err(failure(node, format!("For loop exceeded max_iterations={max}")));
                }
                more.then(|| {
                    let mut out = self.exec().ambient.clone();
                    out.extend(obj(json!({ "i": next, "index": index, "total": total })));
                    (
                        Frame::For { node: id, next: next + step, end, step, index: index + 1, total, entry },
                        out,
                        "loop".to_owned(),
                    )
                })
            }
            Frame::While { node: id, index, entry } => {
                let condition = self.exec_input(node, "condition")?.unwrap_or(Value::Null);
                let more = truthy(&condition);
                if more && index >= max {
                    return Err(failure(node, format!("While loop exceeded max_iterations={max}")));
                }
                more.then(|| {
                    let mut out = self.exec().ambient.clone();
                    let item = out.get("item").cloned().unwrap_or_else(|| Value::Object(out.clone()));
                    out.extend(obj(json!({ "item": item, "index": index })));
                    (Frame::While { node: id, index: index + 1, entry }, out, "loop".to_owned())
                })
            }
            Frame::Loop { node: id, items, index, entry } => items.get(index as usize).cloned().map(|item| {
                let mut out = self.exec().ambient.clone();
                out.extend(obj(json!({ "item": item, "index": index, "total": items.len() })));
                (Frame::Loop { node: id, items, index: index + 1, entry }, out, "loop".to_owned())
            }),
            Frame::Listen { node: id } => {
                self.exec().frames.pop();
                self.exec().cursor = Some(id);
                return Ok(Step::Continue);
            }
            Frame::Sequence { node: id, branches, next } => {
                if let Some(handle) = branches.get(next).cloned() {
                    self.set_top(Frame::Sequence { node: id, branches, next: next + 1 });
                    self.take(node, &handle);
                    return Ok(Step::Continue);
                }
                // A sequence has no `done`: after its last branch, control returns outward.
                // A parallel joins: its `completed` chain runs, outside the parallel.
                self.exec().frames.pop();
                if node.kind == NodeKind::Parallel && self.take(node, "completed") {
                    return Ok(Step::Continue);
                }
                return self.chain_end(node);
            }
        };
        match body {
            Some((frame, out, handle)) if flow.next(&node.id, &handle).is_some() => {
                self.set_top(frame);
                self.produce(node, out);
                self.take(node, &handle);
                Ok(Step::Continue)
            }
            // Finished, or no body wired: go to `done`.
            _ => {
                self.exec().frames.pop();
                match self.take(node, "done") {
                    true => Ok(Step::Continue),
                    false => self.chain_end(node),
                }
            }
        }
    }

    /// A chain ended at a control node: return to the enclosing frame or end the flow.
    fn chain_end(&mut self, node: &CNode) -> Result<Step> {
        if self.exec().frames.is_empty() {
            return Ok(Step::End { node_id: node.id.clone(), output: self.implicit_output(node) });
        }
        self.exec().cursor = None;
        Ok(Step::Continue)
    }

    fn set_top(&mut self, frame: Frame) {
        if let Some(top) = self.exec().frames.last_mut() {
            *top = frame;
        }
    }

    fn complete(self, env: &dyn Env, node_id: &str, output: Map<String, Value>) -> TickOutcome {
        self.run.complete(env, node_id, Value::Object(output));
        TickOutcome::Finished(RunStatus::Completed)
    }

    fn fail(self, env: &dyn Env, failure: Failure) -> TickOutcome {
        match failure.effect {
            Some(started) => self.run.fail_effect(env, *started, failure.journaled, &failure.message),
            None => self.run.fail(env, &failure.node_id, &failure.message),
        }
        TickOutcome::Finished(RunStatus::Failed)
    }
}

pub(super) fn obj(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// `set_var` without a value: the reference's default for the `value` pin's declared type.
fn typed_default(node: &CNode) -> Value {
    match node.input_kinds.get("value").map(String::as_str) {
        Some("number") => json!(0),
        Some("boolean") => json!(false),
        Some("string") => json!(""),
        _ => Value::Null,
    }
}

/// The reference's switch: the first case whose `str(value)` equals `str(input)` wins.
fn switch_branch(node: &CNode, value: &Value) -> Map<String, Value> {
    let wanted = py_str(value);
    let cases = node.data.get("switchConfig").and_then(|c| c.get("cases")).and_then(Value::as_array);
    for case in cases.into_iter().flatten() {
        let id = case.get("id").map(py_str).unwrap_or_default();
        let Some(case_value) = case.get("value").filter(|v| !v.is_null()) else { continue };
        if !id.is_empty() && py_str(case_value) == wanted {
            return obj(json!({ "branch": format!("case:{id}"), "value": value, "matched": py_str(case_value) }));
        }
    }
    obj(json!({ "branch": "default", "value": value }))
}
