//! Misbehaving plugins dropped into the plugins directory fail their own step with a clear
//! error; the run records it and the gateway keeps serving everything else.

use crate::common;

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
    let ids: Vec<&str> = flows.iter().map(|(id, _)| *id).chain(["sleep", "slow"]).collect();
    let manifest = json!({"bundle_format_version": "1", "bundle_id": "hostile", "bundle_version": "1.0.0",
        "entrypoints": ids.iter().map(|id| json!({"flow_id": id})).collect::<Vec<_>>(),
        "flows": ids.iter().map(|id| (id.to_string(), json!(format!("flows/{id}.json")))).collect::<serde_json::Map<_, _>>()});
    std::fs::write(root.join("manifest.json"), manifest.to_string()).expect("manifest");
    for (id, flow) in &flows {
        std::fs::write(root.join(format!("flows/{id}.json")), flow.to_string()).expect("flow");
    }
    for (id, steps, ms) in [("sleep", 1, 30_000), ("slow", 20, 250)] {
        std::fs::write(root.join(format!("flows/{id}.json")), sleep_chain(steps, ms).to_string()).expect("flow");
    }
    // A directory bundle sits in the flows dir like a packed one.
    std::fs::rename(&root, dir.join("hostile")).expect("move bundle");
}

/// `start → test_sleep × steps → end`, each step a blocking WASI wait of `ms`.
fn sleep_chain(steps: usize, ms: u64) -> serde_json::Value {
    let exec = |id: &str| json!({"id": id, "type": "execution"});
    let mut nodes = vec![json!({"id": "start", "type": "on_flow_start", "data": {"outputs": [exec("exec-out")]}})];
    let mut edges = Vec::new();
    let mut previous = "start".to_owned();
    for i in 0..steps {
        let id = format!("bad{i}");
        nodes.push(json!({"id": id, "type": "test_sleep", "data": {
            "inputs": [exec("exec-in"), {"id": "ms", "type": "number"}],
            "outputs": [exec("exec-out"), {"id": "result", "type": "number"}], "pinDefaults": {"ms": ms}}}));
        edges.push(json!({"source": previous, "sourceHandle": "exec-out", "target": id, "targetHandle": "exec-in"}));
        previous = id;
    }
    nodes.push(json!({"id": "end", "type": "on_flow_end", "data": {"inputs": [exec("exec-in")]}}));
    edges.push(json!({"source": previous, "sourceHandle": "exec-out", "target": "end", "targetHandle": "exec-in"}));
    json!({"id": "chain", "nodes": nodes, "edges": edges})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_plugins_fail_their_step_and_the_gateway_keeps_serving() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = hostile_gateway(&temp, Duration::from_millis(300), &[("junk.wasm", b"not a component")]).await;

    let (_, health) = gw.get("/api/health").await;
    let first_party = agw_firstparty::EMBEDDED.len();
    assert_eq!(health["plugins"]["loaded"], first_party + 1, "the first-party plugins and test-hostile: {health}");
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

/// A gateway serving the standard flows and the hostile bundle, with test-hostile (and the
/// `extra` files) in its plugins dir and `deadline` for plugin calls.
async fn hostile_gateway(temp: &tempfile::TempDir, deadline: Duration, extra: &[(&str, &[u8])]) -> TestGateway {
    let flows = temp.path().join("flows");
    standard_flows(&flows);
    hostile_bundle(&flows);
    let plugins = temp.path().join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugins dir");
    std::fs::copy(agw_firstparty::component_path("test-hostile"), plugins.join("test-hostile.wasm"))
        .expect("copy plugin");
    for (name, bytes) in extra {
        std::fs::write(plugins.join(name), bytes).expect("extra plugin file");
    }
    let mut options = Options::new(flows);
    options.plugins_dir = Some(plugins);
    options.plugin_deadline = deadline;
    TestGateway::start(&temp.path().join("data"), options).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_blocked_in_a_wasi_sleep_fails_at_its_deadline() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = hostile_gateway(&temp, Duration::from_millis(300), &[]).await;
    // The step sleeps 30 s; the run fails at the 300 ms deadline instead of holding a worker.
    let run_id = gw.start_run(json!({"bundle_id": "hostile", "flow_id": "sleep"})).await;
    let view = gw.wait_terminal(&run_id).await;
    assert_eq!(view["status"], "failed", "{view}");
    let error = view["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("plugin 'test-hostile' exceeded its deadline (300ms) while blocked in a host call"),
        "{error}"
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quick_runs_finish_while_slow_plugin_loops_hold_workers() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = hostile_gateway(&temp, Duration::from_secs(2), &[]).await;
    // As many slow runs as tick workers (4), each 20 blocking steps of 250 ms.
    let mut slow = Vec::new();
    for _ in 0..4 {
        slow.push(gw.start_run(json!({"bundle_id": "hostile", "flow_id": "slow"})).await);
    }
    for run_id in &slow {
        gw.wait_for(run_id, |v| v["status"] == "running" && v["current_node"] != "start").await;
    }
    let mut quick = Vec::new();
    for _ in 0..40 {
        quick.push(gw.start_run(json!({"bundle_id": "pure-math"})).await);
    }
    for run_id in &quick {
        assert_eq!(gw.wait_terminal(run_id).await["status"], "completed");
    }
    // Every quick run is done while every slow one is still going: they did not wait for a
    // slow run to finish (or for a pass over all runs to end) before getting a worker.
    for run_id in &slow {
        let (_, view) = gw.get(&format!("/api/gateway/runs/{run_id}")).await;
        assert_eq!(view["status"], "running", "{view}");
    }
    for run_id in &slow {
        assert_eq!(gw.wait_terminal(run_id).await["status"], "completed");
    }
    gw.stop().await;
}
