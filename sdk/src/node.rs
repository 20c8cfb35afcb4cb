//! The node-executor world, in plain Rust types.

use serde_json::{Map, Value};

use crate::bindings::abstractgateway::plugin::types as wit;
use crate::bindings::exports::abstractgateway::plugin::nodes as wit_nodes;

/// Who the plugin is, answered by `describe()`. Capabilities default to none.
#[derive(Debug, Clone)]
pub struct PluginInfo {
    name: String,
    version: String,
    description: String,
}

impl PluginInfo {
    /// A plugin named `name` at `version` (use `env!("CARGO_PKG_VERSION")`).
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self { name: name.into(), version: version.into(), description: String::new() }
    }

    /// A one-line description shown by `plugins list` and discovery.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }
}

/// One node type a plugin provides, with its pins.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    node_type: String,
    category: String,
    description: String,
    inputs: Vec<(String, String)>,
    outputs: Vec<(String, String)>,
    pure: bool,
}

impl NodeSpec {
    /// A pure node: no side effects, evaluated by the engine whenever its output is read.
    pub fn pure(node_type: impl Into<String>, category: impl Into<String>) -> Self {
        Self {
            node_type: node_type.into(),
            category: category.into(),
            description: String::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            pure: true,
        }
    }

    /// Adds an input pin (`kind` is the VisualFlow pin type: `number`, `string`, `any`...).
    pub fn input(mut self, id: &str, kind: &str) -> Self {
        self.inputs.push((id.to_owned(), kind.to_owned()));
        self
    }

    /// Adds an output pin.
    pub fn output(mut self, id: &str, kind: &str) -> Self {
        self.outputs.push((id.to_owned(), kind.to_owned()));
        self
    }

    /// A one-line description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }
}

/// Why a node call failed. The engine fails the step with this message.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeError {
    /// An input or config value cannot be used; say which one.
    InvalidInput(String),
    /// Anything else.
    Failed(String),
}

impl NodeError {
    /// Shorthand for [`NodeError::InvalidInput`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidInput(message.into())
    }
}

/// One call of `execute`: the node type, its inputs keyed by pin id, and its `data` config.
#[derive(Debug)]
pub struct NodeCall<'a> {
    /// The node type being executed.
    pub node_type: &'a str,
    /// Input values keyed by pin id; unconnected pins without defaults are absent.
    pub inputs: &'a Map<String, Value>,
    /// The node's VisualFlow `data` object.
    pub config: &'a Value,
    /// The run this call belongs to.
    pub run_id: &'a str,
    /// The node id inside the flow.
    pub node_id: &'a str,
}

impl NodeCall<'_> {
    /// The raw input value, `Value::Null` when absent.
    pub fn value(&self, pin: &str) -> &Value {
        self.inputs.get(pin).unwrap_or(&Value::Null)
    }

    /// The input as a string, or an error naming the pin.
    pub fn str(&self, pin: &str) -> Result<&str, NodeError> {
        self.value(pin).as_str().ok_or_else(|| NodeError::invalid(format!("input '{pin}' must be a string")))
    }

    /// The input as a number, or an error naming the pin.
    pub fn f64(&self, pin: &str) -> Result<f64, NodeError> {
        self.value(pin).as_f64().ok_or_else(|| NodeError::invalid(format!("input '{pin}' must be a number")))
    }
}

/// A plugin that provides workflow node types. Export it with
/// [`export_node_executor!`](crate::export_node_executor).
pub trait NodePlugin {
    /// Who the plugin is.
    fn describe() -> PluginInfo;
    /// The node types it provides.
    fn nodes() -> Vec<NodeSpec>;
    /// Runs one node; the answer is an object keyed by output pin id.
    fn execute(call: NodeCall<'_>) -> Result<Value, NodeError>;
}

/// What the export macro calls. Not part of the public API.
pub mod glue {
    use super::*;

    fn pins(list: &[(String, String)]) -> Vec<wit_nodes::Pin> {
        list.iter().map(|(id, kind)| wit_nodes::Pin { id: id.clone(), label: id.clone(), kind: kind.clone() }).collect()
    }

    pub fn describe<P: NodePlugin>() -> wit::PluginInfo {
        let info = P::describe();
        wit::PluginInfo {
            name: info.name,
            version: info.version,
            description: info.description,
            sdk_version: crate::SDK_VERSION.to_owned(),
            capabilities: wit::Capabilities {
                outbound_hosts: Vec::new(),
                workspace: wit::WorkspaceAccess::None,
                config_keys: Vec::new(),
                secrets: Vec::new(),
                memory_mib: None,
            },
        }
    }

    pub fn list_nodes<P: NodePlugin>() -> Vec<wit_nodes::NodeSpec> {
        P::nodes()
            .into_iter()
            .map(|spec| wit_nodes::NodeSpec {
                inputs: pins(&spec.inputs),
                outputs: pins(&spec.outputs),
                node_type: spec.node_type,
                category: spec.category,
                description: spec.description,
                pure: spec.pure,
            })
            .collect()
    }

    pub fn execute<P: NodePlugin>(
        node_type: &str,
        config: &str,
        inputs: &str,
        ctx: wit_nodes::NodeContext,
    ) -> Result<String, wit_nodes::NodeError> {
        let config: Value = serde_json::from_str(config)
            .map_err(|e| wit_nodes::NodeError::InvalidInput(format!("config is not JSON: {e}")))?;
        let inputs: Map<String, Value> = serde_json::from_str(inputs)
            .map_err(|e| wit_nodes::NodeError::InvalidInput(format!("inputs are not a JSON object: {e}")))?;
        let call = NodeCall { node_type, inputs: &inputs, config: &config, run_id: &ctx.run_id, node_id: &ctx.node_id };
        match P::execute(call) {
            Ok(value) => Ok(value.to_string()),
            Err(NodeError::InvalidInput(m)) => Err(wit_nodes::NodeError::InvalidInput(m)),
            Err(NodeError::Failed(m)) => Err(wit_nodes::NodeError::Failed(m)),
        }
    }
}
