//! What a client replays or restarts a run from: `input_data`, `history_bundle` and the
//! run's artifacts, checked against the reference's transcripts (file/18, 19, 20).

use crate::common;

use agw_app::Workflows;
use agw_domain::run::{FlowRef, NewRun, RunState};
use common::{TOKEN, TestGateway, keys};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The pure-math bundle is byte-identical to the reference's, so its workflow snapshot is too.
const PURE_MATH_SNAPSHOT_SHA256: &str = "769413f285805e9c5a54c2695bfb86120ef3ed67739962fd0c96bcceafc80ebd";
const PURE_MATH_SNAPSHOT_SIZE: u64 = 2018;

fn selection(version: &str) -> Value {
    json!({"source": "client", "workflow_id": format!("pure-math@{version}:pure-math"), "bundle_id": "pure-math",
           "bundle_version": version, "flow_id": "pure-math", "registry_scope": "private", "name": "pure-math",
           "interface": null})
}

/// Starts the reference's pure-math run (transcript file/09) and waits for it to finish.
async fn pure_math_run(gw: &TestGateway) -> (String, Value) {
    let body = json!({"bundle_id": "pure-math", "input_data": {"a": 40, "b": 2, "name": "reference", "extra": true},
                      "session_id": "sess-pure"});
    let run_id = gw.start_run(body).await;
    let view = gw.wait_terminal(&run_id).await;
    assert_eq!(view["status"], "completed", "{view}");
    (run_id, view)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_data_matches_the_reference_shape() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    let (run_id, view) = pure_math_run(&gw).await;

    let (status, answer) = gw.get(&format!("/api/gateway/runs/{run_id}/input_data")).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    // Only the flow's inputs come back (what a client may start again), plus the selection.
    assert_eq!(
        answer,
        json!({
            "run_id": run_id,
            "workflow_id": "pure-math@0.1.0:pure-math",
            "bundle_id": "pure-math",
            "bundle_version": "0.1.0",
            "flow_id": "pure-math",
            "pin_ids": ["a", "b", "name"],
            "input_data": {"a": 40, "b": 2, "name": "reference", "workflow_selection": selection("0.1.0")},
            "workspace": {"workspace_root": view["workspace_root"], "workspace_access_mode": "all_except_ignored"},
        })
    );
    let (status, missing) = gw.get("/api/gateway/runs/nope/input_data").await;
    assert_eq!((status, missing), (StatusCode::NOT_FOUND, json!({"detail": "Run 'nope' not found"})));
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_bundle_of_a_completed_run_matches_the_reference_shape() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    let (run_id, view) = pure_math_run(&gw).await;

    let (status, bundle) = gw.get(&format!("/api/gateway/runs/{run_id}/history_bundle")).await;
    assert_eq!(status, StatusCode::OK, "{bundle}");
    assert_eq!(
        keys(&bundle),
        [
            "version",
            "generated_at",
            "detail",
            "root_run_id",
            "run",
            "workflow_snapshot",
            "input_data",
            "ledgers",
            "timeline",
            "resolved_actions",
            "session",
            "warnings"
        ]
    );
    assert_eq!((bundle["version"].clone(), bundle["detail"].clone()), (json!(1), json!("full")));
    assert_eq!(bundle["root_run_id"], run_id.as_str());
    let run_keys = [
        "run_id",
        "workflow_id",
        "status",
        "current_node",
        "created_at",
        "updated_at",
        "actor_id",
        "session_id",
        "parent_run_id",
        "error",
        "waiting",
    ];
    assert_eq!(keys(&bundle["run"]), run_keys);
    for key in run_keys {
        assert_eq!(bundle["run"][key], view[key], "run.{key}");
    }
    let input = &bundle["input_data"];
    for (key, value) in [("a", json!(40)), ("b", json!(2)), ("name", json!("reference")), ("extra", json!(true))] {
        assert_eq!(input[key], value, "input_data.{key}");
    }
    assert_eq!(input["workspace_root"], view["workspace_root"]);
    assert_eq!(input["workspace_access_mode"], "all_except_ignored");
    assert_eq!(input["workflow_selection"], selection("0.1.0"));

    // The ledger, with 1-based cursors, is exactly what the ledger route serves.
    let ledger = &bundle["ledgers"][&run_id];
    assert_eq!(keys(ledger), ["run_id", "total", "cursor_start", "cursor_end", "items", "artifacts"]);
    assert_eq!(
        (ledger["total"].clone(), ledger["cursor_start"].clone(), ledger["cursor_end"].clone()),
        (json!(2), json!(1), json!(2))
    );
    let records: Vec<Value> = ledger["items"].as_array().expect("items").iter().map(|i| i["record"].clone()).collect();
    assert_eq!(records, gw.ledger(&run_id).await);
    assert_eq!(ledger["items"][1]["cursor"], 2);

    // The snapshot names the run's one artifact, with the reference's digest.
    let snapshot = &bundle["workflow_snapshot"];
    assert_eq!(keys(snapshot), ["workflow_id", "format", "sha256", "artifact_id", "created_at"]);
    assert_eq!(snapshot["workflow_id"], "pure-math@0.1.0:pure-math");
    assert_eq!(snapshot["format"], "visualflow_json");
    assert_eq!(snapshot["sha256"], PURE_MATH_SNAPSHOT_SHA256);
    let artifacts = ledger["artifacts"].as_array().expect("artifacts");
    assert_eq!(artifacts.len(), 1);
    assert_eq!(
        keys(&artifacts[0]),
        [
            "artifact_id",
            "blob_id",
            "run_id",
            "content_type",
            "size_bytes",
            "created_at",
            "tags",
            "descriptor",
            "metadata",
            "access"
        ]
    );
    assert_eq!(artifacts[0]["artifact_id"], snapshot["artifact_id"]);
    assert_eq!(artifacts[0]["size_bytes"], PURE_MATH_SNAPSHOT_SIZE);
    assert_eq!(artifacts[0]["descriptor"]["semantic_kind"], "workflow_snapshot");

    let timeline = bundle["timeline"].as_array().expect("timeline");
    assert_eq!(timeline.len(), 2);
    assert_eq!(
        keys(&timeline[1]),
        ["run_id", "cursor", "node_id", "status", "effect_type", "started_at", "ended_at", "duration_ms"]
    );
    assert_eq!(
        (timeline[1]["effect_type"].clone(), timeline[0]["effect_type"].clone()),
        (json!("emit_event"), Value::Null)
    );
    assert!(timeline[0]["duration_ms"].is_number());
    assert_eq!(
        (bundle["resolved_actions"].clone(), bundle["session"].clone(), bundle["warnings"].clone()),
        (json!([]), Value::Null, json!([]))
    );

    // A tail window keeps absolute cursors and says what it left out.
    let (_, tail) = gw.get(&format!("/api/gateway/runs/{run_id}/history_bundle?ledger_max_items=1")).await;
    let ledger = &tail["ledgers"][&run_id];
    assert_eq!((ledger["cursor_start"].clone(), ledger["cursor_end"].clone()), (json!(2), json!(2)));
    assert_eq!(tail["warnings"][0]["code"], "ledger_tail_window");
    let (_, full) =
        gw.get(&format!("/api/gateway/runs/{run_id}/history_bundle?ledger_mode=full&ledger_max_items=1")).await;
    assert_eq!(full["ledgers"][&run_id]["items"].as_array().map(Vec::len), Some(2));

    let (status, bad) = gw.get(&format!("/api/gateway/runs/{run_id}/history_bundle?ledger_mode=head")).await;
    assert_eq!((status, bad), (StatusCode::BAD_REQUEST, json!({"detail": "ledger_mode must be 'tail' or 'full'"})));
    let (status, _) = gw.get(&format!("/api/gateway/runs/{run_id}/history_bundle?ledger_max_items=-1")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, missing) = gw.get("/api/gateway/runs/nope/history_bundle").await;
    assert_eq!((status, missing), (StatusCode::NOT_FOUND, json!({"detail": "Run 'nope' not found"})));
    gw.stop().await;
}

/// Creates a pure-math run under `parent`, as a subflow or a schedule would.
fn child_run(gw: &TestGateway, parent: &str) -> String {
    let flow = FlowRef { bundle_id: "pure-math".into(), bundle_version: "0.1.0".into(), flow_id: "pure-math".into() };
    let compiled = gw.gateway.catalog.compile(&flow).expect("compiles");
    let run_id = uuid_like(parent);
    let run = RunState::new(NewRun {
        run_id: run_id.clone(),
        flow,
        input_data: serde_json::Map::new(),
        session_id: None,
        parent_run_id: Some(parent.to_owned()),
        workspace_root: String::new(),
        entry_node: compiled.entry.clone(),
        now: "2026-11-21T05:32:40.000000+00:00".into(),
    });
    gw.gateway.store.create_run(&run).expect("child stored");
    gw.gateway.handle.wake_run(&run_id);
    run_id
}

fn uuid_like(parent: &str) -> String {
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("child-{}-{n}", &parent[..8])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_bundle_walks_child_runs() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    let (root, _) = pure_math_run(&gw).await;
    let child = child_run(&gw, &root);
    let grandchild = child_run(&gw, &child);
    gw.wait_terminal(&child).await;
    gw.wait_terminal(&grandchild).await;
    let (unrelated, _) = pure_math_run(&gw).await;

    let (_, bundle) = gw.get(&format!("/api/gateway/runs/{root}/history_bundle")).await;
    let ledgers = bundle["ledgers"].as_object().expect("ledgers");
    assert_eq!(ledgers.keys().map(String::as_str).collect::<Vec<_>>(), [root.as_str(), &child, &grandchild]);
    assert!(!ledgers.contains_key(&unrelated));
    assert_eq!(ledgers[&grandchild]["total"], 2);
    assert_eq!(bundle["timeline"].as_array().map(Vec::len), Some(6));
    assert_eq!(bundle["root_run_id"], root.as_str());

    let (_, alone) = gw.get(&format!("/api/gateway/runs/{root}/history_bundle?include_subruns=false")).await;
    assert_eq!(keys(&alone["ledgers"]), [root.as_str()]);
    let (_, subtree) = gw.get(&format!("/api/gateway/runs/{child}/history_bundle")).await;
    assert_eq!(keys(&subtree["ledgers"]), [child.as_str(), &grandchild]);
    assert_eq!(subtree["run"]["parent_run_id"], root.as_str());
    gw.stop().await;
}

const ARTIFACT_ITEM_KEYS: &[&str] = &[
    "artifact_id",
    "run_id",
    "content_path",
    "content_type",
    "size_bytes",
    "created_at",
    "tags",
    "filename",
    "source_path",
    "sha256",
    "modality",
    "ref",
    "semantic_kind",
    "render_kind",
    "task",
    "classification_source",
    "session_id",
    "workflow_id",
    "node_id",
    "step_id",
    "effect_id",
    "turn_id",
    "ledger_cursor",
    "parent_run_id",
    "actor_id",
    "title",
    "media",
    "generation",
    "producer",
    "provenance",
    "source_refs",
    "access",
    "links",
    "available_actions",
    "provider_trace_available",
    "audit_available",
    "legacy_inferred",
    "raw_metadata",
    "descriptor",
    "artifact_envelope_v1",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_run_lists_its_workflow_snapshot_like_the_reference() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    let (run_id, _) = pure_math_run(&gw).await;

    let (status, page) = gw.get(&format!("/api/gateway/runs/{run_id}/artifacts")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        keys(&page),
        ["items", "total", "offset", "limit", "has_more", "cursor", "next_cursor", "facets", "stats", "warnings"]
    );
    assert_eq!(
        (page["total"].clone(), page["limit"].clone(), page["has_more"].clone()),
        (json!(1), json!(500), json!(false))
    );
    let item = &page["items"][0];
    assert_eq!(keys(item), ARTIFACT_ITEM_KEYS);
    let id = item["artifact_id"].as_str().expect("artifact_id").to_owned();
    assert_eq!(id.len(), 32);
    assert_eq!(item["content_type"], "application/json");
    assert_eq!(item["size_bytes"], PURE_MATH_SNAPSHOT_SIZE);
    assert_eq!(item["sha256"], PURE_MATH_SNAPSHOT_SHA256);
    assert_eq!(
        item["tags"],
        json!({"format": "visualflow_json", "kind": "workflow_snapshot", "sha256": PURE_MATH_SNAPSHOT_SHA256,
               "workflow_id": "pure-math@0.1.0:pure-math"})
    );
    assert_eq!(
        item["ref"],
        json!({"$artifact": id, "artifact_id": id, "content_type": "application/json", "modality": "text",
               "run_id": run_id, "sha256": PURE_MATH_SNAPSHOT_SHA256})
    );
    assert_eq!(
        (item["semantic_kind"].clone(), item["render_kind"].clone(), item["modality"].clone()),
        (json!("workflow_snapshot"), json!("json"), json!("json"))
    );
    assert_eq!(item["title"], format!("Workflow Snapshot {}", &id[..12]));
    assert_eq!(item["links"]["content"], format!("/api/gateway/runs/{run_id}/artifacts/{id}/content"));
    assert_eq!(item["artifact_envelope_v1"]["schema"], "abstractgateway.artifact_envelope.v1");

    let (status, detail) = gw.get(&format!("/api/gateway/runs/{run_id}/artifacts/{id}")).await;
    assert_eq!((status, &detail), (StatusCode::OK, item));

    // The content is the flow as served, with its id set to the workflow id.
    let response = gw
        .client
        .get(gw.url(&format!("/api/gateway/runs/{run_id}/artifacts/{id}/content")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("content");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let bytes = response.bytes().await.expect("bytes");
    assert_eq!(bytes.len() as u64, PURE_MATH_SNAPSHOT_SIZE);
    let snapshot: Value = serde_json::from_slice(&bytes).expect("json");
    assert_eq!(keys(&snapshot), ["kind", "bundle_ref", "flow_id", "visualflow"]);
    let (_, served) = gw.get("/api/gateway/bundles/pure-math/flows/pure-math").await;
    let mut flow = served["flow"].clone();
    flow["id"] = json!("pure-math@0.1.0:pure-math");
    assert_eq!(snapshot["visualflow"], flow);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artifact_content_round_trips_and_unknown_ids_get_the_reference_404s() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    let (run_id, _) = pure_math_run(&gw).await;
    let (other_run, _) = pure_math_run(&gw).await;
    let bytes: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let extra = agw_store::ArtifactExtra { filename: Some("data.bin".into()), ..Default::default() };
    let meta = gw.gateway.artifacts.put(&run_id, &bytes, "application/octet-stream", extra).expect("put");

    let url = gw.url(&format!("/api/gateway/runs/{run_id}/artifacts/{}/content", meta.artifact_id));
    let response = gw.client.get(url).bearer_auth(TOKEN).send().await.expect("content");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/octet-stream");
    assert_eq!(response.headers()["content-disposition"], "inline; filename=\"data.bin\"");
    assert_eq!(response.headers()["content-security-policy"], "sandbox");
    assert_eq!(response.bytes().await.expect("bytes").to_vec(), bytes);

    let (_, page) = gw.get(&format!("/api/gateway/runs/{run_id}/artifacts")).await;
    assert_eq!(page["total"], 2);
    assert_eq!(page["items"][0]["artifact_id"], meta.artifact_id.as_str(), "most recent first");
    assert_eq!(page["items"][0]["size_bytes"], 70_000);
    let (_, paged) = gw.get(&format!("/api/gateway/runs/{run_id}/artifacts?limit=1&offset=1")).await;
    assert_eq!((paged["items"].as_array().map(Vec::len), paged["has_more"].clone()), (Some(1), json!(false)));

    let content = |run: &str, id: &str| format!("/api/gateway/runs/{run}/artifacts/{id}/content");
    let (status, body) = gw.get(&content(&run_id, "0123456789abcdef0123456789abcdef")).await;
    assert_eq!(
        (status, body),
        (StatusCode::NOT_FOUND, json!({"detail": "Artifact '0123456789abcdef0123456789abcdef' not found"}))
    );
    // Another run's artifact is not reachable through this run.
    let (status, _) = gw.get(&content(&other_run, &meta.artifact_id)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = gw.get(&content("nope", &meta.artifact_id)).await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({"detail": "Run 'nope' not found"})));
    let (status, body) = gw.get(&content(&run_id, "..%2F..%2Fsecret")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["detail"].as_str().is_some_and(|d| d.starts_with("Invalid artifact id")), "{body}");
    let (status, body) = gw.get("/api/gateway/runs/nope/artifacts").await;
    assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({"detail": "Run 'nope' not found"})));
    gw.stop().await;
}

/// `GET /runs` filters: status, workflow, session, parent, roots only, paging; each item
/// carries its ledger length.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_list_filters_and_pages() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    let done = gw.start_run(json!({"bundle_id": "pure-math", "session_id": "s-list"})).await;
    gw.wait_terminal(&done).await;
    let waiting = gw
        .start_run(json!({"bundle_id": "wait-event", "session_id": "s-list", "input_data": {"event_key": "k"}}))
        .await;
    gw.wait_for(&waiting, |v| v["status"] == "waiting").await;
    let (_, scheduled) =
        gw.post("/api/gateway/runs/schedule", json!({"bundle_id": "pure-math", "interval": "1h"})).await;
    let parent = scheduled["run_id"].as_str().expect("run_id").to_owned();
    gw.wait_for(&parent, |v| v["current_node"] == "wait_interval").await;

    let ids = |page: &Value| -> Vec<String> {
        page["items"].as_array().into_iter().flatten().filter_map(|r| r["run_id"].as_str().map(str::to_owned)).collect()
    };
    let (_, page) = gw.get("/api/gateway/runs?session_id=s-list").await;
    let mut found = ids(&page);
    found.sort();
    let mut want = vec![done.clone(), waiting.clone()];
    want.sort();
    assert_eq!(found, want);
    let (_, page) = gw.get("/api/gateway/runs?session_id=s-list&status=waiting").await;
    assert_eq!(ids(&page), std::slice::from_ref(&waiting));
    let (_, page) = gw.get("/api/gateway/runs?workflow_id=wait-event@0.1.0:wait-event").await;
    assert_eq!(ids(&page), std::slice::from_ref(&waiting));
    assert_eq!(page["items"][0]["ledger_len"], 2, "started and waiting");
    let (_, children) = gw.get(&format!("/api/gateway/runs?parent_run_id={parent}")).await;
    let child = ids(&children);
    assert_eq!(child.len(), 1);
    let (_, roots) = gw.get("/api/gateway/runs?root_only=true&limit=100").await;
    assert!(!ids(&roots).contains(&child[0]) && ids(&roots).contains(&parent));
    let (_, all) = gw.get("/api/gateway/runs?limit=100").await;
    assert_eq!(all["count"], 4);
    let (_, first) = gw.get("/api/gateway/runs?limit=3").await;
    let (_, rest) = gw.get("/api/gateway/runs?limit=3&offset=3").await;
    assert_eq!((first["count"].clone(), first["has_more"].clone()), (json!(3), json!(true)));
    assert_eq!(
        (rest["count"].clone(), rest["has_more"].clone(), rest["offset"].clone()),
        (json!(1), json!(false), json!(3))
    );
    let mut paged = ids(&first);
    paged.extend(ids(&rest));
    assert_eq!(paged, ids(&all), "pages partition the list in order");
    gw.command(&parent, "cancel", json!({})).await;
    gw.stop().await;
}
