//! `std-nodes`: the pure node library (math, string, logic, objects, arrays, JSON,
//! agent-context helpers, the agent trace report and the system time), with the reference's
//! node types, pin ids and outputs.
//!
//! Semantics follow the reference builtins (abstractruntime 0.13.0), which apply Python's
//! `float()`, `int()`, `str()` and truthiness to whatever JSON arrives on a pin; `pyval`
//! reproduces those conversions. The logic is plain functions over `serde_json` values so it
//! can be tested natively; only the export glue needs the WIT bindings.

mod agent;
mod arrays;
mod fmtspec;
mod format;
mod json;
mod logic;
mod math;
mod objects;
mod pyjson;
mod pyliteral;
mod pyval;
mod report;
mod rng;
mod specs;
mod string;
mod template;
mod tools;

#[cfg(test)]
mod tests;

use abstractgateway_sdk::prelude::*;

pub(crate) type Error = NodeError;
pub(crate) type NodeResult<T = Value> = Result<T, Error>;

/// An input that cannot be used, naming the pin.
pub(crate) fn invalid(pin: &str, why: &str) -> Error {
    NodeError::InvalidInput(format!("input '{pin}': {why}"))
}

pub(crate) fn fail(why: &str) -> Error {
    NodeError::Failed(why.to_owned())
}

/// A float result. JSON has no inf/nan (the reference would hand Python's `inf` downstream),
/// so a non-finite result fails the node instead of turning into something else.
pub(crate) fn number(f: f64) -> NodeResult {
    if f.is_finite() { Ok(Value::from(f)) } else { Err(fail(&format!("result is not a finite number ({f})"))) }
}

/// Runs one node and returns its output object.
pub fn execute(node_type: &str, inputs: &Map<String, Value>, config: &Value) -> NodeResult {
    let returned = math::run(node_type, inputs)
        .or_else(|| string::run(node_type, inputs, config))
        .or_else(|| logic::run(node_type, inputs, config))
        .or_else(|| objects::run(node_type, inputs, config))
        .or_else(|| arrays::run(node_type, inputs, config))
        .or_else(|| json::run(node_type, inputs))
        .or_else(|| agent::run(node_type, inputs, config))
        .or_else(|| tools::run(node_type, inputs))
        .or_else(|| report::run(node_type, inputs))
        .unwrap_or_else(|| Err(fail(&format!("unknown node type '{node_type}'"))))?;
    Ok(outputs(returned))
}

/// The reference stores a builtin's return value as the node output; a pin reads key `pin`
/// of a dict output, and `result` falls back to the whole value. So a scalar is
/// `{"result": v}`, and a dict is its own keys plus `result` unless it already has one.
fn outputs(returned: Value) -> Value {
    match returned {
        Value::Object(obj) => {
            let mut out = obj.clone();
            if !out.contains_key("result") {
                out.insert("result".into(), Value::Object(obj));
            }
            Value::Object(out)
        }
        other => json!({ "result": other }),
    }
}

// Only the wasm export glue constructs the plugin type; native builds run the tests.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct StdNodes;

impl NodePlugin for StdNodes {
    fn describe() -> PluginInfo {
        PluginInfo::new("std-nodes", env!("CARGO_PKG_VERSION"))
            .description("Pure math, string, logic, object, array, JSON and agent-context nodes")
    }

    fn nodes() -> Vec<NodeSpec> {
        specs::all()
    }

    fn execute(call: NodeCall<'_>) -> Result<Value, NodeError> {
        execute(call.node_type, call.inputs, call.config)
    }
}

#[cfg(target_arch = "wasm32")]
export_node_executor!(StdNodes);
