//! The plugin views (`/plugins`, `/plugins/{name}`) and `/discovery/capabilities`, on a real
//! gateway with the first-party plugins, a test plugin under an operator policy, and a file
//! that is not a component.

use crate::common;

use std::path::Path;

use common::{Options, TOKEN, TestGateway, standard_flows};
use reqwest::StatusCode;
use serde_json::{Value, json};

const SECRET_ENV: &str = "AGW_PLUGIN_VIEWS_TEST_KEY";
const SECRET_VALUE: &str = "sk-views-0123456789abcdef";

/// The policy grants test-sandbox less than it requests (read instead of read-write, no
/// hosts) and the one secret it asks for.
const POLICY: &str = r#"
[plugins.test-sandbox]
workspace = "read"
secrets = { api_key = { env = "AGW_PLUGIN_VIEWS_TEST_KEY" } }
"#;

/// Each test runs in its own process under nextest; this one sets the variable before the
/// gateway (the only reader) starts.
fn set_secret_env() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: set once, before any gateway of this binary reads its environment; the
        // standard library synchronises environment access on Unix.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var(SECRET_ENV, SECRET_VALUE);
        }
    });
}

/// A gateway whose plugins dir holds test-sandbox, its policy and a junk `.wasm`.
async fn gateway_with_plugins(temp: &Path) -> TestGateway {
    set_secret_env();
    let flows = temp.join("flows");
    standard_flows(&flows);
    let plugins = temp.join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugins dir");
    std::fs::copy(agw_firstparty::component_path("test-sandbox"), plugins.join("test-sandbox.wasm"))
        .expect("copy plugin");
    std::fs::write(plugins.join("plugins.toml"), POLICY).expect("policy");
    std::fs::write(plugins.join("junk.wasm"), b"not a component").expect("junk");
    let mut options = Options::new(flows);
    options.plugins_dir = Some(plugins);
    TestGateway::start(&temp.join("data"), options).await
}

fn by_name<'a>(plugins: &'a Value, name: &str) -> &'a Value {
    plugins
        .as_array()
        .and_then(|list| list.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("no plugin '{name}' in {plugins}"))
}

fn is_sha256(value: &Value) -> bool {
    value.as_str().is_some_and(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn node_types(summary: &Value) -> Vec<String> {
    summary["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["node_type"].as_str().expect("node_type").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_list_shows_grants_denials_signatures_and_problems_but_no_secret_values() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway_with_plugins(temp.path()).await;

    let response = gw.client.get(gw.url("/api/gateway/plugins")).bearer_auth(TOKEN).send().await.expect("GET /plugins");
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.expect("body");
    assert!(!text.contains(SECRET_VALUE), "a secret value leaked: {text}");
    let body: Value = serde_json::from_str(&text).expect("json");
    let keys: Vec<&str> = body.as_object().expect("object").keys().map(String::as_str).collect();
    assert_eq!(keys, ["plugins", "problems", "engine"]);

    let std_nodes = by_name(&body["plugins"], "std-nodes");
    assert!(is_sha256(&std_nodes["sha256"]), "{std_nodes}");
    assert_eq!(std_nodes["origin"], "first-party");
    assert_eq!(std_nodes["worlds"], json!(["node-executor"]));
    assert!(std_nodes["granted"].is_object() && std_nodes["denied"].is_object(), "{std_nodes}");
    assert_eq!(std_nodes["signature"], json!({"status": "unsigned"}));
    assert!(node_types(std_nodes).len() > 10, "{std_nodes}");

    let sandbox = by_name(&body["plugins"], "test-sandbox");
    assert!(is_sha256(&sandbox["sha256"]), "{sandbox}");
    assert_eq!(sandbox["origin"], "directory");
    assert_eq!(sandbox["label"], "test-sandbox.wasm");
    assert_eq!(sandbox["capabilities"]["workspace"], "read-write", "what it requests");
    assert_eq!(sandbox["granted"]["workspace"], "read", "what the policy grants");
    assert_eq!(sandbox["granted"]["secrets"], json!(["api_key"]), "names only");
    assert_eq!(sandbox["granted"]["outbound_hosts"], json!([]));
    assert_eq!(sandbox["denied"]["workspace"], "read-write");
    assert_eq!(sandbox["denied"]["outbound_hosts"], json!(["GET *", "POST *"]));
    assert_eq!(sandbox["signature"]["status"], "unsigned");

    let problems = body["problems"].as_array().expect("problems");
    assert!(
        problems.iter().any(|p| p["label"] == "junk.wasm" && p["reason"].as_str().is_some_and(|r| !r.is_empty())),
        "{problems:?}"
    );
    assert!(problems.iter().all(|p| p.as_object().is_some_and(|o| o.len() == 2)), "{{label, reason}}: {problems:?}");

    let engine = &body["engine"];
    assert!(matches!(engine["allocator"].as_str(), Some("pooling" | "on-demand")), "{engine}");
    assert!(engine["engine_hash"].as_str().is_some_and(|h| !h.is_empty()), "{engine}");
    assert!(engine["memory_limit_bytes"].as_u64().is_some_and(|n| n > 0), "{engine}");
    assert!(engine["call_deadline_ms"].as_u64().is_some_and(|n| n > 0), "{engine}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_detail_is_the_listed_summary_and_unknown_names_are_404() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway_with_plugins(temp.path()).await;
    let (_, list) = gw.get("/api/gateway/plugins").await;

    for name in ["std-nodes", "test-sandbox"] {
        let (status, detail) = gw.get(&format!("/api/gateway/plugins/{name}")).await;
        assert_eq!(status, StatusCode::OK, "{detail}");
        assert_eq!(&detail, by_name(&list["plugins"], name));
    }

    for name in ["nope", "junk", "STD-NODES"] {
        let (status, answer) = gw.get(&format!("/api/gateway/plugins/{name}")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(answer, json!({"detail": format!("plugin '{name}' is not loaded")}));
    }
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_and_discovery_views_need_a_token() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    for path in ["/api/gateway/plugins", "/api/gateway/plugins/std-nodes", "/api/gateway/discovery/capabilities"] {
        for request in [gw.client.get(gw.url(path)), gw.client.get(gw.url(path)).bearer_auth("wrong")] {
            let response = request.send().await.expect("GET");
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path}");
            assert_eq!(response.json::<Value>().await.expect("json"), json!({"detail": "Unauthorized"}), "{path}");
        }
        let (status, _) = gw.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path} with the token");
    }
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_lists_loaded_plugins_node_types_and_only_plugin_backed_providers() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    let (status, body) = gw.get("/api/gateway/discovery/capabilities").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let caps = &body["capabilities"];
    assert_eq!(body.as_object().map(|o| o.len()), Some(1), "one envelope key: {body}");

    assert_eq!(caps["abstractgateway"]["installed"], true);
    let version = caps["abstractgateway"]["version"].as_str().expect("version");
    assert!(!version.is_empty() && version.split('.').count() == 3, "{version}");

    let (_, list) = gw.get("/api/gateway/plugins").await;
    let summary = by_name(&list["plugins"], "std-nodes");
    let loaded = by_name(&caps["plugins"]["loaded"], "std-nodes");
    assert_eq!(
        loaded,
        &json!({
            "name": "std-nodes",
            "version": summary["version"],
            "sha256": summary["sha256"],
            "worlds": ["node-executor"],
            "provides": {"node_types": node_types(summary)},
            "signature": {"status": "unsigned"},
        })
    );
    assert!(is_sha256(&loaded["sha256"]));
    assert_eq!(caps["plugins"]["problems"], json!([]));

    // std-nodes is the only plugin here, so every one of its node types is usable.
    let count = caps["node_types"]["count"].as_u64().expect("count");
    assert!(count > 0);
    assert_eq!(count, node_types(summary).len() as u64);
    assert_eq!(caps["node_types"]["available"], true);

    for kind in ["voice", "vision", "music", "tools"] {
        assert_eq!(caps[kind], json!({"available": false}), "{kind}: no plugin provides it yet");
    }
    // LLM calls go through the embedded openai-compatible plugin; LM Studio needs no settings
    // (it has a default address), so it counts as configured.
    assert_eq!(caps["llm"]["available"], true, "{}", caps["llm"]);
    assert_eq!(caps["llm"]["plugins"], json!(["openai-compatible"]));
    assert!(caps["llm"]["providers"].as_array().is_some_and(|p| p.contains(&json!("lmstudio"))), "{}", caps["llm"]);
    assert_eq!(caps["streaming"]["run_field"], "_runtime.stream");
    gw.stop().await;
}
