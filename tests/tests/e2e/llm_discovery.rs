//! LLM discovery through the loaded provider plugins: `/discovery/providers`,
//! `/discovery/providers/{provider_name}/models` and `capabilities.llm`, on a gateway whose
//! first-party `openai-compatible` plugin is granted the fake provider as LM Studio and a
//! closed loopback port as OpenAI. Every answer is checked against the document too.

use std::path::Path;

use agw_fake_provider::{FakeProvider, MODELS};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{Options, TestGateway, keys};
use crate::openapi::fetch_document;
use crate::openapi_shapes::checked;

const KEY_ENV: &str = "AGW_LLM_DISCOVERY_TEST_KEY";
const KEY_VALUE: &str = "sk-discovery-0123456789abcdef";

/// Each test runs in its own process under nextest; this sets the variable before the
/// gateway (the only reader) starts.
fn set_key_env() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: set once, before any gateway of this binary reads its environment; the
        // standard library synchronises environment access on Unix.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var(KEY_ENV, KEY_VALUE);
        }
    });
}

/// A loopback URL nothing listens on.
fn closed_base_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    format!("http://127.0.0.1:{port}/v1")
}

/// A gateway whose `plugins.toml` gives the openai-compatible plugin `lmstudio` as LM Studio's
/// base URL and `openai` as OpenAI's (with a key), and nothing else.
async fn gateway(temp: &Path, lmstudio: &str, openai: &str) -> TestGateway {
    set_key_env();
    let flows = temp.join("flows");
    std::fs::create_dir_all(&flows).expect("flows dir");
    let plugins = temp.join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugins dir");
    let policy = format!(
        "[plugins.openai-compatible]\n\
         config = {{ LMSTUDIO_BASE_URL = \"{lmstudio}\", OPENAI_BASE_URL = \"{openai}\" }}\n\
         secrets = {{ OPENAI_API_KEY = {{ env = \"{KEY_ENV}\" }} }}\n"
    );
    std::fs::write(plugins.join("plugins.toml"), policy).expect("policy");
    let mut options = Options::new(flows);
    options.plugins_dir = Some(plugins);
    TestGateway::start(&temp.join("data"), options).await
}

fn item<'a>(answer: &'a Value, id: &str) -> &'a Value {
    answer["items"]
        .as_array()
        .and_then(|items| items.iter().find(|i| i["id"] == id))
        .unwrap_or_else(|| panic!("no provider '{id}' in {answer}"))
}

fn sorted_fake_models() -> Vec<String> {
    let mut models: Vec<String> = MODELS.iter().map(|m| (*m).to_owned()).collect();
    models.sort();
    models
}

fn model_listings(fake: &FakeProvider) -> usize {
    fake.requests().iter().filter(|r| r.method == "GET" && r.path == "/v1/models").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_and_models_come_from_the_provider_plugins() {
    let fake = FakeProvider::start().await.expect("fake provider");
    let lmstudio_url = fake.base_url();
    assert!(lmstudio_url.ends_with("/v1"), "{lmstudio_url}");
    let openai_url = closed_base_url();
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway(temp.path(), &lmstudio_url, &openai_url).await;
    let document = fetch_document(&gw).await;
    let get = |path: &'static str| {
        let (gw, document) = (&gw, &document);
        async move { checked(gw, document, Method::GET, &format!("/api/gateway{path}"), None).await }
    };

    // The provider list: every id the plugin serves, none of them asked anything.
    let providers = get("/discovery/providers").await;
    assert_eq!(
        keys(&providers),
        [
            "items",
            "available",
            "route_available",
            "source",
            "default_provider",
            "default_model",
            "default_error",
            "catalog"
        ]
    );
    assert_eq!((&providers["available"], &providers["route_available"]), (&json!(true), &json!(true)));
    assert_eq!((&providers["default_provider"], &providers["default_model"]), (&Value::Null, &Value::Null));
    assert!(providers["default_error"].as_str().is_some_and(|e| e.contains("ABSTRACTGATEWAY_PROVIDER")));
    assert_eq!(
        providers["catalog"],
        json!({"contract": "gateway_catalog_v1", "version": 1, "kind": "providers", "scope": "text",
               "primary_items_field": "items", "source": "abstractgateway.catalog",
               "route_source": "abstractgateway.llm_plugins", "available": true, "route_available": true,
               "include_models": false})
    );
    let ids: Vec<&str> =
        providers["items"].as_array().expect("items").iter().filter_map(|i| i["id"].as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "items are sorted by id");
    assert_eq!(
        item(&providers, "lmstudio"),
        &json!({"name": "lmstudio", "display_name": "LM Studio", "type": "llm", "model_count": "unknown",
                "status": "available", "models": [], "id": "lmstudio", "label": "LM Studio", "provider": "lmstudio",
                "plugin": "openai-compatible", "base_url": lmstudio_url, "configured": true})
    );
    let openai = item(&providers, "openai");
    assert_eq!((&openai["base_url"], &openai["configured"]), (&json!(openai_url), &json!(true)));
    let vllm = item(&providers, "vllm");
    assert_eq!(
        (&vllm["status"], &vllm["configured"], &vllm["base_url"]),
        (&json!("unconfigured"), &json!(false), &Value::Null)
    );
    assert_eq!(model_listings(&fake), 0, "listing providers asks no provider");

    // With models: each configured provider is asked; a failing one is named, not fatal.
    let with_models = get("/discovery/providers?include_models=true").await;
    assert_eq!(with_models["catalog"]["include_models"], true);
    let lmstudio = item(&with_models, "lmstudio");
    assert_eq!(lmstudio["models"], json!(sorted_fake_models()));
    assert_eq!((&lmstudio["model_count"], &lmstudio["status"]), (&json!(MODELS.len()), &json!("available")));
    let openai = item(&with_models, "openai");
    assert_eq!(
        (&openai["status"], &openai["model_count"], &openai["models"]),
        (&json!("error"), &json!(0), &json!([]))
    );
    let error = openai["error"].as_str().expect("error");
    assert!(error.contains("'openai'") && error.contains(&openai_url), "{error}");
    assert_eq!(item(&with_models, "vllm")["model_count"], "unknown", "an unconfigured provider is not asked");
    assert_eq!(model_listings(&fake), 1);
    let (status, refused) = gw.get("/api/gateway/discovery/providers?include_models=maybe").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["detail"][0]["loc"], json!(["query", "include_models"]));

    // One provider's models: one listing, the fake's models in the catalog shape.
    let models = get("/discovery/providers/lmstudio/models").await;
    let expected_items: Vec<Value> = sorted_fake_models()
        .iter()
        .map(|m| json!({"id": m, "label": m, "provider": "lmstudio", "owned_by": "fake"}))
        .collect();
    assert_eq!(
        models,
        json!({"provider": "lmstudio", "models": sorted_fake_models(), "available": true, "route_available": true,
               "source": "abstractgateway.llm_plugins", "items": expected_items,
               "catalog": {"contract": "gateway_catalog_v1", "version": 1, "kind": "models", "scope": "text",
                           "primary_items_field": "items", "source": "abstractgateway.catalog",
                           "route_source": "abstractgateway.llm_plugins", "available": true,
                           "route_available": true, "provider": "lmstudio"}})
    );
    assert_eq!(model_listings(&fake), 2);

    // An unknown provider: 200, an empty list and the reference's error.
    let unknown = get("/discovery/providers/nope/models").await;
    assert_eq!((&unknown["models"], &unknown["available"], &unknown["items"]), (&json!([]), &json!(false), &json!([])));
    assert_eq!(unknown["error"], "Unknown provider: nope");
    assert_eq!(unknown["catalog"]["error"], "Unknown provider: nope");

    // An unreachable provider: 200, an empty list, and an error naming it and its base URL.
    let unreachable = get("/discovery/providers/openai/models").await;
    assert_eq!((&unreachable["models"], &unreachable["available"]), (&json!([]), &json!(false)));
    let error = unreachable["error"].as_str().expect("error");
    assert!(error.contains("'openai'") && error.contains(&openai_url), "{error}");
    assert_eq!(unreachable["catalog"]["error"], unreachable["error"]);

    // An unconfigured provider: no call, what to set.
    let unconfigured = get("/discovery/providers/vllm/models").await;
    assert_eq!(unconfigured["available"], false);
    let error = unconfigured["error"].as_str().expect("error");
    assert!(error.contains("'vllm'") && error.contains("VLLM_BASE_URL"), "{error}");

    // The capabilities: LLM available through the plugin; streaming as the reference says.
    let capabilities = get("/discovery/capabilities").await;
    let llm = &capabilities["capabilities"]["llm"];
    assert_eq!(llm["available"], true);
    let configured = llm["providers"].as_array().expect("providers");
    for id in ["lmstudio", "openai"] {
        assert!(configured.contains(&json!(id)), "{id} is configured: {llm}");
    }
    assert!(!configured.contains(&json!("vllm")), "{llm}");
    assert_eq!(llm["plugins"], json!(["openai-compatible"]));
    assert_eq!((&llm["default_provider"], &llm["default_model"]), (&Value::Null, &Value::Null));
    let streaming = &capabilities["capabilities"]["streaming"];
    assert_eq!((&streaming["run_field"], &streaming["default"]), (&json!("_runtime.stream"), &json!(false)));
    assert_eq!(streaming["events"], json!(["llm.delta", "llm.delta_end"]));

    // No answer carries the granted key.
    for answer in [&providers, &with_models, &models, &unknown, &unreachable, &unconfigured, &capabilities] {
        assert!(!answer.to_string().contains(KEY_VALUE), "{answer}");
    }
    gw.stop().await;
    fake.stop();
}
