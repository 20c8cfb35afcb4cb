//! The API and the runner as two processes on one data dir: commands accepted by the API
//! are applied by the runner, SSE in the API sees what the runner appends, and the runner
//! lock keeps a second runner out until the first is gone, even killed.

use crate::common;

use std::time::Duration;

use common::{Http, Setup};
use serde_json::json;

const BACKENDS: &[&str] = &["file", "sqlite"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_process_and_a_runner_process_share_a_data_dir() {
    for backend in BACKENDS {
        let temp = tempfile::tempdir().expect("tempdir");
        let setup = Setup::new(temp.path(), backend);
        let api = setup.serve(&["--no-runner"]);
        let runner = setup.runner();
        let http = Http::default();

        // A run started through the API is worked by the runner process.
        let (status, started) = http
            .post(
                &api.url("/runs/start"),
                &json!({"bundle_id": "wait-event", "session_id": "split", "input_data": {"event_key": "evt:session:split:go"}}),
            )
            .await
            .expect("start");
        assert_eq!(status, 200, "{started}");
        let run_id = started["run_id"].as_str().expect("run_id").to_owned();
        let waiting = http.wait_for(&api, &run_id, Duration::from_secs(20), |v| v["status"] == "waiting").await;
        assert_eq!(waiting["waiting"]["wait_key"], "evt:session:split:go", "{backend}");

        // SSE in the API process streams what the runner process appends.
        let stream_url = api.url(&format!("/runs/{run_id}/ledger/stream?after=2"));
        let stream = tokio::spawn({
            let http = Http::default();
            async move { http.text(&stream_url).await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (status, _) = http
            .command(&api, "go-1", "split", "emit_event", json!({"name": "go", "payload": {"n": 1}}))
            .await
            .expect("emit");
        assert_eq!(status, 200);
        let body = tokio::time::timeout(Duration::from_secs(20), stream)
            .await
            .expect("stream ends")
            .expect("task")
            .expect("SSE");
        assert_eq!(body.matches("event: step").count(), 3, "resume, completion and status: {body}");
        assert!(body.ends_with("\"cursor\": 5, \"status\": \"terminal\"}\n\n"), "{body}");
        let done = http.wait_for(&api, &run_id, Duration::from_secs(5), |v| v["status"] == "completed").await;
        assert_eq!(done["output"]["event"]["payload"], json!({"n": 1}));

        // A second runner is refused while the first one lives.
        let mut second = setup.runner();
        assert!(!second.alive_after(Duration::from_secs(5)), "{backend}: a second runner must not start");
        let status = second.child.wait().expect("exit status");
        assert!(!status.success());
        assert!(setup.log_text().contains("another runner holds this data dir's lock"), "{}", setup.log_text());

        // Killed, the first runner's lock is stale: the next runner takes over and works.
        runner.kill();
        let mut takeover = setup.runner();
        assert!(takeover.alive_after(Duration::from_millis(500)), "{backend}: the next runner starts");
        let (_, next) = http
            .post(&api.url("/runs/start"), &json!({"bundle_id": "pure-math", "input_data": {"a": 2, "b": 3}}))
            .await
            .expect("start");
        let next_id = next["run_id"].as_str().expect("run_id").to_owned();
        let finished = http.wait_for(&api, &next_id, Duration::from_secs(20), |v| v["status"] == "completed").await;
        assert_eq!(finished["output"]["sum"], 5.0);

        takeover.stop();
        api.stop();
    }
}
