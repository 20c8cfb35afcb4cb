//! Misbehaving plugins dropped into the plugins directory fail their own step with a clear
//! error; the run records it and the gateway keeps serving everything else.

mod common;

use std::time::Duration;

use common::{Options, TestGateway, standard_flows};
use serde_json::json;

/// A bundle with one flow per hostile node type: start → end, the end reading the node.
fn hostile_bundle(dir: &std::path::Path) {
    let flow = |node_type: &str, defaults: serde_json::Value| {
        json!({"id": node_type, "nodes": [
            {"id": "start", "type": "on_flow_start", "data": {"outputs": [{"id": "exec-out", "type": "execution"}]}},
            {"id": "bad", "type": node_type, "data": {"inputs": [{"id": "path", "type": "string"}, {"id": "mib", "type": "number"}],
                "outputs": [{"id": "result", "type": "any"}], "pinDefaults": defaults}},
            {"id": "end", "type": "on_flow_end", "data": {"inputs": [{"id": "exec-in", "type": "execution"}, {"id": "value", "type": "any"}]}}],
         "edges": [{"source": "start", "sourceHandle": "exec-out", "target": "end", "targetHandle": "exec-in"},
                   {"source": "bad", "sourceHandle": "result", "target": "end", "targetHandle": "value"}]})
    };
    let root = dir.join("src/hostile");
    std::fs::create_dir_all(root.join("flows")).expect("bundle dir");
    let flows = [
        ("spin", flow("test_spin", json!({}))),
        ("hog", flow("test_hog", json!({"mib": 512}))),
        ("passwd", flow("test_read_file", json!({"path": "/etc/passwd"}))),
    ];
    let manifest = json!({"bundle_format_version": "1", "bundle_id": "hostile", "bundle_version": "1.0.0",
        "entrypoints": flows.iter().map(|(id, _)| json!({"flow_id": id})).collect::<Vec<_>>(),
        "flows": flows.iter().map(|(id, _)| (id.to_string(), json!(format!("flows/{id}.json")))).collect::<serde_json::Map<_, _>>()});
    std::fs::write(root.join("manifest.json"), manifest.to_string()).expect("manifest");
    for (id, flow) in &flows {
        std::fs::write(root.join(format!("flows/{id}.json")), flow.to_string()).expect("flow");
    }
    // A directory bundle sits in the flows dir like a packed one.
    std::fs::rename(&root, dir.join("hostile")).expect("move bundle");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_plugins_fail_their_step_and_the_gateway_keeps_serving() {
    let temp = tempfile::tempdir().expect("tempdir");
    let flows = temp.path().join("flows");
    standard_flows(&flows);
    hostile_bundle(&flows);
    let plugins = temp.path().join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugins dir");
    std::fs::copy(agw_firstparty::component_path("test-hostile"), plugins.join("test-hostile.wasm"))
        .expect("copy plugin");
    std::fs::write(plugins.join("junk.wasm"), b"not a component").expect("junk");

    let mut options = Options::new(flows);
    options.plugins_dir = Some(plugins);
    options.plugin_deadline = Duration::from_millis(300);
    let gw = TestGateway::start(&temp.path().join("data"), options).await;

    let (_, health) = gw.get("/api/health").await;
    assert_eq!(health["plugins"]["loaded"], 2, "std-nodes and test-hostile: {health}");
    let warnings = health["runner"]["runners"][0]["boot_warnings"].to_string();
    assert!(warnings.contains("junk.wasm") && warnings.contains("not a WebAssembly component"), "{warnings}");

    let expectations = [
        ("spin", "plugin 'test-hostile' exceeded its deadline (300ms)"),
        ("hog", "plugin 'test-hostile' ran out of memory (limit 64 MiB)"),
        ("passwd", "cannot read /etc/passwd"),
    ];
    for (flow_id, message) in expectations {
        let run_id = gw.start_run(json!({"bundle_id": "hostile", "flow_id": flow_id})).await;
        let view = gw.wait_terminal(&run_id).await;
        assert_eq!(view["status"], "failed", "{flow_id}: {view}");
        let error = view["error"].as_str().unwrap_or_default();
        assert!(error.contains(message), "{flow_id}: {error}");
        assert!(error.starts_with("node 'bad' (test_"), "the error names the node: {error}");
        assert!(!error.contains("root:"), "no file content leaks");
        let ledger = gw.ledger(&run_id).await;
        assert_eq!(ledger.len(), 2);
        assert_eq!((ledger[0]["status"].as_str(), ledger[0]["node_id"].as_str()), (Some("failed"), Some("bad")));
        assert_eq!(ledger[1]["idempotency_key"], "system:terminal_status:failed");

        // Every other run carries on.
        let ok = gw.start_run(json!({"bundle_id": "pure-math"})).await;
        assert_eq!(gw.wait_terminal(&ok).await["status"], "completed");
    }
    gw.stop().await;
}
