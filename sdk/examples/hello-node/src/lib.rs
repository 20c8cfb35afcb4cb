//! The smallest useful node plugin: a `greet` node whose greeting the operator can configure.

use abstractgateway_sdk::prelude::*;

struct Hello;

impl NodePlugin for Hello {
    fn describe() -> PluginInfo {
        PluginInfo::new("hello-node", env!("CARGO_PKG_VERSION")).description("Greets someone").config_key("greeting")
    }

    fn nodes() -> Vec<NodeSpec> {
        vec![NodeSpec::pure("greet", "text").input("name", "string").output("result", "string")]
    }

    fn execute(call: NodeCall<'_>) -> Result<Value, NodeError> {
        match call.node_type {
            "greet" => {
                let greeting = config::get("greeting").unwrap_or_else(|| "Hello".to_owned());
                Ok(json!({ "result": format!("{greeting}, {}!", call.str("name")?) }))
            }
            other => Err(NodeError::unknown_node(other)),
        }
    }
}

export_node_executor!(Hello);
