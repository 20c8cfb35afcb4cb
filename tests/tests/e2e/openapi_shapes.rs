//! The document's schemas against real answers: the Python gateway's recorded responses
//! (`../shared/reference/transcripts`) and this gateway's own. A reference response that does
//! not validate means a schema is wrong, or that this gateway's contract deliberately differs
//! (listed in [`KNOWN_DIFFERENCES`], each with its reason).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{self, TOKEN, TestGateway};
use crate::openapi::fetch_document;

/// Reference responses that do not validate because this gateway's contract differs:
/// (transcript files, the keys the reference lacks and this gateway always sends, why). Only
/// "missing key" errors for exactly those keys are forgiven, and each entry must still be
/// needed, so the list cannot go stale.
const KNOWN_DIFFERENCES: &[(&[&str], &[&str], &str)] = &[
    (
        &["file/01-health-noauth.txt", "sqlite/01-health-noauth.txt"],
        &["version", "plugins", "error"],
        "this gateway's health adds its version, the plugin count and the runner's error",
    ),
    (
        &["file/49-discovery-capabilities.txt", "sqlite/49-discovery-capabilities.txt"],
        &["plugins", "node_types", "llm", "vision", "music", "available"],
        "discovery describes this deployment: loaded plugins and node types, and every provider \
         kind with an explicit `available` (the reference lists its own providers)",
    ),
];

/// The document's path template for `method path` (query stripped): literal segments win
/// over parameters.
pub fn template_for<'d>(document: &'d Value, method: &str, path: &str) -> Option<&'d str> {
    let path = path.split('?').next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').collect();
    document["paths"]
        .as_object()?
        .iter()
        .filter(|(_, item)| item.get(method).is_some())
        .filter_map(|(template, _)| {
            let parts: Vec<&str> = template.split('/').collect();
            let matches =
                parts.len() == segments.len() && parts.iter().zip(&segments).all(|(t, s)| t.starts_with('{') || t == s);
            matches.then(|| (parts.iter().filter(|t| !t.starts_with('{')).count(), template.as_str()))
        })
        .max()
        .map(|(_, template)| template)
}

/// A validator for the JSON body the document gives `method template` answering `status`,
/// or `None` when it documents no JSON body for that status. References to
/// `#/components/schemas/...` resolve against the document's components.
pub fn response_validator(
    document: &Value,
    method: &str,
    template: &str,
    status: u16,
) -> Option<jsonschema::Validator> {
    let response = &document["paths"][template][method]["responses"][status.to_string()];
    let schema = response["content"]["application/json"].get("schema")?;
    Some(validator_for(document, schema))
}

/// A draft 2020-12 validator for `schema`, a schema of `document`.
pub fn validator_for(document: &Value, schema: &Value) -> jsonschema::Validator {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [schema],
        "components": document["components"],
    });
    jsonschema::draft202012::new(&root).unwrap_or_else(|e| panic!("the schema {schema} does not compile: {e}"))
}

/// Every error of `instance` against `validator`, one line each.
fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<String> {
    validator.iter_errors(instance).map(|e| format!("{} at {}", e, e.instance_path())).collect()
}

/// One recorded request and its answer.
#[derive(Debug)]
struct Exchange {
    file: String,
    method: String,
    path: String,
    status: u16,
    content_type: String,
    body: String,
}

/// The exchanges of one transcript: `### REQUEST` / `### RAW REQUEST` followed by the request
/// line, then `### RESPONSE <status>` (headers, a blank line, the body) or `### RAW RESPONSE`
/// (an HTTP status line, headers, a blank line, the body). Free-form notes are ignored.
fn parse_transcript(file: &str, text: &str) -> Vec<Exchange> {
    let lines: Vec<&str> = text.lines().collect();
    let mut exchanges = Vec::new();
    let mut request: Option<(String, String)> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.starts_with("### REQUEST") || line.starts_with("### RAW REQUEST") {
            let mut words = lines.get(i + 1).unwrap_or(&"").split_whitespace();
            request = match (words.next(), words.next()) {
                (Some(method), Some(path)) => Some((method.to_ascii_lowercase(), path.to_owned())),
                _ => None,
            };
            i += 2;
            continue;
        }
        let raw = line.starts_with("### RAW RESPONSE");
        if (raw || line.starts_with("### RESPONSE")) && request.is_some() {
            let status_line = if raw { lines.get(i + 1).copied().unwrap_or_default() } else { line };
            let status = status_line
                .split_whitespace()
                .find_map(|w| w.parse::<u16>().ok().filter(|s| (100..600).contains(s)))
                .unwrap_or(0);
            let mut j = i + if raw { 2 } else { 1 };
            let mut content_type = String::new();
            while j < lines.len() && !lines[j].trim().is_empty() {
                if let Some((name, value)) = lines[j].split_once(':')
                    && name.eq_ignore_ascii_case("content-type")
                {
                    content_type = value.trim().to_owned();
                }
                j += 1;
            }
            let start = j;
            while j < lines.len() && !lines[j].starts_with("### ") {
                j += 1;
            }
            if let Some((method, path)) = request.take() {
                let body = lines[start..j].join("\n").trim().to_owned();
                exchanges.push(Exchange { file: file.to_owned(), method, path, status, content_type, body });
            }
            i = j;
            continue;
        }
        i += 1;
    }
    exchanges
}

/// The reference's recorded transcripts, beside the checkout as `../shared`.
fn transcripts_dir() -> PathBuf {
    common::repo().join("../shared/reference/transcripts")
}

fn transcript_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read transcripts").flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "txt") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The frames of an SSE body: `(event, data)`.
fn sse_frames(body: &str) -> Vec<(String, String)> {
    body.split("\n\n")
        .filter_map(|frame| {
            let mut event = None;
            let mut data = None;
            for line in frame.lines() {
                if let Some(value) = line.strip_prefix("event: ") {
                    event = Some(value.to_owned());
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data = Some(value.to_owned());
                }
            }
            Some((event?, data?))
        })
        .collect()
}

/// What the reference transcripts showed: counts, skips and failures.
#[derive(Debug, Default)]
struct Tally {
    validated: usize,
    frames: usize,
    skipped_routes: BTreeSet<String>,
    skipped_statuses: BTreeSet<String>,
    failures: BTreeMap<String, Vec<String>>,
}

fn check_exchange(document: &Value, exchange: &Exchange, tally: &mut Tally) {
    let route = format!("{} {}", exchange.method.to_ascii_uppercase(), exchange.path.split('?').next().unwrap_or(""));
    let Some(template) = template_for(document, &exchange.method, &exchange.path) else {
        tally.skipped_routes.insert(route);
        return;
    };
    let key = format!("{} ({})", exchange.file, route);
    if exchange.content_type.starts_with("text/event-stream") {
        let step = validator_for(document, &json!({"$ref": "#/components/schemas/CursorRecord"}));
        let done = validator_for(document, &json!({"$ref": "#/components/schemas/DoneFrame"}));
        for (event, data) in sse_frames(&exchange.body) {
            let validator = match event.as_str() {
                "step" => &step,
                "done" => &done,
                _ => continue,
            };
            let Ok(data) = serde_json::from_str::<Value>(&data) else {
                // A frame cut by the recording's time limit.
                continue;
            };
            tally.frames += 1;
            let problems = errors(validator, &data);
            if !problems.is_empty() {
                tally.failures.entry(key.clone()).or_default().extend(problems);
            }
        }
        return;
    }
    let Ok(body) = serde_json::from_str::<Value>(&exchange.body) else {
        tally.skipped_statuses.insert(format!("{route} {}: no JSON body", exchange.status));
        return;
    };
    let Some(validator) = response_validator(document, &exchange.method, template, exchange.status) else {
        tally.skipped_statuses.insert(format!("{route} {}", exchange.status));
        return;
    };
    tally.validated += 1;
    let problems = errors(&validator, &body);
    if !problems.is_empty() {
        tally.failures.entry(key).or_default().extend(problems);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_responses_validate_against_the_document() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    let document = fetch_document(&gw).await;
    gw.stop().await;

    let dir = transcripts_dir();
    let mut tally = Tally::default();
    for file in transcript_files(&dir) {
        let text = std::fs::read_to_string(&file).expect("read transcript");
        let name = file.strip_prefix(&dir).unwrap_or(&file).display().to_string();
        for exchange in parse_transcript(&name, &text) {
            check_exchange(&document, &exchange, &mut tally);
        }
    }
    eprintln!(
        "reference responses validated: {} JSON bodies, {} SSE frames\nskipped, route not served: {:#?}\nskipped, status not in our contract: {:#?}",
        tally.validated, tally.frames, tally.skipped_routes, tally.skipped_statuses
    );
    let mut unexpected = tally.failures;
    for (files, keys, why) in KNOWN_DIFFERENCES {
        let forgiven: Vec<String> = keys.iter().map(|k| format!("\"{k}\" is a required property")).collect();
        for file in *files {
            let entry = unexpected.iter_mut().find(|(key, _)| key.starts_with(&format!("{file} (")));
            let Some((key, problems)) = entry else {
                panic!("{file} validates now ({why}): drop it from KNOWN_DIFFERENCES");
            };
            let key = key.clone();
            problems.retain(|p| !forgiven.iter().any(|f| p.starts_with(f.as_str())));
            if problems.is_empty() {
                unexpected.remove(&key);
            }
        }
    }
    assert!(unexpected.is_empty(), "reference responses that do not validate: {unexpected:#?}");
    assert!(tally.validated >= 150, "only {} reference responses were checked", tally.validated);
    assert!(tally.frames >= 6, "only {} SSE frames were checked", tally.frames);
}

/// The reference's recorded LLM discovery answers (`tests/data/reference-llm/discovery-*.json`)
/// that do not validate because this gateway's contract adds keys: (route as recorded, the
/// keys the reference lacks, why). Like [`KNOWN_DIFFERENCES`], each must still be needed.
const KNOWN_LLM_DISCOVERY_DIFFERENCES: &[(&str, &[&str], &str)] = &[
    (
        "/discovery/providers",
        &["plugin", "base_url", "configured"],
        "providers are served by plugins here: each item names the plugin serving it, the base URL it \
         calls and whether the operator configured it",
    ),
    (
        "/discovery/capabilities",
        &["plugins", "node_types", "llm", "vision", "music", "available"],
        "discovery describes this deployment (as for 49-discovery-capabilities)",
    ),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_llm_discovery_answers_validate_against_the_document() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    let document = fetch_document(&gw).await;
    gw.stop().await;

    let dir = common::repo().join("tests/data/reference-llm");
    let mut validated = 0;
    let mut skipped = BTreeSet::new();
    let mut needed = BTreeSet::new();
    let mut unexpected = BTreeMap::new();
    for file in ["discovery-configured.json", "discovery-unconfigured.json", "discovery-unreachable.json"] {
        let text = std::fs::read_to_string(dir.join(file)).expect("read recording");
        let recording: Value = serde_json::from_str(&text).expect("recording JSON");
        for (route, exchange) in recording["routes"].as_object().expect("routes") {
            let path = format!("/api/gateway{route}");
            let Some(template) = template_for(&document, "get", &path) else {
                skipped.insert(route.split('?').next().unwrap_or_default().to_owned());
                continue;
            };
            let status = u16::try_from(exchange["status"].as_u64().expect("status")).expect("a status");
            let validator = response_validator(&document, "get", template, status)
                .unwrap_or_else(|| panic!("get {template} does not document {status}"));
            validated += 1;
            let mut problems = errors(&validator, &exchange["body"]);
            for (known, keys, _) in KNOWN_LLM_DISCOVERY_DIFFERENCES {
                if route.split('?').next() == Some(*known) {
                    let before = problems.len();
                    problems
                        .retain(|p| !keys.iter().any(|k| p.starts_with(&format!("\"{k}\" is a required property"))));
                    if problems.len() < before {
                        needed.insert(*known);
                    }
                }
            }
            if !problems.is_empty() {
                unexpected.insert(format!("{file} {route}"), problems);
            }
        }
    }
    eprintln!("reference LLM discovery answers validated: {validated}; routes not served: {skipped:#?}");
    assert!(unexpected.is_empty(), "reference LLM discovery answers that do not validate: {unexpected:#?}");
    for (known, _, why) in KNOWN_LLM_DISCOVERY_DIFFERENCES {
        assert!(needed.contains(known), "{known} validates now ({why}): drop it from KNOWN_LLM_DISCOVERY_DIFFERENCES");
    }
    assert!(validated >= 27, "only {validated} reference LLM discovery answers were checked");
}

/// Sends a request and checks its answer against the document; returns the answer.
pub async fn checked(gw: &TestGateway, document: &Value, method: Method, path: &str, body: Option<Value>) -> Value {
    let mut request = gw.client.request(method.clone(), gw.url(path)).bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status();
    let answer: Value = response.json().await.expect("a JSON answer");
    let method = method.as_str().to_ascii_lowercase();
    let template = template_for(document, &method, path).unwrap_or_else(|| panic!("{method} {path} is not documented"));
    let validator = response_validator(document, &method, template, status.as_u16())
        .unwrap_or_else(|| panic!("{method} {template} does not document {status}"));
    let problems = errors(&validator, &answer);
    assert!(problems.is_empty(), "{method} {path} {status}: {answer}\ndoes not validate: {problems:#?}");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn this_gateways_answers_validate_against_the_document() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    let document = fetch_document(&gw).await;
    let doc = &document;
    let get = Method::GET;
    let post = Method::POST;

    checked(&gw, doc, get.clone(), "/api/health", None).await;
    for path in [
        "/ping",
        "/me",
        "/bundles",
        "/plugins",
        "/discovery/capabilities",
        "/discovery/providers",
        "/discovery/providers/nope/models",
    ] {
        checked(&gw, doc, get.clone(), &format!("/api/gateway{path}"), None).await;
    }
    for path in ["", "/flows/pure-math", "/flows/pure-math/input_schema", "/flows/nope"] {
        checked(&gw, doc, get.clone(), &format!("/api/gateway/bundles/pure-math{path}"), None).await;
    }
    let start = json!({"bundle_id": "pure-math", "input_data": {"a": 40, "b": 2, "name": "openapi"}});
    let started = checked(&gw, doc, post.clone(), "/api/gateway/runs/start", Some(start)).await;
    let run_id = started["run_id"].as_str().expect("run_id").to_owned();
    gw.wait_terminal(&run_id).await;
    let run = format!("/api/gateway/runs/{run_id}");
    for path in ["", "/ledger?after=1", "/input_data", "/history_bundle", "/artifacts"] {
        checked(&gw, doc, get.clone(), &format!("{run}{path}"), None).await;
    }
    let artifacts = checked(&gw, doc, get.clone(), &format!("{run}/artifacts"), None).await;
    let artifact_id = artifacts["items"][0]["artifact_id"].as_str().expect("the flow snapshot");
    checked(&gw, doc, get.clone(), &format!("{run}/artifacts/{artifact_id}"), None).await;
    checked(&gw, doc, get.clone(), "/api/gateway/runs?limit=5", None).await;
    let batch = json!({"runs": [{"run_id": run_id, "after": 0}, {"run_id": "nope"}]});
    checked(&gw, doc, post.clone(), "/api/gateway/runs/ledger/batch", Some(batch)).await;
    let schedule =
        json!({"bundle_id": "pure-math", "start_at": "now", "interval": "1h", "input_data": {"a": 1, "b": 2}});
    let scheduled = checked(&gw, doc, post.clone(), "/api/gateway/runs/schedule", Some(schedule)).await;
    let parent = scheduled["run_id"].as_str().expect("run_id");
    checked(&gw, doc, get.clone(), &format!("/api/gateway/runs/{parent}"), None).await;
    let cancel = json!({"command_id": "openapi-cancel", "run_id": parent, "type": "cancel", "payload": {}});
    checked(&gw, doc, post.clone(), "/api/gateway/commands", Some(cancel.clone())).await;
    checked(&gw, doc, post.clone(), "/api/gateway/commands", Some(cancel)).await;
    checked(&gw, doc, post.clone(), "/api/gateway/bundles/reload", Some(json!({}))).await;

    // Refusals: the error shapes.
    checked(&gw, doc, get.clone(), "/api/gateway/runs/nope", None).await;
    checked(&gw, doc, get.clone(), &format!("{run}/ledger?limit=0"), None).await;
    checked(&gw, doc, post.clone(), "/api/gateway/runs/start", Some(json!({"input_data": "x"}))).await;
    checked(&gw, doc, post.clone(), "/api/gateway/runs/start", Some(json!({}))).await;
    checked(
        &gw,
        doc,
        post.clone(),
        "/api/gateway/commands",
        Some(json!({"run_id": "x", "type": "bogus", "command_id": "c"})),
    )
    .await;
    checked(&gw, doc, Method::DELETE, "/api/gateway/bundles/pure-math", None).await;

    // The stream's frames.
    let response = gw.client.get(gw.url(&format!("{run}/ledger/stream"))).bearer_auth(TOKEN).send().await.expect("SSE");
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.text().await.expect("the stream ends with the terminal run");
    let frames = sse_frames(&body);
    assert_eq!(frames.last().map(|(event, _)| event.as_str()), Some("done"), "{body}");
    for (event, data) in frames {
        let schema = if event == "done" { "DoneFrame" } else { "CursorRecord" };
        let validator = validator_for(doc, &json!({"$ref": format!("#/components/schemas/{schema}")}));
        let data: Value = serde_json::from_str(&data).expect("frame data");
        assert!(errors(&validator, &data).is_empty(), "{event} frame {data} is not a {schema}");
    }
    gw.stop().await;
}

#[test]
fn transcripts_parse_into_requests_and_answers() {
    let text = "### REQUEST\nGET /api/gateway/runs/abc?x=1\nAuthorization: Bearer <TOKEN>\n\n\
                ### RESPONSE 404  (1.0 ms)\ncontent-type: application/json\n\n{\"detail\": \"nope\"}\n\
                ### free-form note\n### RAW REQUEST (headers only)\nPOST /api/gateway/runs/start HTTP/1.1\n\n\
                ### RAW RESPONSE\nHTTP/1.1 413 Request Entity Too Large\ncontent-type: application/json\n\n{\"detail\": \"big\"}";
    let exchanges = parse_transcript("t", text);
    let summary: Vec<(&str, &str, u16, &str)> =
        exchanges.iter().map(|e| (e.method.as_str(), e.path.as_str(), e.status, e.body.as_str())).collect();
    assert_eq!(
        summary,
        [
            ("get", "/api/gateway/runs/abc?x=1", 404, "{\"detail\": \"nope\"}"),
            ("post", "/api/gateway/runs/start", 413, "{\"detail\": \"big\"}"),
        ]
    );
    let document = json!({"paths": {
        "/api/gateway/runs/{run_id}": {"get": {}},
        "/api/gateway/runs/start": {"post": {}},
        "/api/gateway/runs/{run_id}/ledger": {"get": {}},
    }});
    assert_eq!(template_for(&document, "get", "/api/gateway/runs/abc?x=1"), Some("/api/gateway/runs/{run_id}"));
    assert_eq!(template_for(&document, "post", "/api/gateway/runs/start"), Some("/api/gateway/runs/start"));
    assert_eq!(template_for(&document, "get", "/api/gateway/runs/start/extra"), None);
}
