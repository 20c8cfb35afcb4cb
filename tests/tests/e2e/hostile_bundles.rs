//! Hostile and broken bundles in the flows directory: each is skipped with a reason that
//! names the problem, and every good bundle still loads and runs.

use crate::common;

use std::io::Write;

use common::{Options, TestGateway, repo};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn zip(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        writer.start_file(*name, options).expect("entry");
        writer.write_all(data).expect("write");
    }
    writer.finish().expect("finish").into_inner()
}

fn manifest(id: &str) -> Vec<u8> {
    json!({"bundle_format_version": "1", "bundle_id": id, "bundle_version": "1.0.0",
           "entrypoints": [{"flow_id": "main", "name": "main"}], "flows": {"main": "flows/main.json"}})
    .to_string()
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bundles_are_skipped_with_reasons_and_good_ones_still_run() {
    let temp = tempfile::tempdir().expect("tempdir");
    let flows = temp.path().join("flows");
    std::fs::create_dir_all(&flows).expect("flows");
    std::fs::copy(repo().join("tests/data/reference-flows/pure-math@0.1.0.flow"), flows.join("pure-math@0.1.0.flow"))
        .expect("copy");
    let pure_flow = br#"{"id":"main","nodes":[],"edges":[]}"#.to_vec();
    let unknown_node = json!({"id": "main", "nodes": [
        {"id": "start", "type": "on_flow_start", "data": {"outputs": [{"id": "exec-out", "type": "execution"}]}},
        {"id": "boom", "type": "frobnicate", "data": {"inputs": [{"id": "exec-in", "type": "execution"}]}}],
        "edges": [{"source": "start", "sourceHandle": "exec-out", "target": "boom", "targetHandle": "exec-in"}]});
    let files: Vec<(&str, Vec<u8>)> = vec![
        (
            "slip@1.0.0.flow",
            zip(&[
                ("manifest.json", manifest("slip")),
                ("flows/main.json", pure_flow.clone()),
                ("../../escape.txt", b"x".to_vec()),
            ]),
        ),
        (
            "bomb@1.0.0.flow",
            zip(&[
                ("manifest.json", manifest("bomb")),
                ("flows/main.json", pure_flow.clone()),
                ("assets/zeros", vec![0; 300 * 1024 * 1024]),
            ]),
        ),
        ("badmanifest@1.0.0.flow", zip(&[("manifest.json", b"{\"bundle_format_version\": \"1\"".to_vec())])),
        ("noflow@1.0.0.flow", zip(&[("manifest.json", manifest("noflow"))])),
        ("notazip@1.0.0.flow", b"just some text".to_vec()),
        (
            "unknown@1.0.0.flow",
            zip(&[("manifest.json", manifest("unknown")), ("flows/main.json", unknown_node.to_string().into_bytes())]),
        ),
    ];
    for (name, bytes) in &files {
        std::fs::write(flows.join(name), bytes).expect("write bundle");
    }
    let gw = TestGateway::start(&temp.path().join("data"), Options::new(flows)).await;
    assert!(!temp.path().join("escape.txt").exists() && !temp.path().join("data/escape.txt").exists());

    let (_, list) = gw.get("/api/gateway/bundles").await;
    let loaded: Vec<&str> =
        list["items"].as_array().expect("items").iter().filter_map(|b| b["bundle_id"].as_str()).collect();
    assert_eq!(loaded, ["pure-math", "unknown"], "only loadable bundles are listed");
    let reasons: Vec<(String, String)> = list["skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .map(|s| {
            (
                s["path"].as_str().unwrap_or_default().rsplit('/').next().unwrap_or_default().to_owned(),
                s["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let reason = |file: &str| reasons.iter().find(|(f, _)| f == file).map(|(_, r)| r.clone()).unwrap_or_default();
    assert!(reason("slip@1.0.0.flow").contains("unsafe path in bundle: '../../escape.txt'"), "{reasons:?}");
    assert!(reason("bomb@1.0.0.flow").contains("zip bomb"), "{reasons:?}");
    assert!(reason("badmanifest@1.0.0.flow").contains("manifest.json is invalid"), "{reasons:?}");
    assert!(
        reason("noflow@1.0.0.flow").contains("flow 'main' names file 'flows/main.json', which is not in the bundle"),
        "{reasons:?}"
    );
    assert!(reason("notazip@1.0.0.flow").contains("not a zip archive"), "{reasons:?}");
    assert_eq!(list["skipped_count"], 5);

    // A connected node type nobody provides: refused at start, naming the node and its type.
    let (status, answer) = gw.post("/api/gateway/runs/start", json!({"bundle_id": "unknown"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        answer["detail"],
        Value::from(
            "Workflow 'unknown@1.0.0:main' cannot run: node 'boom' has type 'frobnicate', which no engine builtin or loaded plugin provides"
        )
    );

    let run_id = gw.start_run(json!({"bundle_id": "pure-math"})).await;
    assert_eq!(gw.wait_terminal(&run_id).await["output"]["sum"], 5.0);
    gw.stop().await;
}
