//! Where values come from: `on_flow_start` pins, variables, literals, execution nodes'
//! recorded outputs, and pure nodes evaluated on demand (afresh at each read; once per read).

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value, json};

use super::compile::{CNode, CompiledFlow, NodeKind};
use super::exec::{Interp, NodeCall, Result, failure, obj};
use super::value::{get_path, py_str};

impl Interp<'_> {
    /// `on_flow_start` outputs: each declared pin from `input_data` (even a null), else its
    /// default, else null. With no declared pins, the whole input plus defaults.
    pub(super) fn start_outputs(&self, node: &CNode) -> Map<String, Value> {
        let input = &self.run.input_data;
        if node.data_outputs.is_empty() {
            let mut outputs: Map<String, Value> =
                input.iter().filter(|(k, _)| !k.starts_with('_')).map(|(k, v)| (k.clone(), v.clone())).collect();
            for (key, value) in &node.pin_defaults {
                outputs.entry(key.clone()).or_insert_with(|| value.clone());
            }
            return outputs;
        }
        node.data_outputs
            .iter()
            .map(|pin| {
                let value = input.get(pin).or_else(|| node.pin_defaults.get(pin)).cloned().unwrap_or(Value::Null);
                (pin.clone(), value)
            })
            .collect()
    }

    pub(super) fn var_name(&mut self, node: &CNode, exec_context: bool) -> Result<String> {
        let name = if exec_context { self.exec_input(node, "name")? } else { self.input(node, "name")? };
        let name = name.as_ref().map(var_text).unwrap_or_default();
        if exec_context {
            if name.is_empty() {
                return Err(failure(node, "Set Variable requires a non-empty variable name."));
            }
            if name.starts_with('_') {
                return Err(failure(
                    node,
                    format!("Invalid variable name '{name}': names starting with '_' are reserved."),
                ));
            }
        }
        Ok(name)
    }

    /// An execution node's own input: edge, else `pinDefaults`, else the ambient's key.
    /// A wired pin whose source produced nothing stays unset, as in the reference.
    pub(super) fn exec_input(&mut self, node: &CNode, pin: &str) -> Result<Option<Value>> {
        if self.flow.source_of(&node.id, pin).is_some() || node.pin_defaults.contains_key(pin) {
            return self.input(node, pin);
        }
        Ok(self.exec().ambient.get(pin).cloned())
    }

    /// A pure read of an input pin: the connected edge's value, else `pinDefaults`.
    pub(super) fn input(&mut self, node: &CNode, pin: &str) -> Result<Option<Value>> {
        let flow = self.flow;
        match flow.source_of(&node.id, pin) {
            Some((source, handle)) if on_demand(source) => Ok(self.evaluate(source)?.on(handle)),
            Some((source, handle)) => Ok(self.held_output(source, handle)),
            None => Ok(node.pin_defaults.get(pin).cloned()),
        }
    }

    /// What a node that needs no inputs offers on `handle`: `on_flow_start`, a literal, or
    /// the recorded outputs of an execution node (nothing when it has not run).
    fn held_output(&self, node: &CNode, handle: &str) -> Option<Value> {
        match node.kind {
            NodeKind::FlowStart => Offer::Outputs(self.start_outputs(node)).on(handle),
            NodeKind::Literal => {
                let value = node.data.get("literalValue").cloned().unwrap_or(Value::Null);
                Offer::Outputs(obj(json!({ "value": value }))).on(handle)
            }
            _ => match self.run.exec.outputs.get(&node.id) {
                Some(Value::Object(outputs)) => pick(outputs, handle),
                _ => None,
            },
        }
    }

    /// Evaluates a pure node and, first, every pure node it reads from, with an explicit
    /// stack: a chain as long as the flow is allowed to be cannot overflow the thread's
    /// stack. Within one evaluation each node runs once (a node read by two others is not
    /// evaluated twice, so shared inputs cost linear, not exponential, time); the next read
    /// evaluates afresh, so a loop body still sees fresh values. A node that is needed again
    /// while its own inputs are being gathered is a real cycle.
    fn evaluate(&mut self, root: &CNode) -> Result<Offer> {
        let flow = self.flow;
        let mut done: HashMap<&str, Offer> = HashMap::new();
        let mut active: HashSet<&str> = HashSet::from([root.id.as_str()]);
        let mut stack = vec![Pending::new(flow, root)];
        while let Some(top) = stack.len().checked_sub(1) {
            let Pending { node, ref pins, next, .. } = stack[top];
            if let Some(pin) = pins.get(next) {
                let value = match flow.source_of(&node.id, pin) {
                    None => node.pin_defaults.get(pin).cloned(),
                    Some((source, handle)) if on_demand(source) => match done.get(source.id.as_str()) {
                        Some(offer) => offer.on(handle),
                        None if active.insert(source.id.as_str()) => {
                            stack.push(Pending::new(flow, source));
                            continue;
                        }
                        None => return Err(failure(source, format!("Data edge cycle detected at '{}'", source.id))),
                    },
                    Some((source, handle)) => self.held_output(source, handle),
                };
                let pending = &mut stack[top];
                if let Some(value) = value {
                    pending.inputs.insert(pending.pins[next].clone(), value);
                }
                pending.next += 1;
                continue;
            }
            let Some(pending) = stack.pop() else { break };
            let id = pending.node.id.as_str();
            match self.finish(pending)? {
                Finished::Offer(offer) if stack.is_empty() => return Ok(offer),
                Finished::Offer(offer) => {
                    active.remove(id);
                    done.insert(id, offer);
                }
                Finished::Needs(pending) => stack.push(pending),
            }
        }
        // Unreachable: the root's offer returns from the loop.
        Ok(Offer::Through(None))
    }

    /// Computes a pure node from its gathered inputs, or asks for one more.
    fn finish<'f>(&mut self, mut pending: Pending<'f>) -> Result<Finished<'f>> {
        let node = pending.node;
        Ok(Finished::Offer(match node.kind {
            NodeKind::GetVar => {
                let name = pending.inputs.get("name").map(var_text).unwrap_or_default();
                let value = match get_path(&self.exec().vars, &name).cloned() {
                    Some(value) => value,
                    // The default is read only when the variable is missing.
                    None if !pending.pins.iter().any(|p| p == "default") => {
                        pending.pins.push("default".to_owned());
                        return Ok(Finished::Needs(pending));
                    }
                    None => pending.inputs.remove("default").unwrap_or(Value::Null),
                };
                Offer::Outputs(obj(json!({ "value": value })))
            }
            NodeKind::VarRead(read) => Offer::Outputs(super::vars::read(read, node, &self.exec().vars)),
            NodeKind::Reroute => {
                let value = pending.pins.first().and_then(|pin| pending.inputs.remove(pin));
                Offer::Through(value)
            }
            _ => Offer::Outputs(self.invoke(node, pending.inputs)?),
        }))
    }

    /// Calls the plugin of an execution node, its inputs read as an execution node reads them.
    pub(super) fn call_plugin(&mut self, node: &CNode) -> Result<Map<String, Value>> {
        let mut inputs = Map::new();
        for pin in plugin_pins(self.flow, node) {
            if let Some(value) = self.exec_input(node, &pin)? {
                inputs.insert(pin, value);
            }
        }
        self.invoke(node, inputs)
    }

    fn invoke(&mut self, node: &CNode, inputs: Map<String, Value>) -> Result<Map<String, Value>> {
        let inputs = super::vars::plugin_inputs(node, inputs, &self.run.exec.vars);
        let call = NodeCall {
            run_id: &self.run.run_id,
            workflow_id: &self.run.workflow_id,
            node_id: &node.id,
            node_type: &node.node_type,
            config: &node.data,
            inputs,
        };
        self.executor
            .execute(call)
            .map_err(|e| failure(node, format!("node '{}' ({}): {}", node.id, node.node_type, e.message)))
    }
}

/// Nodes evaluated when read (`get_var`, `reroute`, pure plugin nodes); every other node
/// offers what it holds.
fn on_demand(node: &CNode) -> bool {
    matches!(node.kind, NodeKind::GetVar | NodeKind::VarRead(_) | NodeKind::Reroute | NodeKind::Plugin { pure: true })
}

/// A variable name as a pin gives it (null means none).
fn var_text(value: &Value) -> String {
    if value.is_null() { String::new() } else { py_str(value) }
}

/// The pins a plugin node is called with: declared data inputs, then connected pins and
/// pins with defaults.
fn plugin_pins(flow: &CompiledFlow, node: &CNode) -> Vec<String> {
    let mut pins: Vec<String> = node.data_inputs.clone();
    for pin in flow.connected_inputs(&node.id).into_iter().chain(node.pin_defaults.keys().map(String::as_str)) {
        if !pins.iter().any(|p| p == pin) {
            pins.push(pin.to_owned());
        }
    }
    pins
}

/// `handle` of an output map; `result`/`output` of a builtin mean the whole map.
fn pick(outputs: &Map<String, Value>, handle: &str) -> Option<Value> {
    match outputs.get(handle) {
        Some(value) => Some(value.clone()),
        None if matches!(handle, "result" | "output") => Some(Value::Object(outputs.clone())),
        None => None,
    }
}

/// What a node offers its readers.
enum Offer {
    Outputs(Map<String, Value>),
    /// A reroute passes its one input on, whatever handle is read (`None`: nothing).
    Through(Option<Value>),
}

impl Offer {
    fn on(&self, handle: &str) -> Option<Value> {
        match self {
            Self::Outputs(outputs) => pick(outputs, handle),
            Self::Through(value) => value.clone(),
        }
    }
}

/// A pure node whose inputs are being gathered: `pins[..next]` are read.
struct Pending<'f> {
    node: &'f CNode,
    pins: Vec<String>,
    next: usize,
    inputs: Map<String, Value>,
}

impl<'f> Pending<'f> {
    fn new(flow: &'f CompiledFlow, node: &'f CNode) -> Self {
        let pins = match node.kind {
            NodeKind::GetVar => vec!["name".to_owned()],
            NodeKind::VarRead(_) => Vec::new(),
            NodeKind::Reroute => {
                flow.connected_inputs(&node.id).first().map(|p| vec![(*p).to_owned()]).unwrap_or_default()
            }
            _ => plugin_pins(flow, node),
        };
        Self { node, pins, next: 0, inputs: Map::new() }
    }
}

enum Finished<'f> {
    Offer(Offer),
    /// The node needs another pin read first (a `get_var` whose variable is missing).
    Needs(Pending<'f>),
}
