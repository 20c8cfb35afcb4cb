//! Test-only: a plugin that misbehaves on purpose, one node type per misbehaviour.

use abstractgateway_sdk::prelude::*;

struct Hostile;

impl NodePlugin for Hostile {
    fn describe() -> PluginInfo {
        PluginInfo::new("test-hostile", env!("CARGO_PKG_VERSION"))
    }

    fn nodes() -> Vec<NodeSpec> {
        vec![
            NodeSpec::pure("test_spin", "test").output("result", "number"),
            NodeSpec::pure("test_hog", "test").input("mib", "number").output("result", "number"),
            NodeSpec::pure("test_read_file", "test").input("path", "string").output("result", "string"),
            NodeSpec::effectful("test_sleep", "test").input("ms", "number").output("result", "number"),
        ]
    }

    fn execute(call: NodeCall<'_>) -> Result<Value, NodeError> {
        match call.node_type {
            "test_spin" => {
                // Loops forever; only the host's deadline can stop it.
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "test_hog" => {
                let mib = call.f64("mib").unwrap_or(1024.0) as usize;
                let mut chunks: Vec<Vec<u8>> = Vec::new();
                for _ in 0..mib {
                    chunks.push(vec![1u8; 1024 * 1024]);
                }
                Ok(json!({ "result": chunks.iter().map(Vec::len).sum::<usize>() }))
            }
            "test_read_file" => {
                let path = call.str("path")?;
                match std::fs::read_to_string(path) {
                    Ok(text) => Ok(json!({ "result": text })),
                    Err(e) => Err(NodeError::Failed(format!("cannot read {path}: {e}"))),
                }
            }
            "test_sleep" => {
                // A blocking WASI clock wait: no guest code runs while it lasts, so only a
                // host-side bound stops it.
                let ms = call.f64("ms").unwrap_or(1000.0);
                std::thread::sleep(std::time::Duration::from_secs_f64(ms.max(0.0) / 1000.0));
                Ok(json!({ "result": ms }))
            }
            other => Err(NodeError::Failed(format!("unknown node type '{other}'"))),
        }
    }
}

export_node_executor!(Hostile);
