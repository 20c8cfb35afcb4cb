//! Real bundles from the AbstractGateway project (they call an LLM). They belong to another
//! project, so they are never committed: set `AGW_UPSTREAM_BUNDLES` to their folder
//! (`.ci/run` does). Without it this test says so and does nothing.

use crate::common;

use common::{Options, TestGateway};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_bundles_load_and_name_what_they_still_need() {
    let Some(dir) = std::env::var_os("AGW_UPSTREAM_BUNDLES") else {
        eprintln!("NOTICE: AGW_UPSTREAM_BUNDLES is not set; skipping the upstream bundle test");
        return;
    };
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::start(&temp.path().join("data"), Options::new(dir.into())).await;

    let (_, list) = gw.get("/api/gateway/bundles").await;
    let mut refs: Vec<&str> =
        list["items"].as_array().expect("items").iter().filter_map(|b| b["bundle_ref"].as_str()).collect();
    refs.sort_unstable();
    assert_eq!(refs, ["basic-followup@dev", "basic-llm-test@0.0.0", "yoda@dev"]);
    assert_eq!(list["skipped_count"], 0);

    let (status, schema) = gw.get("/api/gateway/bundles/basic-llm-test/flows/ec5a574d/input_schema").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(schema["workflow_id"], "basic-llm-test@0.0.0:ec5a574d");

    // The LLM bundles start (their runs are checked against the reference in the flow cases
    // `upstream-*`); the agent bundle waits for the tools-and-agents work and says so.
    for bundle in ["basic-llm-test", "yoda"] {
        let (status, answer) =
            gw.post("/api/gateway/runs/start", json!({"bundle_id": bundle, "input_data": {"prompt": 1}})).await;
        assert_eq!(status, StatusCode::OK, "{bundle}: {answer}");
    }
    let (status, answer) = gw.post("/api/gateway/runs/start", json!({"bundle_id": "basic-followup"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let detail = answer["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("which no engine builtin or loaded plugin provides") && detail.contains("'agent'"),
        "{detail}"
    );
    gw.stop().await;
}
