//! Stopping the gateway mid-run and starting it again on the same data dir: the run state
//! and the ledger are intact and the run finishes as if nothing happened.

use crate::common;

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

/// A crash right after a checkpoint is saved leaves its promises to other runs undone: here
/// a completed run still owes an event to a listener and a child run. The next start keeps
/// them, exactly once, however often it happens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promises_a_crash_cut_short_are_kept_once_at_restart() {
    use agw_domain::command::NewCommand;
    use agw_domain::run::{FlowRef, NewRun, RunState, RunStatus, Spawn};
    use agw_store::RunStore;

    let temp = tempfile::tempdir().expect("tempdir");
    let (flows, data) = (temp.path().join("flows"), temp.path().join("data"));
    standard_flows(&flows);
    let gw = TestGateway::start(&data, options(flows.clone())).await;
    let listener = gw
        .start_run(json!({"bundle_id": "wait-event", "session_id": "crash",
                          "input_data": {"event_key": "evt:session:crash:go"}}))
        .await;
    gw.wait_for(&listener, |v| v["status"] == "waiting").await;
    gw.stop().await;

    let pure_math =
        FlowRef { bundle_id: "pure-math".into(), bundle_version: "0.1.0".into(), flow_id: "pure-math".into() };
    let mut crashed = RunState::new(NewRun {
        run_id: "crashed".into(),
        flow: pure_math.clone(),
        input_data: Default::default(),
        session_id: Some("crash".into()),
        parent_run_id: None,
        workspace_root: String::new(),
        entry_node: "start".into(),
        now: "2026-11-21T00:00:00+00:00".into(),
    });
    crashed.status = RunStatus::Completed;
    crashed.sends.push(NewCommand {
        command_id: "emit:crashed:step-1".into(),
        run_id: "crash".into(),
        kind: "emit_event".into(),
        payload: json!({"name": "go", "session_id": "crash", "payload": {"from": "crashed"}}),
        ts: "2026-11-21T00:00:00+00:00".into(),
        client_id: None,
    });
    crashed.spawn(Spawn {
        run_id: "crashed-child".into(),
        flow: pure_math,
        input_data: json!({"a": 1, "b": 2}).as_object().cloned().expect("object"),
        session_id: "crash".into(),
        entry_node: None,
        workflow_id: None,
    });
    agw_store::FileStore::open(&data).expect("store").create_run(&crashed).expect("saved");

    for round in 0..2 {
        let gw = TestGateway::start(&data, options(flows.clone())).await;
        let woken = gw.wait_terminal(&listener).await;
        assert_eq!(woken["output"]["event"]["payload"], json!({"from": "crashed"}), "round {round}");
        let child = gw.wait_terminal("crashed-child").await;
        assert_eq!((child["status"].as_str(), child["parent_run_id"].as_str()), (Some("completed"), Some("crashed")));
        assert_eq!(child["output"]["sum"], 3.0);
        let inbox = std::fs::read_to_string(data.join("commands.jsonl")).expect("inbox");
        assert_eq!(inbox.matches("emit:crashed:step-1").count(), 1, "round {round}: the event is in the inbox once");
        assert_eq!(gw.ledger(&listener).await.len(), 5, "round {round}: woken once");
        gw.stop().await;
    }
}
