//! Test-only: a plugin whose `describe()` traps, so the host must report it and skip it.

use abstractgateway_sdk::prelude::*;

struct BadDescribe;

impl NodePlugin for BadDescribe {
    fn describe() -> PluginInfo {
        panic!("describe() fails on purpose")
    }

    fn nodes() -> Vec<NodeSpec> {
        Vec::new()
    }

    fn execute(_call: NodeCall<'_>) -> Result<Value, NodeError> {
        Err(NodeError::Failed("never called".into()))
    }
}

export_node_executor!(BadDescribe);
