//! Subflows beyond the recorded cases: a child whose flow cannot run.

use crate::common;

use common::{Options, TestGateway, standard_flows};
use serde_json::json;

/// A directory bundle whose `parent` flow calls a flow the bundle does not have.
fn bundle_calling_a_missing_flow(flows: &std::path::Path) {
    let dir = flows.join("sub-missing.flow");
    std::fs::create_dir_all(dir.join("flows")).expect("bundle dir");
    let manifest = json!({
        "bundle_format_version": "1", "bundle_id": "sub-missing", "bundle_version": "0.1.0",
        "entrypoints": [{"flow_id": "parent", "name": "parent"}], "default_entrypoint": "parent",
        "flows": {"parent": "flows/parent.json"},
    });
    let exec = |id: &str| json!({"id": id, "label": "", "type": "execution"});
    let pin = |id: &str| json!({"id": id, "label": id, "type": "any"});
    let parent = json!({
        "id": "parent", "name": "parent",
        "nodes": [
            {"id": "start", "type": "on_flow_start", "data": {"nodeType": "on_flow_start", "inputs": [], "outputs": [exec("exec-out")]}},
            {"id": "sub", "type": "subflow", "data": {"nodeType": "subflow", "subflowId": "nowhere",
                "inputs": [exec("exec-in")], "outputs": [exec("exec-out"), pin("output"), pin("child_output")]}},
            {"id": "end", "type": "on_flow_end", "data": {"nodeType": "on_flow_end",
                "inputs": [exec("exec-in"), pin("output"), pin("child_output")], "outputs": []}},
        ],
        "edges": [
            {"source": "start", "sourceHandle": "exec-out", "target": "sub", "targetHandle": "exec-in"},
            {"source": "sub", "sourceHandle": "exec-out", "target": "end", "targetHandle": "exec-in"},
            {"source": "sub", "sourceHandle": "output", "target": "end", "targetHandle": "output"},
            {"source": "sub", "sourceHandle": "child_output", "target": "end", "targetHandle": "child_output"},
        ],
    });
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).expect("manifest");
    std::fs::write(dir.join("flows/parent.json"), parent.to_string()).expect("flow");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_whose_flow_is_missing_fails_and_the_parent_hears_why() {
    let temp = tempfile::tempdir().expect("tempdir");
    let flows = temp.path().join("flows");
    standard_flows(&flows);
    bundle_calling_a_missing_flow(&flows);
    let gw = TestGateway::start(&temp.path().join("data"), Options::new(flows)).await;
    let parent = gw.start_run(json!({"bundle_id": "sub-missing"})).await;
    let done = gw.wait_terminal(&parent).await;
    assert_eq!(done["status"], "completed", "a failed child does not fail its parent, as in the reference");
    let child_output = &done["output"]["child_output"];
    assert_eq!(child_output["success"], false);
    let error = child_output["error"].as_str().expect("the child's error");
    assert!(error.contains("sub-missing@0.1.0:nowhere") && error.contains("nowhere"), "{error}");
    assert_eq!(done["output"]["output"], serde_json::Value::Null);

    let (_, kids) = gw.get(&format!("/api/gateway/runs?parent_run_id={parent}")).await;
    let kid = &kids["items"][0];
    assert_eq!((kid["status"].as_str(), kid["error"].as_str()), (Some("failed"), Some(error)));
    gw.stop().await;
}

/// An `on_event` listener child exists, already listening, by the time its parent can be
/// seen waiting: an event sent at once reaches both. Many runs at once make each runner pass
/// long, which is when a listener that only started listening on its own first tick (in the
/// next pass, after that pass applied the event) missed it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_sent_as_soon_as_the_parent_waits_reaches_its_listener_child() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = std::sync::Arc::new(TestGateway::standard(&temp, 100).await);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let gw = gw.clone();
        tasks.push(tokio::spawn(async move {
            let session = format!("sess-listen-{i}");
            let run = gw
                .start_run(json!({"bundle_id": "dur-on-event", "flow_id": "on-event", "session_id": session,
                                  "input_data": {"scope": "weird", "name": ""}}))
                .await;
            gw.wait_for(&run, |v| v["status"] == "waiting").await;
            gw.command(&session, "emit_event", json!({"name": "ping", "payload": {"i": i}})).await;
            assert_eq!(gw.wait_terminal(&run).await["status"], "completed");
            let (_, page) = gw.get(&format!("/api/gateway/runs?parent_run_id={run}")).await;
            let children = page["items"].as_array().cloned().unwrap_or_default();
            assert_eq!(children.len(), 1, "one listener child: {page}");
            let child = children[0]["run_id"].as_str().expect("child id").to_owned();
            let view = gw.wait_for(&child, |v| v["status"] != "waiting" && v["status"] != "running").await;
            assert_eq!(view["status"], "completed", "run {i}: {view}");
            assert_eq!(view["output"]["payload"], json!({"i": i}), "run {i}: {view}");
        }));
    }
    for task in tasks {
        task.await.expect("a run's task");
    }
}
