//! The HTTP contract, checked against the shapes recorded from the Python gateway
//! (transcripts file/02, 04, 05–23, 50–51, 57, 64–65 in the shared reference).

use crate::common;

use common::{TOKEN, TestGateway, keys};
use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

const RUN_KEYS: &[&str] = &[
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
    "flow_warnings",
    "paused",
    "pause_reason",
    "paused_at",
    "resumed_at",
    "waiting",
    "is_scheduled",
    "schedule",
    "limits",
    "run_lifecycle",
    "is_draft",
    "output",
    "session_history",
    "automation_id",
    "role",
    "occurrence_index",
    "session_kind",
    "legacy",
    "workspace_root",
];

/// A `GET /runs` item (transcript file/17).
const LIST_ITEM_KEYS: &[&str] = &[
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
    "paused",
    "pause_reason",
    "paused_at",
    "resumed_at",
    "waiting",
    "is_scheduled",
    "schedule",
    "limits",
    "run_lifecycle",
    "is_draft",
    "session_kind",
    "automation_id",
    "role",
    "occurrence_index",
    "legacy",
    "workspace_root",
    "ledger_len",
    "kind",
];

const RECORD_KEYS: &[&str] = &[
    "run_id",
    "step_id",
    "node_id",
    "status",
    "effect",
    "result",
    "error",
    "started_at",
    "ended_at",
    "actor_id",
    "session_id",
    "attempt",
    "idempotency_key",
    "prev_hash",
    "record_hash",
    "signature",
];

async fn gateway(temp: &tempfile::TempDir) -> TestGateway {
    TestGateway::standard(temp, 100).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pure_math_run_view_and_ledger_match_the_reference_shapes() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway(&temp).await;
    let body = json!({"bundle_id": "pure-math", "input_data": {"a": 40, "b": 2, "name": "reference"}, "session_id": "sess-pure"});
    let (status, started) = gw.post("/api/gateway/runs/start", body).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys(&started), ["run_id", "runner_warning", "resolved_workflow"]);
    assert_eq!(
        started["resolved_workflow"],
        json!({"source": "client", "workflow_id": "pure-math@0.1.0:pure-math", "bundle_id": "pure-math",
               "bundle_version": "0.1.0", "flow_id": "pure-math", "registry_scope": "private", "name": "pure-math", "interface": null})
    );
    let run_id = started["run_id"].as_str().expect("id").to_owned();
    let view = gw.wait_terminal(&run_id).await;
    assert_eq!(keys(&view), RUN_KEYS);
    assert_eq!(view["status"], "completed");
    assert_eq!(view["current_node"], "end");
    assert_eq!(view["session_id"], "sess-pure");
    assert_eq!(view["actor_id"], "gateway");
    assert_eq!(view["output"], json!({"sum": 42.0, "greeting": "Hello reference!", "success": true}));
    assert!(view["workspace_root"].as_str().is_some_and(|w| w.ends_with(&run_id)));

    let (_, page) = gw.get(&format!("/api/gateway/runs/{run_id}/ledger?after=0")).await;
    assert_eq!(keys(&page), ["items", "next_after"]);
    assert_eq!(page["next_after"], 2);
    let items = page["items"].as_array().expect("items");
    for record in items {
        assert_eq!(keys(record), RECORD_KEYS);
    }
    assert_eq!(
        items[0]["result"],
        json!({"completed": true, "output": {"sum": 42.0, "greeting": "Hello reference!", "success": true}})
    );
    assert_eq!(items[0]["idempotency_key"], "system:completion:end");
    assert_eq!(
        items[1]["effect"],
        json!({"type": "emit_event", "payload": {"name": "abstract.status", "scope": "session", "payload": {"text": "completed"}}, "result_key": null})
    );
    assert_eq!(
        items[1]["result"],
        json!({"emitted": true, "name": "abstract.status", "payload": {"text": "completed"}})
    );

    let (_, page) = gw.get(&format!("/api/gateway/runs/{run_id}/ledger?after=1&limit=1")).await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["next_after"], 2);
    assert_eq!(page["items"][0]["idempotency_key"], "system:terminal_status:completed");
    let (_, page) = gw.get(&format!("/api/gateway/runs/{run_id}/ledger?after=999")).await;
    assert_eq!(page, json!({"items": [], "next_after": 999}));
    let (status, bad) = gw.get(&format!("/api/gateway/runs/{run_id}/ledger?limit=0")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad["detail"][0]["type"], "greater_than_equal");

    let batch = json!({"limit": 50, "runs": [{"run_id": run_id, "after": 0}, {"run_id": "no-such-run", "after": 0}]});
    let (status, answer) = gw.post("/api/gateway/runs/ledger/batch", batch).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys(&answer["runs"]), [run_id.as_str()]);
    assert_eq!(answer["runs"][&run_id]["next_after"], 2);
    assert_eq!(answer["runs"][&run_id]["items"], json!(items));

    let (status, list) = gw.get("/api/gateway/runs?limit=5").await;
    assert_eq!(status, StatusCode::OK);
    // The reference lists summaries, key for key (transcript file/17), not whole run views.
    assert_eq!(keys(&list), ["items", "count", "offset", "has_more", "archived_sessions"]);
    assert_eq!(keys(&list["items"][0]), LIST_ITEM_KEYS);
    assert_eq!(list["items"][0]["ledger_len"], 2);
    assert_eq!(list["items"][0]["run_id"], run_id.as_str());
    let (status, _) = gw.get("/api/gateway/runs?status=running").await;
    assert_eq!(status, StatusCode::OK);
    let (status, bogus) = gw.get("/api/gateway/runs?bogus=1").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        bogus["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("Unknown query parameter(s): bogus — known: archived_only, "))
    );
    gw.stop().await;
}

/// Reads an SSE response to its end.
async fn sse_text(gw: &TestGateway, path: &str, headers: &[(&str, &str)], auth: bool) -> (StatusCode, String) {
    let mut request = gw.client.get(gw.url(path));
    if auth {
        request = request.bearer_auth(TOKEN);
    }
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.expect("SSE request");
    let status = response.status();
    let mut body = String::new();
    let mut stream = response.bytes_stream();
    let read = async {
        while let Some(chunk) = stream.next().await {
            body.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(10), read).await.expect("stream ends");
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_frames_match_the_reference_byte_format() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway(&temp).await;
    let run_id =
        gw.start_run(json!({"bundle_id": "pure-math", "input_data": {"a": 40, "b": 2, "name": "reference"}})).await;
    gw.wait_terminal(&run_id).await;
    let ledger = gw.ledger(&run_id).await;

    let (status, body) = sse_text(&gw, &format!("/api/gateway/runs/{run_id}/ledger/stream?after=0"), &[], true).await;
    assert_eq!(status, StatusCode::OK);
    let frames: Vec<&str> = body.split("\n\n").filter(|f| !f.is_empty()).collect();
    assert_eq!(frames.len(), 3, "{body}");
    for (i, frame) in frames[..2].iter().enumerate() {
        let lines: Vec<&str> = frame.lines().collect();
        assert_eq!(lines[0], format!("id: {}", i + 1));
        assert_eq!(lines[1], "event: step");
        let data = lines[2].strip_prefix("data: ").expect("data line");
        assert!(
            data.starts_with(&format!("{{\"cursor\": {}, \"record\": {{\"run_id\": ", i + 1)),
            "Python separators: {data}"
        );
        let parsed: Value = serde_json::from_str(data).expect("data is JSON");
        assert_eq!(parsed["record"], ledger[i], "SSE record {i} equals the replayed record");
    }
    assert_eq!(
        frames[2],
        format!("event: done\ndata: {{\"run_id\": \"{run_id}\", \"cursor\": 2, \"status\": \"terminal\"}}")
    );

    let (_, resumed) =
        sse_text(&gw, &format!("/api/gateway/runs/{run_id}/ledger/stream"), &[("Last-Event-ID", "2")], true).await;
    assert_eq!(
        resumed,
        format!("event: done\ndata: {{\"run_id\": \"{run_id}\", \"cursor\": 2, \"status\": \"terminal\"}}\n\n")
    );

    // EventSource clients cannot set headers: the token travels in the query.
    let (status, via_query) =
        sse_text(&gw, &format!("/api/gateway/runs/{run_id}/ledger/stream?after=1&access_token={TOKEN}"), &[], false)
            .await;
    assert_eq!(status, StatusCode::OK);
    assert!(via_query.starts_with("id: 2\nevent: step\n"), "{via_query}");

    let (status, missing) = sse_text(&gw, "/api/gateway/runs/nope/ledger/stream", &[], true).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(missing, r#"{"detail":"Run 'nope' not found"}"#);
    let (status, _) = sse_text(&gw, &format!("/api/gateway/runs/{run_id}/ledger/stream"), &[], false).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "an SSE stream without a token is refused");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_on_a_many_tick_run_ends_with_done_at_the_final_ledger_length() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 5).await;
    let run_id = gw.start_run(json!({"bundle_id": "loop-n", "input_data": {"n": 400}})).await;
    let (_, body) = sse_text(&gw, &format!("/api/gateway/runs/{run_id}/ledger/stream"), &[], true).await;
    let ledger = gw.ledger(&run_id).await;
    let steps = body.matches("event: step").count();
    assert_eq!(steps, ledger.len());
    assert!(body.ends_with(&format!("\"cursor\": {}, \"status\": \"terminal\"}}\n\n", ledger.len())), "{body}");
    gw.stop().await;
}

/// For 100 live runs, each streamed from the moment it starts: every record arrives once and
/// in order, equal to the replayed ledger, and `done.cursor` is the final ledger length.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_of_a_hundred_live_runs_equals_their_replay() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 3).await;
    for batch in 0..10 {
        let streams = (0..10).map(|i| {
            let gw = &gw;
            async move {
                let n = 1 + (batch * 10 + i) % 7;
                let run_id = gw.start_run(json!({"bundle_id": "loop-emit", "input_data": {"n": n}})).await;
                let (status, body) =
                    sse_text(gw, &format!("/api/gateway/runs/{run_id}/ledger/stream"), &[], true).await;
                (run_id, n, status, body)
            }
        });
        for (run_id, n, status, body) in futures_util::future::join_all(streams).await {
            assert_eq!(status, StatusCode::OK);
            let ledger = gw.ledger(&run_id).await;
            assert_eq!(ledger.len(), 2 * n + 2, "two records per emitted event plus the two final ones");
            let frames: Vec<&str> = body.split("\n\n").filter(|f| !f.is_empty() && !f.starts_with(':')).collect();
            let (done, steps) = frames.split_last().expect("frames");
            let streamed: Vec<Value> = steps
                .iter()
                .map(|f| {
                    serde_json::from_str(f.lines().nth(2).and_then(|l| l.strip_prefix("data: ")).expect("data"))
                        .expect("json")
                })
                .collect();
            let cursors: Vec<u64> = streamed.iter().map(|f| f["cursor"].as_u64().expect("cursor")).collect();
            assert_eq!(cursors, (1..=ledger.len() as u64).collect::<Vec<_>>(), "no record missing or repeated");
            let records: Vec<Value> = streamed.iter().map(|f| f["record"].clone()).collect();
            assert_eq!(records, ledger, "streamed records equal the replay");
            let done: Value =
                serde_json::from_str(done.strip_prefix("event: done\ndata: ").expect("done frame")).expect("json");
            assert_eq!(done["cursor"], ledger.len());
        }
    }
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_is_required_under_api_gateway_only() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway(&temp).await;
    let client = &gw.client;
    for response in [
        client.get(gw.url("/api/gateway/runs")).send().await.expect("read"),
        client
            .post(gw.url("/api/gateway/runs/start"))
            .json(&json!({"bundle_id": "pure-math"}))
            .send()
            .await
            .expect("write"),
        client.get(gw.url("/api/gateway/bundles")).bearer_auth("wrong").send().await.expect("bad token"),
        // A token in the query is for reads only.
        client
            .post(gw.url(&format!("/api/gateway/runs/start?access_token={TOKEN}")))
            .json(&json!({}))
            .send()
            .await
            .expect("write"),
    ] {
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert!(response.headers().contains_key("x-request-id"));
        let duration = response.headers()["x-gateway-duration-ms"].to_str().expect("ascii").to_owned();
        assert!(duration.parse::<f64>().is_ok_and(|ms| ms >= 0.0), "a duration in ms, as the reference: {duration}");
        assert_eq!(response.json::<Value>().await.expect("json"), json!({"detail": "Unauthorized"}));
    }
    // The runner recovers ledgers before it goes active; health says "starting" until then.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let health = loop {
        let response = client.get(gw.url("/api/health")).send().await.expect("health");
        assert_eq!(response.status(), StatusCode::OK);
        let health: Value = response.json().await.expect("json");
        if health["status"] == "healthy" || std::time::Instant::now() > deadline {
            break health;
        }
        assert_eq!(health["status"], "starting");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(health["status"], "healthy");
    assert_eq!(health["service"], "abstractgateway");
    assert_eq!(health["runner"]["runners"][0]["active"], true);

    let echoed = client
        .get(gw.url("/api/gateway/bundles"))
        .bearer_auth(TOKEN)
        .header("x-request-id", "abc123")
        .send()
        .await
        .expect("get");
    assert_eq!(echoed.headers()["x-request-id"], "abc123");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ping_and_me_match_the_reference() {
    // file/02, 04, 57; users/15: both need a token, like every gateway route.
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway(&temp).await;
    let by_header = gw.client.get(gw.url("/api/gateway/ping")).bearer_auth(TOKEN);
    let by_query = gw.client.get(gw.url(&format!("/api/gateway/ping?access_token={TOKEN}")));
    for request in [by_header, by_query] {
        let response = request.send().await.expect("ping");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/json");
        let ping: Value = response.json().await.expect("json");
        assert_eq!(keys(&ping), ["ok", "status", "service", "time"]);
        assert_eq!(
            (&ping["ok"], &ping["status"], &ping["service"]),
            (&json!(true), &json!("healthy"), &json!("abstractgateway"))
        );
        let time = ping["time"].as_str().expect("time");
        assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok() && time.ends_with("+00:00"), "{time}");
    }

    let (status, me) = gw.get("/api/gateway/me").await;
    assert_eq!(status, StatusCode::OK);
    // file/04 with this token's fingerprint, `sha256("test-token")[:12]`.
    let expected = json!({
        "ok": true,
        "principal": {
            "user_id": "admin",
            "tenant_id": "default",
            "roles": ["admin", "user"],
            "scopes": ["*"],
            "token_fingerprint": "4c5dc9b77089",
            "runtime_id": "default",
            "source": "legacy-token",
            "admin": true
        },
        "auth": {"mode": "legacy-token", "user_auth_enabled": false},
        "routing": {"mode": "single-user", "one_user_one_runtime": false}
    });
    assert_eq!(me, expected);
    assert_eq!(serde_json::to_string(&me).expect("json"), serde_json::to_string(&expected).expect("json"), "key order");

    for path in ["/api/gateway/ping", "/api/gateway/me"] {
        let response = gw.client.get(gw.url(path)).send().await.expect("no token");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_eq!(response.json::<Value>().await.expect("json"), json!({"detail": "Unauthorized"}));
    }
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundle_routes_match_the_reference_shapes() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway(&temp).await;
    let (_, list) = gw.get("/api/gateway/bundles").await;
    let refs: Vec<&str> =
        list["items"].as_array().expect("items").iter().filter_map(|b| b["bundle_ref"].as_str()).collect();
    assert!(refs.contains(&"pure-math@0.1.0") && refs.contains(&"count-loop@0.1.0"), "{refs:?}");
    let item =
        list["items"].as_array().expect("items").iter().find(|b| b["bundle_id"] == "pure-math").expect("pure-math");
    assert_eq!(item["description"], "Pure: sum two numbers and greet (no LLM).");
    assert_eq!(item["default_entrypoint"], "pure-math");
    assert_eq!(item["entrypoints"][0]["workflow_id"], "pure-math@0.1.0:pure-math");

    let (_, detail) = gw.get("/api/gateway/bundles/pure-math").await;
    assert_eq!(detail["flows"], json!(["pure-math"]));
    assert_eq!(
        detail["entrypoints"][0]["inputs"],
        json!([{"id": "a", "label": "a", "type": "number", "required": false, "default": 2},
               {"id": "b", "label": "b", "type": "number", "required": false, "default": 3},
               {"id": "name", "label": "name", "type": "string", "required": false, "default": "world"}])
    );
    assert_eq!(
        detail["entrypoints"][0]["node_index"]["tpl"],
        json!({"type": "string_template", "label": "string_template"})
    );

    let (_, flow) = gw.get("/api/gateway/bundles/pure-math/flows/pure-math").await;
    assert_eq!(keys(&flow), ["bundle_id", "bundle_version", "bundle_ref", "flow_id", "workflow_id", "flow"]);
    assert_eq!(flow["flow"]["entryNode"], "start");

    let (_, schema) = gw.get("/api/gateway/bundles/pure-math/flows/pure-math/input_schema").await;
    assert_eq!(schema["version"], 1);
    assert_eq!(schema["defaults"], json!({"a": 2, "b": 3, "name": "world"}));
    assert_eq!(schema["inputs"][0]["schema"], json!({"type": "number", "x-abstract-type": "number", "default": 2}));
    assert_eq!(schema["input_data_schema"]["additionalProperties"], true);

    let (status, missing) = gw.get("/api/gateway/bundles/nope").await;
    assert_eq!((status, missing), (StatusCode::NOT_FOUND, json!({"detail": "Bundle 'nope' not found"})));
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_and_command_errors_match_the_reference() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway(&temp).await;
    let cases = [
        (json!({"bundle_id": "nope", "input_data": {}}), StatusCode::NOT_FOUND, json!("Bundle 'nope' not found")),
        (
            json!({"input_data": {}}),
            StatusCode::BAD_REQUEST,
            json!("flow_id is required (or provide bundle_id to start a bundle entrypoint)"),
        ),
        (
            json!({"bundle_id": "pure-math", "flow_id": "zzz"}),
            StatusCode::NOT_FOUND,
            json!("Workflow 'pure-math@0.1.0:zzz' not found"),
        ),
        (
            json!({"input_data": "not-an-object"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            json!([{"type": "dict_type", "loc": ["body", "input_data"], "msg": "Input should be a valid dictionary", "input": "not-an-object"}]),
        ),
    ];
    for (body, status, detail) in cases {
        let (got_status, answer) = gw.post("/api/gateway/runs/start", body.clone()).await;
        assert_eq!((got_status, &answer["detail"]), (status, &detail), "{body}");
    }
    // A namespaced flow id selects bundle, version and flow at once.
    let run_id = gw.start_run(json!({"flow_id": "pure-math@0.1.0:pure-math"})).await;
    gw.wait_terminal(&run_id).await;

    let (status, answer) = gw.get("/api/gateway/runs/does-not-exist").await;
    assert_eq!((status, answer), (StatusCode::NOT_FOUND, json!({"detail": "Run 'does-not-exist' not found"})));

    let command = json!({"command_id": "c-1", "run_id": run_id, "type": "pause", "payload": {}});
    let (_, first) = gw.post("/api/gateway/commands", command.clone()).await;
    assert_eq!(first["accepted"], true);
    assert_eq!(first["duplicate"], false);
    let (_, again) = gw.post("/api/gateway/commands", command).await;
    assert_eq!(again, json!({"accepted": false, "duplicate": true, "seq": first["seq"]}));

    let (status, bad) =
        gw.post("/api/gateway/commands", json!({"command_id": "c-2", "run_id": run_id, "type": "explode"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(bad["detail"].as_str().is_some_and(|d| d.starts_with("type must be one of pause|resume|cancel|")));
    let (status, missing) = gw.post("/api/gateway/commands", json!({"run_id": "nope", "type": "cancel"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(missing["detail"][0]["loc"], json!(["body", "command_id"]));
    // Better than the reference: a command for a run that does not exist is refused.
    let (status, _) =
        gw.post("/api/gateway/commands", json!({"command_id": "c-3", "run_id": "nope", "type": "cancel"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_stream_keeps_alive_and_ends_cleanly_on_shutdown() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 5).await;
    let run_id = gw.start_run(json!({"bundle_id": "loop-n", "input_data": {"n": 9000}})).await;
    gw.command(&run_id, "pause", json!({})).await;
    gw.wait_for(&run_id, |v| v["paused"] == true).await;

    let url = gw.url(&format!("/api/gateway/runs/{run_id}/ledger/stream?heartbeat_s=0.2"));
    let response = gw.client.get(url).bearer_auth(TOKEN).send().await.expect("stream");
    let mut stream = response.bytes_stream();
    let mut body = String::new();
    while !body.contains(": keep-alive\n\n") {
        let chunk =
            tokio::time::timeout(std::time::Duration::from_secs(5), stream.next()).await.expect("keep-alive in time");
        body.push_str(&String::from_utf8_lossy(&chunk.expect("open").expect("chunk")));
    }
    // Shutting down ends the stream instead of hanging the server or the client.
    let stopped = tokio::spawn(gw.stop());
    let rest = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Some(chunk) = stream.next().await {
            if chunk.is_err() {
                break;
            }
        }
    });
    rest.await.expect("the stream ends on shutdown");
    tokio::time::timeout(std::time::Duration::from_secs(5), stopped).await.expect("server stops").expect("join");
    assert!(!body.contains("event: done"), "a paused run is not done: {body}");
}

/// Inputs of the wrong type are refused naming the field, never taken as something else, and
/// every refusal carries a JSON `detail` (the hostile-input probe's cases).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_inputs_are_refused_naming_the_field_with_a_json_detail() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway(&temp).await;
    let refused = |answer: &Value, kind: &str, loc: Value| {
        assert_eq!((answer["detail"][0]["type"].as_str(), &answer["detail"][0]["loc"]), (Some(kind), &loc), "{answer}");
    };

    // A number where a flow id goes used to start the default flow.
    for field in ["flow_id", "bundle_version", "bundle_id"] {
        let mut body = json!({"bundle_id": "pure-math"});
        body[field] = json!(5);
        let (status, answer) = gw.post("/api/gateway/runs/start", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {answer}");
        refused(&answer, "string_type", json!(["body", field]));
        assert_eq!(answer["detail"][0]["input"], 5);
    }

    // An empty command id would make every later empty one a silently dropped duplicate.
    let run_id = gw.start_run(json!({"bundle_id": "dur-wait-event", "input_data": {"event_key": "k"}})).await;
    let (status, answer) =
        gw.post("/api/gateway/commands", json!({"command_id": "", "run_id": run_id, "type": "cancel"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    refused(&answer, "string_too_short", json!(["body", "command_id"]));
    let (status, answer) =
        gw.post("/api/gateway/commands", json!({"command_id": 7, "run_id": run_id, "type": "cancel"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    refused(&answer, "string_type", json!(["body", "command_id"]));

    // A numeric scope used to go to the session.
    let (status, answer) = gw
        .post(
            "/api/gateway/commands",
            json!({"command_id": "e-num", "run_id": run_id, "type": "emit_event", "payload": {"name": "go", "scope": 5}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    refused(&answer, "string_type", json!(["body", "payload", "scope"]));
    gw.command(&run_id, "cancel", json!({})).await;
    assert_eq!(gw.wait_terminal(&run_id).await["status"], "cancelled", "a real cancel still lands");

    // The token in the query works on the run list as on every read route.
    let response =
        gw.client.get(gw.url(&format!("/api/gateway/runs?access_token={TOKEN}&limit=1"))).send().await.expect("list");
    assert_eq!(response.status(), StatusCode::OK);

    // A bad query value: the reference's 422, not plain text.
    let (status, answer) = gw.get("/api/gateway/runs?limit=abc").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    refused(&answer, "int_parsing", json!(["query", "limit"]));
    let (status, answer) = gw.get(&format!("/api/gateway/runs/{run_id}/ledger?after=x")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    refused(&answer, "int_parsing", json!(["query", "after"]));

    // No route, or the wrong method: still a JSON detail (and the Allow header).
    let (status, answer) = gw.get("/api/gateway/no-such-route").await;
    assert_eq!((status, answer), (StatusCode::NOT_FOUND, json!({"detail": "Not Found"})));
    let response = gw.client.delete(gw.url("/api/gateway/runs")).bearer_auth(TOKEN).send().await.expect("delete");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(response.headers().contains_key("allow"), "{:?}", response.headers());
    assert_eq!(response.json::<Value>().await.expect("json"), json!({"detail": "Method Not Allowed"}));
    gw.stop().await;
}
