//! The node-executor world in plain Rust: the trait a plugin implements, and the glue the
//! export macro calls.

use serde_json::Value;

use crate::{NodeCall, NodeError, NodeSpec, PluginInfo};

/// A plugin that provides workflow node types. Export it with
/// [`export_node_executor!`](crate::export_node_executor).
pub trait NodePlugin {
    /// Who the plugin is and which capabilities it requests.
    fn describe() -> PluginInfo;
    /// The node types it provides.
    fn nodes() -> Vec<NodeSpec>;
    /// Runs one node; the answer is an object keyed by output pin id (build it with
    /// [`json!`](crate::json) or [`Outputs`](crate::Outputs)).
    fn execute(call: NodeCall<'_>) -> Result<Value, NodeError>;
}

/// What the export macro calls. Not part of the public API.
pub mod glue {
    use serde_json::{Map, Value};

    use super::NodePlugin;
    use crate::bindings::abstractgateway::plugin::types as wit;
    use crate::bindings::exports::abstractgateway::plugin::nodes as wit_nodes;
    use crate::{NodeCall, NodeError, Workspace};

    fn pins(list: &[(String, String)]) -> Vec<wit_nodes::Pin> {
        list.iter().map(|(id, kind)| wit_nodes::Pin { id: id.clone(), label: id.clone(), kind: kind.clone() }).collect()
    }

    /// `plugin.describe`: the plugin's identity and requested capabilities.
    pub fn describe<P: NodePlugin>() -> wit::PluginInfo {
        let info = P::describe();
        wit::PluginInfo {
            name: info.name,
            version: info.version,
            description: info.description,
            sdk_version: crate::SDK_VERSION.to_owned(),
            capabilities: wit::Capabilities {
                outbound_hosts: info
                    .hosts
                    .into_iter()
                    .map(|(host, methods)| wit::HostRequest { host, methods })
                    .collect(),
                workspace: match info.workspace {
                    Workspace::None => wit::WorkspaceAccess::None,
                    Workspace::Read => wit::WorkspaceAccess::Read,
                    Workspace::ReadWrite => wit::WorkspaceAccess::ReadWrite,
                },
                config_keys: info.config_keys,
                secrets: info.secrets,
                memory_mib: info.memory_mib,
            },
        }
    }

    /// `nodes.list-nodes`.
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

    /// `nodes.execute`: decodes the JSON arguments, runs the node, encodes its outputs.
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
        let call = NodeCall {
            node_type,
            inputs: &inputs,
            config: &config,
            run_id: &ctx.run_id,
            workflow_id: &ctx.workflow_id,
            node_id: &ctx.node_id,
        };
        match P::execute(call) {
            Ok(value) => Ok(value.to_string()),
            Err(NodeError::InvalidInput(m)) => Err(wit_nodes::NodeError::InvalidInput(m)),
            Err(NodeError::UnknownNode(m)) => Err(wit_nodes::NodeError::UnknownNode(m)),
            Err(NodeError::Failed(m)) => Err(wit_nodes::NodeError::Failed(m)),
        }
    }
}
