//! Whole ledger records of durable waits, field for field against the reference's
//! (transcripts file/29 and file/35, copied to `tests/data/reference-ledgers/`). Ids,
//! times and hashes differ between any two runs, so both sides are normalized first.

use crate::common;

use common::{TestGateway, repo};
use serde_json::{Value, json};

fn reference(name: &str) -> Vec<Value> {
    let path = repo().join(format!("tests/data/reference-ledgers/{name}.json"));
    serde_json::from_slice(&std::fs::read(path).expect("reference ledger")).expect("JSON")
}

/// Replaces what changes from run to run: the run id, step ids (numbered by first
/// appearance), timestamps and 32-hex idempotency keys.
fn normalize(records: &[Value]) -> Vec<Value> {
    let run_id = records.first().and_then(|r| r["run_id"].as_str()).unwrap_or_default().to_owned();
    let mut steps: Vec<String> = Vec::new();
    let text = serde_json::to_string(records).expect("serialize").replace(&run_id, "<run>");
    let mut records: Vec<Value> = serde_json::from_str(&text).expect("JSON");
    for record in &mut records {
        let step = record["step_id"].as_str().unwrap_or_default().to_owned();
        let n = steps.iter().position(|s| *s == step).unwrap_or_else(|| {
            steps.push(step);
            steps.len() - 1
        });
        record["step_id"] = json!(format!("<step {n}>"));
        for key in ["started_at", "ended_at"] {
            if record[key].is_string() {
                record[key] = json!("<time>");
            }
        }
        if record["idempotency_key"].as_str().is_some_and(|k| k.len() == 32 && k.chars().all(|c| c.is_ascii_hexdigit()))
        {
            record["idempotency_key"] = json!("<hash>");
        }
    }
    records
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_event_and_ask_user_ledgers_equal_the_reference_record_for_record() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;

    // file/24-29: a wait_event run woken by an emit_event command.
    let run = gw
        .start_run(json!({"bundle_id": "wait-event", "session_id": "sess-evt",
                          "input_data": {"event_key": "evt:session:sess-evt:go"}}))
        .await;
    gw.wait_for(&run, |v| v["status"] == "waiting").await;
    gw.command("sess-evt", "emit_event", json!({"name": "go", "scope": "session", "payload": {"hello": "world"}}))
        .await;
    gw.wait_terminal(&run).await;
    assert_eq!(normalize(&gw.ledger(&run).await), normalize(&reference("wait-event")));

    // file/30-35: an ask_user run answered by a resume with a payload.
    let run = gw.start_run(json!({"bundle_id": "ask-user", "input_data": {}})).await;
    gw.wait_for(&run, |v| v["status"] == "waiting").await;
    let answer = json!({"wait_key": format!("user:{run}:ask"), "payload": {"response": "I am the reference"}});
    gw.command(&run, "resume", answer).await;
    gw.wait_terminal(&run).await;
    assert_eq!(normalize(&gw.ledger(&run).await), normalize(&reference("ask-user")));
    gw.stop().await;
}
