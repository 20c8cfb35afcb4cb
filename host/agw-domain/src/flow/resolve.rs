//! Where values come from: `on_flow_start` pins, variables, literals, execution nodes'
//! recorded outputs, and pure nodes evaluated on demand (never cached).

use serde_json::{Map, Value, json};

use super::compile::{CNode, NodeKind};
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
        let name = if exec_context { self.exec_input(node, "name")? } else { self.input(node, "name", 1)? };
        let name = name.filter(|v| !v.is_null()).map(|v| py_str(&v)).unwrap_or_default();
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
            return self.input(node, pin, 1);
        }
        Ok(self.exec().ambient.get(pin).cloned())
    }

    /// A pure read of an input pin: the connected edge's value, else `pinDefaults`.
    pub(super) fn input(&mut self, node: &CNode, pin: &str, depth: u32) -> Result<Option<Value>> {
        let flow = self.flow;
        match flow.source_of(&node.id, pin) {
            Some((source, handle)) => self.output_of(source, handle, depth + 1),
            None => Ok(node.pin_defaults.get(pin).cloned()),
        }
    }

    /// The value a node offers on an output handle; `None` when it offers nothing there.
    fn output_of(&mut self, node: &CNode, handle: &str, depth: u32) -> Result<Option<Value>> {
        if depth > self.limits.max_pure_depth {
            return Err(failure(node, format!("Data edge cycle detected at '{}'", node.id)));
        }
        let outputs = match node.kind {
            NodeKind::FlowStart => self.start_outputs(node),
            NodeKind::Literal => obj(json!({ "value": node.data.get("literalValue").cloned().unwrap_or(Value::Null) })),
            NodeKind::GetVar => {
                let name = self.var_name(node, false)?;
                let found = get_path(&self.exec().vars, &name).cloned();
                let value = match found {
                    Some(v) => v,
                    None => self.input(node, "default", depth)?.unwrap_or(Value::Null),
                };
                obj(json!({ "value": value }))
            }
            NodeKind::Reroute => {
                let pins = self.flow.connected_inputs(&node.id);
                let Some(pin) = pins.first().map(|p| (*p).to_owned()) else { return Ok(None) };
                return self.input(node, &pin, depth);
            }
            NodeKind::Plugin { pure: true } => self.call_plugin(node, depth)?,
            _ => match self.exec().outputs.get(&node.id) {
                Some(Value::Object(outputs)) => outputs.clone(),
                _ => return Ok(None),
            },
        };
        Ok(match outputs.get(handle) {
            Some(v) => Some(v.clone()),
            None if matches!(handle, "result" | "output") => Some(Value::Object(outputs)),
            None => None,
        })
    }

    pub(super) fn call_plugin(&mut self, node: &CNode, depth: u32) -> Result<Map<String, Value>> {
        let flow = self.flow;
        let mut pins: Vec<String> = node.data_inputs.clone();
        for pin in flow.connected_inputs(&node.id).into_iter().chain(node.pin_defaults.keys().map(String::as_str)) {
            if !pins.iter().any(|p| p == pin) {
                pins.push(pin.to_owned());
            }
        }
        let mut inputs = Map::new();
        for pin in pins {
            let value = if depth == 0 { self.exec_input(node, &pin)? } else { self.input(node, &pin, depth)? };
            if let Some(value) = value {
                inputs.insert(pin, value);
            }
        }
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
