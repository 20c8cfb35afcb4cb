//! An effectful third-party plugin node in a real gateway: it works in the run's own
//! workspace (granted by the policy beside it), and each of its steps is journaled with the
//! plugin's name, version and sha256.

use crate::common;

use common::{Options, TestGateway, standard_flows};
use serde_json::json;
use sha2::{Digest, Sha256};

/// Writes a directory bundle `id` with one flow `id` made of `nodes` and `edges`.
fn bundle(flows: &std::path::Path, id: &str, flow: serde_json::Value) {
    let root = flows.join(id);
    std::fs::create_dir_all(root.join("flows")).expect("bundle dir");
    let manifest = json!({"bundle_format_version": "1", "bundle_id": id, "bundle_version": "1.0.0",
        "entrypoints": [{"flow_id": id}], "flows": {id: format!("flows/{id}.json")}});
    std::fs::write(root.join("manifest.json"), manifest.to_string()).expect("manifest");
    std::fs::write(root.join(format!("flows/{id}.json")), flow.to_string()).expect("flow");
}

/// start → test_fs_write → test_fs_read → end(value = what was read).
fn workspace_bundle(flows: &std::path::Path) {
    let exec = |id: &str| json!({"id": id, "type": "execution"});
    let flow = json!({"id": "workspace-note", "nodes": [
        {"id": "start", "type": "on_flow_start", "data": {"outputs": [exec("exec-out")]}},
        {"id": "write", "type": "test_fs_write", "data": {
            "inputs": [exec("exec-in"), {"id": "path", "type": "string"}, {"id": "text", "type": "string"}],
            "outputs": [exec("exec-out"), {"id": "result", "type": "boolean"}],
            "pinDefaults": {"path": "/workspace/note.txt", "text": "written by a plugin"}}},
        {"id": "read", "type": "test_fs_read", "data": {
            "inputs": [exec("exec-in"), {"id": "path", "type": "string"}],
            "outputs": [exec("exec-out"), {"id": "result", "type": "string"}],
            "pinDefaults": {"path": "/workspace/note.txt"}}},
        {"id": "end", "type": "on_flow_end", "data": {"inputs": [exec("exec-in"), {"id": "value", "type": "any"}]}}],
     "edges": [
        {"source": "start", "sourceHandle": "exec-out", "target": "write", "targetHandle": "exec-in"},
        {"source": "write", "sourceHandle": "exec-out", "target": "read", "targetHandle": "exec-in"},
        {"source": "read", "sourceHandle": "exec-out", "target": "end", "targetHandle": "exec-in"},
        {"source": "read", "sourceHandle": "result", "target": "end", "targetHandle": "value"}]});
    bundle(flows, "workspace-note", flow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_step_works_in_the_run_workspace_and_the_ledger_names_the_plugin() {
    let temp = tempfile::tempdir().expect("tempdir");
    let flows = temp.path().join("flows");
    standard_flows(&flows);
    workspace_bundle(&flows);
    let plugins = temp.path().join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugins dir");
    let wasm = std::fs::read(agw_firstparty::component_path("test-sandbox")).expect("component");
    std::fs::write(plugins.join("test_sandbox.wasm"), &wasm).expect("copy plugin");
    std::fs::write(plugins.join("test_sandbox.toml"), "workspace = \"read-write\"\n").expect("policy");

    let mut options = Options::new(flows);
    options.plugins_dir = Some(plugins);
    let data = temp.path().join("data");
    let gw = TestGateway::start(&data, options).await;

    let run_id = gw.start_run(json!({"bundle_id": "workspace-note", "flow_id": "workspace-note"})).await;
    let view = gw.wait_terminal(&run_id).await;
    assert_eq!(view["status"], "completed", "{view}");
    assert_eq!(view["output"]["value"], "written by a plugin", "{view}");
    // The file is in this run's workspace, and nowhere else.
    let note = data.join("workspaces").join(&run_id).join("note.txt");
    assert_eq!(std::fs::read_to_string(&note).expect("note in the run workspace"), "written by a plugin");

    let ledger = gw.ledger(&run_id).await;
    let steps: Vec<_> = ledger.iter().filter(|r| r["effect"]["type"] == "plugin_node").collect();
    let statuses: Vec<(&str, &str)> =
        steps.iter().map(|r| (r["node_id"].as_str().unwrap_or(""), r["status"].as_str().unwrap_or(""))).collect();
    assert_eq!(statuses, [("write", "started"), ("write", "completed"), ("read", "started"), ("read", "completed")]);
    let sha256 = hex::encode(Sha256::digest(&wasm));
    for record in &steps {
        let plugin = &record["effect"]["payload"]["plugin"];
        assert_eq!(plugin["name"], "test-sandbox", "{record}");
        assert_eq!(plugin["version"], "0.1.0", "{record}");
        assert_eq!(plugin["sha256"], sha256.as_str(), "{record}");
    }
    assert_eq!(steps[3]["result"]["outputs"]["result"], "written by a plugin");
}

/// The component with a custom section appended: same code, another sha256 (a rebuild).
fn rebuilt(bytes: &[u8], tag: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out.extend_from_slice(&[0, 3, 1, b'v', tag]);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_dropped_in_or_replaced_while_serving_is_used_by_the_next_run() {
    let temp = tempfile::tempdir().expect("tempdir");
    let flows = temp.path().join("flows");
    standard_flows(&flows);
    let exec = |id: &str| json!({"id": id, "type": "execution"});
    bundle(
        &flows,
        "greeting",
        json!({"id": "greeting", "nodes": [
            {"id": "start", "type": "on_flow_start", "data": {"outputs": [exec("exec-out")]}},
            {"id": "cfg", "type": "test_config", "data": {
                "inputs": [exec("exec-in"), {"id": "key", "type": "string"}],
                "outputs": [exec("exec-out"), {"id": "result", "type": "string"}],
                "pinDefaults": {"key": "greeting"}}},
            {"id": "end", "type": "on_flow_end", "data": {"inputs": [exec("exec-in"), {"id": "value", "type": "any"}]}}],
         "edges": [
            {"source": "start", "sourceHandle": "exec-out", "target": "cfg", "targetHandle": "exec-in"},
            {"source": "cfg", "sourceHandle": "exec-out", "target": "end", "targetHandle": "exec-in"},
            {"source": "cfg", "sourceHandle": "result", "target": "end", "targetHandle": "value"}]}),
    );
    let plugins = temp.path().join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugins dir");
    let mut options = Options::new(flows);
    options.plugins_dir = Some(plugins.clone());
    let gw = TestGateway::start(&temp.path().join("data"), options).await;
    let loaded_sha = || async {
        let (_, plugin) = gw.get("/api/gateway/plugins/test-sandbox").await;
        plugin["sha256"].as_str().unwrap_or_default().to_owned()
    };

    // Dropped in, with its policy, while the gateway serves: mv into place, as the guide says.
    let wasm = std::fs::read(agw_firstparty::component_path("test-sandbox")).expect("component");
    for (tag, greeting) in [(1u8, "hello"), (2u8, "hi")] {
        let policy = format!("config = {{ greeting = \"{greeting}\" }}\n");
        std::fs::write(plugins.join("test_sandbox.toml"), policy).expect("policy");
        let version = rebuilt(&wasm, tag);
        let sha256 = hex::encode(Sha256::digest(&version));
        std::fs::write(plugins.join(".incoming"), &version).expect("write");
        std::fs::rename(plugins.join(".incoming"), plugins.join("test_sandbox.wasm")).expect("mv");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while loaded_sha().await != sha256 {
            assert!(std::time::Instant::now() < deadline, "version {tag} never loaded");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let run_id = gw.start_run(json!({"bundle_id": "greeting", "flow_id": "greeting"})).await;
        let view = gw.wait_terminal(&run_id).await;
        assert_eq!(view["output"]["value"], greeting, "{view}");
        let ledger = gw.ledger(&run_id).await;
        let step = ledger.iter().find(|r| r["effect"]["type"] == "plugin_node").expect("a plugin step");
        assert_eq!(step["effect"]["payload"]["plugin"]["sha256"], sha256.as_str(), "version {tag}: {step}");
    }
}
