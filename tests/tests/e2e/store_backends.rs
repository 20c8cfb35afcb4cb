//! The SQLite backend against the file backend, through HTTP: a file data dir migrated to
//! SQLite serves the same runs and ledgers (and its waiting runs still wake), and the same
//! requests get the same answers from a gateway on either backend.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use abstractgateway::config::StoreBackend;
use agw_store::migrate::{MigrateError, file_to_sqlite};
use common::{Options, TestGateway, standard_flows};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn options(flows: &Path, backend: StoreBackend) -> Options {
    let mut options = Options::new(flows.to_owned());
    options.backend = backend;
    options.fsync = false;
    options
}

/// Every file under `dir` with its bytes, by relative path.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, into: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, into);
            } else {
                let rel = path.strip_prefix(root).expect("inside").to_owned();
                into.insert(rel, std::fs::read(&path).expect("read file"));
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files);
    files
}

/// The files that hold the file backend's runs, ledgers and inbox.
fn store_files(files: &BTreeMap<PathBuf, Vec<u8>>) -> BTreeMap<PathBuf, Vec<u8>> {
    let is_store = |name: &str| {
        (name.starts_with("run_") && name.ends_with(".json"))
            || (name.starts_with("ledger_") && name.ends_with(".jsonl"))
            || name == "commands.jsonl"
            || name == "commands_cursor.json"
    };
    files.iter().filter(|(path, _)| path.to_str().is_some_and(is_store)).map(|(p, b)| (p.clone(), b.clone())).collect()
}

async fn post_command(gw: &TestGateway, command_id: &str, run_id: &str, kind: &str, payload: Value) -> Value {
    let body = json!({"command_id": command_id, "run_id": run_id, "type": kind, "payload": payload});
    let (status, answer) = gw.post("/api/gateway/commands", body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

/// What a client sees of the runs: the list, each run and its ledger.
async fn views(gw: &TestGateway, run_ids: &[&str]) -> Vec<Value> {
    let mut answers = vec![gw.get("/api/gateway/runs").await.1];
    for run_id in run_ids {
        for path in ["", "/ledger", "/ledger?after=1&limit=2", "/input_data"] {
            let (status, answer) = gw.get(&format!("/api/gateway/runs/{run_id}{path}")).await;
            assert_eq!(status, StatusCode::OK, "{path}: {answer}");
            answers.push(answer);
        }
    }
    answers
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_migrated_data_dir_serves_the_same_runs_and_its_waiting_runs_still_wake() {
    let temp = tempfile::tempdir().expect("tempdir");
    let (flows, data) = (temp.path().join("flows"), temp.path().join("data"));
    standard_flows(&flows);

    // A file data dir with a completed, a waiting and a paused run, and a command applied.
    let gw = TestGateway::start(&data, options(&flows, StoreBackend::File)).await;
    let completed = gw.start_run(json!({"bundle_id": "pure-math", "flow_id": "pure-math", "input_data": {}})).await;
    gw.wait_terminal(&completed).await;
    let wait_for_event = |session: &str| {
        json!({
            "bundle_id": "dur-wait-event", "flow_id": "wait-event", "session_id": session,
            "input_data": {"event_key": format!("evt:session:{session}:go")},
        })
    };
    let waiting = gw.start_run(wait_for_event("sess-mig")).await;
    let paused = gw.start_run(wait_for_event("sess-mig2")).await;
    for run_id in [&waiting, &paused] {
        gw.wait_for(run_id, |v| v["status"] == "waiting").await;
    }
    post_command(&gw, "pause-1", &paused, "pause", json!({"reason": "before the move"})).await;
    gw.wait_for(&paused, |v| v["paused"] == true).await;
    let run_ids = [completed.as_str(), waiting.as_str(), paused.as_str()];
    let before = views(&gw, &run_ids).await;
    gw.stop().await;

    let files_before = snapshot(&data);
    let db = data.join("gateway.sqlite3");
    let mut reports = Vec::new();
    let report = file_to_sqlite(&data, &db, false, &mut |p| reports.push(*p)).expect("migrate");
    assert_eq!((report.runs, report.commands, report.cursor), (3, 1, 1));
    let lines = store_files(&files_before)
        .iter()
        .filter(|(path, _)| path.extension().is_some_and(|e| e == "jsonl") && !path.ends_with("commands.jsonl"))
        .map(|(_, bytes)| bytes.iter().filter(|b| **b == b'\n').count() as u64)
        .sum::<u64>();
    assert_eq!(report.ledger_records, lines);
    assert!(lines >= 6, "three ledgers: {lines} records");
    assert_eq!(reports.last().map(|p| p.runs_done), Some(3));
    let mut files_after = snapshot(&data);
    assert!(files_after.remove(Path::new("gateway.sqlite3")).is_some(), "the database is the one new file");
    assert_eq!(files_after, files_before, "migrating changes no file");

    // Once there, it is refused again unless overwriting; and never outside the data dir.
    let again = file_to_sqlite(&data, &db, false, &mut |_| {});
    assert!(matches!(again, Err(MigrateError::Exists(_))), "{again:?}");
    let outside = file_to_sqlite(&data, &temp.path().join("elsewhere.sqlite3"), true, &mut |_| {});
    let outside = outside.expect_err("outside the data dir").to_string();
    assert!(outside.contains("outside the data dir") && outside.contains(&data.display().to_string()), "{outside}");
    assert!(!temp.path().join("elsewhere.sqlite3").exists());

    let gw = TestGateway::start(&data, options(&flows, StoreBackend::Sqlite)).await;
    assert_eq!(views(&gw, &run_ids).await, before, "the same answers from the database");

    // The inbox goes on where the files left it, and waiting runs still wake.
    let emitted = post_command(
        &gw,
        "go-1",
        &waiting,
        "emit_event",
        json!({"name": "go", "scope": "session", "session_id": "sess-mig", "payload": {"hello": "world"}}),
    )
    .await;
    assert_eq!(emitted, json!({"accepted": true, "duplicate": false, "seq": 2}));
    let duplicate = post_command(&gw, "pause-1", &paused, "pause", json!({})).await;
    assert_eq!(duplicate, json!({"accepted": false, "duplicate": true, "seq": 1}));
    let done = gw.wait_terminal(&waiting).await;
    assert_eq!(done["status"], "completed", "{done}");
    post_command(&gw, "resume-1", &paused, "resume", json!({})).await;
    gw.wait_for(&paused, |v| v["paused"] == false).await;
    post_command(&gw, "go-2", &paused, "emit_event", json!({"name": "go", "session_id": "sess-mig2", "payload": {}}))
        .await;
    assert_eq!(gw.wait_terminal(&paused).await["status"], "completed");
    let (_, list) = gw.get("/api/gateway/runs?status=completed").await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(3), "{list}");
    gw.stop().await;
    assert_eq!(store_files(&snapshot(&data)), store_files(&files_before), "the SQLite gateway never writes the files");
}

/// The same requests in the same order; returns every answer, status included.
async fn scenario(gw: &TestGateway) -> Vec<Value> {
    let mut answers = Vec::new();
    let mut record = |label: &str, status: StatusCode, answer: Value| {
        answers.push(json!({"request": label, "status": status.as_u16(), "answer": answer}));
    };
    let start = |body: Value| async move { gw.post("/api/gateway/runs/start", body).await };

    let (status, answer) = start(json!({"bundle_id": "pure-math", "flow_id": "pure-math", "input_data": {}})).await;
    let pure = answer["run_id"].as_str().unwrap_or_default().to_owned();
    record("start pure-math", status, answer);
    gw.wait_terminal(&pure).await;

    let body = json!({
        "bundle_id": "dur-wait-event", "flow_id": "wait-event", "session_id": "sess-parity",
        "input_data": {"event_key": "evt:session:sess-parity:go", "prompt": "say go"},
    });
    let (status, answer) = start(body).await;
    let waiting = answer["run_id"].as_str().unwrap_or_default().to_owned();
    record("start wait-event", status, answer);
    gw.wait_for(&waiting, |v| v["status"] == "waiting").await;

    let (status, answer) = start(json!({"bundle_id": "no-such-bundle", "input_data": {}})).await;
    record("start an unknown bundle", status, answer);

    let command = |id: &'static str, run_id: String, kind: &'static str, payload: Value| async move {
        let body = json!({"command_id": id, "run_id": run_id, "type": kind, "payload": payload});
        gw.post("/api/gateway/commands", body).await
    };
    let (status, answer) = command("p-1", waiting.clone(), "pause", json!({"reason": "parity"})).await;
    record("pause", status, answer);
    let (status, answer) = command("p-1", waiting.clone(), "pause", json!({"reason": "parity"})).await;
    record("pause again", status, answer);
    gw.wait_for(&waiting, |v| v["paused"] == true).await;
    let (status, answer) = command("x-1", "no-such-run".into(), "pause", json!({})).await;
    record("pause an unknown run", status, answer);
    let (status, answer) = command("x-2", waiting.clone(), "emit_event", json!({"payload": {}})).await;
    record("emit without a name", status, answer);
    for path in [format!("/runs/{waiting}"), format!("/runs/{waiting}/ledger")] {
        let (status, answer) = gw.get(&format!("/api/gateway{path}")).await;
        record(&format!("GET {path} (paused)"), status, answer);
    }

    let (status, answer) = command("r-1", waiting.clone(), "resume", json!({})).await;
    record("resume", status, answer);
    gw.wait_for(&waiting, |v| v["paused"] == false).await;
    let payload = json!({"name": "go", "scope": "session", "session_id": "sess-parity", "payload": {"n": 1.0}});
    let (status, answer) = command("e-1", waiting.clone(), "emit_event", payload).await;
    record("emit", status, answer);
    gw.wait_terminal(&waiting).await;

    for path in [
        "/runs".to_owned(),
        "/runs?status=completed&limit=1".to_owned(),
        "/runs?status=waiting".to_owned(),
        format!("/runs/{pure}"),
        format!("/runs/{pure}/ledger"),
        format!("/runs/{waiting}"),
        format!("/runs/{waiting}/ledger"),
        format!("/runs/{waiting}/ledger?after=2&limit=1"),
        format!("/runs/{waiting}/input_data"),
        "/runs/no-such-run".to_owned(),
        "/runs/no-such-run/ledger".to_owned(),
    ] {
        let (status, answer) = gw.get(&format!("/api/gateway{path}")).await;
        record(&format!("GET {path}"), status, answer);
    }
    answers
}

/// Replaces what must differ between two gateways (generated ids, timestamps, the data
/// dir) with placeholders, ids numbered in order of appearance, so equal histories compare
/// equal.
fn normalize(value: &Value, data_dir: &str, ids: &mut Vec<String>) -> Value {
    match value {
        Value::String(text) => Value::String(normalize_text(&text.replace(data_dir, "<data>"), ids)),
        Value::Array(items) => Value::Array(items.iter().map(|v| normalize(v, data_dir, ids)).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), normalize(v, data_dir, ids))).collect())
        }
        other => other.clone(),
    }
}

fn normalize_text(text: &str, ids: &mut Vec<String>) -> String {
    let mut number = |id: &str| {
        ids.iter().position(|known| known == id).unwrap_or_else(|| {
            ids.push(id.to_owned());
            ids.len() - 1
        })
    };
    // A hash of ids (an idempotency key) differs with them.
    if text.len() == 32 && text.chars().all(|c| c.is_ascii_hexdigit()) {
        return format!("<hash{}>", number(text));
    }
    let mut out = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(uuid) = rest.get(..36).filter(|s| is_uuid(s)) {
            out.push_str(&format!("<id{}>", number(uuid)));
            rest = &rest[36..];
        } else if let Some(len) = timestamp_len(rest) {
            out.push_str("<ts>");
            rest = &rest[len..];
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.char_indices().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() })
}

/// The length of an ISO timestamp (`2026-01-01T00:00:00.123456+00:00`) at the start of `s`.
fn timestamp_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| b.get(range).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    if !(digits(0..4) && b.get(4) == Some(&b'-') && digits(5..7) && b.get(7) == Some(&b'-') && digits(8..10)) {
        return None;
    }
    if b.get(10) != Some(&b'T') {
        return None;
    }
    let end = b[11..].iter().position(|c| !(c.is_ascii_digit() || b":.+-Z".contains(c))).map_or(b.len(), |p| p + 11);
    Some(end)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_requests_get_the_same_answers_from_either_backend() {
    let mut normalized = Vec::new();
    for backend in [StoreBackend::File, StoreBackend::Sqlite] {
        let temp = tempfile::tempdir().expect("tempdir");
        let flows = temp.path().join("flows");
        standard_flows(&flows);
        let data = temp.path().join("data");
        let gw = TestGateway::start(&data, options(&flows, backend)).await;
        let answers = scenario(&gw).await;
        gw.stop().await;
        normalized.push(normalize(&Value::Array(answers), &data.display().to_string(), &mut Vec::new()));
    }
    let (file, sqlite) = (&normalized[0], &normalized[1]);
    let file_items = file.as_array().expect("answers");
    let sqlite_items = sqlite.as_array().expect("answers");
    assert_eq!(file_items.len(), sqlite_items.len());
    for (f, s) in file_items.iter().zip(sqlite_items) {
        assert_eq!(f, s, "answers differ for {}", f["request"]);
    }
    assert!(file_items.iter().any(|a| a["status"] == 404) && file_items.iter().any(|a| a["status"] == 422));
}
