//! Durable commands against live runs: pause, resume and cancel take effect, including a
//! pause that arrives while the runner is in the middle of a tick.

use crate::common;

use common::TestGateway;
use serde_json::json;

async fn gateway(temp: &tempfile::TempDir) -> TestGateway {
    TestGateway::standard(temp, 10).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compact_memory_is_accepted_and_changes_nothing() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway(&temp).await;
    // A waiting run, so the command reaches the run's handling (a finished run ignores
    // every command before looking at its type).
    let run_id = gw.start_run(json!({"bundle_id": "wait-event", "input_data": {"event_key": "never"}})).await;
    let before = gw.wait_for(&run_id, |v| v["status"] == "waiting").await;
    let answer = gw.command(&run_id, "compact_memory", json!({})).await;
    assert_eq!((answer["accepted"].as_bool(), answer["duplicate"].as_bool()), (Some(true), Some(false)));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let (_, after) = gw.get(&format!("/api/gateway/runs/{run_id}")).await;
    assert_eq!(after, before);
    assert_eq!(gw.ledger(&run_id).await.len(), 2);
    gw.stop().await;
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

/// The reference loses about one pause in four when it lands while a tick is executing
/// (`transcripts/pause-running-race.txt`). Here a run is paused right after it starts
/// ticking, 100 times over, with two-step ticks so that the pause lands mid-run: every pause
/// must hold, and every resume must finish the run with the output an undisturbed run has.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_pauses_sent_mid_run_all_take_effect_and_resume_completes() {
    let temp = tempfile::tempdir().expect("tempdir");
    // Without fsync the ticks are short, so many land between the start and the pause; the
    // race is about the per-run lock, not about the disk.
    let flows = temp.path().join("flows");
    common::standard_flows(&flows);
    let mut options = common::Options::new(flows);
    options.tick_max_steps = 2;
    options.fsync = false;
    let gw = TestGateway::start(&temp.path().join("data"), options).await;
    let input = json!({"bundle_id": "loop-n", "input_data": {"n": 100}});
    let undisturbed = gw.start_run(input.clone()).await;
    let expected = gw.wait_terminal(&undisturbed).await["output"].clone();
    assert_eq!(expected["counter"], 99.0);

    // Ten at a time, so the runner is busy with other runs too, as in production.
    for batch in 0..10 {
        let attempts = (0..10).map(|i| pause_then_resume(&gw, &input, batch * 10 + i));
        for done in futures_util::future::join_all(attempts).await {
            assert_eq!(done["output"], expected);
        }
    }
    gw.stop().await;
}

/// Pauses a run right after it starts ticking, checks the pause holds, resumes it and
/// returns its final view.
async fn pause_then_resume(gw: &TestGateway, input: &serde_json::Value, attempt: usize) -> serde_json::Value {
    let run_id = gw.start_run(input.clone()).await;
    gw.wait_for(&run_id, |v| v["current_node"] != "start").await;
    gw.command(&run_id, "pause", json!({"reason": "operator_pause"})).await;
    let paused = gw.wait_for(&run_id, |v| v["paused"] == true || v["status"] != "running").await;
    assert_eq!(paused["status"], "waiting", "attempt {attempt}: the run finished before the pause: {paused}");
    assert_eq!(paused["waiting"]["wait_key"], format!("pause:{run_id}"));
    // It stays paused: no tick in flight overwrites it.
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let (_, later) = gw.get(&format!("/api/gateway/runs/{run_id}")).await;
    assert_eq!(
        (later["status"].as_str(), later["paused"].as_bool()),
        (Some("waiting"), Some(true)),
        "attempt {attempt}"
    );
    gw.command(&run_id, "resume", json!({})).await;
    let done = gw.wait_terminal(&run_id).await;
    assert_eq!(
        (done["status"].as_str(), done["paused"].as_bool()),
        (Some("completed"), Some(false)),
        "attempt {attempt}"
    );
    assert!(done["resumed_at"].is_string());
    done
}
