//! An `llm_call` survives SIGKILL exactly once, proven on the real binary against the fake
//! OpenAI-compatible provider (reached through the first-party `openai-compatible` plugin as
//! `lmstudio`):
//!
//! - killed while the provider is answering, the call is re-issued once after the restart,
//!   under the step id its `started` record was journaled with, and journaled `completed`
//!   once;
//! - killed after the answer is journaled (the run waits on an event after the call), the
//!   provider is never called again.
//!
//! And a provider key set in the gateway's environment reaches the provider, and nothing else:
//! not the log, not the ledger, not an answer, not an error.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use agw_fake_provider::{FakeProvider, Recorded};
use agw_store::RunStore;
use common::{Http, Proc, Setup};
use serde_json::{Value, json};

const BACKENDS: &[&str] = &["file", "sqlite"];
/// How long any one wait of these tests may take before it fails.
const PATIENCE: Duration = Duration::from_secs(30);
/// The model: the fake answers after 3 s, long enough to kill the gateway mid-call.
const MODEL: &str = "fake-slow-3000";
const BUNDLE: &str = "llm-crash";

fn node(id: &str, kind: &str, inputs: &[&str], outputs: &[&str], extra: Value) -> Value {
    let pin = |id: &&str| {
        if id.starts_with("exec-") {
            json!({"id": id, "label": "", "type": "execution"})
        } else {
            json!({"id": id, "label": id, "type": "any"})
        }
    };
    let pins = |ids: &[&str]| ids.iter().map(pin).collect::<Vec<Value>>();
    let mut data = json!({"nodeType": kind, "label": kind, "inputs": pins(inputs), "outputs": pins(outputs)});
    if let (Some(data), Value::Object(extra)) = (data.as_object_mut(), extra) {
        data.extend(extra);
    }
    json!({"id": id, "type": kind, "position": {"x": 0, "y": 0}, "data": data})
}

fn edge(n: usize, (source, source_pin): (&str, &str), (target, target_pin): (&str, &str)) -> Value {
    json!({"id": format!("e{n}"), "source": source, "sourceHandle": source_pin, "target": target, "targetHandle": target_pin})
}

/// The `llm_call` node both flows share: the lmstudio provider, the slow model, prompt "hi".
fn llm_node() -> Value {
    llm_node_for("lmstudio", MODEL)
}

fn llm_node_for(provider: &str, model: &str) -> Value {
    node(
        "llm",
        "llm_call",
        &["exec-in", "prompt", "model"],
        &["exec-out", "response", "success", "meta", "tool_calls"],
        json!({"pinDefaults": {"prompt": "hi"}, "effectConfig": {"provider": provider, "model": model}}),
    )
}

/// `call`: start -> llm_call -> end (response). `call-then-wait`: start -> llm_call ->
/// wait_event (the key from the run's input) -> end (response, event).
fn write_bundle(flows_dir: &Path) {
    let call = json!({
        "id": "call", "name": "call",
        "nodes": [
            node("start", "on_flow_start", &[], &["exec-out"], json!({})),
            llm_node(),
            node("end", "on_flow_end", &["exec-in", "response"], &[], json!({})),
        ],
        "edges": [
            edge(0, ("start", "exec-out"), ("llm", "exec-in")),
            edge(1, ("llm", "exec-out"), ("end", "exec-in")),
            edge(2, ("llm", "response"), ("end", "response")),
        ],
        "entryNode": "start",
    });
    let call_then_wait = json!({
        "id": "call-then-wait", "name": "call-then-wait",
        "nodes": [
            node("start", "on_flow_start", &[], &["exec-out", "event_key"], json!({})),
            llm_node(),
            node("wait", "wait_event", &["exec-in", "event_key"], &["exec-out", "event_data"], json!({})),
            node("end", "on_flow_end", &["exec-in", "response", "event"], &[], json!({})),
        ],
        "edges": [
            edge(0, ("start", "exec-out"), ("llm", "exec-in")),
            edge(1, ("llm", "exec-out"), ("wait", "exec-in")),
            edge(2, ("start", "event_key"), ("wait", "event_key")),
            edge(3, ("wait", "exec-out"), ("end", "exec-in")),
            edge(4, ("llm", "response"), ("end", "response")),
            edge(5, ("wait", "event_data"), ("end", "event")),
        ],
        "entryNode": "start",
    });
    // `openai`: the model comes from the run's input (`fake-chat`, or `fake-401`).
    let openai = json!({
        "id": "openai", "name": "openai",
        "nodes": [
            node("start", "on_flow_start", &[], &["exec-out", "model"], json!({})),
            llm_node_for("openai", "fake-chat"),
            node("end", "on_flow_end", &["exec-in", "response"], &[], json!({})),
        ],
        "edges": [
            edge(0, ("start", "exec-out"), ("llm", "exec-in")),
            edge(1, ("llm", "exec-out"), ("end", "exec-in")),
            edge(2, ("llm", "response"), ("end", "response")),
            edge(3, ("start", "model"), ("llm", "model")),
        ],
        "entryNode": "start",
    });
    let manifest = json!({
        "bundle_format_version": "1",
        "bundle_id": BUNDLE,
        "bundle_version": "0.1.0",
        "entrypoints": [
            {"flow_id": "call", "name": "call"},
            {"flow_id": "call-then-wait", "name": "call-then-wait"},
            {"flow_id": "openai", "name": "openai"},
        ],
        "default_entrypoint": "call",
        "flows": {"call": "flows/call.json", "call-then-wait": "flows/call-then-wait.json", "openai": "flows/openai.json"},
    });
    let files = BTreeMap::from([
        ("manifest.json".to_owned(), manifest.to_string().into_bytes()),
        ("flows/call.json".to_owned(), call.to_string().into_bytes()),
        ("flows/call-then-wait.json".to_owned(), call_then_wait.to_string().into_bytes()),
        ("flows/openai.json".to_owned(), openai.to_string().into_bytes()),
    ]);
    let packed = agw_domain::bundle::pack_zip(&files).expect("pack the bundle");
    std::fs::create_dir_all(flows_dir).expect("flows dir");
    std::fs::write(flows_dir.join(format!("{BUNDLE}@0.1.0.flow")), packed).expect("write the bundle");
}

/// A data dir and a flows dir holding only this test's bundle; the gateway's lmstudio
/// provider is the fake.
fn setup(root: &Path, backend: &'static str, fake: &FakeProvider) -> Setup {
    let flows = root.join("flows");
    write_bundle(&flows);
    Setup { data: root.join("data"), flows, backend, env: vec![("LMSTUDIO_BASE_URL".to_owned(), fake.base_url())] }
}

/// The chat requests the fake has received.
fn chats(fake: &FakeProvider) -> Vec<Recorded> {
    fake.requests().into_iter().filter(|r| r.method == "POST" && r.path == "/v1/chat/completions").collect()
}

/// The `llm_call` records of a ledger, as (status, step_id).
fn llm_records(ledger: &[Value]) -> Vec<(String, String)> {
    ledger
        .iter()
        .filter(|r| r["effect"]["type"] == "llm_call")
        .map(|r| (r["status"].as_str().unwrap_or("?").to_owned(), r["step_id"].as_str().unwrap_or("?").to_owned()))
        .collect()
}

/// The ledger as the stopped gateway left it on disk (read with no gateway running).
fn ledger_on_disk(setup: &Setup, run_id: &str) -> Vec<Value> {
    let store: Box<dyn RunStore> = match setup.backend {
        "sqlite" => Box::new(agw_store::SqliteStore::open(setup.data.join("gateway.sqlite3")).expect("open sqlite")),
        _ => Box::new(agw_store::FileStore::open(&setup.data).expect("open the file store")),
    };
    let records = store.read_ledger(run_id, 0, 10_000).expect("read the ledger");
    records.iter().map(|r| serde_json::to_value(r).expect("record as JSON")).collect()
}

async fn ledger(http: &Http, proc: &Proc, run_id: &str) -> Vec<Value> {
    let (status, page) = http.get(&proc.url(&format!("/runs/{run_id}/ledger?limit=5000"))).await.expect("ledger");
    assert_eq!(status, 200, "{page}");
    page["items"].as_array().cloned().unwrap_or_default()
}

/// Polls `check` every 20 ms until it holds, for up to [`PATIENCE`].
async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "after {PATIENCE:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn start(http: &Http, proc: &Proc, body: Value) -> String {
    let (status, started) = http.post(&proc.url("/runs/start"), &body).await.expect("start");
    assert_eq!(status, 200, "{started}");
    started["run_id"].as_str().expect("run_id").to_owned()
}

/// Whether a run's view shows it finished.
fn ended(view: &Value) -> bool {
    matches!(view["status"].as_str(), Some("completed" | "failed" | "cancelled"))
}

/// What the fake answers `request`: `Fake answer to: <its last user message>`.
fn fake_answer(request: &Value) -> String {
    let messages = request["messages"].as_array().expect("messages");
    let user = messages.iter().rev().find(|m| m["role"] == "user").expect("a user message");
    format!("Fake answer to: {}", user["content"].as_str().expect("text content"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_llm_call_killed_mid_flight_is_reissued_once_under_its_step_id() {
    for backend in BACKENDS {
        let fake = FakeProvider::start().await.expect("fake provider");
        let temp = tempfile::tempdir().expect("tempdir");
        let setup = setup(temp.path(), backend, &fake);
        let http = Http::default();

        let gateway = setup.serve(&[]);
        let run_id = start(&http, &gateway, json!({"bundle_id": BUNDLE, "flow_id": "call"})).await;
        until(&format!("{backend}: the fake never received the chat request; log:\n{}", setup.log_text()), || {
            !chats(&fake).is_empty()
        })
        .await;
        // The provider is now answering (it takes 3 s): kill the gateway in the middle.
        gateway.kill();

        // What the kill left: the call journaled `started` (before the provider was called),
        // no answer.
        let left = llm_records(&ledger_on_disk(&setup, &run_id));
        assert_eq!(left.len(), 1, "{backend}: one `started` llm_call record at the kill: {left:?}");
        assert_eq!(left[0].0, "started", "{backend}: {left:?}");
        let step_id = left[0].1.clone();

        // Restarted on the same data dir, the gateway re-issues the call once and completes.
        let gateway = setup.serve(&[]);
        let done = http.wait_for(&gateway, &run_id, PATIENCE, ended).await;
        assert_eq!(done["status"], "completed", "{backend}: {done}\n{}", setup.log_text());

        let requests = chats(&fake);
        assert_eq!(requests.len(), 2, "{backend}: one call before the kill, one after: {requests:#?}");
        assert_eq!(requests[0].body, requests[1].body, "{backend}: the same request is re-issued");
        assert_eq!(done["output"]["response"], fake_answer(&requests[1].body), "{backend}: {done}");

        let records = llm_records(&ledger(&http, &gateway, &run_id).await);
        assert_eq!(
            records,
            [("started".to_owned(), step_id.clone()), ("completed".to_owned(), step_id)],
            "{backend}: one `started` and one `completed`, under one step id"
        );

        gateway.stop();
        fake.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_llm_answer_journaled_before_a_kill_is_never_asked_again() {
    for backend in BACKENDS {
        let fake = FakeProvider::start().await.expect("fake provider");
        let temp = tempfile::tempdir().expect("tempdir");
        let setup = setup(temp.path(), backend, &fake);
        let http = Http::default();
        let session = format!("llm-crash-{backend}");

        let gateway = setup.serve(&[]);
        let body = json!({
            "bundle_id": BUNDLE, "flow_id": "call-then-wait", "session_id": session,
            "input_data": {"event_key": format!("evt:session:{session}:go")},
        });
        let run_id = start(&http, &gateway, body).await;
        let waiting = http.wait_for(&gateway, &run_id, PATIENCE, |v| v["status"] == "waiting" || ended(v)).await;
        assert_eq!(waiting["status"], "waiting", "{backend}: {waiting}\n{}", setup.log_text());
        assert_eq!(chats(&fake).len(), 1, "{backend}: the call before the wait");

        // Killed while it waits, restarted, woken: the answer comes from the run's saved
        // state, not from the provider.
        gateway.kill();
        let gateway = setup.serve(&[]);
        let (status, sent) = http
            .command(&gateway, "go-1", &session, "emit_event", json!({"name": "go", "payload": {"n": 1}}))
            .await
            .expect("emit");
        assert_eq!(status, 200, "{backend}: {sent}");
        let done = http.wait_for(&gateway, &run_id, PATIENCE, ended).await;
        assert_eq!(done["status"], "completed", "{backend}: {done}\n{}", setup.log_text());

        let requests = chats(&fake);
        assert_eq!(requests.len(), 1, "{backend}: exactly one chat request: {requests:#?}");
        assert_eq!(done["output"]["response"], fake_answer(&requests[0].body), "{backend}: {done}");
        assert_eq!(done["output"]["event"]["payload"], json!({"n": 1}), "{backend}: {done}");
        let records = llm_records(&ledger(&http, &gateway, &run_id).await);
        assert_eq!(records.len(), 2, "{backend}: {records:?}");
        assert_eq!(records[0].0, "started", "{backend}: {records:?}");
        assert_eq!(records[1].0, "completed", "{backend}: {records:?}");
        assert_eq!(records[0].1, records[1].1, "{backend}: {records:?}");
        gateway.stop();
        fake.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_provider_key_reaches_the_provider_and_nowhere_else() {
    const KEY: &str = "sk-test-4f9a1c77e2b04d5e";
    let fake = FakeProvider::start().await.expect("fake provider");
    let temp = tempfile::tempdir().expect("tempdir");
    let mut setup = setup(temp.path(), "file", &fake);
    setup.env.push(("OPENAI_BASE_URL".to_owned(), fake.base_url()));
    setup.env.push(("OPENAI_API_KEY".to_owned(), KEY.to_owned()));
    let http = Http::default();
    let gateway = setup.serve(&[]);

    let mut seen = Vec::new();
    for model in ["fake-chat", "fake-401"] {
        let body = json!({"bundle_id": BUNDLE, "flow_id": "openai", "input_data": {"model": model}});
        let run_id = start(&http, &gateway, body).await;
        let view = http.wait_for(&gateway, &run_id, PATIENCE, ended).await;
        seen.push(view.to_string());
        seen.push(serde_json::to_string(&ledger(&http, &gateway, &run_id).await).unwrap_or_default());
        if model == "fake-401" {
            let error = view["error"].as_str().unwrap_or_default();
            assert_eq!(view["status"], "failed", "{view}");
            assert!(error.contains("provider 'openai'") && error.contains(&fake.base_url()), "{error}");
            assert!(error.contains("401"), "{error}");
        } else {
            assert_eq!(view["status"], "completed", "{view}\n{}", setup.log_text());
        }
    }
    for path in ["/discovery/capabilities", "/plugins"] {
        seen.push(http.text(&gateway.url(path)).await.unwrap_or_default());
    }
    // The key went to the provider, as a bearer token...
    let sent: Vec<Option<String>> = chats(&fake).into_iter().map(|r| r.authorization).collect();
    assert_eq!(sent, vec![Some(format!("Bearer {KEY}")); 2]);
    // ...and appears nowhere the gateway writes or answers.
    gateway.stop();
    seen.push(setup.log_text());
    for text in &seen {
        assert!(!text.contains(KEY), "the key leaked into: {text}");
    }
    fake.stop();
}
