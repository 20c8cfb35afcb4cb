//! Test-only: a second plugin requesting the same secret name as `test-sandbox`, so the host's
//! tests can check that each plugin reads only the value granted to it.

use abstractgateway_sdk::prelude::*;

struct Peer;

impl NodePlugin for Peer {
    fn describe() -> PluginInfo {
        PluginInfo::new("test-peer", env!("CARGO_PKG_VERSION"))
            .description("Test-only: reads its own secret")
            .secret("api_key")
    }

    fn nodes() -> Vec<NodeSpec> {
        vec![NodeSpec::effectful("peer_secret", "test").input("key", "string").output("result", "string")]
    }

    fn execute(call: NodeCall<'_>) -> Result<Value, NodeError> {
        match call.node_type {
            "peer_secret" => {
                let secret = config::secret(call.str("key")?);
                Ok(Outputs::result(secret.as_ref().map(|s| s.expose().to_owned())).into())
            }
            other => Err(NodeError::unknown_node(other)),
        }
    }
}

export_node_executor!(Peer);
