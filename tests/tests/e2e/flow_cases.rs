//! The data-driven flow suite: every folder under `tests/flow-cases/` is a bundle, inputs,
//! optional steps (wait for a state, send a command) and the reference's recorded result
//! (status, output, ledger summary, child runs). One harness runs them all through the real
//! gateway and the real std-nodes plugin; the format is in `tests/flow-cases/README.md`.
//!
//! The restart variant stops the gateway at every step that waits for a state and starts a
//! new one on the same data dir before going on, so every wait must survive a restart.

use crate::common;

use std::time::{Duration, Instant};

use abstractgateway::config::StoreBackend;
use common::{TestGateway, ledger_summary, repo};
use serde_json::{Value, json};

fn cases() -> Vec<(String, Value)> {
    let dir = repo().join("tests/flow-cases");
    let mut cases: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .expect("tests/flow-cases exists")
        .flatten()
        .filter(|e| e.path().join("case.json").is_file())
        .map(|e| {
            let text = std::fs::read_to_string(e.path().join("case.json")).expect("read case");
            (e.file_name().to_string_lossy().into_owned(), serde_json::from_str(&text).expect("case is JSON"))
        })
        .collect();
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    // Cases on the upstream bundles need them (they are not committed); `AGW_CASES` narrows
    // the suite to the cases whose names start with it, while working on some.
    let upstream = std::env::var_os("AGW_UPSTREAM_BUNDLES").is_some();
    let only = std::env::var("AGW_CASES").unwrap_or_default();
    cases.retain(|(name, case)| {
        (upstream || case["bundle_source"] != "AGW_UPSTREAM_BUNDLES") && name.starts_with(only.as_str())
    });
    cases
}

fn has_steps(case: &Value) -> bool {
    case["steps"].as_array().is_some_and(|s| s.iter().any(|step| step.get("await").is_some()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flow_case_matches_the_reference() {
    let cases = cases();
    assert!(!cases.is_empty(), "expected the recorded cases");
    run_all(&cases, false, StoreBackend::File).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_waiting_case_survives_a_restart_at_each_wait() {
    let cases: Vec<_> = cases().into_iter().filter(|(_, case)| has_steps(case)).collect();
    assert!(!cases.is_empty(), "expected durable cases with waits");
    run_all(&cases, true, StoreBackend::File).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flow_case_matches_the_reference_on_sqlite() {
    let cases = cases();
    assert!(!cases.is_empty(), "expected the recorded cases");
    run_all(&cases, false, StoreBackend::Sqlite).await;
}

async fn run_all(cases: &[(String, Value)], restart: bool, backend: StoreBackend) {
    let temp = tempfile::tempdir().expect("tempdir");
    let mut slot = Some(TestGateway::standard_on(&temp, 100, backend).await);
    let mut failures = Vec::new();
    for (name, case) in cases {
        if let Err(problem) = run_case(&mut slot, case, restart).await {
            failures.push(format!("{name}: {problem}"));
        }
    }
    if let Some(gw) = slot.take() {
        gw.stop().await;
    }
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

fn gw(slot: &Option<TestGateway>) -> &TestGateway {
    slot.as_ref().expect("a gateway is running")
}

async fn run_case(slot: &mut Option<TestGateway>, case: &Value, restart: bool) -> Result<(), String> {
    let session = case["session_id"].as_str().map(str::to_owned);
    let mut companions = Vec::new();
    for companion in case["companions"].as_array().into_iter().flatten() {
        let id = start(gw(slot), companion, companion["session_id"].as_str()).await?;
        poll_until(gw(slot), &id, &companion["await"]).await.map_err(|e| format!("companion: {e}"))?;
        companions.push(id);
    }
    let run_id = start(gw(slot), case, session.as_deref()).await?;
    let session = session.unwrap_or_else(|| run_id.clone());

    for step in case["steps"].as_array().into_iter().flatten() {
        let step = substitute(step, &run_id, &session);
        if let Some(want) = step.get("await") {
            let target = target(gw(slot), &run_id, want).await?;
            poll_until(gw(slot), &target, want).await?;
            if restart && want["status"] == "waiting" {
                let gateway = slot.take().ok_or("no gateway")?;
                *slot = Some(gateway.restart().await);
                poll_until(gw(slot), &target, want).await.map_err(|e| format!("after the restart: {e}"))?;
            }
        } else if let Some(command) = step.get("command") {
            let target = match command["run_id"].as_str() {
                Some(id) => id.to_owned(),
                None => target(gw(slot), &run_id, command).await?,
            };
            let kind = command["type"].as_str().ok_or("command without a type")?;
            gw(slot).command(&target, kind, command["payload"].clone()).await;
        } else if let Some(seconds) = step.get("sleep").and_then(Value::as_f64) {
            tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
        } else {
            return Err(format!("unknown step {step}"));
        }
    }

    // A case where this gateway deliberately differs from the reference says so (`differs`)
    // and what it does instead (`ours`, keys that replace the reference's in `expect`).
    let mut expect = case["expect"].clone();
    if let (Some(ours), Some(map)) = (case["ours"].as_object(), expect.as_object_mut()) {
        map.extend(ours.clone());
    }
    let expect = substitute(&expect, &run_id, &session);
    compare_tree(gw(slot), &run_id, &expect).await?;
    for (i, (id, want)) in companions.iter().zip(expect["companions"].as_array().into_iter().flatten()).enumerate() {
        compare_tree(gw(slot), id, want).await.map_err(|e| format!("companion {i}: {e}"))?;
    }
    Ok(())
}

/// Starts a case's (or a companion's) run through `/runs/start` or `/runs/schedule`.
async fn start(gw: &TestGateway, case: &Value, session: Option<&str>) -> Result<String, String> {
    let mut body = json!({"bundle_id": case["bundle"], "flow_id": case["flow_id"], "input_data": case["input_data"]});
    if let Some(session) = session {
        body["session_id"] = json!(session);
        // Placeholders in the inputs can only name the session: the run id is not known yet.
        body = substitute(&body, "{run_id}", session);
    }
    let path = match case.get("schedule") {
        Some(Value::Object(schedule)) => {
            for (key, value) in schedule {
                body[key] = value.clone();
            }
            "/api/gateway/runs/schedule"
        }
        _ => "/api/gateway/runs/start",
    };
    let (status, answer) = gw.post(path, body).await;
    if status != 200 {
        return Err(format!("start refused with {status}: {answer}"));
    }
    Ok(answer["run_id"].as_str().ok_or("no run_id")?.to_owned())
}

/// The run a step addresses: `"run": "child:N"`, else the case's run.
async fn target(gw: &TestGateway, run_id: &str, step: &Value) -> Result<String, String> {
    match step["run"].as_str() {
        Some(child) => child_id(gw, run_id, child).await,
        None => Ok(run_id.to_owned()),
    }
}

/// Compares a run, then its expected children, recursively.
fn compare_tree<'a>(
    gw: &'a TestGateway,
    run_id: &'a str,
    expect: &'a Value,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>> {
    Box::pin(async move {
        compare_run(gw, run_id, expect).await?;
        if let Some(children) = expect["children"].as_array() {
            let ids = children_of(gw, run_id).await;
            if ids.len() != children.len() {
                return Err(format!("expected {} child runs, found {}", children.len(), ids.len()));
            }
            for (i, (id, want)) in ids.iter().zip(children).enumerate() {
                compare_tree(gw, id, want).await.map_err(|e| format!("child {i}: {e}"))?;
            }
        }
        Ok(())
    })
}

/// Waits for the run to reach the expected status, then compares what the case lists:
/// status and output always; `error`, `waiting`, `paused` and the ledger when given.
async fn compare_run(gw: &TestGateway, run_id: &str, expect: &Value) -> Result<(), String> {
    let view = poll_until(gw, run_id, &json!({"status": expect["status"]})).await?;
    let mut got = json!({"status": view["status"], "output": view["output"]});
    let mut want = json!({"status": expect["status"], "output": expect["output"]});
    for key in ["error", "waiting", "paused"] {
        if let Some(value) = expect.get(key) {
            got[key] = view[key].clone();
            want[key] = value.clone();
        }
    }
    if let Some(ledger) = expect.get("ledger") {
        got["ledger"] = json!(ledger_summary(&gw.ledger(run_id).await));
        want["ledger"] = ledger.clone();
    }
    let base_url = gw.fake.as_ref().map(|f| f.base_url()).unwrap_or_default();
    if matches(&got, &want, &base_url) { Ok(()) } else { Err(format!("\n  want {want}\n  got  {got}")) }
}

/// Equality, except for the LLM cases' placeholders: `"{volatile}"` is any value; `{date}`,
/// `{time}` and `{base_url}` inside a string are a `YYYY-MM-DD` date, an `HH:MM:SS` time and
/// the fake provider's base URL.
fn matches(have: &Value, want: &Value, base_url: &str) -> bool {
    match (have, want) {
        (_, Value::String(w)) if w == "{volatile}" => true,
        (Value::String(h), Value::String(w)) => text_matches(h, &w.replace("{base_url}", base_url)),
        (Value::Object(h), Value::Object(w)) => {
            h.len() == w.len() && w.iter().all(|(k, v)| h.get(k).is_some_and(|hv| matches(hv, v, base_url)))
        }
        (Value::Array(h), Value::Array(w)) => {
            h.len() == w.len() && h.iter().zip(w).all(|(a, b)| matches(a, b, base_url))
        }
        _ => have == want,
    }
}

fn text_matches(have: &str, want: &str) -> bool {
    let shape = |text: &str, pattern: &str| {
        text.len() == pattern.len()
            && text.chars().zip(pattern.chars()).all(|(c, p)| if p == 'd' { c.is_ascii_digit() } else { c == p })
    };
    let Some(at) = want.find(['{']) else { return have == want };
    let (literal, rest) = want.split_at(at);
    let Some(have) = have.strip_prefix(literal) else { return false };
    for (token, pattern) in [("{date}", "dddd-dd-dd"), ("{time}", "dd:dd:dd")] {
        if let Some(rest) = rest.strip_prefix(token) {
            return have.get(..pattern.len()).is_some_and(|t| shape(t, pattern))
                && text_matches(&have[pattern.len()..], rest);
        }
    }
    have.strip_prefix('{').is_some_and(|h| text_matches(h, &rest[1..]))
}

/// Polls the run until its view contains `want`, for up to 20 s.
async fn poll_until(gw: &TestGateway, run_id: &str, want: &Value) -> Result<Value, String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut want = want.clone();
    let at_least = want.as_object_mut().and_then(|w| {
        w.remove("run");
        w.remove("ledger_at_least")
    });
    loop {
        let (_, view) = gw.get(&format!("/api/gateway/runs/{run_id}")).await;
        let long_enough = match at_least.as_ref().and_then(Value::as_u64) {
            Some(n) => gw.ledger(run_id).await.len() as u64 >= n,
            None => true,
        };
        if contains(&view, &want) && long_enough {
            return Ok(view);
        }
        if Instant::now() > deadline {
            return Err(format!("run never reached {want}; last view {view}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Child runs of `run_id`, oldest first.
async fn children_of(gw: &TestGateway, run_id: &str) -> Vec<String> {
    let (_, page) = gw.get(&format!("/api/gateway/runs?parent_run_id={run_id}&limit=200")).await;
    let mut items: Vec<Value> = page["items"].as_array().cloned().unwrap_or_default();
    items.sort_by(|a, b| a["created_at"].as_str().cmp(&b["created_at"].as_str()));
    items.iter().filter_map(|r| r["run_id"].as_str().map(str::to_owned)).collect()
}

/// `child:N`: the N-th child run, waiting up to 20 s for it to exist.
async fn child_id(gw: &TestGateway, run_id: &str, which: &str) -> Result<String, String> {
    let index: usize = which.strip_prefix("child:").and_then(|n| n.parse().ok()).ok_or("bad child reference")?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(id) = children_of(gw, run_id).await.get(index) {
            return Ok(id.clone());
        }
        if Instant::now() > deadline {
            return Err(format!("child {index} never appeared"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether `have` holds `want`: objects key by key (recursively), anything else equal.
fn contains(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(have), Value::Object(want)) => {
            want.iter().all(|(k, w)| have.get(k).is_some_and(|h| contains(h, w)))
        }
        _ => have == want,
    }
}

/// Replaces `{run_id}` and `{session_id}` in every string.
fn substitute(value: &Value, run_id: &str, session: &str) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace("{run_id}", run_id).replace("{session_id}", session)),
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute(v, run_id, session)).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), substitute(v, run_id, session))).collect())
        }
        other => other.clone(),
    }
}

#[test]
fn llm_placeholders_match_dates_times_and_anything_volatile() {
    let want = json!({"response": "at [{date} {time}] from {base_url}/x {a}", "meta": {"gen_time": "{volatile}"}});
    let have = json!({"response": "at [2026-12-05 02:03:04] from http://h:1/v1/x {a}", "meta": {"gen_time": 5.2}});
    assert!(matches(&have, &want, "http://h:1/v1"));
    let wrong = json!({"response": "at [2026-12-05 02:03] from http://h:1/v1/x {a}", "meta": {"gen_time": 1}});
    assert!(!matches(&wrong, &want, "http://h:1/v1"));
    assert!(!matches(&json!({"n": 1}), &json!({"n": 1.0}), ""));
}

#[test]
fn containment_is_recursive_and_exact_on_leaves() {
    let view = json!({"status": "waiting", "waiting": {"reason": "event", "wait_key": "k"}});
    assert!(contains(&view, &json!({"waiting": {"reason": "event"}})));
    assert!(!contains(&view, &json!({"waiting": {"reason": "user"}})));
    assert!(!contains(&view, &json!({"missing": null})));
    assert_eq!(substitute(&json!(["{run_id}/{session_id}"]), "r", "s"), json!(["r/s"]));
}
