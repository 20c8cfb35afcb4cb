//! Durable commands against live runs: pause, resume and cancel take effect, including a
//! pause that arrives while the runner is in the middle of a tick.

mod common;

use common::TestGateway;
use serde_json::json;

async fn gateway(temp: &tempfile::TempDir) -> TestGateway {
    TestGateway::standard(temp, 10).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_ends_the_run_with_the_reason_and_one_record() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway(&temp).await;
    let run_id = gw.start_run(json!({"bundle_id": "loop-n", "input_data": {"n": 9000}})).await;
    gw.wait_for(&run_id, |v| v["current_node"] != "start").await;
    gw.command(&run_id, "cancel", json!({"reason": "operator_cancel"})).await;
    let view = gw.wait_terminal(&run_id).await;
    assert_eq!(view["status"], "cancelled");
    assert_eq!(view["error"], "operator_cancel");
    assert_eq!(view["waiting"], serde_json::Value::Null);
    let ledger = gw.ledger(&run_id).await;
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0]["idempotency_key"], "system:terminal_status:cancelled");
    assert_eq!(ledger[0]["effect"]["payload"]["payload"]["text"], "cancelled");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pauses_sent_mid_tick_always_take_effect() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway(&temp).await;
    for attempt in 0..20 {
        let run_id = gw.start_run(json!({"bundle_id": "loop-n", "input_data": {"n": 9000}})).await;
        gw.wait_for(&run_id, |v| v["current_node"] != "start").await;
        gw.command(&run_id, "pause", json!({"reason": "operator_pause"})).await;
        let paused = gw.wait_for(&run_id, |v| v["paused"] == true || v["status"] != "running").await;
        assert_eq!(paused["status"], "waiting", "attempt {attempt}: {paused}");
        assert_eq!(paused["waiting"]["wait_key"], format!("pause:{run_id}"));
        // It stays paused: no tick in flight overwrites it.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let (_, later) = gw.get(&format!("/api/gateway/runs/{run_id}")).await;
        assert_eq!(
            (later["status"].as_str(), later["paused"].as_bool()),
            (Some("waiting"), Some(true)),
            "attempt {attempt}"
        );
        gw.command(&run_id, "cancel", json!({})).await;
        assert_eq!(gw.wait_terminal(&run_id).await["error"], "Cancelled");
    }
    gw.stop().await;
}
