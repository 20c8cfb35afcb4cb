//! Stopping the gateway mid-run and starting it again on the same data dir: the run state
//! and the ledger are intact and the run finishes as if nothing happened.

mod common;

use std::time::Duration;

use common::{Options, TestGateway, ledger_summary, standard_flows};
use serde_json::json;

fn options(flows: std::path::PathBuf) -> Options {
    let mut options = Options::new(flows);
    options.tick_max_steps = 10;
    options
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stopped_mid_flow_finishes_after_restart() {
    let temp = tempfile::tempdir().expect("tempdir");
    let (flows, data) = (temp.path().join("flows"), temp.path().join("data"));
    standard_flows(&flows);

    let gw = TestGateway::start(&data, options(flows.clone())).await;
    let run_id = gw.start_run(json!({"bundle_id": "loop-n", "input_data": {"n": 5000}})).await;
    let mid = gw.wait_for(&run_id, |v| v["status"] == "running" && v["current_node"] != "start").await;
    assert_eq!(mid["status"], "running");
    gw.stop().await;

    let on_disk: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join(format!("run_{run_id}.json"))).expect("run file"))
            .expect("run JSON");
    assert_eq!(on_disk["status"], "running", "stopped before the end");
    let steps_at_stop = on_disk["exec"]["steps"].as_u64().expect("steps");
    assert!(steps_at_stop > 0 && steps_at_stop < 10_000, "mid-flow: {steps_at_stop}");

    let gw = TestGateway::start(&data, options(flows)).await;
    let done = gw.wait_terminal(&run_id).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["output"], json!({"counter": 4999.0, "success": true}));
    let ledger = gw.ledger(&run_id).await;
    assert_eq!(
        ledger_summary(&ledger),
        [
            json!({"status": "completed", "effect": null, "node_id": "end"}),
            json!({"status": "completed", "effect": "emit_event", "node_id": "end"})
        ]
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_run_stays_paused_across_restart_and_resumes() {
    let temp = tempfile::tempdir().expect("tempdir");
    let (flows, data) = (temp.path().join("flows"), temp.path().join("data"));
    standard_flows(&flows);

    let gw = TestGateway::start(&data, options(flows.clone())).await;
    let run_id = gw.start_run(json!({"bundle_id": "loop-n", "input_data": {"n": 5000}})).await;
    gw.wait_for(&run_id, |v| v["status"] == "running" && v["current_node"] != "start").await;
    gw.command(&run_id, "pause", json!({"reason": "operator_pause"})).await;
    let paused = gw.wait_for(&run_id, |v| v["paused"] == true).await;
    assert_eq!(paused["status"], "waiting");
    assert_eq!(paused["waiting"]["wait_key"], format!("pause:{run_id}"));
    gw.stop().await;

    let gw = TestGateway::start(&data, options(flows)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, still) = gw.get(&format!("/api/gateway/runs/{run_id}")).await;
    assert_eq!((still["status"].as_str(), still["paused"].as_bool()), (Some("waiting"), Some(true)), "{still}");
    assert_eq!(still["pause_reason"], "operator_pause");
    assert!(gw.ledger(&run_id).await.is_empty(), "a pause writes no ledger record");

    gw.command(&run_id, "resume", json!({})).await;
    let done = gw.wait_terminal(&run_id).await;
    assert_eq!(done["output"], json!({"counter": 4999.0, "success": true}));
    assert!(done["resumed_at"].is_string());
    assert_eq!(gw.ledger(&run_id).await.len(), 2);
    gw.stop().await;
}
