//! Changing the catalog at runtime: `POST /bundles/upload`, `POST /bundles/reload` and
//! `DELETE /bundles/{id}` (transcripts file/56, file2/28–31), and picking one of several
//! versions when starting a run.

use crate::common;

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::path::Path;

use agw_domain::bundle::BundleLimits;
use common::{Options, TOKEN, TestGateway, keys};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The files of a packed bundle.
fn unpack(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).expect("zip");
    let mut files = BTreeMap::new();
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).expect("entry");
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("read");
        files.insert(entry.name().to_owned(), data);
    }
    files
}

/// A zip written entry by entry, so tests can put in what a packer would refuse.
fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        writer.start_file(*name, options).expect("start");
        writer.write_all(data).expect("write");
    }
    writer.finish().expect("finish").into_inner()
}

fn pure_math_bytes() -> Vec<u8> {
    std::fs::read(common::repo().join("tests/data/reference-flows/pure-math@0.1.0.flow")).expect("pure-math")
}

/// The reference's pure-math bundle under another id and version (as in file2/29), with
/// `greeting_prefix` in place of "Hello" so versions can be told apart by their output.
fn pure_math_as(id: &str, version: &str, greeting_prefix: &str) -> Vec<u8> {
    let mut files = unpack(&pure_math_bytes());
    let mut manifest: Value = serde_json::from_slice(&files["manifest.json"]).expect("manifest");
    manifest["bundle_id"] = json!(id);
    manifest["bundle_version"] = json!(version);
    files.insert("manifest.json".into(), serde_json::to_vec(&manifest).expect("json"));
    let flow = String::from_utf8(files["flows/pure-math.json"].clone()).expect("utf-8");
    assert!(flow.contains("Hello "), "the greeting template moved");
    files.insert("flows/pure-math.json".into(), flow.replace("Hello ", &format!("{greeting_prefix} ")).into_bytes());
    let entries: Vec<(&str, &[u8])> = files.iter().map(|(k, v)| (k.as_str(), v.as_slice())).collect();
    zip_of(&entries)
}

/// A multipart/form-data body with a `file` part (when given) and text fields.
fn form(file: Option<&[u8]>, fields: &[(&str, &str)]) -> (String, Vec<u8>) {
    let boundary = "----agw-test-boundary-7d1f";
    let mut body = Vec::new();
    if let Some(file) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"upload.flow\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(b"\r\n");
    }
    for (name, value) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes(),
        );
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(gw: &TestGateway, file: Option<&[u8]>, fields: &[(&str, &str)]) -> (StatusCode, Value) {
    let (content_type, body) = form(file, fields);
    let response = gw
        .client
        .post(gw.url("/api/gateway/bundles/upload"))
        .bearer_auth(TOKEN)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("upload");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// File names in a directory (none when it does not exist).
fn names(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut names: Vec<String> = entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn contains_file_named(dir: &Path, name: &str) -> bool {
    std::fs::read_dir(dir).into_iter().flatten().flatten().any(|e| {
        let path = e.path();
        e.file_name() == name || (path.is_dir() && contains_file_named(&path, name))
    })
}

async fn start_and_greet(gw: &TestGateway, start: Value) -> (String, String) {
    let (status, started) = gw.post("/api/gateway/runs/start", start).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    let run_id = started["run_id"].as_str().expect("run_id");
    let view = gw.wait_terminal(run_id).await;
    assert_eq!(view["status"], "completed", "{view}");
    (
        view["workflow_id"].as_str().unwrap_or_default().to_owned(),
        view["output"]["greeting"].as_str().unwrap_or_default().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uploaded_bundle_is_startable_without_a_restart() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    let flows_before = names(&temp.path().join("flows"));
    let (status, _) = gw.post("/api/gateway/runs/start", json!({"bundle_id": "uploaded-math"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, answer) = upload(&gw, Some(&pure_math_as("uploaded-math", "0.2.0", "Hello")), &[]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        keys(&answer),
        [
            "ok",
            "bundle_id",
            "bundle_version",
            "bundle_ref",
            "sha256",
            "default_entrypoint",
            "entrypoints",
            "gateway_reloaded",
            "gateway_reload_error",
            "loaded",
            "skipped",
            "reload"
        ]
    );
    assert_eq!(answer["ok"], true);
    assert_eq!(answer["bundle_ref"], "uploaded-math@0.2.0");
    assert_eq!(answer["sha256"].as_str().map(str::len), Some(64));
    assert_eq!(answer["default_entrypoint"], "pure-math");
    assert_eq!(
        answer["entrypoints"],
        json!([{"flow_id": "pure-math", "name": "pure-math", "description": "Pure: sum two numbers and greet (no LLM).", "interfaces": []}])
    );
    assert_eq!(
        (answer["gateway_reloaded"].clone(), answer["gateway_reload_error"].clone()),
        (json!(true), Value::Null)
    );
    assert_eq!((answer["loaded"].clone(), answer["skipped"].clone()), (json!(true), Value::Null));
    let reload = &answer["reload"];
    assert_eq!(keys(reload), ["ok", "kind", "services", "unchanged_services", "duration_ms", "sentence"]);
    assert_eq!(reload["kind"], "registry_swap");
    let (_, bundles) = gw.get("/api/gateway/bundles").await;
    let count = bundles["items"].as_array().map(Vec::len).expect("items");
    assert_eq!(reload["services"][0]["bundle_count"], count);
    assert_eq!(reload["services"][0]["reason"], "workflows changed on disk");

    // Served at once, stored under the data dir, the operator's flows dir untouched.
    let (workflow_id, greeting) =
        start_and_greet(&gw, json!({"bundle_id": "uploaded-math", "input_data": {"name": "upload"}})).await;
    assert_eq!((workflow_id.as_str(), greeting.as_str()), ("uploaded-math@0.2.0:pure-math", "Hello upload!"));
    assert_eq!(names(&gw.data_dir.join("bundles")), ["uploaded-math@0.2.0.flow"]);
    assert_eq!(names(&temp.path().join("flows")), flows_before);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_needs_overwrite_which_replaces_it() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;

    // Installed from the flows dir: the reference's answer, nothing written.
    let (status, answer) = upload(&gw, Some(&pure_math_bytes()), &[]).await;
    assert_eq!(
        (status, answer),
        (StatusCode::BAD_REQUEST, json!({"detail": "Bundle already installed: pure-math@0.1.0.flow"}))
    );
    assert!(names(&gw.data_dir.join("bundles")).is_empty());

    let (status, answer) =
        upload(&gw, Some(&pure_math_as("pure-math", "0.1.0", "Howdy")), &[("overwrite", "true")]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["loaded"], true, "the upload wins over the flows dir copy: {answer}");
    let (_, greeting) = start_and_greet(&gw, json!({"bundle_id": "pure-math", "input_data": {"name": "v1"}})).await;
    assert_eq!(greeting, "Howdy v1!");

    // Uploaded once, a second upload of the same id@version is a duplicate too.
    let (status, answer) =
        upload(&gw, Some(&pure_math_as("pure-math", "0.1.0", "Hi")), &[("overwrite", "false")]).await;
    assert_eq!(
        (status, answer),
        (StatusCode::BAD_REQUEST, json!({"detail": "Bundle already installed: pure-math@0.1.0.flow"}))
    );
    let (_, greeting) = start_and_greet(&gw, json!({"bundle_id": "pure-math", "input_data": {"name": "v1"}})).await;
    assert_eq!(greeting, "Howdy v1!");
    gw.stop().await;
}

/// A gateway whose bundles may expand to 256 KiB and whose uploads carry at most 8 KiB.
async fn small_limits(temp: &tempfile::TempDir) -> TestGateway {
    let flows = temp.path().join("flows");
    common::standard_flows(&flows);
    let mut options = Options::new(flows);
    options.bundle_limits = BundleLimits { max_entries: 50, max_total_bytes: 256 * 1024, ..BundleLimits::default() };
    options.max_bundle_bytes = 8 * 1024;
    TestGateway::start(&temp.path().join("data"), options).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_uploads_are_refused_with_the_reason_and_write_nothing() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = small_limits(&temp).await;
    let uploads = gw.data_dir.join("bundles");

    let (status, answer) = upload(&gw, Some(b"this is not a zip file"), &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer["detail"].as_str().is_some_and(|d| d.starts_with("Invalid bundle: not a zip archive")), "{answer}");

    let manifest = unpack(&pure_math_bytes())["manifest.json"].clone();
    let slip = zip_of(&[("manifest.json", &manifest), ("../evil.json", b"{}")]);
    let (status, answer) = upload(&gw, Some(&slip), &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        answer["detail"].as_str().is_some_and(|d| d.contains("unsafe path") && d.contains("../evil.json")),
        "{answer}"
    );
    assert!(!contains_file_named(temp.path(), "evil.json"));

    // 1 MiB of zeros packs into about a kilobyte and expands past the 256 KiB limit.
    let zeros = vec![0u8; 1024 * 1024];
    let bomb = zip_of(&[("assets/zeros.bin", &zeros), ("manifest.json", &manifest)]);
    assert!(bomb.len() < 8 * 1024, "the bomb must fit under the upload cap");
    let (status, answer) = upload(&gw, Some(&bomb), &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(answer["detail"].as_str().is_some_and(|d| d.contains("zip bomb")), "{answer}");

    let too_big: Vec<u8> = (0..9 * 1024).map(|i| (i * 7 % 251) as u8).collect();
    let (status, answer) = upload(&gw, Some(&too_big), &[]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{answer}");
    assert!(answer["detail"].as_str().is_some_and(|d| d.starts_with("Bundle too large")), "{answer}");

    let (status, answer) = upload(&gw, None, &[("overwrite", "true")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["detail"][0]["loc"], json!(["body", "file"]));
    let (status, answer) = upload(&gw, Some(&pure_math_as("x", "1.0.0", "Hi")), &[("overwrite", "maybe")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(answer["detail"][0]["loc"], json!(["body", "overwrite"]));
    let response = gw
        .client
        .post(gw.url("/api/gateway/bundles/upload"))
        .bearer_auth(TOKEN)
        .json(&json!({}))
        .send()
        .await
        .expect("json");
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    assert!(names(&uploads).is_empty(), "nothing written: {:?}", names(&uploads));
    let (_, bundles) = gw.get("/api/gateway/bundles").await;
    assert_eq!(bundles["skipped_count"], 0);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_over_the_body_cap_get_the_reference_413_before_the_body_is_read() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    let addr = gw.base.trim_start_matches("http://").to_owned();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    // Headers only, as in file/56: the answer must not wait for 78 MiB that never come.
    let head = format!(
        "POST /api/gateway/bundles/upload HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 81788929\r\nConnection: close\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.expect("send");
    let mut raw = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), tcp.read_to_end(&mut raw))
        .await
        .expect("answered without the body")
        .expect("read");
    let raw = String::from_utf8_lossy(&raw);
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    let body = raw.split("\r\n\r\n").nth(1).unwrap_or_default();
    assert_eq!(body, r#"{"detail": "Payload Too Large (81788929 bytes > 80740352 bytes)"}"#);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_serves_what_is_on_disk_and_reload_false_waits_for_it() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    let (status, answer) =
        upload(&gw, Some(&pure_math_as("later-math", "1.0.0", "Later")), &[("reload", "false")]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        (answer["ok"].clone(), answer["gateway_reloaded"].clone(), answer["loaded"].clone(), answer["reload"].clone()),
        (json!(true), json!(false), Value::Null, Value::Null)
    );
    let (status, _) = gw.post("/api/gateway/runs/start", json!({"bundle_id": "later-math"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not served before a reload");

    // A bundle an operator drops into the uploads dir by hand is picked up too.
    std::fs::write(gw.data_dir.join("bundles/dropped@2.0.0.flow"), pure_math_as("dropped", "2.0.0", "Dropped"))
        .expect("drop");
    let (status, answer) = gw.post("/api/gateway/bundles/reload", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(keys(&answer), ["ok", "bundle_ids", "count", "reload"]);
    let ids: Vec<&str> = answer["bundle_ids"].as_array().expect("ids").iter().filter_map(Value::as_str).collect();
    assert!(ids.contains(&"later-math") && ids.contains(&"dropped"), "{ids:?}");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "sorted: {ids:?}");
    assert_eq!(answer["count"], ids.len());
    assert_eq!(answer["reload"]["services"][0]["reason"], "workflows changed on disk");
    let (_, greeting) = start_and_greet(&gw, json!({"bundle_id": "later-math", "input_data": {"name": "x"}})).await;
    assert_eq!(greeting, "Later x!");

    let (_, again) = gw.post("/api/gateway/bundles/reload", json!({})).await;
    assert_eq!(again["reload"]["sentence"], "Nothing changed on disk; no service was touched.");
    assert_eq!(again["reload"]["unchanged_services"], 1);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_versions_coexist_and_start_picks_the_one_asked_for() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    let (status, answer) = upload(&gw, Some(&pure_math_as("pure-math", "0.2.0", "Hi")), &[]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (_, detail) = gw.get("/api/gateway/bundles/pure-math").await;
    assert_eq!(detail["bundle_version"], "0.2.0", "the newest is the default");
    let (_, old) = gw.get("/api/gateway/bundles/pure-math?bundle_version=0.1.0").await;
    assert_eq!(old["bundle_version"], "0.1.0");

    let input = json!({"name": "v"});
    let cases = [
        (json!({"bundle_id": "pure-math"}), "0.2.0"),
        (json!({"bundle_id": "pure-math", "bundle_version": "0.1.0"}), "0.1.0"),
        (json!({"bundle_id": "pure-math@0.1.0"}), "0.1.0"),
        (json!({"flow_id": "pure-math@0.1.0:pure-math"}), "0.1.0"),
        (json!({"flow_id": "pure-math:pure-math"}), "0.2.0"),
        (json!({"bundle_id": "pure-math", "bundle_version": "0.2.0", "flow_id": "pure-math"}), "0.2.0"),
    ];
    for (mut start, version) in cases {
        start["input_data"] = input.clone();
        let (workflow_id, greeting) = start_and_greet(&gw, start.clone()).await;
        assert_eq!(workflow_id, format!("pure-math@{version}:pure-math"), "{start}");
        assert_eq!(greeting, if version == "0.2.0" { "Hi v!" } else { "Hello v!" }, "{start}");
    }

    let (status, answer) =
        gw.post("/api/gateway/runs/start", json!({"bundle_id": "pure-math", "bundle_version": "9.9.9"})).await;
    assert_eq!((status, answer), (StatusCode::NOT_FOUND, json!({"detail": "Bundle 'pure-math@9.9.9' not found"})));
    let (status, answer) =
        gw.post("/api/gateway/runs/start", json!({"bundle_id": "pure-math@0.1.0", "bundle_version": "0.2.0"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundles_are_never_deleted() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    upload(&gw, Some(&pure_math_as("uploaded-math", "0.2.0", "Hello")), &[]).await;
    let response =
        gw.client.delete(gw.url("/api/gateway/bundles/uploaded-math")).bearer_auth(TOKEN).send().await.expect("delete");
    assert_eq!(response.status(), StatusCode::GONE);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body,
        json!({"detail": {"reason_code": "workflow_delete_gone", "message": "Workflows are archived, never deleted: use Archive."}})
    );
    let (status, _) = gw.get("/api/gateway/bundles/uploaded-math").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&gw.data_dir.join("bundles")), ["uploaded-math@0.2.0.flow"]);
    gw.stop().await;
}

/// A bundle `chain@1.0.0` whose flow adds 1 to `start.a` (0) `n` times through a chain of
/// `n` std-nodes `add` nodes: `n + 2` nodes in all, output `sum` = `n`.
fn add_chain_bundle(n: usize) -> Vec<u8> {
    let pins = |list: &[(&str, &str)]| -> Value {
        list.iter().map(|(id, kind)| json!({"id": id, "label": id, "type": kind})).collect()
    };
    let mut nodes = vec![
        json!({"id": "start", "type": "on_flow_start", "data": {"outputs": pins(&[("exec-out", "execution"), ("a", "number")]),
               "pinDefaults": {"a": 0}}}),
        json!({"id": "end", "type": "on_flow_end", "data": {"inputs": pins(&[("exec-in", "execution"), ("sum", "number")])}}),
    ];
    let link = |source: String, handle: &str, target: String, pin: &str| json!({"source": source, "sourceHandle": handle, "target": target, "targetHandle": pin});
    let mut edges = vec![
        link("start".into(), "exec-out", "end".into(), "exec-in"),
        link(format!("add{}", n - 1), "result", "end".into(), "sum"),
    ];
    for i in 0..n {
        nodes.push(json!({"id": format!("add{i}"), "type": "add", "data": {
            "inputs": pins(&[("a", "number"), ("b", "number")]), "outputs": pins(&[("result", "number")]),
            "pinDefaults": {"b": 1}}}));
        let (source, handle) = if i == 0 { ("start".to_owned(), "a") } else { (format!("add{}", i - 1), "result") };
        edges.push(link(source, handle, format!("add{i}"), "a"));
    }
    let flow = json!({"id": "main", "nodes": nodes, "edges": edges});
    let manifest = json!({"bundle_format_version": "1", "bundle_id": "chain", "bundle_version": "1.0.0",
                          "entrypoints": [{"flow_id": "main"}], "flows": {"main": "flows/main.json"}});
    let manifest = serde_json::to_vec(&manifest).expect("json");
    let flow = serde_json::to_vec(&flow).expect("json");
    zip_of(&[("manifest.json", &manifest), ("flows/main.json", &flow)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_over_the_node_limit_is_refused_naming_it_and_the_gateway_keeps_serving() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    let (status, answer) = upload(&gw, Some(&add_chain_bundle(10_000)), &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(
        answer["detail"],
        "Invalid bundle: flow 'main' has 10002 nodes; the limit is 10000 (ABSTRACTGATEWAY_MAX_FLOW_NODES)"
    );
    assert!(names(&gw.data_dir.join("bundles")).is_empty(), "nothing written");

    // Still serving: the catalog is as it was and runs complete.
    let (status, bundles) = gw.get("/api/gateway/bundles").await;
    assert_eq!(status, StatusCode::OK, "{bundles}");
    assert_eq!(bundles["skipped_count"], 0);
    let (_, greeting) = start_and_greet(&gw, json!({"bundle_id": "pure-math", "input_data": {"name": "still"}})).await;
    assert_eq!(greeting, "Hello still!");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_limit_is_raised_by_its_variable_and_a_long_chain_runs() {
    // Each test runs in its own process under nextest, and nothing else in this one reads
    // the variable.
    // SAFETY: set before the configuration is read; the standard library synchronises
    // environment access on Unix.
    #[allow(unsafe_code)]
    unsafe {
        std::env::set_var("ABSTRACTGATEWAY_MAX_FLOW_NODES", "20000");
    }
    let limits = abstractgateway::config::Config::from_env().expect("config").server.bundle_limits;
    assert_eq!(limits.max_flow_nodes, 20_000);
    let temp = tempfile::tempdir().expect("tempdir");
    let flows = temp.path().join("flows");
    common::standard_flows(&flows);
    let mut options = Options::new(flows);
    options.bundle_limits = limits;
    let gw = TestGateway::start(&temp.path().join("data"), options).await;

    let (status, answer) = upload(&gw, Some(&add_chain_bundle(10_000)), &[]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["loaded"], true, "{answer}");
    // 10,000 data edges deep: evaluated without recursion, each node once.
    let run_id = gw.start_run(json!({"bundle_id": "chain"})).await;
    let view = gw.wait_terminal(&run_id).await;
    assert_eq!(view["status"], "completed", "{view}");
    assert_eq!(view["output"]["sum"], json!(10_000.0), "{view}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overwritten_uploads_leave_no_compiled_flows_behind() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    let mut cached = Vec::new();
    for prefix in ["One", "Two", "Three", "Four"] {
        let (status, answer) = upload(&gw, Some(&pure_math_as("x", "1.0.0", prefix)), &[("overwrite", "true")]).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        let (_, greeting) = start_and_greet(&gw, json!({"bundle_id": "x", "input_data": {"name": "n"}})).await;
        assert_eq!(greeting, format!("{prefix} n!"));
        cached.push(gw.gateway.catalog.cached_flows());
    }
    // Each overwrite replaces the content: the cache keeps one compiled `x` flow, not four.
    assert_eq!(cached, vec![cached[0]; 4], "compiled flows per upload: {cached:?}");
    gw.stop().await;
}
