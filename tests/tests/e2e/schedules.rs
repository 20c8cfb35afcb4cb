//! Scheduled runs: `POST /runs/schedule`, their view, and that a schedule survives a restart
//! without firing twice or skipping a launch.

use crate::common;

use std::time::Duration;

use common::TestGateway;
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn children(gw: &TestGateway, parent: &str) -> Vec<Value> {
    let (_, page) = gw.get(&format!("/api/gateway/runs?parent_run_id={parent}&limit=100")).await;
    // Listed by parent, the reference pages whole run views without `workspace_root`, plus
    // `kind` (transcript file2/05).
    assert_eq!(common::keys(&page), ["items", "count", "parent_run_id", "offset", "has_more"]);
    assert_eq!(page["parent_run_id"], parent);
    for item in page["items"].as_array().into_iter().flatten() {
        let keys = common::keys(item);
        assert_eq!((keys.first(), keys.last()), (Some(&"run_id"), Some(&"kind")));
        assert!(keys.contains(&"output") && !keys.contains(&"workspace_root") && !keys.contains(&"ledger_len"));
    }
    let mut items = page["items"].as_array().cloned().unwrap_or_default();
    items.sort_by(|a, b| a["created_at"].as_str().cmp(&b["created_at"].as_str()));
    items
}

fn created(run: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(run["created_at"].as_str().expect("created_at")).expect("ISO time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_launches_its_children_and_shows_itself_as_the_reference_does() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    // No flow_id: the bundle's default entrypoint is the target.
    let (status, answer) = gw
        .post(
            "/api/gateway/runs/schedule",
            json!({"bundle_id": "pure-math", "input_data": {"a": 1, "b": 1}, "start_at": "now",
                   "interval": "1s", "repeat_count": 2, "session_id": "sess-sched"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["resolved_workflow"]["workflow_id"], "pure-math@0.1.0:pure-math");
    let parent = answer["run_id"].as_str().expect("run_id").to_owned();

    let view = gw.wait_for(&parent, |v| v["status"] == "waiting").await;
    assert!(view["workflow_id"].as_str().is_some_and(|w| w.starts_with("scheduled:")));
    assert_eq!(view["is_scheduled"], true);
    let schedule = &view["schedule"];
    let keys: Vec<&str> = schedule.as_object().expect("schedule object").keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "kind",
            "interval",
            "repeat_count",
            "repeat_until",
            "start_at",
            "share_context",
            "target_workflow_id",
            "target_bundle_ref",
            "target_flow_id",
            "created_at",
            "updated_at"
        ]
    );
    assert_eq!((schedule["kind"].as_str(), schedule["interval"].as_str()), (Some("scheduled_run"), Some("1s")));
    assert_eq!((view["role"].as_str(), view["session_kind"].as_str()), (Some("legacy_schedule"), Some("automation")));

    let done = gw.wait_terminal(&parent).await;
    assert_eq!(done["status"], "completed");
    assert_eq!(done["output"], json!({"branch": "false", "condition": false, "success": true}));
    let kids = children(&gw, &parent).await;
    assert_eq!(kids.len(), 2);
    for kid in &kids {
        assert_eq!((kid["status"].as_str(), kid["session_id"].as_str()), (Some("completed"), Some("sess-sched")));
        assert_eq!(kid["output"]["sum"], 2.0);
        let (_, artifacts) =
            gw.get(&format!("/api/gateway/runs/{}/artifacts", kid["run_id"].as_str().unwrap_or(""))).await;
        let kinds: Vec<&Value> =
            artifacts["items"].as_array().into_iter().flatten().map(|a| &a["tags"]["kind"]).collect();
        assert_eq!(kinds, [&json!("workflow_snapshot")], "a child keeps its flow snapshot: {artifacts}");
    }
    let gap = created(&kids[1]) - created(&kids[0]);
    assert!(gap >= chrono::Duration::milliseconds(900), "launches are an interval apart: {gap}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schedule_survives_downtime_without_firing_twice_or_skipping() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    let (_, answer) = gw
        .post(
            "/api/gateway/runs/schedule",
            json!({"bundle_id": "pure-math", "flow_id": "pure-math", "input_data": {"a": 2, "b": 3},
                   "interval": "1s", "repeat_count": 3}),
        )
        .await;
    let parent = answer["run_id"].as_str().expect("run_id").to_owned();
    gw.wait_for(&parent, |v| v["current_node"] == "wait_interval" && v["status"] == "waiting").await;
    // Down for more than two intervals: the overdue launch fires once, then the schedule
    // keeps its interval.
    let gw = gw.restart_after(Duration::from_millis(2500)).await;
    let done = gw.wait_terminal(&parent).await;
    assert_eq!(done["status"], "completed");
    let kids = children(&gw, &parent).await;
    assert_eq!(kids.len(), 3, "exactly repeat_count launches");
    for pair in kids.windows(2) {
        let gap = created(&pair[1]) - created(&pair[0]);
        assert!(gap >= chrono::Duration::milliseconds(900), "no double fire: {gap}");
    }
    let ledger = gw.ledger(&parent).await;
    let launches = ledger.iter().filter(|r| r["status"] == "started" && r["effect"]["type"] == "start_subworkflow");
    assert_eq!(launches.count(), 3);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_schedule_rearms_the_interval_and_cancel_stops_the_schedule() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    let (_, answer) = gw.post("/api/gateway/runs/schedule", json!({"bundle_id": "pure-math", "interval": "1h"})).await;
    let parent = answer["run_id"].as_str().expect("run_id").to_owned();
    let before = gw.wait_for(&parent, |v| v["current_node"] == "wait_interval" && v["status"] == "waiting").await;
    gw.command(&parent, "update_schedule", json!({"interval": "2s"})).await;
    let after = gw.wait_for(&parent, |v| v["schedule"]["interval"] == "2s").await;
    assert!(after["schedule"]["updated_at"].is_string());
    assert!(after["waiting"]["until"].as_str() < before["waiting"]["until"].as_str(), "the hour-long sleep is cut");
    let second = async {
        loop {
            if children(&gw, &parent).await.len() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), second).await.expect("the new interval launches again");
    gw.command(&parent, "cancel", json!({})).await;
    let cancelled = gw.wait_terminal(&parent).await;
    assert_eq!((cancelled["status"].as_str(), cancelled["error"].as_str()), (Some("cancelled"), Some("Cancelled")));
    let count = children(&gw, &parent).await.len();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(children(&gw, &parent).await.len(), count, "a cancelled schedule launches nothing more");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_schedules_and_schedule_commands_are_refused_at_the_door() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    let refusals = [
        (json!({"interval": "soon"}), "Invalid interval: invalid interval (expected like '15m', '1h', '2d')"),
        (json!({"repeat_count": 0, "interval": "1s"}), "repeat_count must be >= 1"),
        (json!({"repeat_count": 3}), "repeat_count > 1 requires interval"),
        (json!({"repeat_until": "2099-01-01T00:00:00+00:00"}), "repeat_until requires interval"),
        (
            json!({"repeat_until": "2099-01-01T00:00:00+00:00", "repeat_count": 2, "interval": "1s"}),
            "repeat_until cannot be combined with repeat_count",
        ),
    ];
    for (extra, detail) in refusals {
        let mut body = json!({"bundle_id": "pure-math"});
        body.as_object_mut().expect("object").extend(extra.as_object().cloned().expect("object"));
        let (status, answer) = gw.post("/api/gateway/runs/schedule", body).await;
        assert_eq!((status, answer["detail"].as_str()), (StatusCode::BAD_REQUEST, Some(detail)));
    }
    let (status, answer) =
        gw.post("/api/gateway/runs/schedule", json!({"bundle_id": "pure-math", "start_at": "tomorrow"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");

    // update_schedule needs a scheduled run and a valid interval.
    let plain = gw.start_run(json!({"bundle_id": "pure-math"})).await;
    let post = |run_id: String, payload: Value| {
        gw.post(
            "/api/gateway/commands",
            json!({"command_id": format!("u-{run_id}-{payload}"), "run_id": run_id, "type": "update_schedule", "payload": payload}),
        )
    };
    let (status, answer) = post(plain.clone(), json!({"interval": "1m"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["detail"], format!("Run '{plain}' is not a scheduled run"));
    let (_, scheduled) =
        gw.post("/api/gateway/runs/schedule", json!({"bundle_id": "pure-math", "interval": "1h"})).await;
    let scheduled = scheduled["run_id"].as_str().expect("run_id").to_owned();
    let (status, _) = post(scheduled.clone(), json!({"interval": "0s"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = post("missing".into(), json!({"interval": "1m"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, answer) = gw
        .post(
            "/api/gateway/commands",
            json!({"command_id": "e1", "run_id": "s", "type": "emit_event", "payload": {"payload": {}}}),
        )
        .await;
    assert_eq!(
        (status, answer["detail"][0]["loc"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!(["body", "payload", "name"]))
    );
    // Intervals too long to compute a date from are refused, naming the field; the schedule
    // and the runner carry on (an accepted 100000000d used to stop every command for good).
    for (path, body, loc) in [
        (
            "/api/gateway/runs/schedule",
            json!({"bundle_id": "pure-math", "start_at": "now", "interval": "9223372036854775807d"}),
            json!(["body", "interval"]),
        ),
        (
            "/api/gateway/commands",
            json!({"command_id": "u-huge", "run_id": scheduled, "type": "update_schedule",
                   "payload": {"interval": "100000000d"}}),
            json!(["body", "payload", "interval"]),
        ),
    ] {
        let (status, answer) = gw.post(path, body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["detail"][0]["loc"], loc);
        assert_eq!(answer["detail"][0]["msg"], "Value error, interval must be at most 36500d");
    }
    let (status, _) = post(scheduled.clone(), json!({"interval": "36500d"})).await;
    assert_eq!(status, StatusCode::OK, "100 years is the longest interval");
    gw.wait_for(&scheduled, |v| v["schedule"]["interval"] == "36500d").await;
    gw.command(&scheduled, "cancel", json!({})).await;
    assert_eq!(gw.wait_terminal(&scheduled).await["status"], "cancelled");
    let ok = gw.start_run(json!({"bundle_id": "pure-math"})).await;
    assert_eq!(gw.wait_terminal(&ok).await["status"], "completed");
    assert_eq!(gw.get("/api/health").await.1["status"], "healthy");
    gw.stop().await;
}
